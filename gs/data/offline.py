"""The shipped offline sets (no network): ``faces`` and ``scenes`` in ``data/``.

Built by ``scripts/build_offline_data.py`` and stored as 128 x 128 PNGs with ``test`` and
``val`` splits; ``data/MANIFEST.csv`` names each image's source photo. The folder is
:data:`gs.paths.DATA_DIR` (env var ``GS_DATA_DIR`` overrides), read here as this
module's ``DATA_DIR``.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from gs.data.images import (
    OFFLINE_KINDS,
    PAPER_KINDS,
    ImageSet,
    check_limit,
    check_size,
    check_split,
    load_image,
    stack,
)
from gs.paths import DATA_DIR

OFFLINE_SIZE = 128  # stored resolution of the offline PNGs


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
    check_split(split)
    size = check_size(size, OFFLINE_SIZE)
    limit = check_limit(limit)
    folder = Path(DATA_DIR) / kind / split
    files = sorted(folder.glob("*.png"), key=lambda p: p.stem)
    if not files:
        raise FileNotFoundError(f"no PNGs in {folder}; rebuild the offline sets with "
                                "`python -m gs.data build-offline`")
    files = spread_over_sources(files, _source_photos(kind, split))
    files = files[:limit] if limit else files
    images = stack([load_image(f, size) for f in files], size)
    return ImageSet(images, [f.stem for f in files], kind, split, size)
