"""Lasso in the 2-D DCT basis (the paper's Lasso-DCT baseline), solved by batched FISTA.

The authors (docs/paper.md, "Baselines") replace every column ``a_i`` of ``A`` by the
per-channel orthonormal 2-D DCT of its image reshaping and call
``sklearn.linear_model.Lasso(alpha=gamma)`` (``fit_intercept=True``) on the system scaled
by ``sqrt(2 m)``. sklearn minimises ``||y' - X' w - b'||^2 / (2 m) + gamma ||w||_1``, so
with ``X' = sqrt(2m) X``, ``y' = sqrt(2m) y`` that is

    min_{w, b}  ||y - X w - b 1||^2 + gamma ||w||_1,     X w = A(D^T w),

with ``D`` the per-channel orthonormal 2-D DCT (type II, ``norm="ortho"``), ``w`` the
DCT coefficients of the image and ``b`` an unpenalised scalar intercept. The
estimate is ``x = clip(D^T w, 0, 1)`` (the intercept lives in the measurement domain
and is dropped, as in the authors' code).

The intercept is eliminated exactly: for fixed ``w`` the best ``b`` is
``mean(y - X w)``, so with the centring projector ``P = I - 1 1^T / m`` the problem is
``min_w f(w) + gamma ||w||_1`` with ``f(w) = ||P (X w - y)||^2``, ``grad f = 2 X^T P (X w
- y)`` and Lipschitz constant ``L = 2 lambda_max(X^T P X)`` (power iteration, with a
small safety margin). FISTA (Beck & Teboulle 2009) with the gradient adaptive restart
of O'Donoghue & Candes (2015) runs on all images of a batch at once (each its own
``L`` and stopping), using only ``operator.A`` / ``operator.A_adjoint``, so dense,
structured and per-image operators all work. It stops a problem when the relative
change ``||w_k - w_{k-1}|| / ||w_k||`` falls below ``tol``.

>>> import torch
>>> from gs.operators import make_operator
>>> g = torch.Generator().manual_seed(0)
>>> op = make_operator("cs", (3, 8, 8), m=60, generator=g, noise_std=0.0)
>>> x = torch.rand(1, 3, 8, 8, generator=g)
>>> res = recover_lasso_dct(None, op, op.measure(x))
>>> res.images.shape
torch.Size([1, 3, 8, 8])
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import scipy.fft
import torch
from torch import Tensor

from gs.baselines._common import select_best
from gs.operators import Operator
from gs.optim import rowdot, rowsum
from gs.recovery import RecoveryResult, default_lane_width, in_lanes

GAMMA = 0.01
"""The paper's Lasso weight (after the sqrt(2m) scaling), at every m and both sizes."""


@lru_cache(maxsize=16)
def _dct_matrix_np(n: int) -> np.ndarray:
    return scipy.fft.dct(np.eye(n), norm="ortho", axis=0)


def dct_matrix(n: int, *, dtype: torch.dtype = torch.float64, device=None) -> Tensor:
    """Orthonormal DCT-II matrix ``D: (n, n)``, ``D @ v == scipy.fft.dct(v, norm="ortho")``."""
    return torch.as_tensor(_dct_matrix_np(n), dtype=dtype, device=device)


def _separable(x: Tensor, mh: Tensor, mw: Tensor) -> Tensor:
    """``mh @ x @ mw^T`` over the last two axes of ``x: (..., H, W)``, as two plain 2-D
    GEMMs (no broadcast batched matmul)."""
    shape = x.shape
    H, W = shape[-2:]
    N = x.numel() // (H * W)
    t = (x.reshape(N * H, W) @ mw.T).reshape(N, H, W)
    t = (t.transpose(1, 2).reshape(N * W, H) @ mh.T).reshape(N, W, H).transpose(1, 2)
    return t.reshape(shape)


def dct2(x: Tensor) -> Tensor:
    """Per-channel orthonormal 2-D DCT of ``x: (..., H, W)``: ``D_H x D_W^T``
    (``scipy.fft.dctn(x, axes=(-2, -1), norm="ortho")``)."""
    dh = dct_matrix(x.shape[-2], dtype=x.dtype, device=x.device)
    dw = dct_matrix(x.shape[-1], dtype=x.dtype, device=x.device)
    return _separable(x, dh, dw)


def idct2(w: Tensor) -> Tensor:
    """Inverse (= adjoint) of :func:`dct2`: ``D_H^T w D_W``."""
    dh = dct_matrix(w.shape[-2], dtype=w.dtype, device=w.device)
    dw = dct_matrix(w.shape[-1], dtype=w.dtype, device=w.device)
    return _separable(w, dh.T, dw.T)


def soft_threshold(v: Tensor, thresh: Tensor) -> Tensor:
    """``sign(v) max(|v| - thresh, 0)``; ``thresh`` broadcasts from ``(B,)``."""
    t = thresh.view(-1, *([1] * (v.ndim - 1)))
    return torch.sign(v) * torch.clamp(v.abs() - t, min=0)


