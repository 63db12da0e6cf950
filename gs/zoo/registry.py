"""The zoo's registry: :class:`ZooEntry`, :data:`ENTRIES` (which merges in the per-user zoo
file the first time it is used), :func:`register`, :func:`get`, :func:`available`.

The bottom of :mod:`gs.zoo`: it imports no other module of the package. The reader of the
per-user zoo file (:mod:`gs.zoo.user_file`) installs itself here with
:func:`_set_local_reader` once the built-in entries are registered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


class ZooError(RuntimeError):
    """A checkpoint is missing, corrupt, or does not match its recorded sha256; or an
    entry of the per-user zoo file is malformed."""


class ZooWarning(UserWarning):
    """A per-user zoo file entry was skipped (malformed) or replaced a built-in entry."""


@dataclass(frozen=True)
class ZooEntry:
    """One named checkpoint.

    ``locate`` returns the checkpoint's path (raising :class:`ZooError` with a fix if it
    cannot); ``sha256`` is checked on every load unless it is ``None`` (user-registered
    paths may omit it; :func:`gs.zoo.weights_id` then hashes the file).
    """

    name: str
    model: str
    model_kwargs: dict
    locate: Callable[[], Path]
    sha256: str | None
    source: str
    licence: str
    description: str = ""
    training: str = ""
    convert: Callable[[dict], dict] | None = field(default=None, repr=False)

    def path(self) -> Path:
        return self.locate()


def _path(p: str | Path, what: str = "") -> Callable[[], Path]:
    """A ``locate`` for the file ``p`` (ZooError if it does not exist)."""

    def locate() -> Path:
        path = Path(p).expanduser()
        if not path.is_file():
            raise ZooError(f"checkpoint {path} does not exist{what}")
        return path

    return locate


# ------------------------------------------------------- the lazy per-user merge
class _LocalZoo:
    """Where the lazy read of the per-user zoo file stands.

    ``state``: ``"off"`` while the built-in entries are registered, ``"pending"``
    until the file is first needed, ``"loading"`` during the read, then ``"done"``.
    ``broken`` maps the names of malformed entries to their error message;
    ``file_error`` is set when the whole file could not be read.
    """

    def __init__(self, state: str = "pending") -> None:
        self.state = state
        self.file: Path | None = None
        self.broken: dict[str, str] = {}
        self.file_error = ""


_LOCAL = _LocalZoo("off")

_READER: Callable[[], None] | None = None
"""Reads the per-user zoo file into :data:`ENTRIES` (``gs.zoo.user_file._load_local_zoo``)."""


def _set_local_reader(reader: Callable[[], None]) -> None:
    """Install the per-user zoo file's reader; the file is read the first time the zoo is
    consulted from now on (called once the built-in entries are registered)."""
    global _READER
    _READER = reader
    _LOCAL.state = "pending"


def _maybe_load() -> None:
    if _LOCAL.state == "pending" and _READER is not None:  # not while built-ins register
        _READER()


class _Entries(dict):
    """:data:`ENTRIES`: a dict of :class:`ZooEntry` by name that merges in the per-user
    zoo file the first time it is read or written (not at import)."""

    def __getitem__(self, key):
        _maybe_load()
        return super().__getitem__(key)

    def __setitem__(self, key, value):
        _maybe_load()
        super().__setitem__(key, value)

    def __contains__(self, key):
        _maybe_load()
        return super().__contains__(key)

    def __iter__(self):
        _maybe_load()
        return super().__iter__()

    def __len__(self):
        _maybe_load()
        return super().__len__()

    def __repr__(self):
        _maybe_load()
        return super().__repr__()

    def get(self, key, default=None):
        _maybe_load()
        return super().get(key, default)

    def keys(self):
        _maybe_load()
        return super().keys()

    def values(self):
        _maybe_load()
        return super().values()

    def items(self):
        _maybe_load()
        return super().items()

    def copy(self):
        _maybe_load()
        return dict(super().items())

    def __delitem__(self, key):
        _maybe_load()
        super().__delitem__(key)

    def pop(self, *args):
        _maybe_load()
        return super().pop(*args)

    def setdefault(self, key, default=None):
        _maybe_load()
        return super().setdefault(key, default)

    def update(self, *args, **kw):
        _maybe_load()
        super().update(*args, **kw)


ENTRIES: dict[str, ZooEntry] = _Entries()
"""Every zoo entry by name: the built-in ones from import on, the per-user zoo file's
merged in on first use (see :mod:`gs.zoo`)."""


# ------------------------------------------------------------------ registry
def entries() -> dict[str, ZooEntry]:
    """:data:`ENTRIES`, with the per-user zoo file read (once per process)."""
    _maybe_load()
    return ENTRIES


def register(entry: ZooEntry | None = None, **kw) -> ZooEntry:
    """Add a zoo entry (or build one from keyword arguments; ``path=`` names a file).

    Without ``sha256=`` the file is not checked on load, and :func:`gs.zoo.weights_id`
    hashes it (so results stored for it change key when the file changes).

    >>> register(name="dcgan64-celeba", model="dcgan", path="ckpt/dcgan.pt")  # doctest: +SKIP
    """
    if entry is None:
        path = kw.pop("path")
        kw.setdefault("model_kwargs", {})
        kw.setdefault("sha256", None)
        kw.setdefault("source", f"local file {path}")
        kw.setdefault("licence", "unknown (user checkpoint)")
        entry = ZooEntry(locate=_path(path), **kw)
    ENTRIES[entry.name] = entry
    _LOCAL.broken.pop(entry.name, None)
    return entry


def get(name: str) -> ZooEntry:
    """Zoo entry ``name``: ValueError if unknown, :class:`ZooError` if it is a malformed
    entry of the per-user zoo file."""
    _maybe_load()
    if name in _LOCAL.broken:
        raise ZooError(_LOCAL.broken[name])
    try:
        return ENTRIES[name]
    except KeyError:
        err = _LOCAL.file_error
        note = f" (the per-user zoo file was skipped: {err})" if err else ""
        raise ValueError(f"unknown zoo entry {name!r}; known: {sorted(ENTRIES)}{note}") from None


def available(name: str) -> bool:
    """Whether ``name`` is registered and its file can be located (no sha256 check)."""
    try:
        get(name).path()
    except (ValueError, ZooError):
        return False
    return True
