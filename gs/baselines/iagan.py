"""IAGAN, image-adaptive GAN (Abu Hussein, Tirer & Giryes, AAAI 2020), as the paper ran it.

Always at cut 0 (the full generator), for every image ``b`` and restart ``r``:

1. **Stage 1**, ``steps`` Adam steps (lr ``lr`` = 0.1; 1600 steps, 1000 for the VAE) on
   the latent ``z`` only: ``min_z ||A G(z) - y_b||^2 / m``.
2. **Stage 2**, ``steps2`` = 600 steps of a *new* Adam on ``z`` (lr ``lr2`` = 1e-4)
   jointly with Adam on ALL generator weights ``theta`` (lr ``model_lr`` = 1e-4):
   ``min_{z, theta} ||A G_theta(z) - y_b||^2 / m``.

The generator stays in eval mode (BatchNorm uses its running statistics, its affine
weights are trained). Init: clamped normal. The best restart has the lowest measurement
MSE of the clamped output (docs/decisions.md, decision 4). No back-projection (the
authors did not implement IAGAN's BP variant).

Differences from the authors' code (recorded in the README):

- every restart, and every image, starts from the ORIGINAL weights (docs/decisions.md,
  decision 6; the authors reloaded per image but let restarts 2 and 3 start from weights
  already tuned by the earlier restarts: docs/paper.md, "Odd behaviour in the authors'
  code", item 10);
- the returned image is the output after the last step (the authors': before it).

Batching: stage 1 shares the original weights, so all ``B * R`` problems run through
the generator as one batch. In stage 2 every problem owns a copy of the weights: the
copies are stacked ``(P, *shape)`` and the generator is applied with
``torch.func.functional_call`` under ``torch.vmap`` (``per_problem="vmap"``), or one
problem at a time on a deep copy (``per_problem="loop"``, the reference). Memory per
problem in stage 2 is ~4x the generator's weights (weights, gradient, two Adam
moments): 57 MB for DCGAN, 34 MB for BEGAN-128, 673 MB for VAE-128; ``chunk_size``
bounds the problems held at once. The caller's generator is never modified.

Stage 2 runs image by image (its ``R`` problems under one ``vmap``), unless
``chunk_size`` says otherwise. On the CPU (``lane_width``, default
:data:`IAGAN_CPU_LANES`) an image's result then does not depend on the other images of its
batch, bit for bit: its starts come from its own seed (``image_seeds``), stage 1 runs
every problem in lanes of a fixed width (:func:`gs.recovery.in_lanes`), and stage 2 sees
what it sees when the image is alone. Stage 1 then reads the dense measurement
matrix once per lane instead of once per image, which is where the time goes at
``R = 3`` problems (``bench/baselines.py``); stage 2, the weights' gradients and Adam
moments of every problem, gains nothing from wider calls.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence

import torch
from torch import Tensor
from torch.func import functional_call

from gs.baselines._common import (
    check_restarts,
    check_same_device,
    draw_per_image,
    draw_per_problem,
    model_family,
    problem_index,
    select_best,
)
from gs.models.base import BlockGenerator
from gs.operators import Operator
from gs.recovery import RecoveryResult, frozen, in_lanes, measurement_losses, measurement_mse

IAGAN_SETTINGS: dict[str, dict] = {
    "dcgan": {"steps": 1600, "lr": 0.1, "steps2": 600, "lr2": 1e-4, "model_lr": 1e-4},
    "began": {"steps": 1600, "lr": 0.1, "steps2": 600, "lr2": 1e-4, "model_lr": 1e-4},
    "vae": {"steps": 1000, "lr": 0.1, "steps2": 600, "lr2": 1e-4, "model_lr": 1e-4},
}
"""The paper's IAGAN settings per model family (stage-1 steps/lr, stage-2 steps/lrs)."""

IAGAN_CPU_LANES: dict[str, int] = {"dcgan": 10, "began": 5, "vae": 10}
"""Images per stage-1 generator and operator call on the CPU, per model family (a lane
holds their ``R`` restarts each; measured on 2 threads as
:data:`gs.baselines.mgan.MGAN_CPU_LANES`, ``bench/baselines.py``). Other generators: 1."""

PER_PROBLEM = ("vmap", "loop")


def iagan_num_params(generator: BlockGenerator) -> int:
    """Optimised numbers per image: every generator weight plus the cut-0 latent."""
    return generator.num_params() + generator.latent_dim(0)


def _stage1(generator, operator, z, y, idx, steps, lr, trace, bar, width) -> None:
    """Adam on ``z: (P, *shape0)`` only, all problems through the shared weights, in
    lanes of ``width`` problems (None: one call)."""
    opt = torch.optim.Adam([z], lr=lr)
    for k in range(steps):
        opt.zero_grad(set_to_none=True)
        x = in_lanes(lambda v: generator((v,), cut=0), z, width=width)
        loss = measurement_losses(operator, x, y, idx, width)
        loss.sum().backward()
        opt.step()
        trace[k] = loss.detach().double().cpu()
        if bar is not None:
            bar.update(1)
    z.grad = None


