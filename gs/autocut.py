"""The surgery cut chosen from the measurements themselves, per image.

The paper picks one cut per model on validation images from the training distribution
(notebook 02). An image of another kind, a new operator or a new generator has no such
set. Cross-validation in the measurement domain needs none:

1. hold out a fraction ``holdout`` of the informative measurement entries (rows of A and
   the same entries of y; :func:`holdout_split`);
2. recover at every candidate cut from the kept entries (one batched
   :func:`gs.recovery.recover` per cut, all images x restarts at once);
3. score each cut by its *held-out residual* ``mean((A_h clamp(x_c) - y_h)^2)`` and pick,
   per image, the cut with the lowest (ties: the shallowest);
4. recover at that cut from all measurements, with the same start as plain surgery at
   that cut, so the result equals ``surgery`` at the chosen cut.

Why it works: for Gaussian rows with variance 1/m, ``E ||A_h e||^2 / m_h = ||e||^2 / m``
for any error e independent of the held-out rows, so the held-out residual estimates
the image error of the recovery, plus the noise variance, which is the same for every
cut. A deep cut that fits the kept rows by overfitting (its latent is larger than m)
fits the held-out rows badly, and is rejected.

Everything is per image: the split is one draw per ``split_rng`` (in sweeps: per
``(m, seed)``, shared by every image, as A is), each image's start is its own, and the
recoveries run in fixed-width lanes, so on the CPU an image's chosen cut and result do
not depend on which other images share its batch.

The default hold-out fraction (:data:`HOLDOUT`) and candidate cuts come from a small
study on the offline models; docs/auto_cut.md gives its numbers.

>>> import torch
>>> from gs.models.dcgan import DCGAN
>>> from gs.operators import make_operator
>>> _ = torch.manual_seed(0)
>>> g = DCGAN(nz=16, ngf=8).eval()
>>> rng = torch.Generator().manual_seed(0)
>>> x = g(g.sample_latents(2, 0, generator=rng), cut=0).detach()
>>> op = make_operator("cs", (3, 64, 64), m=100, generator=rng)
>>> res = recover_auto_cut(g, op, op.measure(x, generator=rng), cuts=(0, 1), restarts=2,
...                        steps=1, x_true=x)
>>> res.images.shape, res.cut.shape, res.heldout.shape
(torch.Size([2, 3, 64, 64]), torch.Size([2]), torch.Size([2, 2]))
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from gs.operators import Operator
from gs.recovery import clamped_losses, default_lane_width, recover
from gs.sweep.methods import EXTRA_SERIES, SURGERY_OPTIONS, init_latents, register_method
from gs.sweep.tasks import Task, stable_seed

#: Fraction of the informative measurement entries held out to score the cuts.
HOLDOUT = 0.2

#: Candidate cuts when none are given (those the generator has).
CANDIDATE_CUTS = (0, 1, 2, 3)

#: Options (task ``extra``) of the ``surgery_auto`` sweep method, besides surgery's.
AUTO_OPTIONS = ("cuts", "holdout")


def holdout_split(operator: Operator, holdout: float,
                  generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """``(kept, held)``: the informative measurement entries of ``operator``
    (:meth:`~gs.operators.Operator.informative_entries`) split at random, a fraction
    ``holdout`` of them (rounded, at least one) held out. Both are sorted flat indices.
    """
    if isinstance(holdout, bool) or not isinstance(holdout, int | float) \
            or not 0 < holdout < 1:
        raise ValueError(f"holdout must be a fraction in (0, 1), got {holdout!r}")
    entries = operator.informative_entries()
    k = entries.numel()
    n_held = max(1, round(holdout * k))
    if n_held >= k:
        raise ValueError(f"holding out {holdout:.0%} of {k} measurement(s) leaves none to "
                         "recover from; use more measurements or a smaller holdout")
    dev = generator.device if generator is not None else torch.device("cpu")
    perm = torch.randperm(k, generator=generator, device=dev).to(entries.device)
    return entries[perm[n_held:]].sort().values, entries[perm[:n_held]].sort().values


def _check_cuts(generator: nn.Module, cuts: Sequence[int] | None) -> tuple[int, ...]:
    if cuts is None:
        return tuple(c for c in CANDIDATE_CUTS if c in generator.valid_cuts)
    if isinstance(cuts, int | str) or not len(cuts):
        raise ValueError(f"cuts must be a non-empty list of cut indices, got {cuts!r}")
    for c in cuts:
        generator.check_cut(c)
    if len(set(cuts)) != len(cuts):
        raise ValueError(f"cuts must not repeat, got {list(cuts)}")
    return tuple(sorted(cuts))


@dataclass
class CrossValidation:
    """Steps 1-3 for B images and C candidate cuts (:func:`cross_validate`).

    Attributes:
        cuts: the C candidate cuts, ascending (the columns below).
        heldout: ``(B, C)`` held-out residual of each cut's recovery from the kept
            entries (float64): ``mean((A_h clamp(x_c, 0, 1) - y_h)^2)``.
        kept_loss: ``(B, C)`` the same on the kept entries (what each cut fitted).
        cut: ``(B,)`` long, the cut with the lowest held-out residual (ties: shallowest).
        n_kept, n_held: how many entries were kept and held out.
        seconds: wall time.
    """

    cuts: tuple[int, ...]
    heldout: Tensor
    kept_loss: Tensor
    cut: Tensor
    n_kept: int
    n_held: int
    seconds: float


def _starts(generator, B: int, restarts: int, init_latents, init: str, init_limit: float,
            seed: int) -> Callable[[int], tuple[Tensor, ...]]:
    """``start(c)``: the ``(B, R, *shape)`` starts at cut c, drawn once per cut."""
    cache: dict[int, tuple[Tensor, ...]] = {}

    def start(c: int) -> tuple[Tensor, ...]:
        if c not in cache:
            if init_latents is not None:
                cache[c] = tuple(init_latents(c))
            else:
                z = generator.sample_latents(B * restarts, c, init=init, limit=init_limit,
                                             generator=torch.Generator().manual_seed(seed),
                                             device="cpu",
                                             dtype=next(generator.parameters()).dtype)
                cache[c] = tuple(t.view(B, restarts, *t.shape[1:]) for t in z)
        return cache[c]

    return start


def cross_validate(
    generator: nn.Module,
    operator: Operator,
    y: Tensor,
    cuts: Sequence[int] | None = None,
    *,
    holdout: float = HOLDOUT,
    split_rng: torch.Generator | None = None,
    restarts: int = 3,
    steps: int = 25,
    lr: float = 0.1,
    seed: int = 0,
    init_latents: Callable[[int], Sequence[Tensor]] | None = None,
    log: Callable[[str], None] | None = None,
    **recover_kw,
) -> CrossValidation:
    """Score every candidate cut by held-out measurements (steps 1-3 of the module
    docstring); the arguments are those of :func:`recover_auto_cut`."""
    t0 = time.perf_counter()
    cuts = _check_cuts(generator, cuts)
    operator.check_measurements(y)
    B = y.shape[0]
    say = log or (lambda line: None)
    rng = split_rng if split_rng is not None else torch.Generator().manual_seed(seed)
    kept, held = holdout_split(operator, holdout, rng)
    op_kept, op_held = operator.subset(kept), operator.subset(held)
    flat = y.to(device=operator.device, dtype=operator.dtype).flatten(1)
    y_kept, y_held = flat[:, kept], flat[:, held]
    start = init_latents or _starts(generator, B, restarts, None, "clamped_normal", 1.0, seed)
    width = recover_kw.get("lane_width", "auto")
    width = default_lane_width(operator.device) if width == "auto" else width
    index = torch.arange(B, device=operator.device)
    heldout = torch.empty(B, len(cuts), dtype=torch.float64)
    kept_loss = torch.empty(B, len(cuts), dtype=torch.float64)
    for j, c in enumerate(cuts):
        res = recover(generator, op_kept, y_kept, c, restarts=restarts, steps=steps, lr=lr,
                      init_latents=start(c), **recover_kw)
        heldout[:, j] = clamped_losses(op_held, res.images, y_held, index, width).double().cpu()
        kept_loss[:, j] = res.loss.double().cpu()
        say(f"cut {c}: fitted {len(kept)} measurements in {res.seconds:.1f} s; held-out "
            f"residual {_fmt(heldout[:, j])} on {len(held)}")
    chosen = torch.tensor(cuts)[heldout.argmin(dim=1)]  # first minimum: the shallowest
    return CrossValidation(cuts=cuts, heldout=heldout, kept_loss=kept_loss, cut=chosen,
                           n_kept=len(kept), n_held=len(held),
                           seconds=time.perf_counter() - t0)


@dataclass
class AutoCutResult:
    """The result of :func:`recover_auto_cut` for B images and C candidate cuts.

    Attributes:
        images: ``(B, 3, H, W)`` recovery at each image's chosen cut from all
            measurements (unclamped).
        cut: ``(B,)`` long, the chosen cut of each image.
        cuts, heldout, kept_loss: as in :class:`CrossValidation`.
        loss: ``(B,)`` measurement MSE of the clamped final output on all measurements.
        psnr: ``(B,)`` PSNR of the clamped final output against ``x_true`` (or None).
        seconds: wall time of everything; ``cv_seconds`` of the cross-validation alone.
        info: ``diverged`` ``(B, R)`` (final recovery's restarts stopped as diverged),
            ``details`` (one JSON-able dict per image: chosen cut and residuals per cut),
            ``holdout``, ``n_held``, ``n_kept``.
    """

    images: Tensor
    cut: Tensor
    cuts: tuple[int, ...]
    heldout: Tensor
    kept_loss: Tensor
    loss: Tensor
    psnr: Tensor | None
    seconds: float
    cv_seconds: float
    info: dict = field(default_factory=dict)


def recover_auto_cut(
    generator: nn.Module,
    operator: Operator,
    y: Tensor,
    cuts: Sequence[int] | None = None,
    *,
    holdout: float = HOLDOUT,
    split_rng: torch.Generator | None = None,
    restarts: int = 3,
    steps: int = 25,
    lr: float = 0.1,
    init: str = "clamped_normal",
    init_limit: float = 1.0,
    seed: int = 0,
    init_latents: Callable[[int], Sequence[Tensor]] | None = None,
    x_true: Tensor | None = None,
    log: Callable[[str], None] | None = None,
    **recover_kw,
) -> AutoCutResult:
    """Recover B images at the cut chosen per image by held-out measurements.

    Args:
        generator, operator, y: as for :func:`gs.recovery.recover`; ``y: (B,
            *operator.meas_shape)``.
        cuts: candidate cuts (default :data:`CANDIDATE_CUTS`, those the generator has).
        holdout: fraction of the informative entries held out (:func:`holdout_split`).
        split_rng: draws the split (default: a CPU generator seeded with ``seed``).
        restarts, steps, lr: the budget of every recovery (the cross-validation ones and
            the final one alike).
        init, init_limit, seed: starting latents of cut c, when ``init_latents`` is None:
            ``generator.sample_latents(B * R, c)`` from a CPU generator seeded with
            ``seed``, exactly what ``recover(..., cut=c, seed=seed)`` draws for the batch.
        init_latents: ``init_latents(c)`` -> a tuple of ``(B, R, *shape)`` starts at cut c
            instead (sweeps draw them per image, so that nothing depends on the batch).
        x_true: ``(B, 3, H, W)`` ground truth for the PSNR of the result (never used to
            choose).
        log: called with one line per finished recovery (progress).
        **recover_kw: passed to every :func:`gs.recovery.recover` (``optimizer``,
            ``chunk_size``, ``optimizer_options``, ``keep_best``, ``lane_width``, ...).

    Returns:
        :class:`AutoCutResult`.
    """
    t0 = time.perf_counter()
    operator.check_measurements(y)
    B = y.shape[0]
    if x_true is not None and x_true.shape[0] != B:
        raise ValueError(f"x_true holds {x_true.shape[0]} images but y holds measurements of {B}")
    if isinstance(restarts, bool) or not isinstance(restarts, int) or restarts < 1:
        raise ValueError(f"restarts must be an int >= 1, got {restarts!r}")
    say = log or (lambda line: None)
    start = _starts(generator, B, restarts, init_latents, init, init_limit, seed)
    common = dict(restarts=restarts, steps=steps, lr=lr, **recover_kw)
    cv = cross_validate(generator, operator, y, cuts, holdout=holdout, split_rng=split_rng,
                        seed=seed, init_latents=start, log=log, **common)

    images = torch.empty(B, *operator.image_shape, dtype=operator.dtype, device=operator.device)
    loss = torch.empty(B, dtype=torch.float64)
    psnr = None if x_true is None else torch.empty(B, dtype=torch.float64)
    diverged = torch.zeros(B, restarts, dtype=torch.bool)
    for c in sorted(set(cv.cut.tolist())):
        rows = (cv.cut == c).nonzero().squeeze(1)
        dev_rows = rows.to(operator.device)
        z0 = tuple(t[rows] for t in start(c))
        res = recover(generator, operator, y[dev_rows], c, init_latents=z0,
                      x_true=None if x_true is None else x_true[rows.to(x_true.device)],
                      **common)
        images[dev_rows] = res.images.to(images.dtype)
        loss[rows] = res.loss.double().cpu()
        if psnr is not None:
            psnr[rows] = res.psnr.double().cpu()
        if "diverged" in res.info:
            diverged[rows] = res.info["diverged"].cpu()
        say(f"cut {c} chosen for {len(rows)} of {B} image(s); recovered from all "
            f"{operator.m} measurements in {res.seconds:.1f} s")
    details = [{"cut": int(cv.cut[b]),
                "heldout": {str(c): float(cv.heldout[b, j]) for j, c in enumerate(cv.cuts)},
                "holdout": holdout, "n_held": cv.n_held} for b in range(B)]
    return AutoCutResult(
        images=images, cut=cv.cut, cuts=cv.cuts, heldout=cv.heldout, kept_loss=cv.kept_loss,
        loss=loss, psnr=psnr, seconds=time.perf_counter() - t0, cv_seconds=cv.seconds,
        info={"diverged": diverged, "details": details, "holdout": holdout,
              "n_held": cv.n_held, "n_kept": cv.n_kept},
    )


def _fmt(values: Tensor) -> str:
    if values.numel() == 1:
        return f"{float(values[0]):.3g}"
    return f"{float(values.min()):.3g}..{float(values.max()):.3g}"


# ------------------------------------------------------------------------ the sweep method
@register_method("surgery_auto", label="Surgery, cut from measurements", color="#16a085",
                 cut=0)
def method_surgery_auto(generator, operator, y, task: Task, x_true, names=()):
    """Surgery at the cut chosen per image by held-out measurements (this module).

    Options (task ``extra``): ``cuts`` (candidates; default :data:`CANDIDATE_CUTS`),
    ``holdout`` (default :data:`HOLDOUT`) and surgery's. The task's ``cut`` is 0 and
    means nothing: each record's ``details`` holds the chosen cut and the held-out
    residual of every candidate. The split is drawn per ``(m, seed)`` and each image's
    starts per ``(image, seed)`` and cut, as plain surgery's, so the result at the chosen
    cut equals the ``surgery`` record at that cut.
    """
    opts = task.options
    return recover_auto_cut(generator, operator, y, opts.get("cuts"),
                            holdout=opts.get("holdout", HOLDOUT), x_true=x_true,
                            **sweep_settings(generator, task, names))


def sweep_settings(generator, task: Task, names) -> dict:
    """The keywords (all but ``cuts`` and ``holdout``) that :func:`recover_auto_cut` and
    :func:`cross_validate` get in a sweep of ``task`` on images ``names``: its budget and
    options, the split seeded by ``(m, seed)``, each image's starts by ``(image, seed)``.
    Raises a ValueError naming an option ``surgery_auto`` does not take."""
    opts = task.options
    unknown = sorted(set(opts) - set(SURGERY_OPTIONS) - set(AUTO_OPTIONS))
    if unknown:
        raise ValueError(f"{task.method} takes no options {unknown} (task extra); it takes "
                         f"{list(SURGERY_OPTIONS + AUTO_OPTIONS)}")
    if task.steps is None or task.lr is None:
        raise ValueError(f"{task.method} needs steps and lr (the task has steps={task.steps}, "
                         f"lr={task.lr})")
    if not isinstance(opts.get("keep_best", True), bool):
        raise ValueError(f"extra['keep_best'] must be true or false, got {opts['keep_best']!r}")

    def starts(c: int) -> tuple[Tensor, ...]:
        return init_latents(generator, dataclasses.replace(task, cut=c), names)

    return dict(split_rng=torch.Generator().manual_seed(stable_seed("holdout", task.m, task.seed)),
                restarts=task.restarts, steps=task.steps, lr=task.lr, init_latents=starts,
                optimizer=opts.get("optimizer", "lbfgs"), chunk_size=opts.get("chunk_size"),
                optimizer_options=opts.get("optimizer_options"),
                keep_best=opts.get("keep_best", True))


# ------------------------------------------------------------------ comparing choices
#: Series of the cut comparison (notebook 09) that are not methods of their own.
EXTRA_SERIES.update({"surgery_validation": ("Surgery, validation cut", "#c0392b"),
                     "surgery_oracle": ("Surgery, oracle cut", "#f39c12")})


def cut_comparison(frame, validation: dict[str, int]):
    """Per image and m, four ways to pick the cut, from sweep rows ``frame`` (one image
    set or several): ``no_surgery`` (cut 0), ``surgery_validation`` (the family's
    ``validation`` cut), ``surgery_auto`` (chosen from the measurements) and
    ``surgery_oracle`` (the best PSNR in hindsight over the candidates that
    ``surgery_auto`` had, read from its ``details``).

    ``frame`` needs the ``surgery_auto`` rows and ``surgery`` rows at every candidate cut
    and at the validation cut. Returns a long frame: ``family, image_set, image, m,
    ratio, series, cut, psnr, seconds`` (seconds: of that recovery; for ``surgery_auto``
    everything, cross-validation included; its PSNR is the ``surgery`` record's at the
    chosen cut, its own record's in ``own_psnr``). Raises a ValueError naming what is
    missing.
    """
    import json

    import pandas as pd

    keys = ["family", "image_set", "image", "m"]
    surgery = frame[frame.method == "surgery"].set_index([*keys, "cut"])
    auto = frame[frame.method == "surgery_auto"]
    if auto.empty:
        raise ValueError("no surgery_auto rows to compare")
    rows = []
    for r in auto.itertuples():
        d = json.loads(r.details)
        key = (r.family, r.image_set, r.image, r.m)
        cands = sorted(int(c) for c in d["heldout"])
        wanted = sorted({0, validation[r.family], *cands})
        missing = [c for c in wanted if (*key, c) not in surgery.index]
        if missing:
            raise ValueError(f"no surgery rows at cut(s) {missing} for {key}; run them first")
        at = {c: surgery.loc[(*key, c)] for c in wanted}
        oracle = max(cands, key=lambda c: at[c].psnr)
        base = dict(family=r.family, image_set=r.image_set, image=r.image, m=r.m,
                    ratio=r.ratio)
        for series, cut, row in (("no_surgery", 0, at[0]),
                                 ("surgery_validation", validation[r.family],
                                  at[validation[r.family]]),
                                 ("surgery_oracle", oracle, at[oracle])):
            rows.append({**base, "series": series, "cut": cut, "psnr": row.psnr,
                         "seconds": row.seconds})
        # scored by the surgery record at the chosen cut, the record the other three
        # series come from: within one engine version it is the auto record's own result
        # bit for bit (tested); a store that kept surgery records of an older engine
        # would otherwise compare two versions' rounding (``own_psnr`` keeps the auto
        # record's number)
        chosen = int(d["cut"])
        rows.append({**base, "series": "surgery_auto", "cut": chosen, "psnr": at[chosen].psnr,
                     "own_psnr": r.psnr, "seconds": r.seconds})
    return pd.DataFrame(rows)


__all__ = ["AUTO_OPTIONS", "CANDIDATE_CUTS", "HOLDOUT", "AutoCutResult", "CrossValidation",
           "cross_validate", "cut_comparison", "holdout_split", "method_surgery_auto",
           "recover_auto_cut", "sweep_settings"]
