"""Downloads of the paper's data (only from the CLI) and the checks on what arrives.

``python -m gs.data download celeba|coco`` fetches the set's archive (its
:class:`~gs.data.paper.DataSource`: CelebA aligned from Google Drive, COCO 2017 test over
https), verifies it (CelebA: the published md5; COCO: the zip's CRC-32 of every member),
extracts it and verifies every extracted file. What can be retried is: a dropped or reset
connection, a timeout or a server error is retried with backoff, each retry resuming the
``.part`` file with an HTTP Range request. What cannot is refused with what to do: an HTML
page instead of the file (Google Drive's quota page), a truncated or altered archive
(moved aside as ``*.bad``), a wrong URL. Every failure is a :class:`DownloadError`.

The image folder is never half-written: the archive is extracted into a hidden folder
beside it, every file's size is checked against the archive, and only then is the folder
renamed into place and its list of files and sizes written (``<folder>.verified.json``).
A later run calls the folder "already extracted" only if it matches that list (or, with no
list, the archive; with neither, the file count).

Why not gdown for CelebA: the download is one plain-HTTP path (standard library) for both
sets, with resume, retries and Drive's "cannot scan for viruses" confirmation form handled
here, so the whole path runs in the tests against a local server; gdown only recognises
Drive's pages on Google's own hosts, so none of its handling could be tested. gdown is
still used as a fallback when a Google Drive page is neither the confirmation form nor
the quota page (Drive changes its pages; gdown follows them).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

from gs.data.paper import (
    CELEBA_GDRIVE_ID,
    SOURCES,
    DataSource,
    data_source,
    default_root,
)

# The paper's sources, as constants (see gs.data.paper.SOURCES).
CELEBA_MD5 = SOURCES["celeba"].md5
CELEBA_ZIP = SOURCES["celeba"].zip_name
COCO_URL = SOURCES["coco"].url
COCO_ZIP = SOURCES["coco"].zip_name
COCO_MD5: str | None = SOURCES["coco"].md5

#: Attempts per download (the first and the retries), and the first retry's wait (s),
#: doubled at each retry.
RETRIES = 5
BACKOFF_S = 2.0
TIMEOUT_S = 60.0


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


# ==========================================================================================
# HTTP: resume, retries, Google Drive's pages
# ==========================================================================================

#: Errors after which a retry may succeed (the connection, not the request, failed).
_TRANSIENT = (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError)


class _UnknownPage(DownloadError):
    """An HTML page that is neither the file nor a page we know how to follow."""


def _drive_page(html: str, url: str) -> str | None:
    """The download URL behind Google Drive's 'cannot scan this file for viruses' page
    (its ``download-form`` or a ``confirm=`` link, resolved against ``url``); None if the
    page has neither. Raises DownloadError for Drive's quota / error page."""
    if re.search(r"uc-error-subcaption|quota exceeded|too many users have viewed", html, re.I):
        msg = re.search(r'class="uc-error-subcaption">(.*?)<', html, re.S)
        why = " ".join(msg.group(1).split()).rstrip(".") if msg else "quota exceeded"
        raise DownloadError(
            f"Google Drive refused the file: {why}. This is Drive's download quota for a "
            "much-fetched file; it resets within 24 h: try again later, or fetch the file by "
            "hand in a browser (see below).")
    form = re.search(r'<form[^>]*id="download-form"[^>]*action="([^"]+)"(.*?)</form>', html,
                     re.S | re.I)
    if form:
        action = form.group(1).replace("&amp;", "&")
        params = dict(re.findall(r'<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*'
                                 r'value="([^"]*)"', form.group(2)))
        parts = urllib.parse.urlsplit(urllib.parse.urljoin(url, action))
        query = dict(urllib.parse.parse_qsl(parts.query), **params)
        return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))
    link = re.search(r'href="([^"]*confirm=[^"]+)"', html)
    if link:
        return urllib.parse.urljoin(url, link.group(1).replace("&amp;", "&"))
    return None


def _fmt_s(s: float) -> str:
    return f"{s / 3600:.1f} h" if s >= 5400 else f"{s / 60:.0f} min" if s >= 90 else f"{s:.0f} s"


