"""Batched optimisers: many independent problems in one optimisation.

Every problem ``p`` owns the slice ``t[p]`` of each parameter tensor ``t`` (leading
problem dimension ``P``) and its own loss ``loss_fn()[p]``; no term couples two problems,
so the gradient of ``loss.sum()`` with respect to ``t[p]`` is problem ``p``'s own.

* :class:`BatchedLBFGS` gives every problem its own L-BFGS state (history ring buffer,
  step size, ``ro``, ``H_diag``, stopping) and reproduces ``torch.optim.LBFGS``, so the
  batched iterates are those of ``P`` separate ``torch.optim.LBFGS`` runs (up to
  floating-point reassociation; tested to 1e-9 in float64);
* Adam is elementwise, so ``torch.optim.Adam`` on the batched tensors already is ``P``
  separate Adam runs;
* :func:`minimize` drives either one for ``steps`` outer steps and, by default, returns
  every problem at the **best iterate it has seen** (lowest loss), not the last one.
  A problem whose loss turns non-finite or rises ``divergence_factor`` times above its
  best has diverged: it is stopped there, put back at its best iterate, and counted in
  :attr:`MinimizeResult.diverged`. Without line search (the paper's setting) L-BFGS at a
  large learning rate sometimes diverges; the authors' code returned the last iterate.

>>> import torch
>>> x = torch.tensor([[3.0, -1.0], [0.5, 2.0]], requires_grad=True)   # P = 2 problems
>>> res = minimize([x], lambda: (x - 1).pow(2).sum(1), steps=2, lr=1.0)
>>> torch.allclose(x, torch.ones(2, 2)), res.diverged.tolist()
(True, [False, False])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from gs.optim.best import (
    DIVERGENCE_FACTOR,
    ROW_BLOCK,
    BestIterate,
    check_positive,
    rowdot,
    rowsum,
)
from gs.optim.lbfgs import BatchedLBFGS

__all__ = [
    "DIVERGENCE_FACTOR", "OPTIMIZERS", "ROW_BLOCK", "BatchedLBFGS", "BestIterate",
    "MinimizeResult", "check_positive", "minimize", "rowdot", "rowsum",
]

OPTIMIZERS = ("lbfgs", "adam")


@dataclass
class MinimizeResult:
    """What :func:`minimize` returns.

    ``trace: (steps + 1, P)``: the loss of every problem at the start of each outer
    step, then (if evaluated) at the returned point (NaN otherwise). ``n_evals``: calls of
    ``loss_fn`` (each evaluates all P problems). ``problem_evals: (P,)``: evaluations
    each problem would have needed alone (``torch.optim.LBFGS`` ``func_evals``).
    ``best_loss: (P,)``: the lowest loss each problem reached (float64, CPU);
    ``diverged: (P,)`` bool: problems stopped as diverged (CPU).
    """

    trace: Tensor
    n_evals: int
    problem_evals: Tensor
    best_loss: Tensor
    diverged: Tensor


def minimize(
    params: Sequence[Tensor],
    loss_fn: Callable[[], Tensor],
    *,
    optimizer: str = "lbfgs",
    steps: int,
    lr: float,
    keep_best: bool = True,
    divergence_factor: float | None = DIVERGENCE_FACTOR,
    callback: Callable[[int, Tensor], None] | None = None,
    **options,
) -> MinimizeResult:
    """Minimise ``P`` independent problems in one batch.

    Args:
        params: leaf tensors with ``requires_grad=True`` and leading dimension ``P``.
        loss_fn: returns per-problem losses ``(P,)``; problems must be independent (the
            gradient of ``loss.sum()`` w.r.t. problem p's slice is its own gradient).
        optimizer: ``"lbfgs"`` (:class:`BatchedLBFGS`; ``steps`` calls of ``.step``, each
            up to ``max_iter`` iterations) or ``"adam"`` (``torch.optim.Adam``, ``steps``
            updates; exactly P separate Adam runs since Adam is elementwise).
        steps, lr: outer steps and learning rate.
        keep_best: leave every problem at the best iterate it has seen (the point after
            the last step is evaluated too, without a gradient); False leaves the last
            iterate, as ``torch.optim`` does.
        divergence_factor: a problem whose loss is non-finite or above this multiple of
            its best is stopped at its best (None: never).
        callback: called as ``callback(k, losses)`` after outer step ``k`` (0-based) with
            the losses ``(P,)`` at the start of that step.
        options: extra keywords for the optimiser (``max_iter``, ``history_size``,
            ``line_search_fn``, ``tolerance_grad``, ... for L-BFGS; ``betas``, ``eps``,
            ``weight_decay`` for Adam).
    """
    params = list(params)
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; choose one of {OPTIMIZERS}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be an int >= 0, got {steps!r}")
    check_positive(lr=lr)
    P = params[0].shape[0]
    trace = torch.full((steps + 1, P), float("nan"), dtype=torch.float64)
    if optimizer == "lbfgs":
        opt = BatchedLBFGS(params, lr=lr, divergence_factor=divergence_factor, **options)
        best = opt.best
        for k in range(steps):
            trace[k] = opt.step(loss_fn).double().cpu()
            if callback is not None:
                callback(k, trace[k])
        n_evals, problem_evals = opt.n_batched_evals, opt.func_evals.cpu()
    else:
        adam = torch.optim.Adam(params, lr=lr, **options)
        best = BestIterate(params, divergence_factor)
        for k in range(steps):
            adam.zero_grad(set_to_none=True)
            with torch.enable_grad():
                loss = _checked(loss_fn(), P)
                loss.sum().backward()
            best.update(loss)
            adam.step()
            best._load(best.diverged)  # diverged problems stay at their best
            trace[k] = loss.detach().double().cpu()
            if callback is not None:
                callback(k, trace[k])
        for p in params:
            p.grad = None
        n_evals = steps
        problem_evals = torch.full((P,), steps, dtype=torch.long)
    with torch.no_grad():
        last = _checked(loss_fn(), P).detach()
    n_evals += 1
    problem_evals = problem_evals + 1
    if keep_best:
        best.update(last)
        best.restore()
        trace[steps] = best.loss.cpu()
    else:
        trace[steps] = last.double().cpu()
    return MinimizeResult(trace=trace, n_evals=n_evals, problem_evals=problem_evals,
                          best_loss=best.loss.cpu(), diverged=best.diverged.cpu())


def _checked(loss: Tensor, P: int) -> Tensor:
    if loss.shape != (P,):
        raise ValueError(f"loss_fn must return losses of shape ({P},), got {tuple(loss.shape)}")
    return loss

