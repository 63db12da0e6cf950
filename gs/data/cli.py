"""Command line of :mod:`gs.data` (``python -m gs.data``): ``download celeba|coco``,
``build-offline`` (runs ``scripts/build_offline_data.py``) and ``contact-sheet``."""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from gs.data.download import CELEBA_MD5, COCO_URL, DownloadError, download_set
from gs.data.images import PAPER_KINDS
from gs.data.sheets import data_contact_sheet
from gs.paths import REPO_ROOT


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m gs.data download celeba|coco [--root DIR]``, ``build-offline``,
    ``contact-sheet``."""
    import gs.data

    p = argparse.ArgumentParser(prog="python -m gs.data",
                                description=gs.data.__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("download", help="fetch the paper's CelebA or COCO images once",
                       description=(
                           "Fetch, verify and extract CelebA aligned (gdown, md5 "
                           f"{CELEBA_MD5}) or COCO 2017 test ({COCO_URL}, resumable) into "
                           "ROOT/celeba/img_align_celeba or ROOT/coco/test2017. To place the "
                           "files by hand, put img_align_celeba.zip in ROOT/celeba/ or "
                           "test2017.zip in ROOT/coco/ and run this command: it verifies "
                           "and extracts without downloading. A dropped connection is "
                           "retried and resumed; rerunning after a failure resumes too. "
                           "$GS_DATA_SOURCES may name a JSON file that changes a set's "
                           "URL, md5, file count or split sizes (a mirror; see "
                           "gs.data.paper)."))
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
            print(f"{a.name} images in {download_set(a.name, a.root, quiet=a.quiet)}")
        elif a.cmd == "build-offline":
            script = REPO_ROOT / "scripts" / "build_offline_data.py"
            extra = [*(["--cache", str(a.cache)] if a.cache else []),
                     *(["--out", str(a.out)] if a.out else []),
                     *(["--no-verify"] if a.no_verify else [])]
            return subprocess.call([sys.executable, str(script), *extra])
        elif a.cmd == "contact-sheet":
            for path in data_contact_sheet(a.out):
                print(path)
    except (DownloadError, FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0
