"""A local HTTP server for the fake archives, with the failures of the real hosts.

:class:`ArchiveServer` serves files from a folder on ``127.0.0.1`` (standard library,
one thread per request), with HTTP Range requests (resume). A path whose name is given in
``drive`` is served like Google Drive serves a large file: ``/uc?id=NAME`` answers with
Drive's "cannot scan this file for viruses" page, whose ``download-form`` leads to the
file. Faults can be queued per file name, each used by one request:

* ``"quota"``: Drive's "Quota exceeded" HTML page (status 200, ``text/html``);
* ``"drop"``: the headers announce the whole file, then the connection closes halfway;
* ``"reset"``: the connection closes before any answer;
* ``"truncated"``: the file without its last quarter, with a matching length (a server
  holding a damaged copy);
* ``"500"``: an HTTP 500.

>>> import tempfile, urllib.request
>>> d = Path(tempfile.mkdtemp()); _ = (d / "a.zip").write_bytes(b"0123456789")
>>> with ArchiveServer(d) as s:
...     req = urllib.request.Request(s.url("a.zip"), headers={"Range": "bytes=4-"})
...     urllib.request.urlopen(req).read()
b'456789'
"""

from __future__ import annotations

import html
import threading
import urllib.parse
from collections import defaultdict, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

FAULTS = ("quota", "drop", "reset", "truncated", "500")

DRIVE_CONFIRM_PAGE = """<!DOCTYPE html><html><head><title>Google Drive - Virus scan warning
</title></head><body><div class="uc-main"><p class="uc-warning-caption">Google Drive can't
scan this file for viruses.</p><p class="uc-warning-subcaption">{name} is too large for
Google to scan for viruses. Would you still like to download this file?</p>
<form id="download-form" action="{action}" method="get"><input type="submit"
id="uc-download-link" class="goog-inline-block jfk-button" value="Download anyway"/>
<input type="hidden" name="id" value="{id}"><input type="hidden" name="export"
value="download"><input type="hidden" name="confirm" value="t"><input type="hidden"
name="uuid" value="0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"></form></div></body></html>"""

DRIVE_QUOTA_PAGE = """<!DOCTYPE html><html><head><title>Google Drive - Quota exceeded
</title></head><body><div class="uc-main"><div id="uc-text"><p class="uc-error-caption">
Sorry, you can't view or download this file at this time.</p><p class="uc-error-subcaption">
Too many users have viewed or downloaded this file recently. Please try accessing the file
again later.</p></div></div></body></html>"""


class ArchiveServer:
    """Serve ``folder`` on ``127.0.0.1`` (a free port) in a background thread; a context
    manager. ``drive``: file names served behind Drive's confirmation page (see the module
    docstring); :meth:`url` gives each file's URL; :meth:`fail` queues faults."""

    def __init__(self, folder: str | Path, drive: tuple[str, ...] = ()):
        self.folder = Path(folder)
        self.drive = set(drive)
        self.faults: dict[str, deque[str]] = defaultdict(deque)
        self.requests: list[tuple[str, str]] = []  # (file name, what was served)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def url(self, name: str) -> str:
        """The URL a client fetches ``name`` from (Drive-style for ``drive`` names)."""
        base = f"http://127.0.0.1:{self._httpd.server_port}"
        if name in self.drive:
            return f"{base}/uc?id={urllib.parse.quote(name)}&export=download"
        return f"{base}/files/{urllib.parse.quote(name)}"

    def fail(self, name: str, *faults: str) -> None:
        """Queue ``faults`` for the next requests of file ``name``, one per request."""
        bad = [f for f in faults if f not in FAULTS]
        if bad:
            raise ValueError(f"unknown fault(s) {bad}; choose from {FAULTS}")
        self.faults[name].extend(faults)

    def __enter__(self) -> ArchiveServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
                parts = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(parts.query))
                if parts.path == "/uc":
                    name = query.get("id", "")
                    if name not in server.drive:
                        return self.send_error(404)
                elif parts.path.startswith("/files/"):
                    name = urllib.parse.unquote(parts.path[len("/files/"):])
                else:
                    return self.send_error(404)
                if self._fault(name):
                    return
                if parts.path == "/uc" and query.get("confirm") != "t":
                    server.requests.append((name, "confirm page"))
                    return self._html(DRIVE_CONFIRM_PAGE.format(
                        name=html.escape(name), id=html.escape(name), action="/uc"))
                self._file(name)

            def _fault(self, name: str) -> bool:
                """Apply the next queued fault of ``name``; True if it answered."""
                queue = server.faults.get(name)
                if not queue or queue[0] in ("drop", "truncated"):
                    return False
                fault = queue.popleft()
                server.requests.append((name, fault))
                if fault == "quota":
                    self._html(DRIVE_QUOTA_PAGE)
                elif fault == "reset":
                    self.close_connection = True
                    self.connection.close()
                elif fault == "500":
                    self.send_error(500, "Internal Server Error")
                return True

            def _html(self, page: str) -> None:
                body = page.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _file(self, name: str) -> None:
                path = server.folder / name
                if "/" in name or not path.is_file():
                    return self.send_error(404)
                blob = path.read_bytes()
                queue = server.faults.get(name)
                fault = queue.popleft() if queue else ""
                if fault == "truncated":
                    blob = blob[: len(blob) * 3 // 4]
                start, status = 0, 200
                rng = self.headers.get("Range", "")
                if rng.startswith("bytes=") and rng.endswith("-"):
                    start = int(rng[6:-1])
                    if start >= len(blob):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(blob)}")
                        self.end_headers()
                        return
                    status = 206
                body = blob[start:]
                server.requests.append((name, f"{fault or 'file'} from {start}"))
                self.send_response(status)
                self.send_header("Content-Type", "application/zip")
                self.send_header("Content-Length", str(len(body)))
                if status == 206:
                    self.send_header("Content-Range",
                                     f"bytes {start}-{len(blob) - 1}/{len(blob)}")
                self.end_headers()
                if fault == "drop":
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self.wfile.write(body)

        return Handler
