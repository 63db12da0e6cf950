"""The batched recovery engine: many independent latent-optimisation problems at once.

CSGM recovery (and surgery's, and the baselines') minimises, for every image and every
restart, a measurement loss over some latent tensors. Those problems are independent:
the generator is in eval mode and no term couples two problems, so the gradient of
``loss.sum()`` with respect to one problem's slice is that problem's own gradient.
:func:`recover` runs all images x restarts as ONE batched optimisation
(:func:`gs.optim.minimize`: batched L-BFGS with ``torch.optim.LBFGS`` semantics, or Adam),
loss ``||A G_c(z) - y||^2 / m``, best restart by the measurement MSE of the clamped output
(docs/decisions.md, decisions 1, 3, 4, 5). Every generator and operator evaluation runs
in fixed-width lanes (:func:`in_lanes`) so that a problem's numbers do not depend on its
batch; :func:`clamped_losses` scores outputs the same way for every method.

Speed comes from batching: one convolution over ``B * R`` problems is a bigger, more
efficient GEMM than ``B * R`` small ones.

>>> import torch
>>> from gs.models.dcgan import DCGAN
>>> from gs.operators import make_operator
>>> _ = torch.manual_seed(0)
>>> g = DCGAN(nz=16, ngf=8).eval()
>>> rng = torch.Generator().manual_seed(0)
>>> x = g(g.sample_latents(2, 0, generator=rng), cut=0).detach()
>>> op = make_operator("cs", (3, 64, 64), m=100, generator=rng)
>>> res = recover(g, op, op.measure(x, generator=rng), cut=1, restarts=3, steps=1, x_true=x)
>>> res.images.shape, res.restart_losses.shape, res.trace.shape
(torch.Size([2, 3, 64, 64]), torch.Size([2, 3]), torch.Size([2, 2, 3]))

Mixed precision (``amp=True``) suits Adam; with L-BFGS the bfloat16 rounding of the
loss soon trips ``tolerance_change`` and the iterations stall.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from gs.metrics import psnr as psnr_fn
from gs.operator_group import OperatorGroup
from gs.operators import Operator
from gs.optim import OPTIMIZERS, check_positive, minimize


# ------------------------------------------------------------------------ recover
@dataclass
class RecoveryResult:
    """The result of :func:`recover` for B images and R restarts.

    Attributes:
        images: ``(B, 3, H, W)`` generator output of the best restart, unclamped.
        loss: ``(B,)`` measurement MSE of the clamped best output, ``mean (A clamp(x) - y)^2``.
        restart_losses: ``(B, R)`` the same for every restart.
        best_restart: ``(B,)`` long, the restart with the lowest ``restart_losses``.
        latents: the best restart's optimised latents, a tuple of ``(B, ...)`` tensors.
        trace: ``(steps + 1, B, R)`` unclamped measurement MSE at the start of every
            outer step and after the last one (float64, CPU).
        psnr: ``(B,)`` PSNR of the clamped best output against ``x_true`` (or None).
        seconds: wall time of the whole recovery.
        n_evals: batched generator forward+backward passes (all chunks).
        problem_evals: ``(B, R)`` evaluations each problem would have needed alone.
        cut: the cut index.
    """

    images: Tensor
    loss: Tensor
    restart_losses: Tensor
    best_restart: Tensor
    latents: tuple[Tensor, ...]
    trace: Tensor
    psnr: Tensor | None
    seconds: float
    n_evals: int
    problem_evals: Tensor
    cut: int
    info: dict = field(default_factory=dict)


@contextlib.contextmanager
def frozen(module: nn.Module) -> Iterator[nn.Module]:
    """Put ``module`` in eval mode with ``requires_grad=False`` on every weight, and
    restore each submodule's mode and each weight's flag on exit."""
    modes = [(m, m.training) for m in module.modules()]
    flags = [(p, p.requires_grad) for p in module.parameters()]
    module.eval()
    module.requires_grad_(False)
    try:
        yield module
    finally:
        for m, mode in modes:
            m.training = mode
        for p, flag in flags:
            p.requires_grad_(flag)


#: Problems per generator call on the CPU: every evaluation runs on chunks of exactly this
#: many problems (the last one padded), so a problem's numbers never depend on which,
#: or how many, other problems share its batch (see :func:`in_lanes`).
CPU_LANE_WIDTH = 8


#: The version of the engine's numerics. Every record carries it (column ``engine``) and a
#: sweep recomputes a stored record of another version instead of reusing it, so a figure
#: never compares two versions' rounding. Bump it with any change that can alter a
#: record's numbers, rounding included. 1: the two-loop L-BFGS recursion (records before
#: the column existed count as 1); 2: the compact history (2026-11-30).
ENGINE_VERSION = 2


def default_lane_width(device: torch.device | str) -> int | None:
    """:data:`CPU_LANE_WIDTH` on the CPU; None (one call for all problems) elsewhere."""
    return CPU_LANE_WIDTH if torch.device(device).type == "cpu" else None


def in_lanes(fn: Callable[..., Tensor], *tensors: Tensor, width: int | None) -> Tensor:
    """``fn(*tensors)`` evaluated on chunks of exactly ``width`` rows (dim 0).

    The last chunk is padded with zero rows, whose outputs are dropped. Every call of
    ``fn`` then sees the same shapes whatever the number of rows, so the kernels (and
    their floating-point summation order) a row gets do not depend on the other rows:
    on the CPU, oneDNN convolutions pick other algorithms for other batch sizes (odd
    ones below ~22 on 2 threads) and a one-row matmul runs as a matrix-vector product,
    each with its own rounding. ``width=None`` makes one call with all rows.
    Differentiable (the padding needs no gradient).
    """
    P = tensors[0].shape[0]
    if width is None or P == width:
        return fn(*tensors)
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ValueError(f"lane width must be an int >= 1 or None, got {width!r}")
    outs = []
    for lo in range(0, P, width):
        part = [t[lo : lo + width] for t in tensors]
        k = part[0].shape[0]
        if k < width:
            part = [torch.cat([t, t.new_zeros(width - k, *t.shape[1:])]) for t in part]
        outs.append(fn(*part)[:k])
    return torch.cat(outs)


def measurement_mse(ax: Tensor, y: Tensor) -> Tensor:
    """Per-problem mean squared measurement error ``mean((A x - y)^2)`` over all entries
    of a measurement (``||A x - y||^2 / m`` for CS; all image entries for inpainting)."""
    return (ax - y).pow(2).flatten(1).mean(1)


def measurement_losses(operator: Operator, x: Tensor, y: Tensor, index: Tensor,
                       width: int | None, parts: list[tuple[int, Tensor]] | None = None
                       ) -> Tensor:
    """:func:`measurement_mse` of ``A x`` against ``y[index]`` for every row of
    ``x: (P, 3, H, W)`` (``index: (P,)`` its image), the operator applied in lanes.

    For an :class:`~gs.operator_group.OperatorGroup` each operator is applied, in lanes of its
    own, to the rows of its images only (``parts``: ``operator.partition(index)``, computed
    here when None) and scored against its images' own entries of the padded ``y``; the
    losses are scattered back. So a row's loss is the one its operator alone gives, bit
    for bit, whatever the other operators of the group are.
    """
    if not isinstance(operator, OperatorGroup):
        def lane(v: Tensor, i: Tensor) -> Tensor:
            return measurement_mse(operator.A(v, index=i), y[i])

        return in_lanes(lane, x, index, width=width)
    if parts is None:
        parts = operator.partition(index)
    losses, order = [], []
    for k, rows in parts:
        op, size = operator.ops[k], operator.sizes[k]

        def lane(v: Tensor, i: Tensor, op=op, size=size) -> Tensor:
            return measurement_mse(op.A(v).flatten(1), y[i, :size])

        losses.append(in_lanes(lane, x[rows], index[rows], width=width))
        order.append(rows)
    order = torch.cat(order)
    inverse = torch.empty_like(order)
    inverse[order] = torch.arange(len(order), device=order.device)
    return torch.cat(losses)[inverse]


@torch.no_grad()
def clamped_losses(operator: Operator, images: Tensor, y: Tensor, index: Tensor,
                   width: int | None | str = "auto") -> Tensor:
    """``mean((A clamp(x, 0, 1) - y[index])^2)`` for every output ``images: (P, 3, H, W)``
    against the measurements of its image ``index: (P,)``, in lanes (``"auto"``:
    :func:`default_lane_width`): what picks the best restart and what a record stores.
    For an operator group, each image's own operator and entries
    (:func:`measurement_losses`)."""
    if width == "auto":
        width = default_lane_width(images.device)
    return measurement_losses(operator, images.clamp(0, 1), y, index, width)


def problems_per_chunk(
    generator: nn.Module,
    cut: int,
    memory_budget: float,
    *,
    optimizer: str = "lbfgs",
    history: int = 100,
    dtype: torch.dtype = torch.float32,
) -> int:
    """How many problems fit in ``memory_budget`` bytes (a rough, conservative estimate).

    Per problem: L-BFGS history ``2 * history * N`` plus ~8 vectors of length ``N`` (N the
    latent size), or 4 for Adam, and ~4x the activations of every block after the cut.
    """
    elt = torch.finfo(dtype).bits // 8
    N = generator.latent_dim(cut)
    state = (2 * history + 8) * N if optimizer == "lbfgs" else 4 * N
    cuts = [k for k in getattr(generator, "valid_cuts", (cut,)) if k >= cut]
    acts = sum(generator.latent_dim(k) for k in cuts)
    acts += 3 * generator.image_size**2
    return max(1, int(memory_budget // ((state + 4 * acts) * elt)))


def best_of_restarts(
    images: Tensor,
    restart_losses: Tensor,
    operator: Operator,
    *,
    latents: Sequence[Tensor] = (),
    trace: Tensor,
    x_true: Tensor | None,
    t0: float,
    n_evals: int,
    problem_evals: Tensor,
    cut: int,
    info: dict,
) -> RecoveryResult:
    """Keep each image's best restart and pack a :class:`RecoveryResult`.

    The best restart is chosen as in docs/decisions.md, decision 4.

    ``images: (B * R, 3, H, W)`` and ``latents`` (each ``(B * R, ...)``) hold every
    problem, image-major; ``restart_losses: (B, R)`` the measurement MSE of each clamped
    output, which picks the restart; ``trace: (T, B, R)``. Used by :func:`recover` and by
    the baselines, so every method selects and reports the same way.
    """
    B, R = restart_losses.shape
    device = images.device
    best = restart_losses.argmin(dim=1)
    pick = torch.arange(B, device=device) * R + best
    out = images[pick].detach()
    psnr_val = None
    if x_true is not None:
        operator.check_image(x_true, name="x_true")
        psnr_val = psnr_fn(out, x_true.to(device=device, dtype=out.dtype))
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return RecoveryResult(
        images=out,
        loss=restart_losses.gather(1, best.unsqueeze(1)).squeeze(1),
        restart_losses=restart_losses,
        best_restart=best,
        latents=tuple(t.detach()[pick] for t in latents),
        trace=trace,
        psnr=psnr_val,
        seconds=time.perf_counter() - t0,
        n_evals=n_evals,
        problem_evals=problem_evals,
        cut=cut,
        info=info,
    )


def recover(
    generator: nn.Module,
    operator: Operator,
    y: Tensor,
    cut: int,
    *,
    restarts: int = 3,
    steps: int = 25,
    lr: float = 0.1,
    optimizer: str = "lbfgs",
    init: str = "clamped_normal",
    init_limit: float = 1.0,
    seed: int = 0,
    rng: torch.Generator | None = None,
    init_latents: Sequence[Tensor] | None = None,
    x_true: Tensor | None = None,
    chunk_size: int | None = None,
    memory_budget: float | None = None,
    progress: bool = False,
    amp: bool = False,
    amp_dtype: torch.dtype = torch.bfloat16,
    compile: bool = False,
    optimizer_options: dict | None = None,
    lane_width: int | None | str = "auto",
    keep_best: bool = True,
) -> RecoveryResult:
    """Recover B images from measurements ``y`` by optimising the latents at ``cut``.

    Minimises, for every image b and restart r (``P = B * R`` problems in one batched
    optimisation), ``L(z) = ||A G_c(z) - y_b||^2 / m`` (:func:`measurement_mse`; no
    regulariser, no clamping inside the loss). Every restart of an image sees the SAME
    ``y_b`` (docs/decisions.md, decision 1). After the last step the measurement MSE of
    the clamped output ``clamp(G_c(z), 0, 1)`` picks the best restart per image
    (decision 4).

    Args:
        generator: a block generator (``g(latents, cut=c)`` -> ``(B, 3, H, W)``). It is
            put in eval mode with frozen weights for the call and restored afterwards
            (:func:`frozen`); its device and dtype decide where everything runs.
        operator: the forward model, on the generator's device; an
            :class:`~gs.operator_group.OperatorGroup` gives each image its own operator (e.g.
            images of several m or seeds in one recovery; each problem's loss is the one
            its operator alone gives, see :func:`measurement_losses`).
        y: ``(B, *operator.meas_shape)`` measurements (from ``operator.measure``; for a
            group, each image's own, padded by :meth:`~gs.operator_group.OperatorGroup.pad`).
        cut: cut index c.
        restarts: R random restarts per image.
        steps, lr, optimizer: outer steps (L-BFGS ``.step`` calls of up to 20 iterations,
            or Adam updates) and learning rate; the paper's DCGAN CS setting is L-BFGS,
            lr 0.1, 25 steps.
        init, init_limit: latent init (``g.sample_latents``); the paper's is
            ``clamped_normal`` with limit 1.
        seed, rng: the init is drawn from ``rng`` (default a CPU generator seeded with
            ``seed``), in one draw of ``B * R`` latents ordered image-major
            (problem ``b * R + r``); a CPU rng gives the same init on every device.
        init_latents: explicit initial latents instead, a tuple of ``(B, R, *shape)``.
        x_true: ``(B, 3, H, W)`` ground truth for the PSNR of the result.
        chunk_size / memory_budget: optimise at most ``chunk_size`` problems at a time,
            or as many as :func:`problems_per_chunk` fits in ``memory_budget`` bytes.
            Problems are independent, so chunking changes nothing but float rounding.
        progress: show a tqdm bar over outer steps.
        amp: run the generator under ``torch.autocast(amp_dtype)`` (mixed precision);
            the optimiser state and the loss stay in the generator's dtype.
        compile: ``torch.compile`` the generator's forward at this cut (GPU; off by
            default).
        optimizer_options: extra keywords for :class:`~gs.optim.BatchedLBFGS` /
            ``torch.optim.Adam`` (and ``divergence_factor``, see :func:`~gs.optim.minimize`).
        lane_width: problems per generator call (:func:`in_lanes`); ``"auto"``:
            :func:`default_lane_width` (fixed on the CPU, so each image's result is
            bit-identical whatever else shares its batch).
        keep_best: return each problem at the best iterate it has seen (the lowest
            measurement loss; diverged problems are stopped there) instead of the last.

    Returns:
        :class:`RecoveryResult`.
    """
    t0 = time.perf_counter()
    device = (
        generator.device if hasattr(generator, "device") else next(generator.parameters()).device
    )
    dtype = next(generator.parameters()).dtype
    if operator.device != device:
        raise ValueError(
            f"operator is on {operator.device} but the generator is on {device}; "
            "move one with .to(device)"
        )
    if operator.dtype != dtype:
        raise ValueError(f"the operator computes in {operator.dtype} but the generator in "
                         f"{dtype}; build the operator with dtype={dtype} (or convert the "
                         "generator)")
    operator.check_measurements(y)
    if x_true is not None and x_true.shape[0] != y.shape[0]:
        raise ValueError(f"x_true holds {x_true.shape[0]} images but y holds measurements of "
                         f"{y.shape[0]}")
    if isinstance(restarts, bool) or not isinstance(restarts, int) or restarts < 1:
        raise ValueError(f"restarts must be an int >= 1, got {restarts!r}")
    if chunk_size is not None and (isinstance(chunk_size, bool) or not isinstance(chunk_size, int)
                                   or chunk_size < 1):
        raise ValueError(f"chunk_size must be an int >= 1 or None, got {chunk_size!r}")
    if memory_budget is not None:
        check_positive(memory_budget=memory_budget)
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; choose one of {OPTIMIZERS}")
    if hasattr(generator, "check_cut"):
        generator.check_cut(cut)
    B, R = y.shape[0], restarts
    P = B * R
    y = y.to(device=device, dtype=dtype)

    shapes = generator.latent_shapes(cut)
    if init_latents is not None:
        z0 = tuple(t.to(device=device, dtype=dtype) for t in init_latents)
        if len(z0) != len(shapes) or any(
            tuple(t.shape) != (B, R, *s) for t, s in zip(z0, shapes, strict=False)
        ):
            raise ValueError(
                f"init_latents must be tensors of shapes {[(B, R, *s) for s in shapes]}, got "
                f"{[tuple(t.shape) for t in z0]}"
            )
        z0 = tuple(t.reshape(P, *t.shape[2:]) for t in z0)
    else:
        if rng is None:
            rng = torch.Generator().manual_seed(seed)
        z0 = generator.sample_latents(
            P, cut, init=init, limit=init_limit, generator=rng, device=rng.device, dtype=dtype
        )
        z0 = tuple(t.to(device) for t in z0)

    options = dict(optimizer_options or {})
    if chunk_size is None and memory_budget is not None:
        chunk_size = problems_per_chunk(
            generator,
            cut,
            memory_budget,
            optimizer=optimizer,
            history=options.get("history_size", 100),
            dtype=dtype,
        )
    chunk = P if chunk_size is None else max(1, min(int(chunk_size), P))
    n_chunks = math.ceil(P / chunk)

    lanes = default_lane_width(device) if lane_width == "auto" else lane_width
    trace = torch.empty(steps + 1, P, dtype=torch.float64)
    restart_losses = torch.empty(P, dtype=torch.float64, device=device)
    images = torch.empty(P, *operator.image_shape, dtype=dtype, device=device)
    final = [torch.empty_like(t) for t in z0]
    problem_evals = torch.empty(P, dtype=torch.long)
    diverged = torch.zeros(P, dtype=torch.bool)
    n_evals = 0

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_chunks * steps, desc=f"recover c={cut}", leave=False)

    with frozen(generator):

        def forward(z: tuple[Tensor, ...]) -> Tensor:
            return generator(z, cut=cut)

        if compile:
            forward = torch.compile(forward)

        def render(*z: Tensor) -> Tensor:
            if amp:
                with torch.autocast(device_type=device.type, dtype=amp_dtype):
                    return forward(z).to(dtype)
            return forward(z)

        def mse(idx: Tensor, *z: Tensor) -> Tensor:
            return measurement_mse(operator.A(render(*z), index=idx), y[idx])

        for c in range(n_chunks):
            lo, hi = c * chunk, min(P, (c + 1) * chunk)
            z = [t[lo:hi].clone().requires_grad_(True) for t in z0]
            idx = torch.arange(lo, hi, device=device) // R

            if isinstance(operator, OperatorGroup):
                # the generator in lanes over all problems, each operator in lanes over
                # its own problems (rows found once per chunk, not per evaluation)
                parts = operator.partition(idx)

                def loss_fn(z=z, idx=idx, parts=parts) -> Tensor:
                    return measurement_losses(operator, in_lanes(render, *z, width=lanes), y,
                                              idx, lanes, parts)
            else:

                def loss_fn(z=z, idx=idx) -> Tensor:
                    return in_lanes(mse, idx, *z, width=lanes)

            def callback(k, losses):
                if bar is not None:
                    bar.update(1)

            lane_opts = {"lanes": lanes} if optimizer == "lbfgs" else {}
            res = minimize(z, loss_fn, optimizer=optimizer, steps=steps, lr=lr,
                           keep_best=keep_best, callback=callback, **{**lane_opts, **options})
            with torch.no_grad():
                trace[:, lo:hi] = res.trace
                images[lo:hi] = in_lanes(render, *z, width=lanes)
                restart_losses[lo:hi] = clamped_losses(operator, images[lo:hi], y, idx,
                                                       lanes).double()
                for f, t in zip(final, z, strict=True):
                    f[lo:hi] = t.detach()
            n_evals += res.n_evals
            problem_evals[lo:hi] = res.problem_evals
            diverged[lo:hi] = res.diverged
    if bar is not None:
        bar.close()

    return best_of_restarts(
        images,
        restart_losses.view(B, R),
        operator,
        latents=final,
        trace=trace.view(steps + 1, B, R),
        x_true=x_true,
        t0=t0,
        n_evals=n_evals,
        problem_evals=problem_evals.view(B, R),
        cut=cut,
        info={
            "chunk_size": chunk,
            "n_chunks": n_chunks,
            "restarts": R,
            "steps": steps,
            "lr": lr,
            "optimizer": optimizer,
            "lane_width": lanes,
            "diverged": diverged.view(B, R),
        },
    )
