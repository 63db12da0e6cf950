"""Named generator checkpoints: where each comes from, its sha256, how to load it.

>>> from gs import zoo
>>> "dcgan64-digiface" in zoo.ENTRIES
True
>>> g = zoo.load("dcgan64-digiface")          # doctest: +SKIP
>>> g.name, g.image_size
('dcgan', 64)

Every load verifies the file's sha256 before ``torch.load(..., weights_only=True)``,
loads the state dict strictly and returns the generator in eval mode. Checkpoints
that this project writes (training, ``save_checkpoint``) are dicts
``{"model": name, "model_kwargs": {...}, "state_dict": {...}, "meta": {...}}``.
Paper-profile checkpoints trained elsewhere are registered by path with
:func:`register` (or loaded directly with :func:`load_checkpoint`).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
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
    """A checkpoint is missing, corrupt, or does not match its recorded sha256."""


@dataclass(frozen=True)
class ZooEntry:
    """One named checkpoint.

    ``locate`` returns the checkpoint's path (raising :class:`ZooError` with a fix if it
    cannot); ``sha256`` is checked on every load unless it is ``None`` (user-registered
    paths may omit it).
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


def shipped_entries() -> list[ZooEntry]:
    """The entries whose checkpoint is a file in the repository's ``zoo/`` folder."""
    out = []
    for entry in ENTRIES.values():
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


def _path(p: str | Path) -> Callable[[], Path]:
    def locate() -> Path:
        path = Path(p).expanduser()
        if not path.is_file():
            raise ZooError(f"checkpoint {path} does not exist")
        return path

    return locate


def _convert_digiface(state: dict) -> dict:
    from gs.models.dcgan import convert_tutorial_state_dict

    if "netG_state_dict" not in state:
        raise ZooError("the DigiFace checkpoint has no 'netG_state_dict' key")
    return convert_tutorial_state_dict(state["netG_state_dict"])


ENTRIES: dict[str, ZooEntry] = {}


def register(entry: ZooEntry | None = None, **kw) -> ZooEntry:
    """Add a zoo entry (or build one from keyword arguments; ``path=`` names a file).

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
    return entry


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


# ------------------------------------------------------------------- loading
def get(name: str) -> ZooEntry:
    try:
        return ENTRIES[name]
    except KeyError:
        raise ValueError(f"unknown zoo entry {name!r}; known: {sorted(ENTRIES)}") from None


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


def _register_local_zoo() -> None:
    """Add the checkpoints that ``gs.train --profile paper`` registered on this machine."""
    import warnings

    from gs.zoo_local import register_from_file

    try:
        register_from_file()
    except ZooError as exc:  # a broken local file must not break the shipped zoo
        warnings.warn(f"ignoring the local zoo file: {exc}", stacklevel=2)


_register_local_zoo()
