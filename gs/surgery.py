"""Generator surgery: cut a block generator at ``c`` and optimise the input of block ``c``.

A cut generator is the same :class:`~gs.models.base.BlockGenerator` run with
``forward(latents, cut=c)``; this module adds what surgery needs around it:

- :func:`prepare_for_recovery`: eval mode (BN running statistics) and frozen weights;
- :func:`reinitialize`: the paper's "untrained" ablation, fresh PyTorch-default
  weights in the blocks that are kept (index >= c), removed blocks untouched;
- :func:`cut_table`, :func:`latent_dim`, :func:`share_removed`: latent shapes,
  optimised dimension and share of parameters removed at every cut
  (``docs/cut_table.md`` is generated from :func:`cut_table`);
- :class:`CutGenerator`: a generator with its cut fixed, as an ``nn.Module``.

>>> import torch
>>> from gs.models import build
>>> g = prepare_for_recovery(build("dcgan"))
>>> latent_dim(g, 1), round(100 * share_removed(g, 1), 1)
(8192, 22.9)
>>> z = g.sample_latents(2, cut=1, generator=torch.Generator().manual_seed(0))
>>> g(z, cut=1).shape
torch.Size([2, 3, 64, 64])
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import Tensor, nn

from gs.models.base import BlockGenerator, LatentLike, Latents

__all__ = [
    "CutGenerator",
    "cut_table",
    "latent_dim",
    "prepare_for_recovery",
    "reinitialize",
    "reset_module",
    "share_removed",
]


def prepare_for_recovery(generator: BlockGenerator) -> BlockGenerator:
    """Put ``generator`` in eval mode and freeze all its weights; returns it (in place).

    Recovery always runs generators this way: BatchNorm uses its running statistics
    and only the latents are optimised.
    """
    generator.eval()
    generator.requires_grad_(False)
    return generator


def reset_module(module: nn.Module) -> nn.Module:
    """Call ``reset_parameters`` on every submodule that has one (in place).

    This gives PyTorch-default random weights (BatchNorm: weight 1, bias 0, and its
    running statistics reset). Uses the global RNG of the parameters' device.
    """
    for sub in module.modules():
        reset = getattr(sub, "reset_parameters", None)
        if callable(reset):
            reset()
    return module


def reinitialize(
    generator: BlockGenerator, cut: int, generator_rng: torch.Generator | None = None
) -> BlockGenerator:
    """A deep copy of ``generator`` whose kept blocks (index >= ``cut``) are re-drawn.

    The paper's "untrained / re-initialised" ablation: the blocks that surgery keeps get
    fresh PyTorch-default weights (``reset_parameters`` on each submodule, BN running
    statistics reset), the removed blocks ``blocks[:cut]`` and anything outside
    ``blocks`` (e.g. a VAE encoder) stay bit-identical, and ``generator`` itself is not
    touched. The copy keeps the original's train/eval mode and ``requires_grad`` flags.

    Args:
        generator: the trained generator.
        cut: a valid cut index of ``generator``.
        generator_rng: if given, the new weights are a deterministic function of its
            state (it is advanced); otherwise the global RNG is used.

    >>> from gs.models import build
    >>> g = build("dcgan")
    >>> r = reinitialize(g, 1, torch.Generator().manual_seed(0))
    >>> bool((r.blocks[0][0].weight == g.blocks[0][0].weight).all())
    True
    """
    generator.check_cut(cut)
    new = copy.deepcopy(generator)
    flags = {name: p.requires_grad for name, p in new.named_parameters()}
    kept = new.blocks[cut:]
    if generator_rng is None:
        with torch.no_grad():
            reset_module(kept)
    else:
        seed = int(torch.randint(0, 2**62, (1,), generator=generator_rng).item())
        dev = new.device
        devices = [dev] if dev.type == "cuda" else []
        with torch.random.fork_rng(devices=devices), torch.no_grad():
            torch.manual_seed(seed)
            reset_module(kept)
    for name, p in new.named_parameters():
        p.requires_grad_(flags[name])
    if hasattr(new, "_shape_cache"):
        new._shape_cache = None
    return new


def latent_dim(generator: BlockGenerator, cut: int) -> int:
    """Number of scalars optimised per image at ``cut`` (all free latents together)."""
    return generator.latent_dim(generator.check_cut(cut))


def share_removed(generator: BlockGenerator, cut: int) -> float:
    """Fraction in ``[0, 1)`` of the generator's weights in the blocks removed by ``cut``."""
    return generator.params_removed(cut) / generator.num_params()


def cut_table(generator: BlockGenerator, as_frame: bool = False) -> Any:
    """One row per valid cut: what surgery optimises and what it removes.

    Each row is a dict with ``cut``, ``latent_shapes`` (tuple of per-example shapes),
    ``latent_dim`` (optimised scalars per image), ``params_removed``,
    ``share_removed`` (fraction), ``params_total``, ``paper_cut`` (the model's
    ``default_cut``) and ``in_sweep`` (in the paper's cut sweep). ``as_frame=True``
    returns a :class:`pandas.DataFrame` instead of a list of dicts.

    >>> from gs.models import build
    >>> cut_table(build("dcgan"))[1]["latent_dim"]
    8192
    """
    total = generator.num_params()
    rows = []
    for c in generator.valid_cuts:
        rows.append(
            {
                "cut": c,
                "latent_shapes": generator.latent_shapes(c),
                "latent_dim": generator.latent_dim(c),
                "params_removed": generator.params_removed(c),
                "share_removed": generator.params_removed(c) / total,
                "params_total": total,
                "paper_cut": c == generator.default_cut,
                "in_sweep": c in generator.sweep_cuts,
            }
        )
    if as_frame:
        import pandas as pd

        return pd.DataFrame(rows)
    return rows


class CutGenerator(nn.Module):
    """``generator`` with the cut fixed: ``forward(latents)`` runs ``blocks[cut:]``.

    Shares weights with ``generator`` (no copy).

    >>> from gs.models import build
    >>> g = CutGenerator(build("began", ch=8).eval(), 2)
    >>> g.latent_shapes
    ((8, 16, 16), (8, 8, 8))
    """

    def __init__(self, generator: BlockGenerator, cut: int):
        super().__init__()
        self.generator = generator
        self.cut = generator.check_cut(cut)

    @property
    def latent_shapes(self) -> tuple[tuple[int, ...], ...]:
        return self.generator.latent_shapes(self.cut)

    @property
    def latent_dim(self) -> int:
        return self.generator.latent_dim(self.cut)

    def sample_latents(self, batch: int, **kw: Any) -> Latents:
        """``generator.sample_latents(batch, cut=self.cut, **kw)``."""
        return self.generator.sample_latents(batch, self.cut, **kw)

    def forward(self, latents: LatentLike) -> Tensor:
        return self.generator(latents, cut=self.cut)
