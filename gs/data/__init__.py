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

Training data streams (what ``python -m gs.train --data ...`` reads) are in
:mod:`gs.data.streams`.

Modules: :mod:`~gs.data.images` (ImageSet, single-image I/O), :mod:`~gs.data.offline`
(shipped sets), :mod:`~gs.data.paper` (CelebA / COCO sets and splits),
:mod:`~gs.data.download` (downloads and archive checks), :mod:`~gs.data.streams`
(training streams), :mod:`~gs.data.sheets` (contact sheets), :mod:`~gs.data.cli`
(``python -m gs.data``). Everything public is importable from ``gs.data``.
"""

from __future__ import annotations

from pathlib import Path

# The public API. Names are bound here once: code reads paths and constants from the
# module that defines them, so patch e.g. gs.data.offline.DATA_DIR or
# gs.data.download.CELEBA_MD5 (patching gs.data.DATA_DIR changes nothing).
from gs.data.cli import main
from gs.data.download import (
    CELEBA_GDRIVE_ID,
    CELEBA_MD5,
    CELEBA_ZIP,
    COCO_MD5,
    COCO_URL,
    COCO_ZIP,
    ChecksumError,
    DownloadError,
    check_archive,
    download_celeba,
    download_coco,
    download_set,
    http_download,
    md5sum,
    verify_folder,
)
from gs.data.images import (
    OFFLINE_KINDS,
    PAPER_KINDS,
    SPLITS,
    ImageSet,
    center_crop_square,
    load_image,
    resize,
    to_tensor,
)
from gs.data.offline import OFFLINE_SIZE, load_offline, spread_over_sources
from gs.data.paper import (
    CELEBA_CROP,
    CELEBA_DIR,
    CELEBA_N_IMAGES,
    CELEBA_SHAPE,
    COCO_DIR,
    COCO_N_IMAGES,
    HELD_OUT_FRACTION,
    N_TEST,
    N_VAL,
    SOURCES,
    SPLIT_SEED,
    DataSource,
    celeba_crop,
    celeba_held_out,
    celeba_train_files,
    data_source,
    default_root,
    load_celeba,
    load_celeba_image,
    load_coco,
    paper_split,
)
from gs.data.sheets import contact_sheet, data_contact_sheet
from gs.data.streams import (
    IMAGE_EXTS,
    DigiFaceStream,
    ImageFolderStream,
    list_images,
    make_stream,
)
from gs.paths import DATA_DIR


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


__all__ = [
    "DATA_DIR", "ImageSet", "load_image", "load_offline", "load_celeba", "load_coco",
    "load_image_set", "download_celeba", "download_coco", "check_archive", "contact_sheet",
    "data_contact_sheet", "paper_split", "celeba_held_out", "celeba_crop", "default_root",
    "DownloadError", "ChecksumError",
    # images
    "OFFLINE_KINDS", "PAPER_KINDS", "SPLITS", "to_tensor", "center_crop_square", "resize",
    # offline
    "OFFLINE_SIZE", "spread_over_sources",
    # paper
    "CELEBA_DIR", "CELEBA_N_IMAGES", "CELEBA_SHAPE", "CELEBA_CROP", "HELD_OUT_FRACTION",
    "COCO_DIR", "COCO_N_IMAGES", "N_TEST", "N_VAL", "SPLIT_SEED", "load_celeba_image",
    "celeba_train_files",
    # download
    "CELEBA_GDRIVE_ID", "CELEBA_MD5", "CELEBA_ZIP", "COCO_URL", "COCO_ZIP", "COCO_MD5",
    "md5sum", "http_download", "download_set", "verify_folder", "DataSource", "SOURCES",
    "data_source",
    # streams
    "IMAGE_EXTS", "DigiFaceStream", "ImageFolderStream", "list_images", "make_stream",
    # cli
    "main",
]
