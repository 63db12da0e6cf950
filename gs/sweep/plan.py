"""What a profile's notebooks will compute, and how long it will take on this machine.

:func:`notebook_tasks` lists, notebook by notebook, the recoveries a profile's run asks
the results store for (the notebooks' default parameters; a task that an earlier
notebook computes is counted there only, as the shared store reuses it). :func:`project`
times a calibrated slice of every kind of work on the current device and scales it to
those lists::

    python bench/paper_profile.py --profile offline-full

The slice: for surgery (and its re-initialised ablation) a few L-BFGS iterations of one
lane of problems per (model, cut, operator) at the smallest and largest m, scaled by the
task's iterations (``steps x 20``: at the paper's settings every iteration runs; an Adam
step, as in 08's fair baseline, is one evaluation, costed as one iteration) and
restarts, linear in m; for each baseline a tiny budget and one 2-16 times larger (wider
when a busy machine's jitter hides the difference) on one image, extrapolated linearly to
the task's budget; Lasso-DCT at the profile's tolerance on one image per m extreme.
Weights are random when the zoo cannot load a model (the paper's CelebA models before
training): the cost of a network does not depend on its weights.

Not counted: training, loading data, drawing figures. A projection, not a promise:
L-BFGS problems that stop early and baselines that converge before their budget take
less.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections import Counter
from collections.abc import Callable
from contextlib import contextmanager
from unittest import mock

import torch

from gs.profiles import Profile
from gs.sweep import grids
from gs.sweep.cuts import chosen_cuts
from gs.sweep.methods import BASELINE_BATCH_IMAGES, get_method
from gs.sweep.tasks import Task

#: L-BFGS iterations per outer step (torch.optim.LBFGS max_iter).
ITERATIONS_PER_STEP = 20

#: Notebooks in the order a run executes them.
NOTEBOOKS = ("02_cut_selection", "03_compressed_sensing", "04_baselines", "05_qualitative",
             "06_reinit_ablation", "07_zero_representation_error", "08_supplement")

#: The notebook whose validation sweep chooses the cut of the others.
CUT_SWEEP = "02_cut_selection"



@contextmanager
def _planning():
    """Let the grids name images of sets whose data are not on this machine (the paper's
    CelebA and COCO before download) and models not trained yet (the paper's): a plan
    needs only how many images there are and which architecture each model has."""
    from gs import zoo
    from gs.train.config import paper_architecture

    real_names, real_weights = grids.image_names, zoo.weights_id

    def names_only(image_set, split, size):
        try:
            return real_names(image_set, split, size)
        except Exception:  # noqa: BLE001 - any missing data set: name its images
            return [f"{image_set}-{split}-{i:05d}" for i in range(10_000)]

    def weights_id(name):
        try:
            return real_weights(name)
        except ValueError:
            if paper_architecture(name) is None:
                raise
            return "untrained"

    with mock.patch.object(grids, "image_names", names_only), \
            mock.patch.object(zoo, "weights_id", weights_id):
        yield


def notebook_tasks(profile: Profile, store=None) -> dict[str, list[Task]]:
    """The new tasks of each notebook of a ``profile`` run, in run order: the grids its
    figures fetch with the notebooks' default parameters (the figures' own task builders).

    The cuts of 03-08 are the ones ``store`` holds a validation sweep for, else each
    model's paper cut (what a fresh run starts from is the sweep of 02, so with no store
    the plan assumes the paper's cut was chosen)."""
    from gs.figures.curves import (
        baseline_config,
        baseline_tasks,
        cs_tasks,
        cut_sweep_tasks,
        reinit_tasks,
    )
    from gs.figures.images import qualitative_tasks
    from gs.figures.studies import (
        supplement_settings,
        supplement_tasks,
        zero_error_config,
        zero_error_tasks,
    )
    from gs.sweep.store import ResultsStore

    families = list(profile.models)
    p04, sets04 = baseline_config(profile)
    with _planning():
        store = store if store is not None else ResultsStore(":memory:")
        cuts = chosen_cuts(profile, store, families)
        out = {"02_cut_selection": cut_sweep_tasks(profile, families),
               "03_compressed_sensing": cs_tasks(profile, cuts, families,
                                                 [profile.in_dist, profile.ood]),
               "04_baselines": baseline_tasks(p04, cuts, families, sets04),
               "05_qualitative": qualitative_tasks(profile, cuts, families),
               "06_reinit_ablation": reinit_tasks(profile, cuts, families),
               "07_zero_representation_error": zero_error_tasks(zero_error_config(profile),
                                                                cuts, families),
               "08_supplement": supplement_tasks(supplement_settings(profile), cuts)}
    seen: set[str] = set()
    for stem, tasks in out.items():
        new = []
        for t in tasks:
            if t.key not in seen:
                seen.add(t.key)
                new.append(t)
        out[stem] = new
    return out


