"""Per-problem bookkeeping shared by the batched optimisers: the best iterate of each
problem, divergence, batch-independent row sums, argument checks."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

#: A problem whose loss exceeds this multiple of its best loss has diverged. L-BFGS
#: without a line search recovers from smaller spikes (seen: 1e4 to 1e6 times the best
#: on BEGAN raw reconstruction at lr 1, which then fit to 30 dB), so only a blow-up counts.
DIVERGENCE_FACTOR = 1e8


#: Row reductions add blocks of this many entries, then the block sums (see rowsum).
ROW_BLOCK = 1024


def rowsum(x: Tensor) -> Tensor:
    """``x.sum(1)`` for ``x: (P, N)``, summed in the same order whatever ``P`` is.

    A plain ``sum(1)`` over one long row (``P = 1``, ``N`` above torch's grain size) is
    split across threads, over several rows it is not, so a problem's sums would depend
    on how many problems share its batch. Here every row is cut into blocks of
    :data:`ROW_BLOCK` (zero-padded), each block is one output of the first reduction
    (always several outputs, so each is summed by one thread), and the few block sums
    are added serially.
    """
    P, N = x.shape
    if N <= ROW_BLOCK:
        return x.sum(1)
    pad = -N % ROW_BLOCK
    if pad:
        x = torch.nn.functional.pad(x, (0, pad))
    return x.view(P, -1, ROW_BLOCK).sum(2).sum(1)


def rowdot(a: Tensor, b: Tensor) -> Tensor:
    """Per-row dot products ``(a * b).sum(1)`` in a batch-independent order (:func:`rowsum`)."""
    return rowsum(a * b)


def check_positive(**values: float) -> None:
    """Raise a ValueError naming each value that is not a finite number > 0."""
    for name, v in values.items():
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v <= 0:
            raise ValueError(f"{name} must be a finite number > 0, got {v!r}")


class BestIterate:
    """The best iterate each of ``P`` problems has seen, and which ones diverged.

    :meth:`update` is called with the losses ``(P,)`` of the current point of ``params``
    (each with a leading problem dimension). A problem's best point is the one with its
    lowest finite loss. A problem diverges when its loss is non-finite or above
    ``divergence_factor`` times its best (for losses >= 0; in general, more than
    ``(factor - 1) * |best|`` above it; never, if the factor is None): it is put back at
    its best point at once and stays marked in :attr:`diverged`; the optimiser must not
    move it again.
    """

    def __init__(self, params: Sequence[Tensor], divergence_factor: float | None):
        self.params = list(params)
        P = self.params[0].shape[0]
        device = self.params[0].device
        self.factor = divergence_factor
        self.loss = torch.full((P,), math.inf, dtype=torch.float64, device=device)
        self.point = [t.detach().clone() for t in self.params]
        self.diverged = torch.zeros(P, dtype=torch.bool, device=device)

    @staticmethod
    def _rows(mask: Tensor, t: Tensor) -> Tensor:
        return mask.view(-1, *[1] * (t.ndim - 1))

    @torch.no_grad()
    def update(self, loss: Tensor) -> Tensor:
        """Record the current point where it is a problem's best; returns the problems
        that diverged at this point (already put back at their best)."""
        lo = loss.detach().double()
        live = ~self.diverged
        better = live & (lo < self.loss)  # NaN is never better
        for keep, t in zip(self.point, self.params, strict=True):
            keep.copy_(torch.where(self._rows(better, t), t.detach(), keep))
        self.loss = torch.where(better, lo, self.loss)
        if self.factor is None:
            return torch.zeros_like(live)
        rise = (self.factor - 1) * self.loss.abs()  # = factor * best for a loss >= 0
        bad = live & (~torch.isfinite(lo) | (lo > self.loss + rise))
        self.diverged |= bad  # masked, not branched on: no host sync per evaluation
        self._load(bad)
        return bad

    @torch.no_grad()
    def _load(self, mask: Tensor) -> None:
        for keep, t in zip(self.point, self.params, strict=True):
            t.copy_(torch.where(self._rows(mask, t), keep, t))

    def restore(self) -> None:
        """Put every problem that has a finite best loss back at its best point."""
        self._load(torch.isfinite(self.loss))