class _DCTSystem:
    """``X w = A(D^T w)`` flattened to ``(B, m_entries)``, and ``X^T r = D A^T(r)``."""

    def __init__(self, operator: Operator, index: Tensor):
        self.op = operator
        self.index = index
        self.lanes = default_lane_width(operator.device)  # batch-invariant on the CPU

    def _forward(self, w: Tensor, index: Tensor) -> Tensor:
        return self.op.A(idct2(w), index=index).flatten(1)

    def _adjoint(self, r: Tensor, index: Tensor) -> Tensor:
        return dct2(self.op.A_adjoint(r.view(r.shape[0], *self.op.meas_shape), index=index))

    def forward(self, w: Tensor) -> Tensor:
        return in_lanes(self._forward, w, self.index, width=self.lanes)

    def adjoint(self, r: Tensor) -> Tensor:
        return in_lanes(self._adjoint, r, self.index, width=self.lanes)


def _centre(r: Tensor) -> Tensor:
    return r - (rowsum(r) / r.shape[1]).unsqueeze(1)


def lipschitz(system: _DCTSystem, shape: tuple[int, ...], *, iters: int = 50,
              rng: torch.Generator | Sequence[torch.Generator] | None = None,
              dtype=torch.float32, device=None) -> Tensor:
    """Power-iteration estimate of ``lambda_max(X^T P X)`` per problem, ``(B,)``. Every
    per-problem sum here and in the solver is a batch-independent :func:`~gs.optim.rowsum`.

    ``rng``: one generator for the whole start ``(B, ...)``, or one per problem (then
    problem b's start does not depend on the others)."""
    if isinstance(rng, Sequence):
        v = torch.stack([torch.randn(shape[1:], generator=g, device=g.device, dtype=dtype)
                         for g in rng]).to(device)
    else:
        dev = rng.device if rng is not None else device
        v = torch.randn(shape, generator=rng, device=dev, dtype=dtype).to(device)
    lam = torch.zeros(shape[0], dtype=dtype, device=device)
    for _ in range(iters):
        v = v / rowsum(v.flatten(1).pow(2)).sqrt().clamp_min(1e-30).view(-1, 1, 1, 1)
        u = system.adjoint(_centre(system.forward(v)))
        lam = rowdot(u.flatten(1), v.flatten(1))
        v = u
    return lam


def lasso_objective(operator: Operator, y: Tensor, w: Tensor, gamma: float = GAMMA,
                    index: Tensor | None = None) -> Tensor:
    """``min_b ||y - X w - b||^2 + gamma ||w||_1`` per problem, ``(B,)``."""
    if index is None:
        index = torch.arange(y.shape[0], device=y.device)
    r = _centre(_DCTSystem(operator, index).forward(w) - y.flatten(1))
    return rowsum(r.pow(2)) + gamma * rowsum(w.abs().flatten(1))


