"""The paper's data: CelebA and COCO recovery sets, and the CelebA training split.

Downloaded once by ``python -m gs.data download celeba|coco`` (:mod:`gs.data.download`)
under :func:`default_root`, never inside a library call:

* CelebA aligned (``img_align_celeba``, 178 x 218): crop top=51, left=26, 128 x 128; 64 px
  is a PIL bilinear resize of that crop. Files sorted by name, the last 5 % held out; 100
  test and 20 validation images drawn from the held-out part with a fixed seed. The rest
  is the training split (:func:`celeba_train_files`).
* COCO 2017 test (``test2017``): center-crop to a square, resize; 100 test and 20
  validation images drawn with a fixed seed.

Where each set comes from, how many files it holds and how many test / validation images
are drawn is its :class:`DataSource` (:data:`SOURCES`). ``$GS_DATA_SOURCES`` may name a
JSON file that changes fields of them, e.g. a mirror's URL, or the rehearsal's small
paper-shaped archives (:mod:`gs.paper`)::

    {"celeba": {"url": "http://127.0.0.1:8000/img_align_celeba.zip", "md5": "...",
                "n_images": 60, "n_test": 3, "n_val": 2}}
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
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


@dataclass(frozen=True)
class DataSource:
    """Where a paper image set comes from and what it holds.

    ``url``: the archive (Google Drive URLs get Drive's confirmation handling);
    ``zip_name`` / ``folder``: the archive's file name and the folder it holds (and that
    it is extracted to, under ``ROOT/<kind>/``); ``n_images``: files in that folder;
    ``md5``: the archive's published md5 (None: checked by the zip's CRC-32s only);
    ``n_test`` / ``n_val``: sizes of the seeded test / validation draw.
    """

    kind: str
    url: str
    zip_name: str
    folder: str
    n_images: int
    md5: str | None
    n_test: int = N_TEST
    n_val: int = N_VAL
    page: str = ""  # where a user can fetch the archive by hand

    @property
    def is_paper(self) -> bool:
        """True for the paper's own data (not a rehearsal or a changed source)."""
        return self == SOURCES[self.kind]


CELEBA_GDRIVE_ID = "0B7EVK8r0v71pZjFTYXZWM3FlRnM"

#: The paper's data sources (CelebA aligned as torchvision fetches it; COCO 2017 test).
SOURCES: dict[str, DataSource] = {
    "celeba": DataSource(
        "celeba", f"https://drive.google.com/uc?id={CELEBA_GDRIVE_ID}&export=download",
        "img_align_celeba.zip", CELEBA_DIR, CELEBA_N_IMAGES,
        "00d2c5bc6d35e252742224ab0c1e8fcb",
        page="https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html ('Align&Cropped Images')"),
    # cocodataset.org publishes no checksum for test2017.zip: a download is checked by the
    # zip's own CRC-32 of every member, the member count and the HTTP length instead.
    "coco": DataSource(
        "coco", "https://images.cocodataset.org/zips/test2017.zip", "test2017.zip",
        COCO_DIR, COCO_N_IMAGES, None, page="https://cocodataset.org/#download"),
}

_SOURCE_FIELDS = ("url", "md5", "n_images", "n_test", "n_val", "page")


