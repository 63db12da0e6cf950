"""The per-user zoo file (``$GS_LOCAL_ZOO`` or ``~/.cache/gs/zoo.json``): where it is
(:func:`local_zoo_path`), reading and validating it, merging it lazily into
:data:`gs.zoo.ENTRIES`, :func:`register_from_file` and :func:`add_local_entry`.

Importing this module installs its reader in :mod:`gs.zoo.registry`, after the built-in
entries (:mod:`gs.zoo.builtin`) are registered.
"""

from __future__ import annotations

import json
import os
import re
import sys
import warnings
from pathlib import Path

from gs.zoo import registry
from gs.zoo.builtin import _BUILTIN
from gs.zoo.checkpoints import _torch_load, sha256sum
from gs.zoo.registry import ZooEntry, ZooError, ZooWarning, _path

_PACKAGE_DIR = os.path.dirname(__file__)

_STRING_FIELDS = ("sha256", "source", "licence", "description", "training")
_FIELDS = ("path", "model", *_STRING_FIELDS, "replaces")
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_EXAMPLE = '{"path": "/abs/path/g.pt", "model": "dcgan"}'


def local_zoo_path() -> Path:
    """``$GS_LOCAL_ZOO`` if set, else ``~/.cache/gs/zoo.json``."""
    return Path(os.environ.get("GS_LOCAL_ZOO") or Path.home() / ".cache" / "gs" / "zoo.json")