class _Progress:
    """Prints bytes, percent, speed and time left about every ``every`` seconds."""

    def __init__(self, quiet: bool, total: int, start: int, every: float = 10.0):
        self.quiet, self.total, self.start, self.every = quiet, total, start, every
        self.t0 = self.last = time.monotonic()

    def __call__(self, done: int, final: bool = False) -> None:
        now = time.monotonic()
        if self.quiet or (not final and now - self.last < self.every):
            return
        self.last = now
        rate = (done - self.start) / max(now - self.t0, 1e-9)
        line = f"  {done / 1e6:,.1f} MB"
        if self.total:
            line += f" of {self.total / 1e6:,.1f} MB ({100 * done / self.total:.0f} %)"
        line += f", {rate / 1e6:.1f} MB/s"
        if self.total and rate > 0 and not final:
            line += f", about {_fmt_s((self.total - done) / rate)} left"
        print(line, flush=True)


def _fetch_once(url: str, part: Path, chunk: int, quiet: bool, timeout: float) -> str | None:
    """One attempt: fetch ``url`` into ``part``, resuming it. Returns None when ``part`` is
    complete, or the URL to fetch next (Drive's confirmation). Raises DownloadError for
    what a retry cannot fix and lets transient errors through."""
    have = part.stat().st_size if part.exists() else 0
    req = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # nothing left to fetch: the part file is complete
            return None
        if e.code in (408, 429) or e.code >= 500:
            raise  # transient: retried
        raise DownloadError(f"{url}: HTTP {e.code} {e.reason} (the URL is wrong or the file "
                            "is gone)") from e
    with resp:
        ctype = resp.headers.get("Content-Type", "")
        if "text/html" in ctype:
            html = resp.read(1 << 20).decode("utf-8", "replace")
            nxt = _drive_page(html, url)
            if nxt is None:
                raise _UnknownPage(f"{url} returned an HTML page, not the file")
            return nxt
        if resp.status == 206:
            total = int(resp.headers.get("Content-Range", "/0").rsplit("/", 1)[-1] or 0)
            mode = "ab"
        else:  # 200: the server ignored the Range header, start over
            have, mode = 0, "wb"
            total = int(resp.headers.get("Content-Length") or 0)
        done, show = have, _Progress(quiet, total, have)
        with open(part, mode) as f:
            while block := resp.read(chunk):
                f.write(block)
                done += len(block)
                show(done)
        show(done, final=True)
    if total and done < total:
        raise http.client.IncompleteRead(b"", total - done)  # dropped: retried, resuming
    return None


def http_download(
    url: str, dest: str | Path, chunk: int = 1 << 20, quiet: bool = False, *,
    retries: int | None = None, backoff: float | None = None, timeout: float | None = None,
) -> Path:
    """Download ``url`` to ``dest`` through ``dest.part``; returns ``dest``.

    A dropped connection, reset, timeout or server error (5xx, 408, 429) is retried
    ``retries`` times (default :data:`RETRIES` attempts in all) after ``backoff``,
    2 x ``backoff``, ... seconds, each resuming ``dest.part`` with a Range request (a
    server that ignores it is fetched from the start). Google Drive's confirmation page is
    followed. Raises DownloadError with what to do when it cannot succeed; the ``.part``
    file is kept so that a rerun resumes.
    """
    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    attempts = RETRIES if retries is None else retries
    wait = BACKOFF_S if backoff is None else backoff
    timeout = TIMEOUT_S if timeout is None else timeout
    current, last_error = url, None
    for attempt in range(attempts):
        try:
            for _ in range(3):  # the file, or up to two confirmation pages first
                nxt = _fetch_once(current, part, chunk, quiet, timeout)
                if nxt is None:
                    os.replace(part, dest)
                    return dest
                current = nxt
            raise DownloadError(f"{url}: still a confirmation page after two confirmations")
        except _UnknownPage:
            if _gdown_fallback(url, part, quiet):
                os.replace(part, dest)
                return dest
            raise
        except _TRANSIENT as e:
            last_error = e
            got = part.stat().st_size if part.exists() else 0
            if attempt + 1 < attempts:
                if not quiet:
                    print(f"  {_describe(e)}; retrying in {wait:.0f} s (attempt "
                          f"{attempt + 2} of {attempts}, resuming at {got / 1e6:.1f} MB)",
                          flush=True)
                time.sleep(wait)
                wait *= 2
    got = part.stat().st_size if part.exists() else 0
    raise DownloadError(
        f"{url}: {_describe(last_error)} ({attempts} attempts). Check the network (proxy, "
        f"firewall, DNS) and rerun the same command: it resumes from the {got / 1e6:.1f} MB "
        f"already in {part}.") from last_error


