"""Sweeps over (image set, image, m, method, cut, seed) with a results store that never
loses results.

A sweep is a list of :class:`Task` s, one per (image, configuration). :func:`run_sweep`

1. skips every task whose :attr:`Task.key` is already in the :class:`ResultsStore`;
2. groups the rest into batches: tasks that differ only in ``image`` form one batch and
   go through ONE call of the recovery engine (images x restarts batched);
3. runs the batches (:func:`run_batch`) in-process or on any
   :class:`concurrent.futures.Executor`, and writes each batch's records to the SQLite
   store as soon as it finishes (one transaction per batch, ``INSERT OR IGNORE``).

Only the calling process writes; workers return records. A killed sweep loses at most the
batches in flight, and rerunning the same call finishes the rest, each record exactly once.

Measurements are paired across methods and cuts (DESIGN decisions 1, 2): the operator's
random parts are drawn from a generator seeded by ``(m, seed)`` only, so one A is shared by
every image, method and cut; the noise of image ``x`` is drawn from a generator seeded by
``(image, m, seed)``, so ``y`` does not depend on the batch it is in nor on the method. The
recovery's initial latents are drawn per image as well (seeded by ``(image, seed)``), so an
image's result does not depend on which other images share its batch, e.g. after a resume.

Quick start (in-process)::

    from gs.experiments import ResultsStore, cs_grid, run_sweep
    from gs.profiles import get_profile

    profile = get_profile("smoke")
    tasks = cs_grid(profile, methods=("surgery", "lasso_dct"))
    df = run_sweep(tasks, ResultsStore("results/smoke.sqlite"))

Running a sweep on a cluster
----------------------------
``run_sweep`` takes any :class:`concurrent.futures.Executor`; the batches are pickled to
the workers, which load the generator and the images themselves (``gs`` must be
importable there and the weights and data present) and send back plain records. The
store stays on the machine that calls ``run_sweep``.

* Local processes: ``ProcessPoolExecutor(max_workers=4)`` (or threads,
  ``ThreadPoolExecutor``).
* Dask (``pip install "dask[distributed]"``, the ``distributed`` extra)::

      from dask.distributed import Client, LocalCluster
      client = Client("tcp://scheduler:8786")          # or Client(LocalCluster(n_workers=4))
      run_sweep(tasks, store, executor=client.get_executor())

* Slurm: ``submitit.AutoExecutor(folder="logs/")`` is a concurrent.futures-style executor
  too (one Slurm job per batch; set ``executor.update_parameters(gpus_per_node=1, ...)``
  first). submitit is not a dependency of gs.

Interrupt the sweep at any time (Ctrl-C, a killed job, a pre-empted node) and rerun the
same call: finished batches are skipped.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import dataclasses
import functools
import hashlib
import inspect
import io
import itertools
import json
import math
import socket
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

import gs
from gs.metrics import psnr as psnr_fn
from gs.metrics import ssim as ssim_fn
from gs.operators import make_operator
from gs.profiles import Profile, resolve_device

__all__ = [
    "BASELINE_CUTS",
    "COLUMNS",
    "IMAGE_SOURCES",
    "METHODS",
    "Images",
    "Method",
    "ResultsStore",
    "SweepError",
    "Task",
    "batches",
    "chosen_cuts",
    "cs_grid",
    "default_store",
    "generator_sample_images",
    "grid",
    "init_latents",
    "load_images",
    "measurements",
    "model_info",
    "model_sweep_cuts",
    "per_family",
    "recover_images",
    "register_image_source",
    "register_method",
    "run_batch",
    "run_sweep",
    "samples_image_set",
    "select_cuts",
    "stable_seed",
]

CS_OPERATORS = ("cs", "cs_fast")
#: Methods that solve a convex problem to a tolerance: no step budget applies.
CONVEX_METHODS = ("lasso_dct",)


# ------------------------------------------------------------------------------ tasks
def stable_seed(*parts: Any) -> int:
    """A seed in ``[0, 2**63)`` that depends only on ``parts`` (sha1 of their JSON).

    Unlike ``hash()`` it is the same in every process and Python session.

    >>> stable_seed("noise", "img-000", 100, 0) == stable_seed("noise", "img-000", 100, 0)
    True
    """
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"))
    return int.from_bytes(hashlib.sha1(text.encode()).digest()[:8], "big") >> 1


def _canonical_extra(extra: Any) -> str:
    if isinstance(extra, str):
        extra = json.loads(extra or "{}")
    if not isinstance(extra, dict):
        raise TypeError(f"extra must be a dict or a JSON object string, got {type(extra).__name__}")
    return json.dumps(extra, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class Task:
    """One recovery problem: an image and everything that decides its result.

    Attributes:
        model: zoo entry name of the generator (``""`` for methods that use none:
            ``lasso_dct``, ``deep_decoder``).
        family: ``"dcgan"``, ``"began"``, ``"vae"`` (picks lr and baseline defaults).
        image_set, split, image: which image (``image`` is its name in the set).
        image_size: H = W in pixels.
        operator: ``"cs"``, ``"cs_fast"``, ``"identity"``, ``"inpainting"``, ``"sr"``.
        m: number of measurements (CS operators only; None otherwise).
        method: a name in :data:`METHODS` (``"surgery"`` recovers at ``cut``, cut 0 is
            no surgery; ``"reinit"`` re-initialises the kept blocks first).
        cut: the cut index.
        seed: seeds the operator (with m), the noise (with image, m) and the init.
        steps, restarts, lr, init: the recovery budget; ``steps``/``lr`` None means the
            method's own defaults (baselines).
        extra: method options as a dict (stored as canonical JSON), e.g.
            ``{"budget": 0.2}`` for baselines or ``{"optimizer": "adam"}``.
        weights: the first 16 hex digits of the zoo entry's sha256, filled in from
            :data:`gs.zoo.ENTRIES` when left empty (``""`` for no model or an entry
            without a sha256). Part of the key, so results of replaced weights are
            never reused.
    """

    model: str
    family: str
    image_set: str
    split: str
    image: str
    image_size: int
    operator: str
    m: int | None
    method: str
    cut: int
    seed: int = 0
    steps: int | None = 25
    restarts: int = 3
    lr: float | None = 0.1
    init: str = "clamped_normal"
    extra: str = "{}"
    weights: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "extra", _canonical_extra(self.extra))
        if not self.weights and self.model:
            object.__setattr__(self, "weights", _weights_id(self.model))
        if self.operator in CS_OPERATORS and self.m is None:
            raise ValueError(f"operator {self.operator!r} needs m")

    @property
    def options(self) -> dict:
        """``extra`` as a dict."""
        return json.loads(self.extra)

    def config(self) -> dict:
        """The task's fields as a plain dict (``extra`` as its JSON string)."""
        return dataclasses.asdict(self)

    @property
    def key(self) -> str:
        """A stable id: sha1 of the sorted JSON of :meth:`config` (same in every process)."""
        text = json.dumps(self.config(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha1(text.encode()).hexdigest()

    def batch_key(self) -> tuple:
        """Everything but the image: tasks with equal batch keys run as one batch."""
        return tuple(v for k, v in self.config().items() if k != "image")


TASK_FIELDS = tuple(f.name for f in dataclasses.fields(Task))


def _weights_id(model: str) -> str:
    from gs import zoo

    entry = zoo.ENTRIES.get(model)
    return entry.sha256[:16] if entry is not None and entry.sha256 else ""


def grid(**axes: Any) -> list[Task]:
    """Tasks for the cartesian product of the list- or tuple-valued arguments.

    Every :class:`Task` field is given; a list or tuple value is an axis, anything else
    is held fixed (give ``extra`` as a dict, or a list of dicts for an axis).

    >>> ts = grid(model="g", family="dcgan", image_set="synthetic", split="test",
    ...           image=["a", "b"], image_size=64, operator="cs", m=[100, 200],
    ...           method="surgery", cut=[0, 1])
    >>> len(ts), len({t.key for t in ts})
    (8, 8)
    """
    unknown = set(axes) - set(TASK_FIELDS)
    if unknown:
        raise ValueError(f"unknown Task fields {sorted(unknown)}; fields are {TASK_FIELDS}")
    names = list(axes)
    values = [v if isinstance(v, list | tuple) else [v] for v in axes.values()]
    return [Task(**dict(zip(names, combo, strict=True))) for combo in itertools.product(*values)]


@functools.cache
def _meta_model(model: str):
    """The architecture of zoo entry ``model`` on the meta device (no weights)."""
    from gs import zoo
    from gs.models import build

    entry = zoo.get(model)
    with torch.device("meta"):
        return build(entry.model, **entry.model_kwargs)


def model_info(model: str) -> tuple[int, int]:
    """``(image_size, default_cut)`` of a zoo entry (the paper's cut for its family)."""
    g = _meta_model(model)
    return int(g.image_size), int(g.default_cut)


def model_sweep_cuts(model: str) -> tuple[int, ...]:
    """The cuts of the paper's cut sweep for zoo entry ``model``'s architecture."""
    return tuple(_meta_model(model).sweep_cuts)


_model_info = model_info


#: The cut each baseline runs at: ``None`` = the family's surgery cut (mGANprior mixes
#: codes at the paper's cut); IAGAN uses the full generator; the others use none.
BASELINE_CUTS: dict[str, int | None] = {
    "lasso_dct": 0,
    "deep_decoder": 0,
    "iagan": 0,
    "mgan": None,
}


def cs_grid(
    profile: Profile,
    families: Sequence[str] | None = None,
    image_set: str | None = None,
    split: str = "test",
    methods: Sequence[str] = ("surgery",),
    cuts: Sequence[int] | None = None,
    ratios: Sequence[float] | None = None,
    seeds: Sequence[int] | None = None,
    n_images: int | None = None,
    operator: str | None = None,
    extra: dict | None = None,
) -> list[Task]:
    """The compressed-sensing grid of a profile: families x images x m x methods x cuts.

    Args:
        profile: sizes, budgets and models (see :mod:`gs.profiles`).
        families: model families to run (default: all of ``profile.models``).
        image_set: image set name (default ``profile.in_dist``).
        split: ``"test"`` (``profile.n_test`` images) or ``"val"`` (``profile.n_val``).
        methods: names in :data:`METHODS`.
        cuts: cuts for ``surgery``/``reinit``; None = ``(0, default cut)`` for surgery and
            the default cut for reinit. Baselines run at :data:`BASELINE_CUTS`.
        ratios: undersampling ratios m/n (default ``profile.ratios``); m is
            ``profile.m_values(3 * H * W)``-style rounding of ``ratio * n``.
        seeds: default ``(profile.seed,)``.
        n_images: the first ``n_images`` images of the set (default by split, above).
        operator: default ``profile.operator``.
        extra: options merged into every task's ``extra``.

    Surgery tasks get ``profile.steps``, ``profile.restarts`` and ``profile.lr[family]``;
    baseline tasks get ``steps``/``lr`` None (their own defaults) and
    ``extra["budget"] = profile.baseline_budget`` (not Lasso-DCT, which is convex and runs
    to its tolerance: it gets ``profile.lasso`` as options). Methods that use no generator
    (``lasso_dct``, ``deep_decoder``) get ``model=""`` and so run once per image size.
    """
    families = list(families) if families is not None else list(profile.models)
    image_set = image_set or profile.in_dist
    operator = operator or profile.operator
    seeds = list(seeds) if seeds is not None else [profile.seed]
    if n_images is None:
        n_images = profile.n_val if split in ("val", "validation") else profile.n_test
    r_profile = profile if ratios is None else dataclasses.replace(profile, ratios=tuple(ratios))
    tasks: list[Task] = []
    for family in families:
        if family not in profile.models:
            raise ValueError(f"profile {profile.name!r} has no model for family {family!r}; "
                             f"it has {sorted(profile.models)}")
        model = profile.models[family]
        size, default_cut = _model_info(model)
        names = load_images(image_set, split, size).names[:n_images]
        m_values = r_profile.m_values(3 * size * size) if operator in CS_OPERATORS else [None]
        for method in methods:
            _method(method)  # fail early on unknown names
            spec = METHODS[method]
            common = dict(image_set=image_set, split=split, image=list(names), image_size=size,
                          operator=operator, m=list(m_values), method=method, seed=seeds)
            if method in ("surgery", "reinit"):
                c = cuts if cuts is not None else (
                    (0, default_cut) if method == "surgery" else (default_cut,))
                tasks += grid(model=model, family=family, cut=list(dict.fromkeys(c)),
                              steps=profile.steps, restarts=profile.restarts,
                              lr=profile.lr[family], extra=dict(extra or {}), **common)
            else:
                bcut = BASELINE_CUTS.get(method, 0)
                # a convex solver runs to its tolerance: the budget scales only the
                # fixed step counts of the non-convex baselines
                budget = (dict(profile.lasso) if method in CONVEX_METHODS
                          else {"budget": profile.baseline_budget})
                opts = {**budget, **(extra or {})}
                tasks += grid(model=model if spec.needs_generator else "",
                              family=family if spec.needs_generator else "",
                              cut=default_cut if bcut is None else bcut, steps=None,
                              restarts=1 if method == "lasso_dct" else profile.restarts,
                              lr=None, extra=opts, **common)
    return list({t.key: t for t in tasks}.values())  # drop duplicates, keep order


def batches(tasks: Iterable[Task], max_batch: int | None = None) -> list[list[Task]]:
    """Group tasks that differ only in ``image`` (in first-seen order); split groups into
    chunks of at most ``max_batch`` images."""
    groups: dict[tuple, list[Task]] = {}
    for t in tasks:
        groups.setdefault(t.batch_key(), []).append(t)
    out = []
    for group in groups.values():
        step = max_batch or len(group)
        out += [group[i : i + step] for i in range(0, len(group), step)]
    return out


# ----------------------------------------------------------------------------- images
@dataclass
class Images:
    """Images ``(N, 3, H, W)`` in ``[0, 1]`` and their names."""

    images: Tensor
    names: list[str]


#: Extra image sources by name: ``fn(split, size) -> Images``. Checked before
#: :func:`gs.data.load_image_set`. A source registered at run time exists only in the
#: process that registered it; worker processes see the sources defined at import.
IMAGE_SOURCES: dict[str, Callable[[str, int], Images]] = {}


def register_image_source(name: str, fn: Callable[[str, int], Images]) -> None:
    """Make ``name`` an image set served by ``fn(split, size) -> Images`` (this process)."""
    IMAGE_SOURCES[name] = fn
    _load_images_cached.cache_clear()


def _synthetic(split: str, size: int, n: int = 32) -> Images:
    """``n`` smooth random colour images (low-resolution noise, bilinearly upsampled):
    a data-free image set for tests and dry runs; a fixed function of (split, index)."""
    ims = []
    for i in range(n):
        g = torch.Generator().manual_seed(stable_seed("synthetic", split, i))
        low = torch.rand(1, 3, 6, 6, generator=g)
        ims.append(torch.nn.functional.interpolate(low, size=(size, size), mode="bilinear",
                                                   align_corners=True))
    return Images(torch.cat(ims).clamp(0, 1), [f"synthetic-{i:03d}" for i in range(n)])


IMAGE_SOURCES["synthetic"] = _synthetic


#: Image sets ``"samples:<zoo entry>"`` hold this many generator samples per split.
SAMPLES_PER_SPLIT = 32


def samples_image_set(model: str) -> str:
    """The name of the image set of samples of zoo entry ``model`` (see
    :func:`generator_sample_images`), e.g. ``"samples:dcgan64-digiface"``."""
    return f"samples:{model}"


def generator_sample_images(model: str, split: str, size: int,
                            n: int = SAMPLES_PER_SPLIT) -> Images:
    """Image set ``"samples:<model>"``: ``n`` samples ``sample-000``, ... of the uncut
    generator (:func:`gs.samples.generator_samples`, clamped-normal latents), ground truth
    with zero representation error at cut 0. Each split has its own latents (seeded by
    ``(model, split)``). Known in every process, so sweeps may run on workers."""
    from gs.samples import generator_samples

    x = generator_samples(_generator(model, "cpu"), n,
                          seed=stable_seed("samples", model, split) % 2**40, size=size)
    return Images(x, [f"sample-{i:03d}" for i in range(n)])


@functools.lru_cache(maxsize=8)
def _load_images_cached(image_set: str, split: str, size: int) -> Images:
    if image_set in IMAGE_SOURCES:
        out = IMAGE_SOURCES[image_set](split, size)
    elif image_set.startswith("samples:"):
        out = generator_sample_images(image_set.removeprefix("samples:"), split, size)
    else:
        from gs.data import load_image_set  # lazy: data sets are optional

        s = load_image_set(image_set, split, size)
        out = Images(s.images, list(s.names))
    if len(set(out.names)) != len(out.names):
        raise ValueError(f"image set {image_set!r} ({split}) has duplicate image names")
    return Images(out.images.detach().float().cpu(), list(out.names))


def load_images(image_set: str, split: str, size: int, names: Sequence[str] | None = None
                ) -> Images:
    """Images of a set (cached per process), all or those named, in the order named."""
    s = _load_images_cached(image_set, split, size)
    if names is None:
        return s
    pos = {n: i for i, n in enumerate(s.names)}
    missing = [n for n in names if n not in pos]
    if missing:
        raise KeyError(f"images {missing[:5]} are not in image set {image_set!r} ({split}, "
                       f"{size} px)")
    return Images(s.images[[pos[n] for n in names]], list(names))


# ---------------------------------------------------------------------------- methods
@dataclass(frozen=True)
class Method:
    """A recovery method ``fn(generator, operator, y, task, x_true, names) -> result``.

    ``y: (B, *meas_shape)``, ``x_true: (B, 3, H, W)``, ``names``: the B image names;
    ``result.images: (B, 3, H, W)`` (e.g. a :class:`gs.recovery.RecoveryResult`).
    ``generator`` is the zoo model in eval mode with frozen weights, shared by the batches
    of a process (copy it before changing it), or None unless ``needs_generator``."""

    fn: Callable[..., Any]
    needs_generator: bool = True


METHODS: dict[str, Method] = {}


def register_method(name: str, needs_generator: bool = True):
    """Decorator: add a method to :data:`METHODS` under ``name``."""

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        METHODS[name] = Method(fn, needs_generator)
        return fn

    return deco


def _method(name: str) -> Method:
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; known methods: {sorted(METHODS)}")
    return METHODS[name]


def init_latents(generator, task: Task, names: Sequence[str]) -> tuple[Tensor, ...]:
    """Initial latents ``(B, R, *shape)`` drawn per image from ``(image, seed)``, on the CPU.

    Image b's init does not depend on the other images of its batch (nor on m).
    """
    opts = task.options
    per_image = []
    for name in names:
        rng = torch.Generator().manual_seed(stable_seed("init", name, task.seed))
        per_image.append(generator.sample_latents(
            task.restarts, task.cut, init=task.init, limit=opts.get("init_limit", 1.0),
            generator=rng, device="cpu"))
    return tuple(torch.stack(parts) for parts in zip(*per_image, strict=True))


def _surgery(generator, operator, y, task: Task, x_true, names):
    from gs.recovery import recover

    opts = task.options
    return recover(
        generator, operator, y, task.cut, restarts=task.restarts, steps=task.steps,
        lr=task.lr, optimizer=opts.get("optimizer", "lbfgs"), seed=task.seed,
        init_latents=init_latents(generator, task, names), x_true=x_true,
        chunk_size=opts.get("chunk_size"), optimizer_options=opts.get("optimizer_options"),
    )


@register_method("surgery")
def method_surgery(generator, operator, y, task: Task, x_true, names=()):
    """Generator surgery at ``task.cut`` (cut 0: the uncut generator, CSGM)."""
    return _surgery(generator, operator, y, task, x_true, names)


@register_method("reinit")
def method_reinit(generator, operator, y, task: Task, x_true, names=()):
    """Surgery with the kept blocks re-initialised (seeded by ``task.seed``)."""
    from gs.surgery import reinitialize

    g = reinitialize(generator, task.cut, torch.Generator().manual_seed(task.seed))
    return _surgery(g, operator, y, task, x_true, names)


def _baseline(attr: str, needs_generator: bool, settings: str | None = None) -> Method:
    """A registry entry calling ``gs.baselines.<attr>`` (imported when first used).

    Keywords are matched to its signature: ``generator``, ``operator``, ``y``, ``cut``,
    ``restarts``, ``seed``, ``x_true`` when it takes them; ``steps``/``lr`` when the task
    sets them; otherwise every step count of its defaults (an int default whose name
    contains "steps", overlaid with ``gs.baselines.<settings>[family]``) is scaled by
    ``extra["budget"]`` (at least 1). Other ``extra`` entries are passed by name.
    """

    def run(generator, operator, y, task: Task, x_true, names=()):
        try:
            import gs.baselines as baselines

            fn = getattr(baselines, attr)
        except (ImportError, AttributeError) as exc:
            raise RuntimeError(
                f"method {task.method!r} needs gs.baselines.{attr}, which is not available "
                f"({exc})") from exc
        params = inspect.signature(fn).parameters
        opts = task.options
        budget = float(opts.pop("budget", 1.0))
        defaults = {n: p.default for n, p in params.items()}
        if settings is not None:
            defaults.update(getattr(baselines, settings).get(task.family, {}))
        kw: dict[str, Any] = {
            n: max(1, round(d * budget)) for n, d in defaults.items()
            if "steps" in n and isinstance(d, int) and not isinstance(d, bool) and n in params
        }
        candidates = dict(generator=generator, operator=operator, y=y, cut=task.cut,
                          restarts=task.restarts, seed=task.seed, x_true=x_true)
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
    return Method(run, needs_generator)


METHODS["lasso_dct"] = _baseline("recover_lasso_dct", needs_generator=False)
METHODS["iagan"] = _baseline("recover_iagan", needs_generator=True, settings="IAGAN_SETTINGS")
METHODS["mgan"] = _baseline("recover_mgan", needs_generator=True, settings="MGAN_SETTINGS")
METHODS["deep_decoder"] = _baseline("recover_deep_decoder", needs_generator=False)


# ------------------------------------------------------------------------- run a batch
@functools.lru_cache(maxsize=4)
def _generator(model: str, device: str):
    from gs import zoo
    from gs.surgery import prepare_for_recovery

    return prepare_for_recovery(zoo.load(model, device))


def measurements(task: Task, x: Tensor, names: Sequence[str], device: str = "cpu"):
    """The operator of ``task`` and noisy measurements ``y: (B, *meas_shape)`` of ``x``.

    The operator's random parts come from a CPU generator seeded by ``(m, seed)`` only;
    each image's noise from one seeded by ``(image, m, seed)`` (DESIGN decisions 1, 2).
    """
    size = (3, task.image_size, task.image_size)
    rng = torch.Generator().manual_seed(stable_seed("operator", task.m, task.seed))
    op = make_operator(task.operator, size, m=task.m, generator=rng, device=device)
    ys = []
    for b, name in enumerate(names):
        g = torch.Generator().manual_seed(stable_seed("noise", name, task.m, task.seed))
        ys.append(op.measure(x[b : b + 1].to(device), generator=g))
    return op, torch.cat(ys)


def _check_batch(tasks: Sequence[Task]) -> None:
    if not tasks:
        raise ValueError("a batch needs at least one task")
    if len({t.batch_key() for t in tasks}) != 1:
        raise ValueError("the tasks of a batch must differ only in their image")
    if len({t.image for t in tasks}) != len(tasks):
        raise ValueError("a batch names the same image twice")


def _run(tasks: Sequence[Task], device: str) -> tuple[list[dict], Tensor]:
    _check_batch(tasks)
    task = tasks[0]
    method = _method(task.method)
    device = resolve_device(device)
    names = [t.image for t in tasks]
    x = load_images(task.image_set, task.split, task.image_size, names).images.to(device)
    op, y = measurements(task, x, names, device)
    generator = _generator(task.model, device) if method.needs_generator else None
    if generator is not None and generator.image_size != task.image_size:
        raise ValueError(f"model {task.model!r} makes {generator.image_size} px images but the "
                         f"task asks for {task.image_size} px")
    t0 = time.perf_counter()
    result = method.fn(generator, op, y, task, x, names)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    with torch.no_grad():
        x_hat = result.images.detach().to(device=device, dtype=x.dtype)
        clamped = x_hat.clamp(0, 1)
        loss = (op.A(clamped) - y).pow(2).flatten(1).mean(1)
        psnr, ssim = psnr_fn(clamped, x), ssim_fn(clamped, x)
    common = dict(
        n=op.n, ratio=op.m / op.n, noise_std=float(op.noise_std), batch_seconds=seconds,
        batch_size=len(tasks), seconds=seconds / len(tasks), device=str(device),
        gs_version=gs.__version__, torch_version=torch.__version__,
        timestamp=datetime.now(UTC).isoformat(timespec="seconds"), hostname=socket.gethostname(),
    )
    records = [
        {"key": t.key, **t.config(), **common, "psnr": float(psnr[b]), "ssim": float(ssim[b]),
         "loss": float(loss[b])}
        for b, t in enumerate(tasks)
    ]
    return records, x_hat.cpu()


def run_batch(tasks: Sequence[Task], device: str = "auto",
              keep_images: bool = False) -> list[dict]:
    """Run one batch (tasks differing only in ``image``) and return one record per task.

    Module-level and picklable, so executors can run it in worker processes. The
    generator (via :func:`gs.zoo.load`) and the images are cached per process. A record
    is the task's config plus ``key``, ``psnr``, ``ssim`` (clamped output), ``loss``
    (measurement MSE of the clamped output), ``seconds`` (batch time / batch size),
    ``batch_seconds``, ``batch_size``, ``n``, ``ratio``, ``noise_std``, ``device``,
    ``gs_version``, ``torch_version``, ``timestamp`` (UTC) and ``hostname``; with
    ``keep_images``, also ``image_png``: the clamped output as an 8-bit RGB PNG (bytes),
    which :meth:`ResultsStore.add` keeps beside the record.
    """
    records, images = _run(tasks, device)
    if keep_images:
        for r, im in zip(records, images, strict=True):
            r["image_png"] = encode_png(im)
    return records


def encode_png(image: Tensor) -> bytes:
    """``(3, H, W)`` float image -> 8-bit RGB PNG bytes of ``clamp(image, 0, 1)``."""
    from PIL import Image

    arr = (image.detach().float().clamp(0, 1) * 255).round().to(torch.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr.permute(1, 2, 0).cpu().numpy(), mode="RGB").save(buf, format="PNG")
    return buf.getvalue()


def decode_png(data: bytes) -> Tensor:
    """PNG bytes -> ``(3, H, W)`` float32 image in [0, 1] (inverse of :func:`encode_png`)."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        arr = np.asarray(im.convert("RGB"), dtype=np.uint8)
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).float() / 255


def recover_images(tasks: Sequence[Task], device: str = "auto",
                   max_batch: int | None = None) -> dict[str, Tensor]:
    """Recovered images ``(3, H, W)`` (unclamped) by task key, for qualitative figures.

    Runs the tasks (batched as in :func:`run_sweep`) without touching any store; the
    numbers equal those a sweep records for the same tasks.
    """
    out: dict[str, Tensor] = {}
    for batch in batches(tasks, max_batch):
        records, images = _run(batch, device)
        out.update({r["key"]: im for r, im in zip(records, images, strict=True)})
    return out


# ------------------------------------------------------------------------------ store
#: Column name -> SQLite type: ``key``, the task config, then metrics and provenance.
COLUMNS: dict[str, str] = {
    "key": "TEXT PRIMARY KEY",
    "model": "TEXT",
    "family": "TEXT",
    "image_set": "TEXT",
    "split": "TEXT",
    "image": "TEXT",
    "image_size": "INTEGER",
    "operator": "TEXT",
    "m": "INTEGER",
    "method": "TEXT",
    "cut": "INTEGER",
    "seed": "INTEGER",
    "steps": "INTEGER",
    "restarts": "INTEGER",
    "lr": "REAL",
    "init": "TEXT",
    "extra": "TEXT",
    "weights": "TEXT",
    "psnr": "REAL",
    "ssim": "REAL",
    "loss": "REAL",
    "seconds": "REAL",
    "batch_seconds": "REAL",
    "batch_size": "INTEGER",
    "n": "INTEGER",
    "ratio": "REAL",
    "noise_std": "REAL",
    "device": "TEXT",
    "gs_version": "TEXT",
    "torch_version": "TEXT",
    "timestamp": "TEXT",
    "hostname": "TEXT",
}
assert set(TASK_FIELDS) <= set(COLUMNS), "every Task field needs a results column"


class ResultsStore:
    """Sweep results in one SQLite file (stdlib :mod:`sqlite3`, WAL journal).

    One table ``results`` with a row per task (``key`` primary key, the
    :data:`COLUMNS`). :meth:`add` writes a list of records in one transaction with
    ``INSERT OR IGNORE``, so a record is never duplicated and a batch is either fully
    stored or not at all. Write from one process (the one running the sweep); readers
    may look at the file at any time.

    >>> store = ResultsStore(":memory:")  # doctest: +SKIP
    """

    def __init__(self, path: str | Path):
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._memory = sqlite3.connect(":memory:") if self.path == ":memory:" else None
        with self._connection() as con, con:  # one transaction
            if self._memory is None:
                con.execute("PRAGMA journal_mode=WAL")
            cols = ", ".join(f"{c} {t}" for c, t in COLUMNS.items())
            con.execute(f"CREATE TABLE IF NOT EXISTS results ({cols})")
            have = {row[1] for row in con.execute("PRAGMA table_info(results)")}
            for c, t in COLUMNS.items():  # stores written by older versions: add columns
                if c not in have:
                    con.execute(f"ALTER TABLE results ADD COLUMN {c} {t}")
            con.execute("CREATE TABLE IF NOT EXISTS images (key TEXT PRIMARY KEY, png BLOB)")

    @contextlib.contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """A connection to the store, closed afterwards (the in-memory one is kept)."""
        if self._memory is not None:
            yield self._memory
            return
        con = sqlite3.connect(self.path, timeout=60)
        try:
            con.execute("PRAGMA synchronous=FULL")
            yield con
        finally:
            con.close()

    def _keys(self, table: str) -> set[str]:
        with self._connection() as con:
            return {k for (k,) in con.execute(f"SELECT key FROM {table}")}

    def done_keys(self) -> set[str]:
        """Keys of every stored record."""
        return self._keys("results")

    def __len__(self) -> int:
        with self._connection() as con:
            return con.execute("SELECT COUNT(*) FROM results").fetchone()[0]

    def add(self, records: Sequence[dict]) -> int:
        """Insert ``records`` (dicts with ``key`` and columns of :data:`COLUMNS`, and
        optionally ``image_png``) in one transaction; records whose key is stored already
        are ignored (their image is added if the store had none). Returns the number of
        new rows."""
        if not records:
            return 0
        for r in records:
            unknown = set(r) - set(COLUMNS) - {"image_png"}
            if unknown or "key" not in r:
                raise ValueError(f"record has unknown columns {sorted(unknown)} or no key")
        cols = list(COLUMNS)
        sql = (f"INSERT OR IGNORE INTO results ({', '.join(cols)}) "
               f"VALUES ({', '.join('?' for _ in cols)})")
        rows = [tuple(_sql_value(r.get(c)) for c in cols) for r in records]
        pngs = [(r["key"], r["image_png"]) for r in records if r.get("image_png")]
        with self._connection() as con, con:  # one transaction: all or nothing
            before = con.total_changes
            con.executemany(sql, rows)
            added = con.total_changes - before
            con.executemany("INSERT OR IGNORE INTO images (key, png) VALUES (?, ?)", pngs)
            return added

    def image_keys(self) -> set[str]:
        """Keys of the records that have a stored image."""
        return self._keys("images")

    def images(self, keys: Iterable[str]) -> dict[str, Tensor]:
        """The stored outputs ``(3, H, W)`` in [0, 1] (8-bit, clamped) by key.

        Raises KeyError naming the keys without an image (run their tasks with
        ``run_sweep(..., keep_images=True)``).
        """
        keys = list(dict.fromkeys(keys))
        found = {}
        with self._connection() as con:
            for i in range(0, len(keys), 500):
                part = keys[i : i + 500]
                q = f"SELECT key, png FROM images WHERE key IN ({', '.join('?' * len(part))})"
                found.update(dict(con.execute(q, part).fetchall()))
        missing = [k for k in keys if k not in found]
        if missing:
            raise KeyError(f"{len(missing)} of {len(keys)} records have no stored image (first: "
                           f"{missing[0]}); run their tasks with run_sweep(..., keep_images=True)")
        return {k: decode_png(found[k]) for k in keys}

    def query(self, keys: Iterable[str] | None = None, **filters: Any):
        """Rows as a :class:`pandas.DataFrame`, optionally only ``keys`` and those whose
        columns equal the ``filters`` (a list or tuple value means "any of").

        >>> store.query(method="surgery", m=[100, 200])  # doctest: +SKIP
        """
        import pandas as pd

        where, args = [], []
        for col, val in filters.items():
            if col not in COLUMNS:
                raise ValueError(f"unknown column {col!r}; columns: {list(COLUMNS)}")
            if isinstance(val, list | tuple | set):
                val = list(val)
                where.append(f"{col} IN ({', '.join('?' for _ in val)})")
                args += val
            elif val is None:
                where.append(f"{col} IS NULL")
            else:
                where.append(f"{col} = ?")
                args.append(val)
        sql = f"SELECT {', '.join(COLUMNS)} FROM results"
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self._connection() as con:
            df = pd.read_sql_query(sql + " ORDER BY rowid", con, params=args)
        for col, typ in COLUMNS.items():  # consistent dtypes, even for all-NULL columns
            if typ == "REAL":
                df[col] = df[col].astype("float64")
            elif typ == "INTEGER" and df[col].isna().any():
                df[col] = df[col].astype("Int64")
        if keys is not None:
            order = {k: i for i, k in enumerate(dict.fromkeys(keys))}
            df = df[df["key"].isin(order)]
            df = df.iloc[df["key"].map(order).argsort()].reset_index(drop=True)
        return df

    def to_frame(self):
        """Every row, as a :class:`pandas.DataFrame` (insertion order)."""
        return self.query()

    def __repr__(self) -> str:
        return f"ResultsStore({self.path!r}, {len(self)} records)"


def _sql_value(v: Any) -> Any:
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


# ------------------------------------------------------------------------------ sweep
class SweepError(RuntimeError):
    """Some batches of a sweep failed; the others were stored. Rerun to retry."""


def run_sweep(
    tasks: Sequence[Task],
    store: ResultsStore,
    executor: cf.Executor | None = None,
    *,
    device: str = "auto",
    max_batch: int | None = None,
    progress: bool = True,
    keep_images: bool = False,
):
    """Run every task that is not in ``store`` yet and return the rows of ``tasks``.

    Args:
        tasks: the grid (duplicates are run once).
        store: where each finished batch is written, at once, in one transaction.
        executor: any :class:`concurrent.futures.Executor` (threads, processes, dask's
            ``client.get_executor()``, submitit); None runs the batches here, one by one.
        device: where the batches run (``"auto"``: CUDA when the worker has it).
        max_batch: at most this many images per batch (memory); default all.
        progress: a tqdm bar over batches.
        keep_images: also store each recovered image (8-bit PNG, see
            :meth:`ResultsStore.images`), e.g. for qualitative figures; a task stored
            without its image is run again to get it (its record is kept as it was).

    Returns:
        :class:`pandas.DataFrame`: the store's rows for ``tasks``, in task order.

    Raises:
        SweepError: if a batch failed; every other batch has been stored by then.
    """
    from tqdm.auto import tqdm

    tasks = list({t.key: t for t in tasks}.values())
    done = store.done_keys()
    if keep_images:
        done &= store.image_keys()
    todo = batches([t for t in tasks if t.key not in done], max_batch)
    run = functools.partial(run_batch, device=device, keep_images=keep_images)
    failures: list[tuple[list[Task], BaseException]] = []
    bar = tqdm(total=len(todo), desc="sweep", unit="batch", disable=not progress)
    try:
        if executor is None:
            for batch in todo:
                try:
                    store.add(run(batch))
                except Exception as exc:  # record it, go on with the other batches
                    failures.append((batch, exc))
                bar.update(1)
        else:
            futures = {executor.submit(run, batch): batch for batch in todo}
            try:
                for fut in cf.as_completed(futures):
                    try:
                        store.add(fut.result())
                    except Exception as exc:
                        failures.append((futures[fut], exc))
                    bar.update(1)
            finally:
                for fut in futures:  # on an interrupt: drop what has not started
                    fut.cancel()
    finally:
        bar.close()
    if failures:
        batch, exc = failures[0]
        t = batch[0]
        raise SweepError(
            f"{len(failures)} of {len(todo)} batches failed (the others are stored; rerun to "
            f"retry). First: method={t.method} model={t.model!r} m={t.m} cut={t.cut} "
            f"seed={t.seed}, {len(batch)} images: {type(exc).__name__}: {exc}"
        ) from exc
    return store.query(keys=[t.key for t in tasks])


# ----------------------------------------------------------------- notebook helpers
def default_store(profile: str, path: str | Path | None = None) -> ResultsStore:
    """The results store of a profile: ``outputs/results/<profile>.sqlite`` unless ``path``.

    Every notebook of a profile shares it, so a result computed once (e.g. surgery at the
    chosen cut) is reused by every figure that shows it.
    """
    from gs.paths import OUTPUT_DIR

    path = Path(path) if path else OUTPUT_DIR / "results" / f"{profile}.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    return ResultsStore(path)


def per_family(frame, families: dict[str, int]):
    """Give generator-free rows (Lasso-DCT, Deep Decoder: ``family == ""``) to every family
    whose image size they match, so they can be drawn in that family's panel.

    ``families`` maps family -> image size. Returns a new frame.
    """
    import pandas as pd

    own = frame[frame["family"] != ""]
    shared = frame[frame["family"] == ""]
    parts = [own]
    for family, size in families.items():
        part = shared[shared["image_size"] == size].copy()
        part["family"] = family
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def select_cuts(frame, defaults: dict[str, int] | None = None) -> dict[str, int]:
    """The cut with the highest mean PSNR per family (pooled over images and m, as the
    paper's Fig. 4 on validation images); families without rows keep ``defaults``."""
    chosen = dict(defaults or {})
    rows = frame[frame["method"] == "surgery"]
    for family, part in rows.groupby("family"):
        chosen[family] = int(part.groupby("cut")["psnr"].mean().idxmax())
    return chosen


def chosen_cuts(profile: Profile, store: ResultsStore) -> dict[str, int]:
    """Cuts chosen on the validation split of ``profile.in_dist`` (notebook 02), falling
    back to each model's paper default where no cut sweep is in the store."""
    defaults = {f: _model_info(m)[1] for f, m in profile.models.items()}
    frame = store.to_frame()
    if len(frame) == 0:
        return defaults
    sweep = frame[(frame["split"] == "val") & (frame["image_set"] == profile.in_dist)
                  & (frame["model"].isin(list(profile.models.values())))
                  & (frame["steps"] == profile.steps)]
    return select_cuts(sweep, defaults)
