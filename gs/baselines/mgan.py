"""mGANprior (Gu, Shen & Zhou, CVPR 2020) as the paper's authors ran it.

``N`` latent codes ``z_n`` of the generator's ORIGINAL input shape each go through
blocks ``[0, c)`` to give feature maps ``F_n = G_{[0,c)}(z_n)`` of shape ``(C_c, H_c,
W_c)``; they are combined with per-code, per-channel weights ``alpha_n in R^{C_c}``

    F = sum_n alpha_n (.) F_n          (broadcast over H_c, W_c; no 1/N; alpha may be < 0)

and ``F`` goes through blocks ``c`` onwards. For BEGAN at ``c >= 2`` the skip input of
the later blocks is a separate free tensor (``latent_shapes(c)[1]``), not built from
the codes. The loss is the measurement MSE ``||A G_{[c,)}(F, skip) - y||^2 / m``
(no perceptual term); ``z_n``, ``alpha_n`` and the skip start from the clamped normal;
Adam with default betas, no scheduler; 3 restarts; best restart by the clamped
measurement MSE (docs/decisions.md, decision 4).

Per-model settings (docs/paper.md, "Baselines") are in :data:`MGAN_SETTINGS`. The
generator runs in eval mode with frozen weights, so ``B * R`` problems (each with its
``N`` codes) are one batch: the head runs on ``B * R * N`` codes at once. On the CPU the
problems go through the generator and the operator in lanes of a fixed number of
images (:func:`gs.recovery.in_lanes`, :data:`MGAN_CPU_LANES`), and each
image's starts are drawn from its own seed (``image_seeds``), so an image's result is the
same, bit for bit, whichever other images share its batch. Lanes of 30 problems (10
images x 3 restarts) halve the DCGAN's and the VAE's time per image against one image at
a time, because the dense measurement matrix is read once per lane instead of once per
image (``bench/baselines.py``); the BEGAN gains nothing from wider calls and keeps lanes of
one image.

Difference from the authors' code: the returned image is the output at each restart's
best iterate (lowest measurement loss, :func:`gs.optim.minimize`; the authors returned
the forward pass from before the last Adam step), so that the image returned is the one
the restart selection scores, as for surgery.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import torch
from torch import Tensor

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
from gs.recovery import RecoveryResult, frozen, in_lanes, measurement_losses, minimize

MGAN_SETTINGS: dict[str, dict] = {
    "dcgan": {"cut": 1, "n_codes": 10, "steps": 5000, "lr": 3e-2},
    "began": {"cut": 2, "n_codes": 20, "steps": 3000, "lr": 1e-3},
    "vae": {"cut": 1, "n_codes": 20, "steps": 3000, "lr": 5e-3},
}
"""The paper's mGANprior settings per model family: cut, number of codes, Adam steps, lr."""

MGAN_CPU_LANES: dict[str, int] = {"dcgan": 10, "began": 1, "vae": 10}
"""Images per generator and operator call on the CPU, per model family: a lane holds
their ``R`` restarts each, ``10 R`` problems (30 at the paper's 3 restarts: about the
narrowest call that runs at its batched speed on 2 threads, ``bench/baselines.py``); the
BEGAN is no faster in wider calls and keeps one image per lane. Other generators: 1."""


def mgan_render(
    generator: BlockGenerator, z: Tensor, alpha: Tensor, *rest: Tensor, cut: int
) -> Tensor:
    """The mGANprior image ``G_{[c,)}(sum_n alpha_n (.) G_{[0,c)}(z_n), *rest)``.

    ``z: (P, N, *latent_shapes(0)[0])``, ``alpha: (P, N, C_c)``, ``rest``: the other
    latents at ``cut`` (BEGAN's free skip ``(P, ch, 8, 8)``). Returns ``(P, 3, H, W)``.
    """
    P, N = z.shape[:2]
    feats = generator.head(z.reshape(P * N, *z.shape[2:]), cut)
    feats = feats.view(P, N, *feats.shape[1:])
    a = alpha.view(P, N, alpha.shape[-1], *([1] * (feats.ndim - 3)))
    return generator(((a * feats).sum(1), *rest), cut=cut)


def mgan_num_params(generator: BlockGenerator, cut: int | None = None,
                    n_codes: int | None = None) -> int:
    """Optimised numbers per image: ``N (dim z + C_c)`` plus the free skip, if any."""
    s = MGAN_SETTINGS.get(model_family(generator), {})
    cut = s.get("cut", generator.default_cut) if cut is None else cut
    n_codes = s.get("n_codes", 10) if n_codes is None else n_codes
    shapes = generator.latent_shapes(cut)
    z_dim = generator.latent_dim(0)
    extra = sum(int(torch.Size(sh).numel()) for sh in shapes[1:])
    return n_codes * (z_dim + shapes[0][0]) + extra