def _describe(e: BaseException | None) -> str:
    if isinstance(e, urllib.error.HTTPError):
        return f"HTTP {e.code} {e.reason}"
    if isinstance(e, urllib.error.URLError):
        e = e.reason if isinstance(e.reason, BaseException) else e
    if isinstance(e, http.client.IncompleteRead):
        return "the connection dropped before the end of the file"
    if isinstance(e, TimeoutError):
        return "the server stopped answering (timeout)"
    if isinstance(e, ConnectionResetError):
        return "the connection was reset"
    if isinstance(e, http.client.RemoteDisconnected):
        return "the server closed the connection"
    return f"{type(e).__name__}: {e}"


def _gdown_fallback(url: str, part: Path, quiet: bool) -> bool:
    """Fetch a Google Drive URL whose page we did not understand with gdown (if it is
    installed) into ``part``; True on success."""
    host = urllib.parse.urlsplit(url).hostname or ""
    if host not in ("drive.google.com", "docs.google.com"):
        return False
    try:
        import gdown
    except ImportError:
        return False
    try:
        gdown.download(url=url, output=str(part), quiet=quiet, resume=True)
    except Exception as e:  # gdown raises its own types for quota / permission pages
        raise DownloadError(f"Google Drive answered with a page that neither this package "
                            f"nor gdown could follow ({e})") from e
    return part.is_file()


# ==========================================================================================
# Extraction and verification
# ==========================================================================================


def _record_path(base: Path, src: DataSource) -> Path:
    return base / f"{src.folder}.verified.json"


def _write_json(path: Path, obj: object) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj), encoding="utf-8")
    os.replace(tmp, path)


def _members(z: zipfile.ZipFile, src: DataSource) -> list[zipfile.ZipInfo]:
    return [i for i in z.infolist() if i.filename.startswith(src.folder + "/")
            and not i.is_dir() and "/" not in i.filename[len(src.folder) + 1:]]


def _folder_sizes(folder: Path) -> dict[str, int]:
    return {e.name: e.stat().st_size for e in os.scandir(folder) if e.is_file()}


def verify_folder(base: Path, src: DataSource, zip_path: Path | None = None) -> str | None:
    """Why the extracted folder ``base/src.folder`` is not complete, or None if it is.

    Compared, file by file (name and size), with the list written after its extraction,
    else with the archive ``zip_path``; with neither (a folder placed by hand), only the
    file count is checked.
    """
    folder = base / src.folder
    if not folder.is_dir():
        return f"{folder} does not exist"
    have = _folder_sizes(folder)
    record = _record_path(base, src)
    expected: dict[str, int] | None = None
    if record.is_file():
        try:
            expected = json.loads(record.read_text(encoding="utf-8"))["files"]
        except (OSError, ValueError, KeyError):
            expected = None
    if expected is None and zip_path is not None and zip_path.is_file():
        try:
            with zipfile.ZipFile(zip_path) as z:
                expected = {Path(i.filename).name: i.file_size for i in _members(z, src)}
        except (zipfile.BadZipFile, OSError):
            expected = None
    if expected is None:
        if len(have) != src.n_images:
            return f"{folder} holds {len(have)} files, expected {src.n_images}"
        return None
    if len(expected) != src.n_images:
        return f"the list of {folder} has {len(expected)} files, expected {src.n_images}"
    missing = sorted(set(expected) - set(have))
    wrong = sorted(n for n in expected if n in have and have[n] != expected[n])
    extra = sorted(set(have) - set(expected))
    if missing or wrong or extra:
        return (f"{folder} does not match its archive: {len(missing)} missing, {len(wrong)} of "
                f"the wrong size (e.g. {(missing + wrong)[:1] or extra[:1]}), "
                f"{len(extra)} extra")
    return None