def _read_zoo_file(path: Path) -> dict:
    """The JSON object of zoo file ``path`` (``{}`` if there is none); ZooError if it
    cannot be read or is not a JSON object."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ZooError(f"cannot read the local zoo file {path}: {exc}; fix or remove it") from exc
    except json.JSONDecodeError as exc:
        raise ZooError(
            f"the local zoo file {path} is not valid JSON ({exc}); fix it or remove it "
            f"(it maps names to entries like {_EXAMPLE})"
        ) from exc
    if not isinstance(data, dict):
        raise ZooError(
            f"the local zoo file {path} must hold a JSON object mapping names to entries "
            f"like {_EXAMPLE}, not a {type(data).__name__}; fix it or remove it"
        )
    return data


def _entry_from_json(file: Path, name: str, raw: object) -> tuple[ZooEntry, str | None]:
    """Validate entry ``name`` of zoo file ``file``; returns it and, when it replaces a
    built-in entry, the announcement to warn with.

    Raises ZooError naming the file and the entry, what is wrong and how to fix it.
    """
    from gs.models import MODELS

    def bad(what: str, fix: str) -> ZooError:
        return ZooError(f"local zoo file {file}, entry {name!r}: {what}; {fix}")

    if not name.strip():
        raise bad("the name is empty", "give the entry a name")
    if not isinstance(raw, dict):
        raise bad(f"the entry is a JSON {type(raw).__name__}, not an object",
                  f"write it as {_EXAMPLE}")
    unknown = sorted(set(raw) - set(_FIELDS))
    if unknown:
        raise bad(f"unknown field(s) {unknown}", f"the fields are {list(_FIELDS)}")
    path = raw.get("path")
    if not isinstance(path, str) or not path.strip():
        raise bad("'path' is missing or not a non-empty string",
                  "set it to the checkpoint's path (absolute, or relative to the zoo file)")
    model = raw.get("model")
    if not isinstance(model, str) or model.lower() not in MODELS:
        raise bad(f"'model' is {model!r}, not a known architecture",
                  f"set it to one of {sorted(MODELS)}")
    for key in _STRING_FIELDS:
        if raw.get(key) is not None and not isinstance(raw[key], str):
            raise bad(f"{key!r} is a {type(raw[key]).__name__}, not a string",
                      f"write it as a JSON string or leave {key!r} out")
    sha = raw.get("sha256") or None
    if sha is not None and not _SHA256.fullmatch(sha):
        raise bad(f"'sha256' is {sha!r}, not 64 hex digits",
                  f"set it to the output of sha256sum {path}, or leave it out")
    replaces = raw.get("replaces", False)
    if not isinstance(replaces, bool):
        raise bad(f"'replaces' is {replaces!r}, not true or false",
                  "write true or false (without quotes), or leave it out")
    ckpt = Path(path).expanduser()
    if not ckpt.is_absolute():
        ckpt = file.parent / ckpt
    entry = ZooEntry(
        name=name, model=model, model_kwargs={},
        locate=_path(ckpt, f" (entry {name!r} of the local zoo file {file})"),
        sha256=sha.lower() if sha else None, source=raw.get("source") or f"local file {ckpt}",
        licence=raw.get("licence") or "user checkpoint",
        description=raw.get("description") or "", training=raw.get("training") or "",
    )
    if name not in _BUILTIN:
        return entry, None
    if not replaces:
        raise bad("this name is a built-in zoo entry, which the file may not replace "
                  "silently", 'rename the entry, or add "replaces": true to it to replace '
                  "the built-in checkpoint on purpose")
    return entry, (
        f"zoo entry {name!r}: the built-in entry is replaced by entry {name!r} of the local "
        f'zoo file {file} ("replaces": true), checkpoint {ckpt}'
    )


def _parse(file: Path, data: dict) -> tuple[list[tuple[ZooEntry, str | None]], dict[str, str]]:
    """Valid entries (with their replacement announcement) and problems by name."""
    good, problems = [], {}
    for name, raw in data.items():
        try:
            good.append(_entry_from_json(file, name, raw))
        except ZooError as exc:
            problems[name] = str(exc)
    return good, problems


def _warn(message: str) -> None:
    """A ZooWarning attributed to the first caller outside the gs.zoo package."""
    frame, level = sys._getframe(1), 2
    while frame is not None and os.path.dirname(frame.f_code.co_filename) == _PACKAGE_DIR:
        frame, level = frame.f_back, level + 1
    warnings.warn(message, ZooWarning, stacklevel=level)


def _install(entry: ZooEntry, announcement: str | None) -> None:
    if announcement:
        _warn(announcement)
    dict.__setitem__(registry.ENTRIES, entry.name, entry)
    registry._LOCAL.broken.pop(entry.name, None)


def _load_local_zoo() -> None:
    """Merge the per-user zoo file into :data:`gs.zoo.ENTRIES`, once, the first time it is
    needed.

    Never raises: a file or entry that cannot be used is reported by a ZooWarning, and a
    malformed entry's name raises ZooError (the same message) when used. Entries named
    like built-ins without ``"replaces": true`` are skipped; the built-in stays.
    """
    local = registry._LOCAL
    if local.state != "pending":
        return
    local.state = "loading"
    try:
        file = local.file = local_zoo_path()
        try:
            good, problems = _parse(file, _read_zoo_file(file))
        except (ZooError, OSError) as exc:
            local.file_error = str(exc)
            _warn(f"skipping the local zoo file: {exc}")
            return
        for entry, announcement in good:
            _install(entry, announcement)
        for name, message in problems.items():
            if name in _BUILTIN:
                message += f" (the built-in entry {name!r} is used)"
            else:
                local.broken[name] = message
            _warn(f"skipping a local zoo entry: {message}")
    finally:
        local.state = "done"


def register_from_file(file: str | Path | None = None) -> list[str]:
    """Register every entry of a zoo file (default :func:`local_zoo_path`) in
    :data:`gs.zoo.ENTRIES`; returns their names.

    All or nothing: if the file or any entry is malformed, or names a built-in entry
    without ``"replaces": true``, raises :class:`ZooError` listing every problem (file,
    entry, what is wrong, how to fix it) and registers none. A replacement of a built-in
    entry is announced with a :class:`ZooWarning`.
    """
    _load_local_zoo()
    reg = Path(file) if file is not None else local_zoo_path()
    good, problems = _parse(reg, _read_zoo_file(reg))
    if problems:
        raise ZooError("\n".join(problems.values()))
    for entry, announcement in good:
        _install(entry, announcement)
    return [entry.name for entry, _ in good]


def add_local_entry(name: str, path: str | Path, *, training: str = "", description: str = "",
                    source: str = "trained by gs.train", licence: str = "user checkpoint",
                    replaces: bool = False, file: str | Path | None = None) -> Path:
    """Record the gs checkpoint at ``path`` as entry ``name`` of the zoo file ``file``
    (default :func:`local_zoo_path`), with the sha256 of the file now.

    A built-in entry's name needs ``replaces=True`` (else ZooError, nothing written).
    Returns the zoo file written; also registers the entry in this process.
    """
    _load_local_zoo()
    path = Path(path).expanduser().resolve()
    reg = Path(file) if file is not None else local_zoo_path()
    ckpt = _torch_load(path)
    if not isinstance(ckpt, dict) or "model" not in ckpt:
        raise ZooError(f"{path} is not a gs checkpoint (no 'model' key)")
    raw = {"path": str(path), "model": ckpt["model"], "sha256": sha256sum(path),
           "source": source, "licence": licence, "description": description,
           "training": training}
    if replaces:
        raw["replaces"] = True
    entry, announcement = _entry_from_json(reg, name, raw)
    data = _read_zoo_file(reg)
    data[name] = raw
    reg.parent.mkdir(parents=True, exist_ok=True)
    tmp = reg.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
    os.replace(tmp, reg)
    _install(entry, announcement)
    return reg


registry._set_local_reader(_load_local_zoo)
