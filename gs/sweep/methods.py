"""Recovery methods for sweeps: one :class:`MethodSpec` per method, in one registry.

A spec says everything the sweep, the figures and the notebooks need to know about a
method: the function that runs a batch, whether it needs a generator, at which cut it
runs, which of its parameters a budget scales, its label and colour. Adding a method is
one decorated function::

    @register_method("zero_filled", label="Zero-filled", color="#95a5a6",
                     needs_generator=False, cut=0)
    def zero_filled(generator, operator, y, task, x_true, names):
        ...  # return an object with .images: (B, 3, H, W)

after which ``cs_grid(profile, methods=("zero_filled",))``, ``run_sweep`` and the figures
know it (``tests/test_sweep.py`` does exactly this).

Figures and notebooks refer to methods by *name* (``"surgery"``, ``"lasso_dct"``) and to
series by :func:`series_name` (surgery at cut 0 is the series ``"no_surgery"``); labels
and colours come from here.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from gs.sweep.tasks import Task, stable_seed

#: Task fields a batch may mix (:attr:`MethodSpec.batch_across`): each ``(m, seed)``
#: gets its own operator, built as for a batch of its own.
BATCH_ACROSS = ("m", "seed")

#: Cut policies: ``"swept"`` runs at the cuts the grid asks for (default: 0 and the
#: model's paper cut); ``"at_cut"`` at the grid's cuts (default: the paper cut);
#: ``"paper"`` always at the model's paper cut; an int, always at that cut.
CUT_POLICIES = ("swept", "at_cut", "paper")


@dataclass(frozen=True)
class MethodSpec:
    """Everything about one recovery method.

    Attributes:
        name: the registry key (what tasks, figures and notebooks use).
        fn: ``fn(generator, operator, y, task, x_true, names) -> result`` with
            ``y: (B, *meas_shape)``, ``x_true: (B, 3, H, W)``, ``names`` the B image names
            and ``result.images: (B, 3, H, W)`` (e.g. a :class:`gs.recovery.RecoveryResult`).
            ``generator`` is the zoo model in eval mode with frozen weights, shared by the
            batches of a process (copy it before changing it), or None unless
            ``needs_generator``.
        label, color: legend text and colour in every figure.
        needs_generator: False for methods that use no trained generator (they run once
            per image size and carry ``model = ""``).
        cut: the cut policy, one of :data:`CUT_POLICIES` or a fixed int.
        budget_params: the step counts that ``extra["budget"]`` scales (0.1 = a tenth of
            the paper's steps, at least 1). Empty for methods run at the profile's L-BFGS
            budget (surgery) or to a tolerance (``convex``).
        convex: solves a convex problem to a tolerance; takes the profile's ``lasso``
            solver options instead of a budget.
        restarts: a fixed number of restarts (None: the profile's).
        batch_invariant: on the CPU, a task's record does not depend on the other images
            of its batch (tested). Methods that cannot promise it run one image per batch.
        batch_across: Task fields besides the image that may differ within one batch, a
            subset of :data:`BATCH_ACROSS` (``("m", "seed")``): the sweep then runs tasks
            of several configurations as one batch, with an
            :class:`~gs.operator_group.OperatorGroup` (one operator per ``(m, seed)``) and y
            padded, and calls ``fn(..., tasks=tasks)`` with the batch's tasks (``task`` is
            the first). Records stay those of each configuration run alone (tested).
        max_images: at most this many images per batch (None: as many as the sweep
            allows): for methods whose every image holds state of its own in memory.
        engine: the version of this method's numerics, stored with each record (column
            ``engine``); a sweep recomputes a record of another version. None:
            :data:`gs.recovery.ENGINE_VERSION`, the shared engine's. A method whose own
            code changes its numbers gets a number of its own, so that only its records
            are recomputed.
    """

    name: str
    fn: Callable[..., Any]
    label: str
    color: str
    needs_generator: bool = True
    cut: str | int = "swept"
    budget_params: tuple[str, ...] = ()
    convex: bool = False
    restarts: int | None = None
    batch_invariant: bool = True
    batch_across: tuple[str, ...] = ()
    max_images: int | None = None
    engine: int | None = None

    @property
    def engine_version(self) -> int:
        """The ``engine`` a record of this method is computed with now."""
        from gs.recovery import ENGINE_VERSION

        return ENGINE_VERSION if self.engine is None else self.engine

    def __post_init__(self) -> None:
        if not (isinstance(self.cut, int) or self.cut in CUT_POLICIES):
            raise ValueError(f"method {self.name!r}: cut must be an int or one of "
                             f"{CUT_POLICIES}, got {self.cut!r}")
        if not set(self.batch_across) <= set(BATCH_ACROSS):
            raise ValueError(f"method {self.name!r}: batch_across must be a subset of "
                             f"{BATCH_ACROSS}, got {self.batch_across!r}")
        if self.batch_across and not self.batch_invariant:
            raise ValueError(f"method {self.name!r}: only batch-invariant methods can batch "
                             "across configurations")

    def cuts(self, paper_cut: int, asked: tuple[int, ...] | None = None) -> tuple[int, ...]:
        """The cuts this method runs at for a model whose paper cut is ``paper_cut``,
        when the grid asks for ``asked`` (None: the policy's default)."""
        if isinstance(self.cut, int):
            return (self.cut,)
        if self.cut == "paper":
            return (paper_cut,)
        if asked is not None:
            return tuple(dict.fromkeys(asked))
        return (0, paper_cut) if self.cut == "swept" else (paper_cut,)


METHODS: dict[str, MethodSpec] = {}

#: Series that are not methods of their own: surgery at cut 0 is "no surgery".
EXTRA_SERIES = {"no_surgery": ("No Surgery", "#2c3e50")}


def register_method(name: str, *, label: str, color: str, **spec: Any):
    """Decorator: register ``fn`` as method ``name`` (the other fields of
    :class:`MethodSpec` as keywords). Re-registering a name replaces it."""

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        METHODS[name] = MethodSpec(name=name, fn=fn, label=label, color=color, **spec)
        return fn

    return deco


def get_method(name: str) -> MethodSpec:
    """The spec of method ``name``; a ValueError lists the known names."""
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; known methods: {sorted(METHODS)}")
    return METHODS[name]


def series_name(method: str, cut: int) -> str:
    """The series a record belongs to in figures: ``"no_surgery"`` for surgery at cut 0,
    else the method's name."""
    return "no_surgery" if method == "surgery" and cut == 0 else method


def series_label(series: str) -> str:
    """Legend text of a series (a method name or ``"no_surgery"``); unknown: as given."""
    if series in METHODS:
        return METHODS[series].label
    return EXTRA_SERIES.get(series, (series, ""))[0]


def series_color(series: str, default: str = "#333333") -> str:
    """Colour of a series (a method name or ``"no_surgery"``)."""
    if series in METHODS:
        return METHODS[series].color
    return EXTRA_SERIES.get(series, ("", default))[1]


# ----------------------------------------------------------------------- surgery
def init_latents(generator, task: Task, names, seeds=None) -> tuple[torch.Tensor, ...]:
    """Initial latents ``(B, R, *shape)`` drawn per image from ``(image, seed)``, on the CPU
    (``seeds``: one per image, for a batch across seeds; default ``task.seed`` for all).

    Image b's init does not depend on the other images of its batch (nor on m).
    """
    opts = task.options
    per_image = []
    seeds = [task.seed] * len(names) if seeds is None else list(seeds)
    for name, seed in zip(names, seeds, strict=True):
        rng = torch.Generator().manual_seed(stable_seed("init", name, seed))
        per_image.append(generator.sample_latents(
            task.restarts, task.cut, init=task.init, limit=opts.get("init_limit", 1.0),
            generator=rng, device="cpu"))
    return tuple(torch.stack(parts) for parts in zip(*per_image, strict=True))


#: The options (``extra``) surgery and reinit understand.
SURGERY_OPTIONS = ("optimizer", "chunk_size", "optimizer_options", "keep_best", "init_limit")


def _surgery(generator, operator, y, task: Task, x_true, names, tasks=None):
    from gs.recovery import recover

    opts = task.options
    unknown = sorted(set(opts) - set(SURGERY_OPTIONS))
    if unknown:
        raise ValueError(f"{task.method} takes no options {unknown} (task extra); it takes "
                         f"{list(SURGERY_OPTIONS)}")
    if not isinstance(opts.get("keep_best", True), bool):
        raise ValueError(f"extra['keep_best'] must be true or false, got {opts['keep_best']!r}")
    if task.steps is None or task.lr is None:
        raise ValueError(f"{task.method} needs steps and lr (the task has steps={task.steps}, "
                         f"lr={task.lr})")
    return recover(
        generator, operator, y, task.cut, restarts=task.restarts, steps=task.steps,
        lr=task.lr, optimizer=opts.get("optimizer", "lbfgs"),
        init_latents=init_latents(generator, task, names,
                                  seeds=None if tasks is None else [t.seed for t in tasks]),
        x_true=x_true,
        chunk_size=opts.get("chunk_size"), optimizer_options=opts.get("optimizer_options"),
        keep_best=opts.get("keep_best", True),
    )


@register_method("surgery", label="With Surgery", color="#c0392b", cut="swept",
                 batch_across=("m", "seed"))
def method_surgery(generator, operator, y, task: Task, x_true, names=(), tasks=None):
    """Generator surgery at ``task.cut`` (cut 0: the uncut generator, CSGM)."""
    return _surgery(generator, operator, y, task, x_true, names, tasks)


# the seed also re-draws the kept blocks: one generator per batch, so batches mix m only
@register_method("reinit", label="Surgery, re-initialised", color="#e67e22", cut="at_cut",
                 batch_across=("m",))
def method_reinit(generator, operator, y, task: Task, x_true, names=(), tasks=None):
    """Surgery with the kept blocks re-initialised (seeded by ``task.seed``)."""
    from gs.surgery import reinitialize

    g = reinitialize(generator, task.cut, torch.Generator().manual_seed(task.seed))
    return _surgery(g, operator, y, task, x_true, names, tasks)


# --------------------------------------------------------------------- baselines
def _call_baseline(attr: str, settings: str | None, budget_params: tuple[str, ...]):
    """A method function calling ``gs.baselines.<attr>`` (imported when first used).

    Keywords are matched to its signature: ``generator``, ``operator``, ``y``, ``cut``,
    ``restarts``, ``x_true`` when it takes them; ``steps``/``lr`` when the task sets them;
    otherwise each of ``budget_params`` (its default, overlaid with
    ``gs.baselines.<settings>[family]``) is scaled by ``extra["budget"]`` (at least 1).
    Random starts are seeded by ``(image, seed)``: one seed per image (``image_seeds``)
    where the function takes them, else ``seed`` when the batch holds one image, so an
    image's result is the same whichever batch it was in. Other ``extra`` entries pass by
    name.
    """

    def run(generator, operator, y, task: Task, x_true, names=()):
        import gs.baselines as baselines

        fn = getattr(baselines, attr)
        params = inspect.signature(fn).parameters
        opts = task.options
        budget = float(opts.pop("budget", 1.0))
        defaults = {n: p.default for n, p in params.items()}
        if settings is not None:
            defaults.update(getattr(baselines, settings).get(task.family, {}))
        kw: dict[str, Any] = {n: max(1, round(defaults[n] * budget)) for n in budget_params}
        image_seeds = [stable_seed("init", n, task.seed) % 2**62 for n in names]
        seed = image_seeds[0] if len(names) == 1 else task.seed
        candidates = dict(generator=generator, operator=operator, y=y, cut=task.cut,
                          restarts=task.restarts, seed=seed, image_seeds=image_seeds,
                          x_true=x_true)
        if task.steps is not None:
            candidates["steps"] = task.steps
        if task.lr is not None:
            candidates["lr"] = task.lr
        unknown = set(opts) - set(params)
        if unknown:
            raise ValueError(f"{attr} takes no options {sorted(unknown)} (task extra)")
        candidates.update(opts)
        kw.update({n: v for n, v in candidates.items() if n in params})
        return fn(**kw)

    run.__name__ = f"method_{attr}"
    return run


def _register_baseline(name: str, attr: str, *, settings: str | None = None,
                       budget_params: tuple[str, ...] = (), **spec: Any) -> None:
    METHODS[name] = MethodSpec(name=name, fn=_call_baseline(attr, settings, budget_params),
                               budget_params=budget_params, **spec)


_register_baseline("lasso_dct", "recover_lasso_dct", label="Lasso-DCT", color="#7f8c8d",
                   needs_generator=False, cut=0, convex=True, restarts=1)
#: Images per batch of mGANprior, IAGAN and Deep Decoder: one CPU lane of the DCGAN's and
#: the VAE's (gs.baselines.mgan.MGAN_CPU_LANES), and of Deep Decoder's; it also bounds what a
#: GPU batch holds (mGANprior's N codes per problem, IAGAN's first stage, the networks).
BASELINE_BATCH_IMAGES = 10

# mGANprior's and IAGAN's engines: 2, one image per batch; 3 (2026-12-01, first try), lanes
# of a fixed number of problems; 4 (2026-12-01), lanes of a fixed number of images
_register_baseline("iagan", "recover_iagan", settings="IAGAN_SETTINGS",
                   budget_params=("steps", "steps2"), label="IAGAN", color="#2980b9", cut=0,
                   max_images=BASELINE_BATCH_IMAGES, engine=4)
_register_baseline("mgan", "recover_mgan", settings="MGAN_SETTINGS", budget_params=("steps",),
                   label="mGANprior", color="#8e44ad", cut="paper",
                   max_images=BASELINE_BATCH_IMAGES, engine=4)
# Deep Decoder's engine: 2 (the shared one's), one image per batch; 3 (2026-12-01), lanes
# of a fixed number of images and resizing by interpolation matrices
_register_baseline("deep_decoder", "recover_deep_decoder", budget_params=("steps",),
                   label="Deep Decoder", color="#27ae60", needs_generator=False, cut=0,
                   max_images=BASELINE_BATCH_IMAGES, engine=3)


# Methods defined in modules of their own register themselves on import.
import gs.autocut  # noqa: E402,F401  (surgery_auto)
