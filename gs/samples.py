"""Generator samples at every cut (the supplement's "generator samples after training").

Row ``c`` of the grid feeds clamped-normal inputs at cut ``c`` (the paper's init, used
for every free tensor, BEGAN's skip included); column ``j`` uses seed ``j``.

:func:`generator_samples` draws images from the uncut generator as ground truth with zero
representation error (the image set ``"samples:<zoo entry>"`` of :mod:`gs.sweep`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd
import torch

from gs.models.base import BlockGenerator


@torch.no_grad()
def samples_at_cuts(
    generator: BlockGenerator,
    cuts: Sequence[int],
    seeds: Sequence[int],
    *,
    init: str = "clamped_normal",
    limit: float = 1.0,
) -> torch.Tensor:
    """Images ``(len(cuts), len(seeds), 3, H, W)``, unclamped, in eval mode.

    The draw for (cut, seed) uses ``torch.Generator().manual_seed(seed)`` on the CPU, so a
    sample does not depend on the other cuts or seeds in the grid, nor on the device.
    """
    generator = generator.eval()
    rows = []
    for cut in cuts:
        generator.check_cut(cut)
        cols = []
        for seed in seeds:
            rng = torch.Generator().manual_seed(int(seed))
            z = generator.sample_latents(1, cut, init=init, limit=limit, generator=rng,
                                         device="cpu")
            z = tuple(t.to(generator.device) for t in z)
            cols.append(generator(z, cut=cut)[0].cpu())
        rows.append(torch.stack(cols))
    return torch.stack(rows)


@torch.no_grad()
def generator_samples(
    generator: BlockGenerator,
    n: int,
    seed: int = 0,
    size: int | None = None,
    *,
    init: str = "clamped_normal",
    limit: float = 1.0,
) -> torch.Tensor:
    """``n`` images ``(n, 3, H, W)`` in ``[0, 1]`` from the uncut generator (cut 0).

    Sample ``i`` feeds a latent drawn with ``init`` (default: N(0,1) clamped to
    ``[-limit, limit]``, the paper's init) from ``torch.Generator().manual_seed(seed + i)``
    on the CPU, so it does not depend on ``n`` nor on the device. Outputs are clamped to
    ``[0, 1]``: DCGAN's (tanh + 1) / 2 output is inside already, so its samples lie exactly
    in the generator's range (zero representation error at cut 0); BEGAN's ELU output can
    leave it, and the clamp then adds a small representation error.

    ``size``, if given, must equal ``generator.image_size`` (a clear error otherwise).

    >>> from gs.models import build
    >>> g = build("dcgan").eval()
    >>> x = generator_samples(g, 2, seed=3)
    >>> tuple(x.shape), bool(x.min() >= 0 and x.max() <= 1)
    ((2, 3, 64, 64), True)
    >>> torch.equal(x[1], generator_samples(g, 3, seed=3)[1])
    True
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if size is not None and int(size) != generator.image_size:
        raise ValueError(f"the generator makes {generator.image_size} px images, not {size} px")
    seeds = [seed + i for i in range(n)]
    x = samples_at_cuts(generator, [0], seeds, init=init, limit=limit)[0]
    return x.clamp(0, 1)


def total_variation(x: torch.Tensor) -> float:
    """Mean absolute difference between neighbouring pixels of ``x: (3, H, W)``."""
    dh = (x[:, 1:, :] - x[:, :-1, :]).abs().mean()
    dw = (x[:, :, 1:] - x[:, :, :-1]).abs().mean()
    return float((dh + dw) / 2)


def sample_statistics(
    images: torch.Tensor, cuts: Sequence[int], seeds: Sequence[int], model: str
) -> pd.DataFrame:
    """One row per sample: pixel mean and spread, and the share of pixels outside [0, 1]."""
    records = []
    for i, cut in enumerate(cuts):
        for j, seed in enumerate(seeds):
            x = images[i, j]
            records.append(
                {
                    "model": model,
                    "cut": cut,
                    "seed": int(seed),
                    "pixel_mean": float(x.mean()),
                    "pixel_std": float(x.std()),
                    "out_of_range": float(((x < 0) | (x > 1)).float().mean()),
                    "total_variation": total_variation(x.clamp(0, 1)),
                }
            )
    return pd.DataFrame.from_records(records)


@dataclass
class SampleSheet:
    """Samples of one generator as a figure shows them, kept so that the figure can be
    redrawn without the generator (``samples.npz`` beside a profile's figures).

    ``pixels``: ``(len(cuts), len(seeds), 3, H, W)`` in [0, 1], 8-bit values (what a PNG
    holds: the figure shows these); ``stats``: one row per (cut, seed), cut-major, holding
    the figure's CSV columns computed from the generator's full-precision output;
    ``info``: text the figure prints (e.g. latent sizes, the weights' sha256). ``kind``
    names the figure (``"01"``, ``"train"``), ``model`` the zoo entry.
    """

    kind: str
    model: str
    cuts: tuple[int, ...]
    seeds: tuple[int, ...]
    pixels: torch.Tensor
    stats: pd.DataFrame
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        self.cuts, self.seeds = tuple(map(int, self.cuts)), tuple(map(int, self.seeds))
        want = (len(self.cuts), len(self.seeds))
        if tuple(self.pixels.shape[:2]) != want or len(self.stats) != want[0] * want[1]:
            raise ValueError(f"sample sheet {self.kind}|{self.model}: pixels "
                             f"{tuple(self.pixels.shape)} and {len(self.stats)} stats rows "
                             f"do not match {want[0]} cuts x {want[1]} seeds")

    def select(self, cuts: Sequence[int], seeds: Sequence[int]) -> SampleSheet:
        """The samples at ``cuts`` x ``seeds`` (in that order); a KeyError names what the
        sheet lacks."""
        lack = sorted({int(c) for c in cuts} - set(self.cuts))
        lack_s = sorted({int(s) for s in seeds} - set(self.seeds))
        if lack or lack_s:
            raise KeyError(f"no samples of {self.model} at cut(s) {lack} / seed(s) {lack_s} "
                           f"(it has cuts {list(self.cuts)}, seeds {list(self.seeds)})")
        ci = [self.cuts.index(int(c)) for c in cuts]
        si = [self.seeds.index(int(s)) for s in seeds]
        rows = [i * len(self.seeds) + j for i in ci for j in si]
        return SampleSheet(self.kind, self.model, tuple(cuts), tuple(seeds),
                           self.pixels[ci][:, si], self.stats.iloc[rows].reset_index(drop=True),
                           dict(self.info))


def quantise(x: torch.Tensor) -> torch.Tensor:
    """``x`` clamped to [0, 1] and rounded to 8 bits (what a PNG of it holds)."""
    return (x.detach().float().clamp(0, 1) * 255).round() / 255
