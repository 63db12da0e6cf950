"""Checkpoint files: their sha256 (checked on every load), reading them
(``torch.load(..., weights_only=True)``), :func:`load` of a zoo entry,
:func:`save_checkpoint` / :func:`load_checkpoint` of gs checkpoints, and
:func:`weights_id`, the identity of an entry's weights."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch

from gs.models.base import BlockGenerator
from gs.zoo.registry import ZooError, _path, get


def sha256sum(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def verify_sha256(path: Path, expected: str | None, what: str) -> None:
    if expected is None:
        return
    got = sha256sum(path)
    if got != expected:
        raise ZooError(
            f"sha256 mismatch for {what} at {path}: expected {expected}, got {got}. "
            "The file is corrupt, truncated or a different version; reinstall or re-download it."
        )


# ------------------------------------------------------------ weights identity
_FILE_SHA256: dict[tuple[str, int, int, int, int], str] = {}


def _file_sha256(path: Path) -> str:
    """sha256 of ``path``, computed once per (resolved path, size, mtime_ns, ctime_ns,
    inode): rewriting or replacing the file makes it recomputed."""
    path = Path(path).resolve()
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
    digest = _FILE_SHA256.get(key)
    if digest is None:
        digest = _FILE_SHA256[key] = sha256sum(path)
    return digest


def weights_id(name: str) -> str:
    """The identity of zoo entry ``name``'s weights: 16 hex digits, for result keys.

    The first 16 hex digits of the entry's recorded sha256; for an entry without one
    (registered by path, e.g. ``register(name=..., model=..., path=...)``), of the
    sha256 of its checkpoint file as it is now (cached per resolved path, size and
    modification time, so it is computed once and again only after the file changes).
    ``""`` only for an empty ``name`` (a task without a generator).

    Raises ValueError for an unknown entry and :class:`ZooError` for a malformed
    per-user entry or a missing checkpoint file.

    >>> weights_id("dcgan64-digiface"), weights_id("")
    ('0c3b90b138cfc4e8', '')
    """
    if not name:
        return ""
    entry = get(name)
    if entry.sha256:
        return entry.sha256[:16]
    return _file_sha256(entry.path())[:16]


# ------------------------------------------------------------------- loading
def _torch_load(path: Path) -> dict:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # zip/pickle errors come in many types
        raise ZooError(f"cannot read checkpoint {path}: {exc}") from exc


def load(name: str, device: torch.device | str = "cpu") -> BlockGenerator:
    """Load zoo entry ``name`` (sha256 verified, strict state dict), in eval mode."""
    from gs.models import build

    entry = get(name)
    path = entry.path()
    verify_sha256(path, entry.sha256, f"zoo entry {name!r}")
    state = _torch_load(path)
    if entry.convert is not None:
        state_dict, kwargs = entry.convert(state), dict(entry.model_kwargs)
    else:
        state_dict, kwargs = _unpack(state, path)
        kwargs = {**kwargs, **entry.model_kwargs}
    model = build(entry.model, **kwargs)
    model.load_state_dict(state_dict, strict=True)
    return model.to(device).eval()


def _unpack(state: dict, path: Path) -> tuple[dict, dict]:
    if not isinstance(state, dict) or "state_dict" not in state:
        raise ZooError(f"{path} is not a gs checkpoint (no 'state_dict' key)")
    return state["state_dict"], dict(state.get("model_kwargs", {}))


def save_checkpoint(
    model: BlockGenerator, path: str | Path, model_name: str, model_kwargs: dict, **meta
) -> str:
    """Write ``model`` as a gs checkpoint (atomically) and return its sha256.

    ``build(model_name, **model_kwargs)`` must rebuild the architecture.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "model": model_name,
        "model_kwargs": dict(model_kwargs),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "meta": meta,
    }
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    return sha256sum(path)


def load_checkpoint(path: str | Path, device: torch.device | str = "cpu") -> BlockGenerator:
    """Load a gs checkpoint written by :func:`save_checkpoint` (no sha256 to check)."""
    from gs.models import build

    path = _path(path)()
    state = _torch_load(path)
    state_dict, kwargs = _unpack(state, path)
    model = build(state["model"], **kwargs)
    model.load_state_dict(state_dict, strict=True)
    return model.to(device).eval()