def recover_mgan(
    generator: BlockGenerator,
    operator: Operator,
    y: Tensor,
    *,
    restarts: int = 3,
    steps: int | None = None,
    lr: float | None = None,
    cut: int | None = None,
    n_codes: int | None = None,
    seed: int = 0,
    rng: torch.Generator | None = None,
    image_seeds: Sequence[int] | None = None,
    lane_width: int | None | str = "auto",
    x_true: Tensor | None = None,
    progress: bool = False,
) -> RecoveryResult:
    """mGANprior recovery of ``B`` images from ``y: (B, *operator.meas_shape)``.

    Args:
        generator: a block generator; run in eval mode with frozen weights (restored
            afterwards).
        operator: forward model on the generator's device.
        restarts: R restarts per image (3 in the paper).
        steps, lr, cut, n_codes: default :data:`MGAN_SETTINGS` for the generator's
            family (``dcgan``, ``began``, ``vae``); required for other generators.
        seed, rng: inits drawn from ``rng`` (default a CPU generator seeded with
            ``seed``), problem by problem, image-major: for each problem the ``N`` codes
            ``(N, *shape_0)``, then ``alpha (N, C_c)``, then the skip. Calls sharing one
            ``rng`` reproduce a batched call.
        image_seeds: one seed per image instead (``B`` ints): image ``b``'s ``R``
            problems are drawn, as above, from a generator seeded with
            ``image_seeds[b]``, so an image's starts do not depend on its batch.
        lane_width: problems per generator and operator call (:func:`gs.recovery.in_lanes`);
            ``"auto"``: ``R`` times :data:`MGAN_CPU_LANES` of the family on the CPU (a
            batch of fewer images pays for a full lane), one call for all elsewhere.
        x_true: ground truth for the PSNR.

    Returns:
        :class:`~gs.recovery.RecoveryResult`; ``latents = (z (B, N, *shape_0), alpha (B,
        N, C_c)[, skip (B, *skip_shape)])`` of the best restart; ``trace (steps + 1, B,
        R)`` measurement MSE; ``cut`` the mixing cut.
    """
    t0 = time.perf_counter()
    fam = model_family(generator)
    s = MGAN_SETTINGS.get(fam)
    if s is None and None in (steps, lr, cut, n_codes):
        raise ValueError(
            f"no default mGANprior settings for {getattr(generator, 'name', generator)!r} "
            f"(known: {sorted(MGAN_SETTINGS)}); pass steps, lr, cut and n_codes"
        )
    s = s or {}
    steps = s["steps"] if steps is None else steps
    lr = s["lr"] if lr is None else lr
    cut = s["cut"] if cut is None else cut
    n_codes = s["n_codes"] if n_codes is None else n_codes
    if cut < 1:
        raise ValueError(f"mGANprior mixes features at a cut >= 1, got cut={cut}")
    if n_codes < 1:
        raise ValueError(f"n_codes must be >= 1, got {n_codes}")
    generator.check_cut(cut)
    operator.check_measurements(y)
    R = check_restarts(restarts)
    device = generator.device
    dtype = next(generator.parameters()).dtype
    check_same_device(operator, device)
    B = y.shape[0]
    P = B * R
    N = n_codes
    y = y.to(device=device, dtype=dtype)

    shape0 = generator.latent_shapes(0)[0]
    shapes_c = generator.latent_shapes(cut)
    channels = shapes_c[0][0]
    draw_shapes = [(N, *shape0), (N, channels), *shapes_c[1:]]
    if rng is None:
        rng = torch.Generator().manual_seed(seed)
    if image_seeds is not None:
        init = draw_per_image(image_seeds, B, R, draw_shapes, dtype=dtype)
    else:
        init = draw_per_problem(P, draw_shapes, rng, dtype=dtype)
    variables = [t.to(device).requires_grad_(True) for t in init]
    idx = problem_index(B, R, device)
    if lane_width == "auto":
        lane_width = R * MGAN_CPU_LANES.get(fam, 1) if device.type == "cpu" else None

    def render() -> Tensor:
        return in_lanes(lambda *v: mgan_render(generator, *v, cut=cut), *variables,
                        width=lane_width)

    def loss_fn() -> Tensor:
        return measurement_losses(operator, render(), y, idx, lane_width)

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=steps, desc=f"mGANprior c={cut}", leave=False)

    def callback(_k, _losses):
        if bar is not None:
            bar.update(1)

    with frozen(generator):
        res = minimize(variables, loss_fn, optimizer="adam", steps=steps, lr=lr, callback=callback)
        with torch.no_grad():
            images = render()
    if bar is not None:
        bar.close()
    return select_best(
        images, operator, y, R, latents=variables, trace=res.trace, x_true=x_true, t0=t0,
        n_evals=res.n_evals, steps=steps + 1, cut=cut,
        info={"method": "mgan", "n_codes": N, "steps": steps, "lr": lr, "restarts": R,
              "lane_width": lane_width, "num_params": mgan_num_params(generator, cut, N)},
    )


__all__ = ["MGAN_CPU_LANES", "MGAN_SETTINGS", "mgan_num_params", "mgan_render", "recover_mgan"]
