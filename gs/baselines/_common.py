"""Helpers shared by the baselines: input checks, per-problem seeded draws, and the
restart selection that turns ``P = B * R`` finished problems into a
:class:`~gs.recovery.RecoveryResult`.

The selection is the surgery recovery's (docs/decisions.md, decision 4): for every image,
the restart whose *clamped* output has the lowest measurement MSE
``mean((A clamp(x, 0, 1) - y)^2)`` wins; PSNR is on the clamped output, peak 1.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from gs.operators import Operator
from gs.recovery import RecoveryResult, best_of_restarts, clamped_losses


def check_restarts(restarts: int) -> int:
    if isinstance(restarts, bool) or not isinstance(restarts, int) or restarts < 1:
        raise ValueError(f"restarts must be a positive int, got {restarts!r}")
    return restarts


def check_same_device(operator: Operator, device: torch.device) -> None:
    if operator.device != device:
        raise ValueError(
            f"operator is on {operator.device} but the model is on {device}; "
            "move one with .to(device)"
        )


def model_family(generator) -> str:
    """``"dcgan"``, ``"began"`` or ``"vae"`` from a generator's ``name`` (``began128`` ...)."""
    return re.sub(r"\d+$", "", str(getattr(generator, "name", ""))).lower()


def draw_per_problem(
    P: int,
    shapes: Sequence[tuple[int, ...]],
    rng: torch.Generator,
    *,
    init: str = "clamped_normal",
    limit: float = 1.0,
    dtype: torch.dtype = torch.float32,
) -> list[Tensor]:
    """Draw one tensor per shape for each of ``P`` problems, problem by problem.

    Problem ``p`` draws ``shapes[0]``, ``shapes[1]``, ... from ``rng`` in order before
    problem ``p + 1`` draws anything, so a batch of problems gets exactly the draws the
    same problems get one call at a time with one shared ``rng``. ``init``:
    ``clamped_normal`` (N(0,1) clamped to ``[-limit, limit]``, the paper's), ``normal``
    (N(0,1) * limit) or ``uniform`` (U(-limit, limit)). Returns tensors ``(P, *shape)``
    on ``rng``'s device.
    """
    out: list[list[Tensor]] = [[] for _ in shapes]
    for _ in range(P):
        for k, s in enumerate(shapes):
            if init == "uniform":
                t = (2 * torch.rand(s, generator=rng, device=rng.device, dtype=dtype) - 1) * limit
            else:
                t = torch.randn(s, generator=rng, device=rng.device, dtype=dtype)
                t = t.clamp(-limit, limit) if init == "clamped_normal" else t * limit
            out[k].append(t)
    return [torch.stack(ts) for ts in out]


def concat_per_image(
    image_seeds: Sequence[int], B: int, draw: Callable[[torch.Generator], Sequence[Tensor]]
) -> list[Tensor]:
    """``draw(rng)`` for each image from a CPU generator seeded with its own
    ``image_seeds[b]``, each of the drawn tensors concatenated over the images in order:
    an image's draws do not depend on the other images of its batch."""
    if len(image_seeds) != B:
        raise ValueError(f"image_seeds has {len(image_seeds)} seeds for {B} images")
    per_image = [draw(torch.Generator().manual_seed(int(seed))) for seed in image_seeds]
    return [torch.cat(parts) for parts in zip(*per_image, strict=True)]


def draw_per_image(
    image_seeds: Sequence[int],
    B: int,
    R: int,
    shapes: Sequence[tuple[int, ...]],
    *,
    dtype: torch.dtype = torch.float32,
) -> list[Tensor]:
    """:func:`draw_per_problem` of each image's ``R`` problems from a CPU generator seeded
    with its own ``image_seeds[b]`` (:func:`concat_per_image`), image-major. Returns
    tensors ``(B * R, *shape)``."""
    return concat_per_image(image_seeds, B,
                            lambda rng: draw_per_problem(R, shapes, rng, dtype=dtype))


def problem_index(B: int, R: int, device: torch.device) -> Tensor:
    """``(B * R,)`` image index of every problem, image-major (problem ``b * R + r``)."""
    return torch.arange(B * R, device=device) // R


def select_best(
    images: Tensor,
    operator: Operator,
    y: Tensor,
    restarts: int,
    *,
    latents: Sequence[Tensor] = (),
    trace: Tensor | None = None,
    x_true: Tensor | None = None,
    t0: float,
    n_evals: int,
    steps: int,
    cut: int = 0,
    info: dict | None = None,
) -> RecoveryResult:
    """Pick each image's best restart and pack a :class:`~gs.recovery.RecoveryResult`.

    Args:
        images: ``(B * R, 3, H, W)`` final outputs of all problems, image-major.
        y: ``(B, *meas_shape)`` measurements.
        latents: per-problem optimised tensors ``(B * R, ...)``; the best restart's are
            returned.
        trace: ``(T, B * R)`` per-step measurement MSE (float64, CPU), or None.
    """
    P = images.shape[0]
    R = restarts
    B = P // R
    device = images.device
    idx = problem_index(B, R, device)
    with torch.no_grad():
        rl = clamped_losses(operator, images, y, idx).double()
    if trace is None:
        trace = torch.full((1, P), float("nan"), dtype=torch.float64)
    return best_of_restarts(
        images,
        rl.view(B, R),
        operator,
        latents=latents,
        trace=trace.view(trace.shape[0], B, R),
        x_true=x_true,
        t0=t0,
        n_evals=n_evals,
        problem_evals=torch.full((B, R), steps, dtype=torch.long),
        cut=cut,
        info=dict(info or {}),
    )
