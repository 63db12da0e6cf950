"""Running sweeps: batches of tasks through their method, records into the store.

:func:`run_sweep`

1. skips every task whose :attr:`~gs.sweep.tasks.Task.key` is already in the
   :class:`~gs.sweep.store.ResultsStore`;
2. groups the rest into batches: tasks that differ only in ``image`` form one batch and
   go through ONE call of their method (images x restarts batched); methods that cannot
   promise batch invariance (:attr:`~gs.sweep.methods.MethodSpec.batch_invariant`) get
   one image per batch. Methods that batch across configurations
   (:attr:`~gs.sweep.methods.MethodSpec.batch_across`: surgery, no surgery and, across
   m only, reinit) also put tasks of different ``m`` and ``seed`` in one batch (at most
   :data:`MAX_OPERATORS` operators): one recovery for all, each image measured by its own
   operator (:class:`~gs.operator_group.OperatorGroup`), each record that of its
   configuration run alone;
3. runs the batches (:func:`run_batch`) in-process or on any
   :class:`concurrent.futures.Executor`, and writes each batch's records to the store as
   soon as it finishes (one transaction per batch).

Only the calling process writes; workers return records. A killed sweep loses at most the
batches in flight, and rerunning the same call finishes the rest, each record exactly once.
A batch whose result is not finite fails (with an error naming its tasks) and stores
nothing; the rest of the sweep goes on, and a rerun retries it.

Measurements are paired across methods and cuts: the operator's random parts are drawn
from a generator seeded by ``(m, seed)`` only, so one A is shared by every image, method
and cut; the noise of an image from one seeded by ``(image, m, seed)``; its initial
latents from ``(image, seed)``. On the CPU every evaluation runs in fixed-width lanes
(:func:`gs.recovery.in_lanes`), so a record is bit-identical whatever else shares its
batch (on the same machine, torch build and thread count); the record's
``batch_invariant`` column says whether that holds for it.
"""

from __future__ import annotations

import concurrent.futures as cf
import functools
import json
import math
import socket
import time
from collections.abc import Collection, Iterable, Sequence
from datetime import UTC, datetime

import torch
from torch import Tensor

import gs
from gs.metrics import psnr as psnr_fn
from gs.metrics import ssim as ssim_fn
from gs.operator_group import OperatorGroup
from gs.operators import Operator, make_operator
from gs.profiles import resolve_device
from gs.recovery import clamped_losses, default_lane_width
from gs.sweep.images import load_images
from gs.sweep.methods import get_method
from gs.sweep.store import ResultsStore, encode_png
from gs.sweep.tasks import Task, stable_seed


class SweepError(RuntimeError):
    """Some batches of a sweep failed; the others were stored. Rerun to retry."""


class NonFiniteResult(RuntimeError):
    """A batch produced a non-finite PSNR, SSIM or loss (e.g. a diverged optimisation
    with nothing finite to fall back on): a failure, never a record."""


#: A batch across configurations holds at most this many operators (one per
#: ``(m, seed)``); a dense Gaussian one costs ``4 n m`` bytes (0.3 GB at 64 px, m = 6000).
MAX_OPERATORS = 8


def batch_key(task: Task) -> tuple:
    """What the tasks of one batch share: everything but the image and the fields its
    method batches across (:attr:`~gs.sweep.methods.MethodSpec.batch_across`)."""
    return task.batch_key(across=get_method(task.method).batch_across)


def _operator_key(task: Task) -> tuple:
    """Tasks with equal operator keys share their operator (see :func:`measurements`)."""
    return (task.m, task.seed)


