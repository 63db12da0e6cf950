"""Registering checkpoints a user already has (e.g. trained with the authors' code).

:func:`import_checkpoint` accepts, for a model family (``dcgan``, ``began``, ``vae``):

1. a **gs checkpoint** (:func:`gs.zoo.save_checkpoint`: a dict with ``model``,
   ``model_kwargs`` and ``state_dict``), as ``python -m gs.train`` writes;
2. a **plain state dict** of the gs architecture (``torch.save(model.state_dict())``;
   keys ``blocks.K...``), built with ``model_kwargs``;
3. for the DCGAN, the **authors' / PyTorch-examples layout**: a state dict with keys
   ``main.K.*`` (``torch.save(netG.state_dict())``), or a dict holding it under
   ``netG_state_dict`` (the layout of the DigiFace DCGAN's ``weights.tar``).

The file is loaded with ``torch.load(weights_only=True)`` and fitted strictly to
``gs.models.build(<paper architecture>, **model_kwargs)``; a mismatch names the missing and
unexpected keys. Layouts 2 and 3 are written once as a gs checkpoint beside the zoo file;
the entry is then recorded in the per-user zoo file (:func:`gs.zoo.add_local_entry`) with
its sha256, so results stored for it change key if the file changes.
"""

from __future__ import annotations

from pathlib import Path

import torch

from gs.models import build
from gs.models.dcgan import convert_tutorial_state_dict
from gs.train.config import PAPER_ZOO_NAMES
from gs.zoo import ZooError, add_local_entry, local_zoo_path, save_checkpoint

#: The architecture of each family in the paper profile (``gs.models.build`` names).
PAPER_ARCHITECTURES = {"dcgan": "dcgan", "began": "began128", "vae": "vae128"}


def _state_dict(raw: object, family: str, path: Path) -> tuple[dict, dict, str]:
    """(state dict, model_kwargs found in the file, layout) of a loaded checkpoint."""
    if not isinstance(raw, dict):
        raise ZooError(f"{path} holds a {type(raw).__name__}, not a checkpoint dict")
    if "state_dict" in raw and "model" in raw:
        return raw["state_dict"], dict(raw.get("model_kwargs", {})), "gs checkpoint"
    if family == "dcgan" and "netG_state_dict" in raw:
        return convert_tutorial_state_dict(raw["netG_state_dict"]), {}, "netG_state_dict"
    if raw and all(isinstance(v, torch.Tensor) for v in raw.values()):
        if family == "dcgan" and all(str(k).startswith("main.") for k in raw):
            return convert_tutorial_state_dict(raw), {}, "PyTorch-examples DCGAN"
        return raw, {}, "state dict"
    raise ZooError(f"{path}: not a checkpoint layout gs knows (keys {sorted(raw)[:5]}); see "
                   "gs.paper.checkpoints for the accepted layouts")


def import_checkpoint(family: str, path: str | Path, model_kwargs: dict | None = None, *,
                      name: str | None = None, zoo_file: str | Path | None = None) -> str:
    """Register the checkpoint at ``path`` as the paper profile's ``family`` model (zoo
    entry ``name``, default ``dcgan64-celeba`` / ``began128-celeba`` / ``vae128-celeba``,
    in the zoo file ``zoo_file``, default :func:`gs.zoo.local_zoo_path`). Returns the name.

    ``model_kwargs`` (e.g. ``{"ch": 64}``) build the architecture the weights fit, unless
    the file is a gs checkpoint, which records them. Raises ZooError with the reason when
    the file cannot be read or does not fit.
    """
    if family not in PAPER_ARCHITECTURES:
        raise ValueError(f"unknown family {family!r}; choose one of {sorted(PAPER_ARCHITECTURES)}")
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise ZooError(f"checkpoint {path} does not exist")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle / zip errors come in many types
        raise ZooError(f"cannot read checkpoint {path}: {e}") from e
    state, kwargs, layout = _state_dict(raw, family, path)
    kwargs = {**kwargs, **(model_kwargs or {})}
    arch = PAPER_ARCHITECTURES[family]
    if layout == "gs checkpoint" and raw["model"] != arch:
        raise ZooError(f"{path} is a {raw['model']!r} checkpoint; the paper profile's {family} "
                       f"is {arch!r} (the paper's resolution)")
    try:
        model = build(arch, **kwargs)
    except (TypeError, ValueError) as e:
        raise ZooError(f"cannot build {arch} with {kwargs}: {e}") from e
    missing, unexpected = [], []
    got = model.state_dict()
    missing = sorted(set(got) - set(state))
    unexpected = sorted(set(state) - set(got))
    wrong = sorted(k for k in set(got) & set(state) if tuple(got[k].shape) != tuple(state[k].shape))
    if missing or unexpected or wrong:
        raise ZooError(
            f"{path} ({layout}) does not fit {arch} built with {kwargs or 'its defaults'}: "
            f"missing {missing[:4]}, unexpected {unexpected[:4]}, wrong shape {wrong[:4]}. "
            "Pass the model_kwargs the weights were trained with (e.g. {\"ch\": 64}).")
    model.load_state_dict(state, strict=True)
    name = name or PAPER_ZOO_NAMES[family]
    zoo = Path(zoo_file) if zoo_file is not None else local_zoo_path()
    if layout != "gs checkpoint":
        ckpt = zoo.parent / "checkpoints" / f"{name}.pt"
        save_checkpoint(model, ckpt, arch, kwargs, imported_from=str(path), layout=layout)
    else:
        ckpt = path
    add_local_entry(name, ckpt, file=zoo, source=f"user checkpoint {path} ({layout})",
                    description=f"{arch} imported by gs.paper from {path}")
    return name
