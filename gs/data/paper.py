"""The paper's data: CelebA and COCO recovery sets, and the CelebA training split.

Downloaded once by ``python -m gs.data download celeba|coco`` (:mod:`gs.data.download`)
under :func:`default_root`, never inside a library call:

* CelebA aligned (``img_align_celeba``, 178 x 218): crop top=51, left=26, 128 x 128; 64 px
  is a PIL bilinear resize of that crop. Files sorted by name, the last 5 % held out; 100
  test and 20 validation images drawn from the held-out part with a fixed seed. The rest
  is the training split (:func:`celeba_train_files`).
* COCO 2017 test (``test2017``): center-crop to a square, resize; 100 test and 20
  validation images drawn with a fixed seed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gs.data.images import (
    ImageSet,
    check_limit,
    check_size,
    check_split,
    load_image,
    open_rgb,
    resize,
    stack,
    to_tensor,
)

# --- CelebA (aligned and cropped), as torchvision's CelebA fetches it -------------------
CELEBA_DIR = "img_align_celeba"
CELEBA_N_IMAGES = 202_599
CELEBA_SHAPE = (178, 218)  # width, height of an aligned image
CELEBA_CROP = (51, 26, 128)  # top, left, size: the paper's functional.crop(51, 26, 128, 128)
HELD_OUT_FRACTION = 0.05  # "A 95:5 train:test split" of the name-sorted files

# --- COCO 2017 test ----------------------------------------------------------------------
COCO_DIR = "test2017"
COCO_N_IMAGES = 40_670

# --- the paper's recovery sets -----------------------------------------------------------
N_TEST = 100
N_VAL = 20
SPLIT_SEED = 2102  # fixed seed of the test / validation draw (arXiv 2102.11163)


def default_root() -> Path:
    """Where paper data live: ``$GS_DATA_ROOT`` or ``~/.cache/gs``."""
    return Path(os.environ.get("GS_DATA_ROOT") or Path.home() / ".cache" / "gs")


def celeba_held_out(names: Sequence[str]) -> list[str]:
    """The last 5 % of the name-sorted CelebA files (the paper's held-out 'test' part).

    With 202,599 files: 10,129 held out (192471.jpg ... 202599.jpg), 192,470 for training.
    """
    names = sorted(names)
    n_held = int(len(names) * HELD_OUT_FRACTION)
    return names[len(names) - n_held:]


def celeba_train_files(root: str | Path | None = None) -> list[Path]:
    """The paper's CelebA train split: the sorted aligned images minus the last 5%.

    ``root`` is the ``img_align_celeba`` folder, or a folder holding it directly or as
    ``celeba/img_align_celeba`` (the :mod:`gs.data` layout; default
    :func:`default_root`). 192,470 files for the full 202,599.
    """
    root = Path(root).expanduser() if root is not None else default_root()
    for sub in ("img_align_celeba", "celeba/img_align_celeba"):
        if (root / sub).is_dir():
            root = root / sub
            break
    if not root.is_dir():
        raise FileNotFoundError(
            f"CelebA folder {root} does not exist; fetch it with `python -m gs.data download "
            "celeba` or pass --data-root (the img_align_celeba folder)"
        )
    files = sorted(p for p in root.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if not files:
        raise FileNotFoundError(f"no CelebA images in {root}")
    held = set(celeba_held_out([p.name for p in files]))
    return [p for p in files if p.name not in held]


def paper_split(
    names: Sequence[str], split: str, n_test: int = N_TEST, n_val: int = N_VAL,
    seed: int = SPLIT_SEED,
) -> list[str]:
    """Seeded, disjoint draw of ``n_test`` test / ``n_val`` val names; returned sorted.

    The draw is a permutation of the name-sorted candidates by ``numpy.random.default_rng(seed)``:
    its first ``n_test`` entries are ``test``, the next ``n_val`` are ``val``.
    """
    check_split(split)
    names = sorted(names)
    if len(names) < n_test + n_val:
        raise ValueError(f"need at least {n_test + n_val} candidate images, found {len(names)}")
    perm = np.random.default_rng(seed).permutation(len(names))
    idx = perm[:n_test] if split == "test" else perm[n_test:n_test + n_val]
    return sorted(names[i] for i in idx)


def _missing(kind: str, folder: Path, root: Path) -> FileNotFoundError:
    return FileNotFoundError(
        f"{kind} images not found in {folder}. Fetch them once with:\n"
        f"    python -m gs.data download {kind} --root {root}\n"
        f"(or set GS_DATA_ROOT; see `python -m gs.data download --help` for placing the "
        "files by hand)"
    )


def _list_images(folder: Path, kind: str, root: Path, expect_count: int | None) -> list[str]:
    if not folder.is_dir():
        raise _missing(kind, folder, root)
    names = sorted(p.name for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg",
                                                                              ".png"))
    if not names:
        raise _missing(kind, folder, root)
    if expect_count is not None and len(names) != expect_count:
        raise ValueError(
            f"{folder} holds {len(names)} images, expected {expect_count}: an incomplete "
            f"extraction would change the paper's split. Rerun `python -m gs.data download "
            f"{kind} --root {root}` (it verifies the archive and re-extracts)."
        )
    return names


def celeba_crop(img: Image.Image) -> Image.Image:
    """The paper's CelebA crop: top=51, left=26, 128 x 128 of an aligned 178 x 218 image."""
    if img.size != CELEBA_SHAPE:
        raise ValueError(f"aligned CelebA images are {CELEBA_SHAPE[0]}x{CELEBA_SHAPE[1]}, "
                         f"got {img.size[0]}x{img.size[1]}")
    top, left, s = CELEBA_CROP
    return img.crop((left, top, left + s, top + s))


def load_celeba_image(path: str | Path, size: int = 64) -> torch.Tensor:
    """One aligned CelebA file -> (3, size, size) float32 in [0, 1] (crop, then resize)."""
    size = check_size(size, max_size=CELEBA_CROP[2])
    return to_tensor(resize(celeba_crop(open_rgb(path)), size))


def load_celeba(
    root: str | Path | None = None, split: str = "test", size: int = 64, n: int | None = None,
    *, n_test: int = N_TEST, n_val: int = N_VAL, expect_count: int | None = CELEBA_N_IMAGES,
) -> ImageSet:
    """The paper's CelebA recovery set: (N, 3, size, size) in [0, 1], sorted by file name.

    ``root`` holds ``celeba/img_align_celeba/*.jpg`` (default :func:`default_root`). The
    candidates are the last 5 % of the name-sorted files; ``test`` and ``val`` are a seeded,
    disjoint draw of 100 and 20 of them. ``n`` keeps the first ``n`` of the split.
    """
    root = Path(root) if root is not None else default_root()
    check_split(split)
    size = check_size(size, max_size=CELEBA_CROP[2])
    n = check_limit(n)
    folder = root / "celeba" / CELEBA_DIR
    names = paper_split(celeba_held_out(_list_images(folder, "celeba", root, expect_count)),
                        split, n_test, n_val)
    names = names[:n] if n else names
    images = stack([load_celeba_image(folder / f, size) for f in names], size)
    return ImageSet(images, [Path(f).stem for f in names], "celeba", split, size)


def load_coco(
    root: str | Path | None = None, split: str = "test", size: int = 64, n: int | None = None,
    *, n_test: int = N_TEST, n_val: int = N_VAL, expect_count: int | None = COCO_N_IMAGES,
) -> ImageSet:
    """The paper's COCO 2017 test set: (N, 3, size, size) in [0, 1], sorted by file name.

    ``root`` holds ``coco/test2017/*.jpg``. ``test`` and ``val`` are a seeded, disjoint
    draw of 100 and 20 images; each is center-cropped to a square and resized (bilinear).
    """
    root = Path(root) if root is not None else default_root()
    check_split(split)
    size = check_size(size)
    n = check_limit(n)
    folder = root / "coco" / COCO_DIR
    names = paper_split(_list_images(folder, "coco", root, expect_count), split, n_test, n_val)
    names = names[:n] if n else names
    images = stack([load_image(folder / f, size) for f in names], size)
    return ImageSet(images, [Path(f).stem for f in names], "coco", split, size)