def batches(tasks: Iterable[Task], max_batch: int | None = None,
            max_operators: int = MAX_OPERATORS) -> list[list[Task]]:
    """Group tasks with equal :func:`batch_key` (in first-seen order): tasks that differ
    only in ``image``, or also in ``m`` and ``seed`` for methods that batch across them;
    split groups into chunks of at most ``max_batch`` tasks (1 for methods that are not
    batch-invariant) and ``max_operators`` distinct ``(m, seed)``. Within a group the
    tasks of one ``(m, seed)`` stay together, in first-seen order."""
    def bad(v) -> bool:
        return isinstance(v, bool) or not isinstance(v, int) or v < 1

    if max_batch is not None and bad(max_batch):
        raise ValueError(f"max_batch must be an int >= 1 or None, got {max_batch!r}")
    if bad(max_operators):
        raise ValueError(f"max_operators must be an int >= 1, got {max_operators!r}")
    groups: dict[tuple, list[Task]] = {}
    for t in tasks:
        groups.setdefault(batch_key(t), []).append(t)
    out: list[list[Task]] = []
    for group in groups.values():
        spec = get_method(group[0].method)
        step = min(max_batch or len(group), spec.max_images or len(group))
        if not spec.batch_invariant:
            step = 1
        if not spec.batch_across:
            out += [group[i : i + step] for i in range(0, len(group), step)]
            continue
        configs: dict[tuple, list[Task]] = {}
        for t in group:
            configs.setdefault(_operator_key(t), []).append(t)
        batch: list[Task] = []
        ops: set[tuple] = set()
        for key, ts in configs.items():
            for t in ts:
                if len(batch) == step or (key not in ops and len(ops) == max_operators):
                    out.append(batch)
                    batch, ops = [], set()
                batch.append(t)
                ops.add(key)
        out.append(batch)
    return out


@functools.lru_cache(maxsize=4)
def prepared_generator(model: str, device: str):
    """Zoo entry ``model`` on ``device``, in eval mode with frozen weights (cached per
    process; shared by the batches, never modified by a method)."""
    from gs import zoo
    from gs.surgery import prepare_for_recovery

    return prepare_for_recovery(zoo.load(model, device))


def measurements(task: Task, x: Tensor, names: Sequence[str], device: str = "cpu"):
    """The operator of ``task`` and noisy measurements ``y: (B, *meas_shape)`` of ``x``.

    The operator's random parts come from a CPU generator seeded by ``(m, seed)`` only;
    each image's noise from one seeded by ``(image, m, seed)``, and each image is measured
    on its own, so ``y[b]`` depends on nothing but its task.
    """
    size = (3, task.image_size, task.image_size)
    rng = torch.Generator().manual_seed(stable_seed("operator", task.m, task.seed))
    op = make_operator(task.operator, size, m=task.m, generator=rng, device=device)
    ys = []
    for b, name in enumerate(names):
        g = torch.Generator().manual_seed(stable_seed("noise", name, task.m, task.seed))
        ys.append(op.measure(x[b : b + 1].to(device), generator=g))
    return op, torch.cat(ys)


def batch_measurements(tasks: Sequence[Task], x: Tensor, device: str = "cpu"
                       ) -> tuple[Operator, Tensor]:
    """The operator of a batch and the measurements ``y: (B, *meas_shape)`` of its images
    ``x`` (one per task).

    Tasks of one ``(m, seed)``: :func:`measurements`. Several: an
    :class:`~gs.operator_group.OperatorGroup` of one operator per ``(m, seed)`` (first-seen
    order), each with the images of its tasks measured by :func:`measurements` (so the
    same A and the same noise as in a batch of its own), and ``y`` padded.
    """
    names = [t.image for t in tasks]
    keys = list(dict.fromkeys(_operator_key(t) for t in tasks))
    if len(keys) == 1:
        return measurements(tasks[0], x, names, device)
    ops, ys = [], [None] * len(tasks)
    for key in keys:
        rows = [b for b, t in enumerate(tasks) if _operator_key(t) == key]
        op, y = measurements(tasks[rows[0]], x[rows], [names[b] for b in rows], device)
        ops.append(op)
        for r, b in enumerate(rows):
            ys[b] = y[r]
    group = OperatorGroup(ops, [keys.index(_operator_key(t)) for t in tasks])
    return group, group.pad(ys)


def _check_batch(tasks: Sequence[Task]) -> None:
    if not tasks:
        raise ValueError("a batch needs at least one task")
    if len({batch_key(t) for t in tasks}) != 1:
        across = get_method(tasks[0].method).batch_across
        raise ValueError("the tasks of a batch must differ only in their image"
                         + "".join(f", {f}" for f in across))
    if len({t.key for t in tasks}) != len(tasks):
        raise ValueError("a batch names the same task twice")