def fista_lasso_dct(
    operator: Operator,
    y: Tensor,
    *,
    gamma: float = GAMMA,
    max_iter: int = 5000,
    tol: float = 1e-6,
    power_iters: int = 50,
    lipschitz_margin: float = 1.05,
    rng: torch.Generator | Sequence[torch.Generator] | None = None,
    progress: bool = False,
) -> dict:
    """Solve the Lasso-DCT problem for every image of ``y: (B, *meas_shape)``.

    Returns a dict with ``w: (B, C, H, W)`` DCT coefficients, ``intercept: (B,)``,
    ``objective: (B,)``, ``n_iter: (B,)`` (iterations until each problem stopped),
    ``converged: (B,)`` bool, ``lipschitz: (B,)`` (the ``L`` used) and ``trace:
    (T + 1, B)`` the centred measurement MSE ``||P(X v - y)||^2 / m`` at the points
    where the gradient was taken (float64, CPU; frozen problems repeat their last
    value).
    """
    B = y.shape[0]
    device, dtype = y.device, y.dtype
    index = torch.arange(B, device=device)
    system = _DCTSystem(operator, index)
    yf = y.flatten(1)
    m_entries = yf.shape[1]
    shape = (B, *operator.image_shape)
    if rng is None:
        rng = torch.Generator().manual_seed(0)
    L = 2 * lipschitz(system, shape, iters=power_iters, rng=rng, dtype=dtype,
                      device=device) * lipschitz_margin
    L = L.clamp_min(torch.finfo(dtype).tiny)
    thresh = gamma / L
    inv_L = (1.0 / L).view(-1, 1, 1, 1)

    w = torch.zeros(shape, dtype=dtype, device=device)
    v = w.clone()
    t = torch.ones(B, dtype=dtype, device=device)
    active = torch.ones(B, dtype=torch.bool, device=device)
    n_iter = torch.zeros(B, dtype=torch.long, device=device)
    trace = []
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=max_iter, desc="lasso-dct", leave=False)
    for _ in range(max_iter):
        r = _centre(system.forward(v) - yf)
        trace.append((rowsum(r.pow(2)) / m_entries).detach())
        grad = 2 * system.adjoint(r)
        w_new = soft_threshold(v - grad * inv_L, thresh)
        diff = w_new - w
        restart = rowdot((v - w_new).flatten(1), diff.flatten(1)) > 0
        t_new = (1 + torch.sqrt(1 + 4 * t * t)) / 2
        beta = torch.where(restart, torch.zeros_like(t), (t - 1) / t_new)
        t_new = torch.where(restart, torch.ones_like(t), t_new)
        v_new = w_new + beta.view(-1, 1, 1, 1) * diff
        change = (rowsum(diff.flatten(1).pow(2)).sqrt()
                  / rowsum(w_new.flatten(1).pow(2)).sqrt().clamp_min(1e-12))
        a4 = active.view(-1, 1, 1, 1)
        w = torch.where(a4, w_new, w)
        v = torch.where(a4, v_new, v)
        t = torch.where(active, t_new, t)
        n_iter += active.long()
        active = active & ~(change <= tol)
        if bar is not None:
            bar.update(1)
        if not bool(active.any()):
            break
    if bar is not None:
        bar.close()
    r = system.forward(w) - yf
    intercept = -rowsum(r) / r.shape[1]
    rc = r + intercept.unsqueeze(1)
    objective = rowsum(rc.pow(2)) + gamma * rowsum(w.abs().flatten(1))
    trace.append((rowsum(rc.pow(2)) / m_entries).detach())
    return {
        "w": w,
        "intercept": intercept,
        "objective": objective,
        "n_iter": n_iter,
        "converged": ~active,
        "lipschitz": L,
        "trace": torch.stack(trace).double().cpu(),
    }


def recover_lasso_dct(
    generator: None,
    operator: Operator,
    y: Tensor,
    *,
    restarts: int = 1,
    steps: int = 5000,
    gamma: float = GAMMA,
    tol: float = 1e-6,
    seed: int = 0,
    image_seeds: Sequence[int] | None = None,
    x_true: Tensor | None = None,
    progress: bool = False,
    power_iters: int = 50,
) -> RecoveryResult:
    """Lasso-DCT recovery of ``B`` images from ``y: (B, *operator.meas_shape)``.

    Same call shape as :func:`gs.recovery.recover`; ``generator`` is ignored (pass
    None) and so is ``restarts`` (a convex problem: one solve, ``R = 1``). ``steps`` is
    the maximum number of FISTA iterations, ``tol`` the relative-change stopping
    tolerance, ``gamma`` the Lasso weight (0.01, the paper's), ``seed`` seeds the power
    iteration (``image_seeds``: one seed per image instead, so that an image's result does
    not depend on the other images of the batch). Everything runs on ``operator``'s
    device and dtype.

    Returns a :class:`~gs.recovery.RecoveryResult` with ``images: (B, 3, H, W)`` =
    ``clip(D^T w, 0, 1)``, ``latents = (w,)`` the DCT coefficients, ``trace: (T + 1, B,
    1)`` the centred measurement MSE along the iterations; ``info`` holds
    ``objective``, ``intercept``, ``n_iter``, ``converged``, ``lipschitz`` (each
    ``(B,)``) and ``gamma``.
    """
    t0 = time.perf_counter()
    del generator, restarts
    operator.check_measurements(y)
    y = y.to(device=operator.device, dtype=operator.dtype)
    if image_seeds is not None:
        if len(image_seeds) != y.shape[0]:
            raise ValueError(f"{len(image_seeds)} image_seeds for {y.shape[0]} images")
        rng = [torch.Generator().manual_seed(int(s)) for s in image_seeds]
    else:
        rng = torch.Generator().manual_seed(seed)
    sol = fista_lasso_dct(operator, y, gamma=gamma, max_iter=steps, tol=tol,
                          power_iters=power_iters, rng=rng, progress=progress)
    images = idct2(sol["w"]).clamp(0, 1)
    B = y.shape[0]
    return select_best(
        images, operator, y, 1, latents=(sol["w"],), trace=sol["trace"], x_true=x_true,
        t0=t0, n_evals=int(sol["n_iter"].max()) if B else 0, steps=steps,
        info={k: sol[k] for k in ("objective", "intercept", "n_iter", "converged",
                                  "lipschitz")} | {"gamma": gamma, "tol": tol,
                                                   "method": "lasso_dct"},
    )


__all__ = [
    "GAMMA",
    "dct2",
    "dct_matrix",
    "fista_lasso_dct",
    "idct2",
    "lasso_objective",
    "recover_lasso_dct",
]