def _extract(zip_path: Path, base: Path, src: DataSource, quiet: bool = False) -> Path:
    """Extract ``src.folder`` into a hidden folder, check every file against the archive,
    then rename it into place and write its list of files."""
    final = base / src.folder
    tmp = base / f".{src.folder}.partial"
    if tmp.exists():
        shutil.rmtree(tmp)
    with zipfile.ZipFile(zip_path) as z:
        members = _members(z, src)
        if len(members) != src.n_images:
            raise DownloadError(f"{zip_path} holds {len(members)} files under {src.folder}/, "
                                f"expected {src.n_images}")
        if not quiet:
            print(f"extracting {len(members)} files to {final} ...", flush=True)
        try:
            z.extractall(tmp, members=members)  # each member's CRC-32 is checked on read
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            shutil.rmtree(tmp, ignore_errors=True)
            raise DownloadError(f"extracting {zip_path} failed ({e}); the archive is "
                                "corrupt: delete it and rerun to fetch it again") from e
    files = {Path(i.filename).name: i.file_size for i in members}
    got = _folder_sizes(tmp / src.folder)
    if got != files:
        shutil.rmtree(tmp, ignore_errors=True)
        raise DownloadError(f"extracting {zip_path}: the files on disk do not match the "
                            "archive (disk full?); nothing was kept, rerun when fixed")
    if final.exists():  # an incomplete earlier extraction
        shutil.rmtree(final)
    os.replace(tmp / src.folder, final)
    tmp.rmdir()
    _write_json(_record_path(base, src), {"url": src.url, "files": files})
    return final


def _hint(src: DataSource, base: Path, root: Path) -> str:
    md5 = f" (md5 {src.md5})" if src.md5 else ""
    return (f"To place it by hand: download {src.zip_name}{md5} from {src.url}"
            f"{' or ' + src.page if src.page else ''} into {base / src.zip_name}, then rerun "
            f"`python -m gs.data download {src.kind} --root {root}`: it verifies and "
            f"extracts without downloading. An already extracted {src.folder}/ folder can be "
            f"put at {base / src.folder} instead.")


def download_set(kind: str, root: str | Path | None = None, quiet: bool = False) -> Path:
    """Fetch, verify and extract paper set ``kind`` (``celeba`` or ``coco``) into
    ``ROOT/<kind>/<folder>``; returns that folder. Nothing is fetched when the folder is
    complete, nor when the archive is already in ``ROOT/<kind>/`` (placed by hand or kept
    from an earlier run): it is verified and extracted."""
    src = data_source(kind)
    root = Path(root) if root is not None else default_root()
    base = root / kind
    folder, zip_path = base / src.folder, base / src.zip_name
    hint = _hint(src, base, root)
    why = verify_folder(base, src, zip_path)
    if why is None:
        if not _record_path(base, src).is_file():
            files = _folder_sizes(folder)
            _write_json(_record_path(base, src), {"url": src.url, "files": files})
        if not quiet:
            print(f"{kind} already in {folder} ({src.n_images} files verified)")
        return folder
    if folder.exists() and not quiet:
        print(f"{why}: extracting again")
    base.mkdir(parents=True, exist_ok=True)
    if zip_path.exists():
        try:
            check_archive(zip_path, src.md5, how_to_fix=hint, test_crc=src.md5 is None)
        except DownloadError as e:
            print(f"discarding the existing file ({e.__class__.__name__}): moved to "
                  f"{_quarantine(zip_path)}")
    if not zip_path.exists():
        if not quiet:
            print(f"fetching {src.url} -> {zip_path}", flush=True)
        try:
            http_download(src.url, zip_path, quiet=quiet)
        except DownloadError as e:
            raise DownloadError(f"{e}\n{hint}") from e
        try:
            check_archive(zip_path, src.md5, how_to_fix=hint, test_crc=src.md5 is None)
        except DownloadError as e:
            bad = _quarantine(zip_path)
            raise type(e)(f"{e}\nThe file was moved to {bad}; rerun to fetch it again.") from e
    return _extract(zip_path, base, src, quiet)


def _quarantine(path: Path) -> Path:
    bad = path.with_name(path.name + ".bad")
    os.replace(path, bad)
    return bad


def download_celeba(root: str | Path | None = None, quiet: bool = False) -> Path:
    """Fetch CelebA aligned, verify its md5, extract; returns the image folder."""
    return download_set("celeba", root, quiet)


def download_coco(root: str | Path | None = None, quiet: bool = False) -> Path:
    """Fetch COCO 2017 test (resumable), verify the zip's CRCs, extract; returns the
    image folder."""
    return download_set("coco", root, quiet)


__all__ = ["CELEBA_GDRIVE_ID", "DownloadError", "ChecksumError", "download_set", "http_download",
           "verify_folder", "check_archive", "md5sum"]
