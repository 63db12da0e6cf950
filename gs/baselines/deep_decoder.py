"""Deep Decoder recovery (Heckel & Hand 2019), the paper's untrained-network baseline.

For every image ``b`` and restart ``r`` a fresh Deep Decoder ``G_theta``
(:mod:`gs.models.deep_decoder`, PyTorch-default init, fixed input ``z ~ N(0,1)`` of
shape ``k x 2 x 2``) is fitted by Adam (lr 1e-2, 5000 steps, no early stopping) to

    min_theta  ||A G_theta(z) - y_b||^2 / m,

and the output at each restart's best iterate (lowest measurement loss, see
:func:`gs.optim.minimize`) is returned; the best restart is the one with the
lowest measurement MSE of the clamped output (docs/decisions.md, decision 4). All ``B * R``
networks train in one batch with per-problem parameters and per-problem BatchNorm
statistics (:func:`gs.models.deep_decoder.batched_forward`); Adam is elementwise, so
this is ``B * R`` independent Adam runs.

On the CPU the operator runs in lanes of a fixed number of images
(:func:`gs.recovery.in_lanes`, :data:`DD_CPU_LANES`), each with its ``R`` restarts, and
the networks one image per call; with ``image_seeds`` every image draws its networks from
a seed of its own. An image's result is then the same, bit for bit, whatever other images
share its batch. Lanes of 10 images are ~2x faster per image than one image at a time at
m = 2000, where the dense A is read once per lane instead of once per image
(``bench/baselines.py``); a batch of fewer images pays for a full lane of the operator
only.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import torch
from torch import Tensor

from gs.baselines._common import (
    check_restarts,
    concat_per_image,
    problem_index,
    select_best,
)
from gs.models.deep_decoder import DD_SETTINGS, batched_forward, init_params, param_shapes
from gs.operators import Operator
from gs.recovery import RecoveryResult, in_lanes, measurement_losses, minimize

DD_STEPS = 5000
DD_LR = 1e-2
DD_CPU_LANES = 10
"""Images per operator call on the CPU (each with its restarts; the networks run one image
per call)."""


def recover_deep_decoder(
    generator: None,
    operator: Operator,
    y: Tensor,
    *,
    restarts: int = 3,
    steps: int = DD_STEPS,
    lr: float = DD_LR,
    k: int | None = None,
    depth: int | None = None,
    seed: int = 0,
    rng: torch.Generator | None = None,
    image_seeds: Sequence[int] | None = None,
    lane_width: int | None | str = "auto",
    x_true: Tensor | None = None,
    progress: bool = False,
) -> RecoveryResult:
    """Deep Decoder recovery of ``B`` images from ``y: (B, *operator.meas_shape)``.

    Args:
        generator: ignored (pass None); the network is built here.
        operator: the forward model; its device and dtype decide where this runs.
        restarts: R fresh networks per image (3 in the paper).
        steps, lr: Adam steps and learning rate (5000, 1e-2).
        k, depth: channels and depth; default :data:`~gs.models.deep_decoder.DD_SETTINGS`
            for the operator's image size (44/5 at 64 px, 89/6 at 128 px).
        seed, rng: network weights and inputs are drawn from ``rng`` (default a CPU
            generator seeded with ``seed``), problem by problem, image-major (problem
            ``b * R + r``); calls sharing one ``rng`` reproduce a batched call.
        image_seeds: one seed per image instead of ``seed`` and ``rng`` (``B`` ints):
            image ``b``'s ``R`` networks and inputs are drawn, as above, from a CPU
            generator seeded with ``image_seeds[b]``, so they do not depend on the
            image's batch.
        lane_width: problems per operator call (:func:`gs.recovery.in_lanes`);
            ``"auto"``: ``R`` times :data:`DD_CPU_LANES` on the CPU, one call for all
            elsewhere. With lanes, the networks run one image (``R`` problems) per call.
        x_true: ``(B, 3, H, W)`` ground truth for the PSNR.
        progress: tqdm bar over steps.

    Returns:
        :class:`~gs.recovery.RecoveryResult`: ``images (B, 3, H, W)`` the best
        restart's output at its best iterate; ``latents`` = that restart's input ``z``;
        ``trace (steps + 1, B, R)`` the measurement MSE at every step and after the last;
        ``info["params"]`` the best restart's stacked parameters, ``info["num_params"]``.
    """
    t0 = time.perf_counter()
    operator.check_measurements(y)
    R = check_restarts(restarts)
    C, H, W = operator.image_shape
    if H != W:
        raise ValueError(f"Deep Decoder needs square images, got {H}x{W}")
    if k is None or depth is None:
        if H not in DD_SETTINGS:
            raise ValueError(
                f"no default Deep Decoder for {H} px (known: {sorted(DD_SETTINGS)}); pass k "
                "and depth"
            )
        k = DD_SETTINGS[H]["k"] if k is None else k
        depth = DD_SETTINGS[H]["depth"] if depth is None else depth
    device, dtype = operator.device, operator.dtype
    B = y.shape[0]
    if B < 1:
        raise ValueError("y holds no images (its first dimension is 0)")
    P = B * R
    y = y.to(device=device, dtype=dtype)
    names = list(param_shapes(k, depth, C))

    def draw(n_problems: int, generator: torch.Generator) -> list[Tensor]:
        params, z = init_params(n_problems, k, depth, generator, out_channels=C, dtype=dtype)
        return [*params.values(), z]

    if image_seeds is not None:
        *drawn, z = concat_per_image(image_seeds, B, lambda g: draw(R, g))
    else:
        *drawn, z = draw(P, torch.Generator().manual_seed(seed) if rng is None else rng)
    params = {n: v.to(device).requires_grad_(True) for n, v in zip(names, drawn, strict=True)}
    z = z.to(device)
    idx = problem_index(B, R, device)
    if lane_width == "auto":
        lane_width = R * DD_CPU_LANES if device.type == "cpu" else None
    # the networks one image per call wherever the operator runs in lanes: a problem's
    # network sees the same shapes whatever the batch, and no padded network is trained
    net_width = None if lane_width is None else R

    def render() -> Tensor:
        return in_lanes(lambda z_, *v: batched_forward(dict(zip(names, v, strict=True)), z_, H),
                        z, *params.values(), width=net_width)

    def loss_fn() -> Tensor:
        return measurement_losses(operator, render(), y, idx, lane_width)

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=steps, desc="deep decoder", leave=False)

    def callback(_k, _losses):
        if bar is not None:
            bar.update(1)

    res = minimize(list(params.values()), loss_fn, optimizer="adam", steps=steps, lr=lr,
                   callback=callback)
    if bar is not None:
        bar.close()
    with torch.no_grad():
        images = render()
    out = select_best(
        images, operator, y, R, latents=(z,), trace=res.trace, x_true=x_true, t0=t0,
        n_evals=res.n_evals, steps=steps + 1,
        info={"method": "deep_decoder", "k": k, "depth": depth, "steps": steps, "lr": lr,
              "restarts": R, "lane_width": lane_width,
              "num_params": sum(v[0].numel() for v in params.values())},
    )
    pick = torch.arange(B, device=device) * R + out.best_restart.to(device)
    out.info["params"] = {n: v.detach()[pick] for n, v in params.items()}
    return out


__all__ = ["DD_CPU_LANES", "DD_LR", "DD_STEPS", "recover_deep_decoder"]
