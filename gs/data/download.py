"""Downloads of the paper's data (only from the CLI) and the checks on what arrives.

``python -m gs.data download celeba`` fetches CelebA aligned with gdown and checks its
published md5; ``... coco`` fetches COCO 2017 test over HTTP (resumable) and checks the
zip's own CRC-32s. Anything that is not the expected archive (an HTML quota page, a
truncated or altered file) is refused and moved aside as ``*.bad``.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from gs.data.paper import CELEBA_DIR, CELEBA_N_IMAGES, COCO_DIR, COCO_N_IMAGES, default_root

# --- CelebA (aligned and cropped), as torchvision's CelebA fetches it -------------------
CELEBA_GDRIVE_ID = "0B7EVK8r0v71pZjFTYXZWM3FlRnM"
CELEBA_MD5 = "00d2c5bc6d35e252742224ab0c1e8fcb"
CELEBA_ZIP = "img_align_celeba.zip"

# --- COCO 2017 test ----------------------------------------------------------------------
COCO_URL = "http://images.cocodataset.org/zips/test2017.zip"
COCO_ZIP = "test2017.zip"
# cocodataset.org publishes no checksum for test2017.zip: the download is checked by the
# zip's own CRC-32 of every member, the member count and the HTTP length instead.
COCO_MD5: str | None = None


class DownloadError(RuntimeError):
    """A download failed or produced something that is not the expected archive."""


class ChecksumError(DownloadError):
    """A downloaded file does not have the published checksum; it is refused."""


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
