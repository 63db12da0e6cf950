"""Where the package finds and writes things: one place for every path.

Each can be moved with an environment variable (useful on clusters and in tests):

=================  ====================  ==========================================
name               variable              default
=================  ====================  ==========================================
``REPO_ROOT``      --                    the checkout that holds ``gs/``
``DATA_DIR``       ``GS_DATA_DIR``       ``REPO_ROOT/data`` (shipped photos)
``ZOO_DIR``        ``GS_ZOO_DIR``        ``REPO_ROOT/zoo`` (shipped checkpoints)
``OUTPUT_DIR``     ``GS_OUTPUT_DIR``     ``REPO_ROOT/outputs`` (stores, executed notebooks)
``FIGURES_DIR``    ``GS_FIGURES_DIR``    ``REPO_ROOT/figures`` (figures and their CSVs)
=================  ====================  ==========================================
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("GS_DATA_DIR") or REPO_ROOT / "data")
ZOO_DIR = Path(os.environ.get("GS_ZOO_DIR") or REPO_ROOT / "zoo")
OUTPUT_DIR = Path(os.environ.get("GS_OUTPUT_DIR") or REPO_ROOT / "outputs")
FIGURES_DIR = Path(os.environ.get("GS_FIGURES_DIR") or REPO_ROOT / "figures")


@contextmanager
def staged(folder: Path, prefix: str) -> Iterator[Path]:
    """A temporary folder inside ``folder`` to write a set of files into; when the block
    ends without an error they are moved into ``folder``, else none is (all or nothing).
    The temporary folder (``prefix`` + random) is removed either way."""
    tmp = Path(tempfile.mkdtemp(dir=folder, prefix=prefix))
    try:
        yield tmp
        for f in sorted(tmp.iterdir()):
            os.replace(f, folder / f.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