def _stage2_vmap(generator, operator, z, y_p, idx, steps, lr2, model_lr, trace, bar,
                 offset) -> Tensor:
    """Joint Adam on ``z`` and per-problem stacked weights; returns final images."""
    P = z.shape[0]
    names = [n for n, _ in generator.named_parameters()]
    base = dict(generator.named_parameters())
    weights = {
        n: base[n].detach().unsqueeze(0).expand(P, *base[n].shape).clone().requires_grad_(True)
        for n in names
    }
    buffers = dict(generator.named_buffers())

    def one(w, zz):
        return functional_call(generator, (w, buffers), ((zz.unsqueeze(0),),),
                               {"cut": 0}).squeeze(0)

    render = torch.vmap(one)
    # foreach: the per-tensor loop's arithmetic, bit for bit (tested), with fewer passes
    # over the weights: ~10% faster per step on a CPU for the DCGAN's and VAE's
    opt = torch.optim.Adam([{"params": [z], "lr": lr2},
                            {"params": list(weights.values()), "lr": model_lr}], foreach=True)
    for k in range(steps):
        opt.zero_grad(set_to_none=True)
        loss = measurement_mse(operator.A(render(weights, z), index=idx), y_p)
        loss.sum().backward()
        opt.step()
        trace[offset + k] = loss.detach().double().cpu()
        if bar is not None:
            bar.update(1)
    with torch.no_grad():
        return render(weights, z)


def _stage2_loop(generator, operator, z, y_p, idx, steps, lr2, model_lr, trace, bar,
                 offset) -> Tensor:
    """Reference: each problem on a fresh deep copy of the original generator."""
    outs = []
    for p in range(z.shape[0]):
        g = copy.deepcopy(generator)
        g.eval()
        g.requires_grad_(True)
        zp = z[p : p + 1].detach().clone().requires_grad_(True)
        opt = torch.optim.Adam([{"params": [zp], "lr": lr2},
                                {"params": list(g.parameters()), "lr": model_lr}], foreach=True)
        ip = idx[p : p + 1]
        for k in range(steps):
            opt.zero_grad(set_to_none=True)
            loss = measurement_mse(operator.A(g((zp,), cut=0), index=ip), y_p[p : p + 1])
            loss.sum().backward()
            opt.step()
            trace[offset + k, p] = float(loss.detach())
        with torch.no_grad():
            outs.append(g((zp,), cut=0))
            z[p] = zp.detach()[0]
        if bar is not None:
            bar.update(steps / z.shape[0])
    return torch.cat(outs)