def _per_image(fn, *tensors: Tensor) -> Tensor:
    """``fn`` on one image at a time (metrics of a record never see its batch)."""
    return torch.cat([fn(*(t[b : b + 1] for t in tensors)) for b in range(len(tensors[0]))])


def _run(tasks: Sequence[Task], device: str) -> tuple[list[dict], Tensor]:
    _check_batch(tasks)
    task = tasks[0]
    spec = get_method(task.method)
    device = resolve_device(device)
    names = [t.image for t in tasks]
    x = load_images(task.image_set, task.split, task.image_size, names).images.to(device)
    op, y = batch_measurements(tasks, x, device)
    generator = prepared_generator(task.model, device) if spec.needs_generator else None
    if generator is not None and generator.image_size != task.image_size:
        raise ValueError(f"model {task.model!r} makes {generator.image_size} px images but the "
                         f"task asks for {task.image_size} px")
    t0 = time.perf_counter()
    across = {"tasks": list(tasks)} if spec.batch_across else {}
    result = spec.fn(generator, op, y, task, x, names, **across)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    with torch.no_grad():
        x_hat = result.images.detach().to(device=device, dtype=x.dtype)
        clamped = x_hat.clamp(0, 1)
        lanes = default_lane_width(device)
        loss = clamped_losses(op, x_hat, y, torch.arange(len(tasks), device=device), lanes)
        psnr, ssim = _per_image(psnr_fn, clamped, x), _per_image(ssim_fn, clamped, x)
    info = getattr(result, "info", {}) or {}
    diverged = info.get("diverged")
    details = info.get("details")  # per image, method-specific (JSON in the record)
    grouped = isinstance(op, OperatorGroup)
    ops = [op.operator_of(b) if grouped else op for b in range(len(tasks))]
    common = dict(
        batch_seconds=seconds,
        batch_size=len(tasks), seconds=seconds / len(tasks), device=str(device),
        gs_version=gs.__version__, torch_version=torch.__version__,
        timestamp=datetime.now(UTC).isoformat(timespec="seconds"), hostname=socket.gethostname(),
        threads=torch.get_num_threads(), lane_width=info.get("lane_width", lanes),
        batch_invariant=int(spec.batch_invariant and lanes is not None
                            and info.get("lane_width", lanes) is not None),
        engine=spec.engine_version,
    )
    records = [
        {"key": t.key, **t.config(), **common, "n": ops[b].n, "ratio": ops[b].m / ops[b].n,
         "noise_std": float(ops[b].noise_std), "psnr": float(psnr[b]), "ssim": float(ssim[b]),
         "loss": float(loss[b]),
         "diverged": None if diverged is None else int(diverged[b].sum()),
         "details": None if details is None else json.dumps(details[b], sort_keys=True)}
        for b, t in enumerate(tasks)
    ]
    bad = [r for r in records
           if not (math.isfinite(r["loss"]) and math.isfinite(r["ssim"])
                   and not math.isnan(r["psnr"]))]
    if bad:
        raise NonFiniteResult(
            f"{len(bad)} of {len(records)} results are not finite (method={task.method} "
            f"model={task.model!r} m={task.m} cut={task.cut} lr={task.lr}; images "
            f"{[r['image'] for r in bad][:5]}): nothing of this batch is stored")
    return records, x_hat.cpu()


def run_batch(tasks: Sequence[Task], device: str = "auto",
              keep_images: bool = False) -> list[dict]:
    """Run one batch (tasks with one :func:`batch_key`) and return one record per task.

    Module-level and picklable, so executors can run it in worker processes. The
    generator and the images are cached per process. A record is the task's config plus
    ``key``, ``psnr``, ``ssim`` (clamped output, computed image by image), ``loss``
    (measurement MSE of the clamped output), ``seconds`` (batch time / batch size),
    ``batch_seconds``, ``batch_size``, ``n``, ``ratio``, ``noise_std``, ``device``,
    ``gs_version``, ``torch_version``, ``timestamp`` (UTC), ``hostname``, ``threads``,
    ``lane_width``, ``batch_invariant``, ``engine`` (its method's
    :attr:`~gs.sweep.methods.MethodSpec.engine_version`),
    ``diverged`` (restarts stopped as diverged) and
    ``details`` (JSON of the method's ``info["details"][b]``, if it gives one: e.g. the
    cut ``surgery_auto`` chose);
    with ``keep_images``, also ``image_png``: the clamped output as an 8-bit RGB PNG.

    Raises:
        NonFiniteResult: a PSNR, SSIM or loss of the batch is not finite.
    """
    records, images = _run(tasks, device)
    if keep_images:
        for r, im in zip(records, images, strict=True):
            r["image_png"] = encode_png(im)
    return records


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


