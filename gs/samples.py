"""Generator samples at every cut (the supplement's "generator samples after training").

Row ``c`` of the grid feeds clamped-normal inputs at cut ``c`` (the paper's init, used
for every free tensor, BEGAN's skip included); column ``j`` uses seed ``j``.
"""

from __future__ import annotations

from collections.abc import Sequence

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