def recover_iagan(
    generator: BlockGenerator,
    operator: Operator,
    y: Tensor,
    *,
    restarts: int = 3,
    steps: int | None = None,
    lr: float | None = None,
    steps2: int | None = None,
    lr2: float | None = None,
    model_lr: float | None = None,
    seed: int = 0,
    rng: torch.Generator | None = None,
    init_latents: Tensor | None = None,
    image_seeds: Sequence[int] | None = None,
    lane_width: int | None | str = "auto",
    x_true: Tensor | None = None,
    progress: bool = False,
    per_problem: str = "vmap",
    chunk_size: int | None = None,
) -> RecoveryResult:
    """IAGAN recovery of ``B`` images from ``y: (B, *operator.meas_shape)``.

    Args:
        generator: a block generator (used at cut 0); never modified.
        operator: forward model on the generator's device.
        restarts: R restarts per image, each from the original weights (3 in the paper).
        steps, lr: stage 1 (Adam on ``z``): default :data:`IAGAN_SETTINGS`.
        steps2, lr2, model_lr: stage 2 (Adam on ``z`` and on all weights).
        seed, rng: ``z`` init (clamped normal) drawn from ``rng`` (default a CPU
            generator seeded with ``seed``) problem by problem, image-major.
        init_latents: explicit initial latents ``(B, R, *latent_shapes(0)[0])`` instead.
        image_seeds: one seed per image instead (``B`` ints): image ``b``'s ``R`` starts
            drawn from a generator seeded with ``image_seeds[b]``.
        lane_width: problems per stage-1 call (:func:`gs.recovery.in_lanes`); ``"auto"``:
            ``R`` times :data:`IAGAN_CPU_LANES` of the family on the CPU unless
            ``chunk_size`` is given, else None (one call per range of problems).
        x_true: ground truth for the PSNR.
        per_problem: ``"vmap"`` (stacked weights under ``torch.vmap``) or ``"loop"``.
        chunk_size: at most this many problems at once (stage 1 and 2 per chunk, no lanes:
            a result then depends on its chunk). Default: stage 1 for all problems at
            once, stage 2 image by image (memory: ~4x the weights per problem, see above).

    Returns:
        :class:`~gs.recovery.RecoveryResult`: ``images`` the best restart's final output
        (from its own tuned weights); ``latents = (z,)``; ``trace (steps + steps2 + 1, B,
        R)`` the measurement MSE along both stages and after the last step.
    """
    t0 = time.perf_counter()
    fam = model_family(generator)
    s = IAGAN_SETTINGS.get(fam, IAGAN_SETTINGS["dcgan"])
    steps = s["steps"] if steps is None else steps
    lr = s["lr"] if lr is None else lr
    steps2 = s["steps2"] if steps2 is None else steps2
    lr2 = s["lr2"] if lr2 is None else lr2
    model_lr = s["model_lr"] if model_lr is None else model_lr
    if per_problem not in PER_PROBLEM:
        raise ValueError(f"per_problem must be one of {PER_PROBLEM}, got {per_problem!r}")
    if steps < 0 or steps2 < 0:
        raise ValueError(f"steps must be >= 0, got {steps} and {steps2}")
    operator.check_measurements(y)
    R = check_restarts(restarts)
    device = generator.device
    dtype = next(generator.parameters()).dtype
    check_same_device(operator, device)
    B = y.shape[0]
    P = B * R
    y = y.to(device=device, dtype=dtype)
    shape0 = generator.latent_shapes(0)[0]
    if init_latents is not None:
        if tuple(init_latents.shape) != (B, R, *shape0):
            raise ValueError(f"init_latents must have shape {(B, R, *shape0)}, got "
                             f"{tuple(init_latents.shape)}")
        z_all = init_latents.reshape(P, *shape0).to(device=device, dtype=dtype)
    elif image_seeds is not None:
        (z_all,) = draw_per_image(image_seeds, B, R, [shape0], dtype=dtype)
        z_all = z_all.to(device)
    else:
        if rng is None:
            rng = torch.Generator().manual_seed(seed)
        (z_all,) = draw_per_problem(P, [shape0], rng, dtype=dtype)
        z_all = z_all.to(device)
    idx_all = problem_index(B, R, device)
    if lane_width == "auto":
        lanes_here = device.type == "cpu" and chunk_size is None
        lane_width = R * IAGAN_CPU_LANES.get(fam, 1) if lanes_here else None
    if lane_width is not None and chunk_size is not None:
        raise ValueError(f"chunk_size ({chunk_size}) and lane_width ({lane_width}) exclude "
                         "each other: lanes run stage 1 over every problem")
    # stage 1 over every problem at once (in lanes on the CPU), stage 2 image by image (its
    # R weight copies under one vmap, as for an image alone); or both per chunk_size problems
    if chunk_size is None:
        stage1_ranges = [(0, P)]
        stage2_ranges = [(lo, lo + R) for lo in range(0, P, R)]
    else:
        chunk = max(1, min(int(chunk_size), P))
        stage1_ranges = stage2_ranges = [(lo, min(P, lo + chunk)) for lo in range(0, P, chunk)]

    T = steps + steps2
    trace = torch.full((T + 1, P), float("nan"), dtype=torch.float64)
    images = torch.empty(P, *operator.image_shape, dtype=dtype, device=device)
    z_final = torch.empty_like(z_all)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=steps * len(stage1_ranges) + steps2 * len(stage2_ranges),
                   desc="IAGAN", leave=False)
    stage2 = _stage2_vmap if per_problem == "vmap" else _stage2_loop
    with frozen(generator):
        generator.latent_shapes(0)  # fill any shape cache outside vmap
        for lo, hi in stage1_ranges:
            z = z_all[lo:hi].clone().requires_grad_(True)
            _stage1(generator, operator, z, y, idx_all[lo:hi], steps, lr, trace[:, lo:hi],
                    bar, lane_width)
            z_final[lo:hi] = z.detach()
        for lo, hi in stage2_ranges:
            idx = idx_all[lo:hi]
            y_p = y[idx]
            z2 = z_final[lo:hi].clone().requires_grad_(True)
            tr = trace[:, lo:hi].clone()
            x = stage2(generator, operator, z2, y_p, idx, steps2, lr2, model_lr, tr, bar,
                       steps)
            with torch.no_grad():
                tr[T] = measurement_mse(operator.A(x, index=idx), y_p).double().cpu()
            trace[:, lo:hi] = tr
            images[lo:hi] = x.detach()
            z_final[lo:hi] = z2.detach()
    if bar is not None:
        bar.close()
    return select_best(
        images, operator, y, R, latents=(z_final,), trace=trace, x_true=x_true, t0=t0,
        n_evals=T + 1, steps=T + 1, cut=0,
        info={"method": "iagan", "steps": steps, "lr": lr, "steps2": steps2, "lr2": lr2,
              "model_lr": model_lr, "restarts": R, "per_problem": per_problem,
              "lane_width": lane_width, "num_params": iagan_num_params(generator)},
    )


__all__ = ["IAGAN_CPU_LANES", "IAGAN_SETTINGS", "iagan_num_params", "recover_iagan"]