def kept_images(tasks: Sequence[Task], keep_images: bool | Collection[str]) -> set[str]:
    """The keys of ``tasks`` whose recovered image is kept: all with True, none with False,
    else those named in ``keep_images``."""
    if isinstance(keep_images, bool):
        return {t.key for t in tasks} if keep_images else set()
    return {t.key for t in tasks} & set(keep_images)


def run_sweep(
    tasks: Sequence[Task],
    store: ResultsStore,
    executor: cf.Executor | None = None,
    *,
    device: str = "auto",
    max_batch: int | None = None,
    progress: bool = True,
    keep_images: bool | Collection[str] = False,
):
    """Run every task that is not in ``store`` yet and return the rows of ``tasks``.

    A stored record of another engine version than its method's
    (:attr:`~gs.sweep.methods.MethodSpec.engine_version`: :data:`gs.recovery.ENGINE_VERSION`
    unless the method has its own; records from before the ``engine`` column count as 1)
    is dropped and recomputed, so the rows returned all come from this version's numerics.

    Args:
        tasks: the grid (duplicates are run once).
        store: where each finished batch is written, at once, in one transaction.
        executor: any :class:`concurrent.futures.Executor` (threads, processes, dask's
            ``client.get_executor()``, submitit); None runs the batches here, one by one.
        device: where the batches run (``"auto"``: CUDA when the worker has it).
        max_batch: at most this many tasks per batch (memory); default all (of one
            configuration, or of :data:`MAX_OPERATORS` for methods that batch across
            configurations).
        progress: a tqdm bar over batches.
        keep_images: also store each recovered image (8-bit PNG, see
            :meth:`ResultsStore.images`), e.g. for qualitative figures: True for every
            task, or the keys of the tasks whose image to keep; a task stored without an
            image it should keep is run again to get it (its record is kept as it was).

    Returns:
        :class:`pandas.DataFrame`: the store's rows for ``tasks``, in task order.

    Raises:
        SweepError: if a batch failed; every other batch has been stored by then.
    """
    from tqdm.auto import tqdm

    tasks = list({t.key: t for t in tasks}.values())
    # a record of another engine version (its method's) is recomputed, not mixed with
    # this one's
    stored = store.engines()
    done = {t.key for t in tasks if stored.get(t.key) == get_method(t.method).engine_version}
    stale = {t.key for t in tasks if t.key in stored} - done
    if stale:
        store.drop(stale)
    keep = kept_images(tasks, keep_images)
    done -= keep - store.image_keys()
    todo = batches([t for t in tasks if t.key not in done], max_batch)

    def job(batch: list[Task]):  # of the module-level run_batch: picklable, for processes
        return functools.partial(run_batch, batch, device,
                                 keep_images=any(t.key in keep for t in batch))

    def kept(records: list[dict]) -> list[dict]:  # a batch computes every image or none
        return [{k: v for k, v in r.items() if k != "image_png" or r["key"] in keep}
                for r in records]

    failures: list[tuple[list[Task], BaseException]] = []
    bar = tqdm(total=len(todo), desc="sweep", unit="batch", disable=not progress)
    try:
        if executor is None:
            for batch in todo:
                try:
                    store.add(kept(job(batch)()))
                except Exception as exc:  # record it, go on with the other batches
                    failures.append((batch, exc))
                bar.update(1)
        else:
            futures = {executor.submit(job(batch)): batch for batch in todo}
            try:
                for fut in cf.as_completed(futures):
                    try:
                        store.add(kept(fut.result()))
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