def data_source(kind: str) -> DataSource:
    """The :class:`DataSource` of ``kind`` (``celeba`` or ``coco``), with the fields that
    the JSON file named by ``$GS_DATA_SOURCES`` changes, if it is set.

    Raises ValueError naming the file and the problem for an unreadable file, an unknown
    set or field, or a value of the wrong type.
    """
    if kind not in SOURCES:
        raise ValueError(f"unknown paper data set {kind!r}; choose one of {sorted(SOURCES)}")
    file = os.environ.get("GS_DATA_SOURCES")
    if not file:
        return SOURCES[kind]
    try:
        raw = json.loads(Path(file).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ValueError(f"cannot read $GS_DATA_SOURCES={file}: {e}") from e
    if not isinstance(raw, dict) or set(raw) - set(SOURCES):
        raise ValueError(f"$GS_DATA_SOURCES={file} must map {sorted(SOURCES)} to objects")
    given = raw.get(kind) or {}
    bad = sorted(set(given) - set(_SOURCE_FIELDS)) if isinstance(given, dict) else ["?"]
    if bad:
        raise ValueError(f"$GS_DATA_SOURCES={file}, {kind}: unknown field(s) {bad}; the "
                         f"fields are {list(_SOURCE_FIELDS)}")
    types = {f.name: f.type for f in fields(DataSource)}
    for key, value in given.items():
        want = int if types[key] == "int" else str
        ok = (value is None and key == "md5") or (
            isinstance(value, want) and not isinstance(value, bool)
            and (want is str or value >= 1))
        if not ok:
            raise ValueError(f"$GS_DATA_SOURCES={file}, {kind}.{key}: {value!r} is not a "
                             f"{'positive int' if want is int else 'string'}")
    return replace(SOURCES[kind], **given)


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


#: ``expect_count`` default of the loaders: the file count of the set's :class:`DataSource`.
FROM_SOURCE = "from the data source"


def _list_images(folder: Path, kind: str, root: Path, expect_count: int | None | str
                 ) -> list[str]:
    if not folder.is_dir():
        raise _missing(kind, folder, root)
    names = sorted(p.name for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg",
                                                                              ".png"))
    if not names:
        raise _missing(kind, folder, root)
    if expect_count == FROM_SOURCE:
        expect_count = data_source(kind).n_images
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
    *, n_test: int | None = None, n_val: int | None = None,
    expect_count: int | None | str = FROM_SOURCE,
) -> ImageSet:
    """The paper's CelebA recovery set: (N, 3, size, size) in [0, 1], sorted by file name.

    ``root`` holds ``celeba/img_align_celeba/*.jpg`` (default :func:`default_root`). The
    candidates are the last 5 % of the name-sorted files; ``test`` and ``val`` are a seeded,
    disjoint draw of 100 and 20 of them. ``n`` keeps the first ``n`` of the split.
    ``n_test``, ``n_val`` and ``expect_count`` (the number of files the folder must hold;
    None: any) default to those of :func:`data_source`.
    """
    root = Path(root) if root is not None else default_root()
    src = data_source("celeba")
    n_test, n_val = n_test or src.n_test, n_val or src.n_val
    check_split(split)
    size = check_size(size, max_size=CELEBA_CROP[2])
    n = check_limit(n)
    folder = root / "celeba" / src.folder
    names = paper_split(celeba_held_out(_list_images(folder, "celeba", root, expect_count)),
                        split, n_test, n_val)
    names = names[:n] if n else names
    images = stack([load_celeba_image(folder / f, size) for f in names], size)
    return ImageSet(images, [Path(f).stem for f in names], "celeba", split, size)


def load_coco(
    root: str | Path | None = None, split: str = "test", size: int = 64, n: int | None = None,
    *, n_test: int | None = None, n_val: int | None = None,
    expect_count: int | None | str = FROM_SOURCE,
) -> ImageSet:
    """The paper's COCO 2017 test set: (N, 3, size, size) in [0, 1], sorted by file name.

    ``root`` holds ``coco/test2017/*.jpg``. ``test`` and ``val`` are a seeded, disjoint
    draw of 100 and 20 images; each is center-cropped to a square and resized (bilinear).
    ``n_test``, ``n_val`` and ``expect_count`` default as in :func:`load_celeba`.
    """
    root = Path(root) if root is not None else default_root()
    src = data_source("coco")
    n_test, n_val = n_test or src.n_test, n_val or src.n_val
    check_split(split)
    size = check_size(size)
    n = check_limit(n)
    folder = root / "coco" / src.folder
    names = paper_split(_list_images(folder, "coco", root, expect_count), split, n_test, n_val)
    names = names[:n] if n else names
    images = stack([load_image(folder / f, size) for f in names], size)
    return ImageSet(images, [Path(f).stem for f in names], "coco", split, size)
