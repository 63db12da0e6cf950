"""The batched optimisers return each problem's best iterate and stop diverged problems."""

from __future__ import annotations

import math

import pytest
import torch

from gs.optim import BatchedLBFGS, BestIterate, minimize, rowdot, rowsum


def diverging_problems():
    """Two 1-D problems from x0 = 1: f(x) = x^2, on which L-BFGS without line search at
    lr 3 overshoots ever further (x: 1, -2, 4, -8, ...), and one at its optimum."""
    x = torch.tensor([[1.0], [1.0]], dtype=torch.float64, requires_grad=True)

    def loss():
        return torch.stack([x[0, 0] ** 2, (x[1, 0] - 1) ** 2 + 0.5])

    return x, loss


def test_last_iterate_diverges_best_iterate_does_not():
    x, loss = diverging_problems()
    last = minimize([x], loss, steps=3, lr=3.0, keep_best=False, divergence_factor=None)
    assert not math.isfinite(float(last.trace[-1, 0])) or float(last.trace[-1, 0]) > 1e3
    x, loss = diverging_problems()
    best = minimize([x], loss, steps=3, lr=3.0)
    # problem 0 ends at its best point (where it started), flagged diverged
    assert bool(best.diverged[0]) and not bool(best.diverged[1])
    assert float(best.trace[-1, 0]) == 1.0 == float(best.best_loss[0]) and float(x[0, 0]) == 1
    assert float(loss()[0]) == pytest.approx(float(best.best_loss[0]))
    # problem 1 is untouched by its neighbour's divergence
    assert float(x[1, 0]) == 1.0 and float(best.trace[-1, 1]) == 0.5


def test_adam_keeps_the_best_iterate_too():
    x = torch.tensor([[3.0], [3.0]], requires_grad=True)
    # lr 10 on (x - 1)^2 oscillates; the best point seen is kept
    res = minimize([x], lambda: (x - 1).pow(2).sum(1), optimizer="adam", steps=20, lr=10.0)
    assert torch.all(res.trace[-1] <= res.trace[:-1].nan_to_num(math.inf).min(0).values + 1e-6)


def test_best_iterate_rewinds_a_non_finite_problem():
    x = torch.tensor([[1.0], [2.0]], requires_grad=True)
    best = BestIterate([x], divergence_factor=1e4)
    best.update(torch.tensor([1.0, 4.0]))
    with torch.no_grad():
        x.copy_(torch.tensor([[float("nan")], [1.5]]))
    bad = best.update(torch.tensor([float("nan"), 2.0]))
    assert bad.tolist() == [True, False] and best.diverged.tolist() == [True, False]
    assert x[0, 0].item() == 1.0 and x[1, 0].item() == 1.5  # problem 0 put back at once


@pytest.mark.parametrize("lr", [0.0, -1.0, float("nan"), float("inf")])
def test_impossible_learning_rates_are_rejected(lr):
    x = torch.zeros(2, 3, requires_grad=True)
    with pytest.raises(ValueError, match="lr must be a finite number > 0"):
        minimize([x], lambda: x.pow(2).sum(1), steps=1, lr=lr)


def test_row_sums_do_not_depend_on_the_number_of_rows():
    g = torch.Generator().manual_seed(0)
    rows = torch.randn(6, 65536 + 7, generator=g)
    alone = [rowsum(rows[i : i + 1]) for i in range(6)]
    together = rowsum(rows)
    assert all(torch.equal(alone[i][0], together[i]) for i in range(6))
    torch.testing.assert_close(rowsum(rows), rows.double().sum(1).float(), rtol=1e-5,
                               atol=1e-3)
    assert torch.equal(rowdot(rows, rows), rowsum(rows * rows))


def test_line_search_trial_points_are_not_iterates():
    """A huge trial step inside the strong-Wolfe search is not a divergence."""
    x = torch.tensor([[3.0], [2.0]], requires_grad=True)
    res = minimize([x], lambda: (x**2).sum(1), steps=3, lr=1e5, line_search_fn="strong_wolfe")
    assert not res.diverged.any() and torch.allclose(x, torch.zeros(2, 1), atol=1e-6)


@pytest.mark.parametrize("kw", [{"history_size": 0}, {"max_iter": 0}, {"history_size": 2.5}])
def test_impossible_lbfgs_settings_are_rejected(kw):
    x = torch.zeros(2, 3, requires_grad=True)
    with pytest.raises(ValueError, match="must be an int >= 1"):
        minimize([x], lambda: x.pow(2).sum(1), steps=1, lr=1.0, **kw)


def lbfgs_iterates(problems: torch.Tensor, lanes, steps=3, history=5):
    """Float32 L-BFGS on f_p(x) = sum(w_p x^2 + 0.1 x^4 - x) (a different curvature per
    problem), with a short history so that the ring of pairs wraps many times."""
    w = torch.linspace(0.5, 3.0, 16)[problems].unsqueeze(1) * torch.linspace(0.2, 2.0, 8192)
    x = torch.full((len(problems), 8192), 0.7, requires_grad=True)
    opt = BatchedLBFGS([x], lr=0.5, history_size=history, lanes=lanes)
    for _ in range(steps):
        opt.step(lambda: (w * x * x + 0.1 * x**4 - x).sum(1))
    return x.detach(), opt


def test_lbfgs_iterates_do_not_depend_on_the_batch_with_lanes():
    """With lanes, a problem's iterates are bit-identical alone, in a batch of 11 (a
    padded last lane) and in another order, after the history ring wrapped. (Without
    lanes they are not: at batch 1 the history products run as matrix-vector products.)"""
    alone = {p: lbfgs_iterates(torch.tensor([p]), lanes=8)[0][0] for p in (0, 7, 10)}
    order = torch.tensor([3, 0, 1, 2, 4, 5, 6, 7, 8, 9, 10])
    batch, opt = lbfgs_iterates(order, lanes=8)
    assert int(opt.npairs.min()) == 5 and int(opt.n_iter.min()) > 2 * 5  # wrapped
    for p, x in alone.items():
        assert torch.equal(batch[int((order == p).nonzero())], x), p
    rev, _ = lbfgs_iterates(order.flip(0), lanes=8)
    assert torch.equal(rev.flip(0), batch)