def kept_image_keys(profile: Profile, store=None) -> set[str]:
    """The tasks of a ``profile`` run whose recovered image the store keeps: those 05's
    grids show (03 computes them, with their images, before 05 draws them), at the cuts
    ``store`` chose (as :func:`notebook_tasks`). A sweep run outside the notebooks
    (``python -m gs.sweep run``) keeps the same images."""
    from gs.figures.images import qualitative_tasks
    from gs.sweep.store import ResultsStore

    families = list(profile.models)
    with _planning():
        store = store if store is not None else ResultsStore(":memory:")
        return {t.key for t in qualitative_tasks(profile, chosen_cuts(profile, store, families),
                                                 families)}


# ------------------------------------------------------------------ calibration
def _timed(fn: Callable[[], object], device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    t = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - t


class Calibration:
    """Seconds per unit of work on one device, measured on first use and cached."""

    def __init__(self, device: str | torch.device, batch: int | None = None,
                 log: Callable[[str], None] | None = None):
        from gs.recovery import CPU_LANE_WIDTH

        self.device = torch.device(device)
        self.batch = batch or (CPU_LANE_WIDTH if self.device.type == "cpu" else 64)
        self.log = log or (lambda s: None)
        self._cache: dict[tuple, float] = {}
        self._models: dict[str, torch.nn.Module] = {}

    def generator(self, model: str) -> torch.nn.Module:
        if model not in self._models:
            from gs import zoo
            from gs.models import build
            from gs.train.config import paper_architecture

            try:
                g = zoo.load(model, device=self.device)
            except Exception:  # noqa: BLE001 - untrained paper model: random weights
                arch = paper_architecture(model)
                if arch is None:
                    entry = zoo.get(model)
                    arch = entry.model, entry.model_kwargs
                torch.manual_seed(0)
                g = build(arch[0], **arch[1]).to(self.device)
            self._models[model] = g.eval().requires_grad_(False)
        return self._models[model]

    def _problem(self, task: Task, m: int | None, n_images: int):
        from gs.operators import make_operator

        size = task.image_size
        x = torch.rand(n_images, 3, size, size, generator=torch.Generator().manual_seed(0))
        x = x.to(self.device)
        op = make_operator(task.operator, x.shape[1:], m=m,
                           generator=torch.Generator().manual_seed(1), device=self.device)
        return x, op, op.measure(x, generator=torch.Generator().manual_seed(2))

    def _memo(self, key: tuple, measure: Callable[[], float]) -> float:
        if key not in self._cache:
            self._cache[key] = measure()
            self.log(f"  calibrated {key}: {self._cache[key]:.4g} s")
        return self._cache[key]

    def iteration(self, task: Task, m: int | None) -> float:
        """Seconds per problem and L-BFGS iteration of surgery at ``task``'s cut."""
        from gs.recovery import recover

        def measure() -> float:
            g = self.generator(task.model)
            x, op, y = self._problem(task, m, self.batch)
            opts = {"max_iter": 6}

            def run(k):
                return lambda: recover(g, op, y, task.cut, restarts=1, steps=k, lr=0.01,
                                       optimizer_options=opts, keep_best=True)

            run(1)()  # warm-up
            t1, t2 = _timed(run(1), self.device), _timed(run(2), self.device)
            return max(t2 - t1, t1 / 2) / (opts["max_iter"] * self.batch)

        return self._memo(("iteration", task.model, task.cut, task.operator, m), measure)

    def baseline(self, task: Task, m: int | None) -> float:
        """Seconds of one batch of a baseline at the task's budget (linear in budget), of
        :func:`batch_images` images: as many as the sweep puts in one batch of a method
        it batches across images (one CPU lane), else one."""
        spec = get_method(task.method)
        n = batch_images(task.method)

        def at(budget: float) -> Callable[[], object]:
            t = dataclasses.replace(task, extra={**task.options, "budget": budget})
            g = self.generator(task.model) if spec.needs_generator else None
            x, op, y = self._problem(task, m, n)
            names = [f"calibration-{i}" for i in range(n)]
            return lambda: spec.fn(g, op, y, t, x, names)

        budget = float(task.options.get("budget", 1.0))
        lo = min(budget, 0.004)

        def fastest(b: float) -> float:  # of three runs: one run's jitter on a busy
            return min(_timed(at(b), self.device) for _ in range(3))  # machine is large

        def measure_per_budget() -> tuple[float, float]:
            at(lo)()  # warm-up
            t1, k = fastest(lo), 2
            # a budget k times larger; widened while the machine's jitter hides the
            # difference (a slope of 0 would project every budget at the same cost)
            while (tk := fastest(k * lo)) <= t1 and k < 16:
                k *= 2
            slope = max(tk - t1, 0.0) / ((k - 1) * lo)
            return slope, max(t1 - slope * lo, 0.0)

        key = ("baseline", task.method, task.model, task.image_size, task.operator, m)
        if key + ("slope",) not in self._cache:
            slope, intercept = measure_per_budget()
            self._cache[key + ("slope",)], self._cache[key + ("intercept",)] = slope, intercept
            self.log(f"  calibrated {key}: {intercept:.3g} s + {slope:.3g} s per budget, "
                     f"{n} image(s)")
        return self._cache[key + ("intercept",)] + self._cache[key + ("slope",)] * budget

    def convex(self, task: Task, m: int | None) -> float:
        """Seconds for one image of a convex method at the task's tolerance."""
        spec = get_method(task.method)

        def measure() -> float:
            x, op, y = self._problem(task, m, 1)
            return _timed(lambda: spec.fn(None, op, y, task, x, ["calibration"]), self.device)

        return self._memo(("convex", task.method, task.image_size, task.operator, m), measure)


def batch_images(method: str) -> int:
    """Images per full batch of ``method`` in a sweep: its ``max_images`` (else
    :data:`~gs.sweep.methods.BASELINE_BATCH_IMAGES`) if it batches across images, else 1."""
    spec = get_method(method)
    return (spec.max_images or BASELINE_BATCH_IMAGES) if spec.batch_invariant else 1


def _interpolated(cost: Callable[[int | None], float], m: int | None, lo: int | None,
                  hi: int | None) -> float:
    """``cost(m)`` from the costs at the smallest and largest m (linear in m)."""
    if m is None or lo is None or lo == hi:
        return cost(m)
    a, b = cost(lo), cost(hi)
    return a + (b - a) * (m - lo) / (hi - lo)


def task_seconds(task: Task, cal: Calibration, m_range: dict, group: int = 1) -> float:
    """Projected seconds of one task (one image) on the calibrated device. A baseline's
    batch costs the same however few of its images are real (CPU lanes pad them), so its
    tasks share ``ceil(group / k) / group`` batches, ``group`` the tasks that may share
    its batches and ``k`` :func:`batch_images`."""
    spec = get_method(task.method)
    lo, hi = m_range.get((task.image_size, task.operator), (task.m, task.m))
    m = task.m
    if task.operator != "cs":  # only a dense A costs in proportion to m: time the largest
        lo = m = hi
    if spec.convex:
        return _interpolated(lambda m: cal.convex(task, m), m, lo, hi)
    if spec.budget_params:
        share = math.ceil(group / batch_images(task.method)) / group
        return share * _interpolated(lambda m: cal.baseline(task, m), m, lo, hi)
    per_step = 1 if task.options.get("optimizer") == "adam" else ITERATIONS_PER_STEP
    iters = task.steps * per_step * task.restarts
    return iters * _interpolated(lambda m: cal.iteration(task, m), m, lo, hi)


def project(tasks_by_notebook: dict[str, list[Task]], cal: Calibration) -> dict[str, float]:
    """Projected seconds per notebook."""
    m_range: dict = {}
    for tasks in tasks_by_notebook.values():
        for t in tasks:
            if t.m is not None:
                k = (t.image_size, t.operator)
                a, b = m_range.get(k, (t.m, t.m))
                m_range[k] = (min(a, t.m), max(b, t.m))
    from gs.sweep.runner import batch_key

    groups = Counter(batch_key(t) for tasks in tasks_by_notebook.values() for t in tasks)
    return {stem: math.fsum(task_seconds(t, cal, m_range, groups[batch_key(t)])
                            for t in tasks)
            for stem, tasks in tasks_by_notebook.items()}
