"""Generators as ordered lists of blocks, and a registry that builds them by name.

>>> g = build("began64", ch=16)
>>> g.image_size, g.default_cut
(64, 2)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gs.models.base import BlockGenerator, SequentialGenerator
from gs.models.began import BEGAN
from gs.models.dcgan import DCGAN
from gs.models.vae import VAE, VAEEncoder, vae_loss

__all__ = [
    "BEGAN",
    "DCGAN",
    "MODELS",
    "VAE",
    "BlockGenerator",
    "SequentialGenerator",
    "VAEEncoder",
    "build",
    "vae_loss",
]

MODELS: dict[str, Callable[..., BlockGenerator]] = {
    "dcgan": DCGAN,
    "began": lambda **kw: BEGAN(**{"image_size": 128, **kw}),
    "began128": lambda **kw: BEGAN(image_size=128, **kw),
    "began64": lambda **kw: BEGAN(image_size=64, **kw),
    "vae": lambda **kw: VAE(**{"image_size": 128, **kw}),
    "vae128": lambda **kw: VAE(image_size=128, **kw),
    "vae64": lambda **kw: VAE(image_size=64, **kw),
}
"""Known model names. ``began``/``vae`` default to 128 px (the paper's) and accept
``image_size=``; ``began64``, ``vae64``... fix the size."""


def build(name: str, **kw: Any) -> BlockGenerator:
    """Build a freshly initialised generator by name (see :data:`MODELS`).

    Keyword arguments go to the class (e.g. ``ch=`` for BEGAN, ``widths=`` for VAE).
    Raises ValueError for an unknown name, listing the known ones.
    """
    if not isinstance(name, str) or name.lower() not in MODELS:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(MODELS)}")
    return MODELS[name.lower()](**kw)
