"""``python -m gs.sweep``: compute a profile's results without drawing, and see what is left.

    python -m gs.sweep status --profile offline-full
    python -m gs.sweep run --profile offline-full --only 04 --methods deep_decoder,iagan
    nohup python -m gs.sweep run --profile offline-full --families began --quiet > began.log &

``run`` computes, notebook by notebook in run order, the tasks the notebooks fetch
(:func:`gs.sweep.plan.notebook_tasks`, listed again before each notebook so that a cut
chosen by 02's validation sweep applies to 03-08), filtered by notebook, model family,
method and image set, into the profile's results store. It draws nothing: the notebooks
(which reuse the store) or ``python -m gs.results export`` and ``python -m gs.figures``
do. The store resumes: an interrupted run keeps every finished batch, and a record of
another engine version is recomputed. Tasks at a cut that the family's validation sweep
has still to choose are skipped, with a message (run 02 for the family first), and the
tasks whose recovered images 05 shows store them, as the notebooks do. In a fresh clone,
``python -m gs.results restore`` first puts the shipped results into the store, so a run
goes on from them instead of computing them again.
A batch that fails is reported and the run goes on with the others (exit status 1); stop
a run with ``kill`` (or Ctrl-C): the batches it finished stay. Run one at a time on a
store: two runs with overlapping selections would compute the same tasks twice.

``--families`` selects the tasks of generators; the generator-free baselines (Lasso-DCT,
Deep Decoder) belong to no family and run when ``--families`` is not given or
``--methods`` names them.
"""

from __future__ import annotations

import argparse
import sqlite3
import time
from collections import Counter
from collections.abc import Collection, Sequence
from pathlib import Path

from gs.paths import FIGURES_DIR, REPO_ROOT
from gs.profiles import PROFILES, Profile, get_profile
from gs.results import TABLE_NAME
from gs.sweep.cuts import chosen_cuts
from gs.sweep.methods import METHODS, get_method
from gs.sweep.plan import (
    CUT_SWEEP,
    NOTEBOOKS,
    _planning,
    kept_image_keys,
    notebook_tasks,
)
from gs.sweep.runner import SweepError, kept_images
from gs.sweep.store import ResultsStore, default_store, default_store_path
from gs.sweep.tasks import Task


def select(tasks: Sequence[Task], families: Sequence[str] | None = None,
           methods: Sequence[str] | None = None,
           image_sets: Sequence[str] | None = None) -> list[Task]:
    """The ``tasks`` of the given families, methods and image sets (None: all); see the
    module docstring for the generator-free methods."""
    out = []
    for t in tasks:
        if methods is not None and t.method not in methods:
            continue
        if image_sets is not None and t.image_set not in image_sets:
            continue
        if families is not None and t.family not in families:
            if t.family or methods is None:
                continue
        out.append(t)
    return out


def waiting_for_cut(profile: Profile, store: ResultsStore, tasks: Sequence[Task]
                    ) -> tuple[list[Task], dict[str, str]]:
    """``tasks`` split into those that can run now and, by family, why the others wait:
    tasks of a method whose cut the validation sweep chooses, at the paper's cut standing
    in for a family whose sweep is not complete yet."""
    cuts = _cuts(profile, store, sorted({t.family for t in tasks if t.family}))
    ready, waiting = [], {}
    for t in tasks:
        choice = cuts.get(t.family)
        chosen_later = get_method(t.method).cut in ("swept", "at_cut")
        if (choice is not None and choice.source != "validation sweep" and chosen_later
                and t.cut == choice.cut):
            waiting[t.family] = (
                f"{choice.note.split(';')[0]}; run python -m gs.sweep run --profile "
                f"{profile.name} --only 02 --families {t.family}, unfiltered, first")
        else:
            ready.append(t)
    return ready, waiting


def _cuts(profile: Profile, store: ResultsStore, families) -> dict:
    with _planning():  # a plan needs no data: the paper profile's before its download
        return chosen_cuts(profile, store, families)


def counts(tasks: Sequence[Task], store: ResultsStore,
           keep_images: bool | Collection[str] = False) -> Counter:
    """``(family, method, image_set, "done" | "left") -> n``: done is stored by its
    method's current engine (and with its image, for the tasks ``keep_images`` names, as
    in :func:`gs.sweep.run_sweep`); left is missing or of another engine (a run
    recomputes it)."""
    engines = store.engines()
    lacking = kept_images(tasks, keep_images) - store.image_keys()
    out: Counter = Counter()
    for t in tasks:
        done = (engines.get(t.key) == get_method(t.method).engine_version
                and t.key not in lacking)
        out[(t.family or "-", t.method, t.image_set, "done" if done else "left")] += 1
    return out


def _notebooks(only: Sequence[str] | None) -> list[str]:
    if only is None:
        return list(NOTEBOOKS)
    if not only or any(not p.strip() for p in only):
        raise ValueError(f"--only: an empty prefix in {list(only)}")
    chosen = [n for n in NOTEBOOKS if any(n.startswith(p) for p in only)]
    unknown = [p for p in only if not any(n.startswith(p) for n in NOTEBOOKS)]
    if unknown:
        raise ValueError(f"--only: no notebook starts with {unknown}; the notebooks that "
                         f"compute results: {list(NOTEBOOKS)}")
    return chosen


def status(profile: Profile, store: ResultsStore, notebooks: Sequence[str],
           plan: dict[str, list[Task]] | None = None, **filters) -> str:
    """One line per notebook, family, method and image set: tasks done and left
    (``plan``: :func:`notebook_tasks` of ``profile`` and ``store``, listed here if None)."""
    lines = [f"{'notebook':<32} {'family':<7} {'method':<14} {'image set':<30} "
             f"{'done':>6} {'left':>6}"]
    total = Counter()
    plan = notebook_tasks(profile, store) if plan is None else plan
    keep = kept_image_keys(profile, store)
    for stem in notebooks:
        c = counts(select(plan[stem], **filters), store, keep)
        for family, method, image_set in sorted({k[:3] for k in c}):
            done, left = c[(family, method, image_set, "done")], c[(family, method, image_set,
                                                                     "left")]
            total["done"] += done
            total["left"] += left
            lines.append(f"{stem:<32} {family:<7} {method:<14} {image_set:<30} "
                         f"{done:>6} {left:>6}")
    lines.append(f"{'all':<32} {'':<7} {'':<14} {'':<30} {total['done']:>6} {total['left']:>6}")
    for choice in _cuts(profile, store, filters.get("families")).values():
        if choice.source != "validation sweep":
            lines.append(f"{choice.describe()}: its tasks at that cut in 03-08 wait for 02")
    return "\n".join(lines)


def run(profile: Profile, store: ResultsStore, notebooks: Sequence[str], *,
        device: str = "cpu", max_batch: int | None = None, progress: bool = True,
        **filters) -> tuple[int, list[str]]:
    """Compute the selected tasks notebook by notebook. Returns how many tasks wait for a
    cut, and the notebooks some of whose batches failed (the others went on)."""
    from gs.sweep.runner import run_sweep

    waited, failed = 0, []
    for stem in notebooks:
        tasks = select(notebook_tasks(profile, store)[stem], **filters)
        ready, waiting = ((tasks, {}) if stem == CUT_SWEEP
                          else waiting_for_cut(profile, store, tasks))
        for family, why in waiting.items():
            n = sum(t.family == family for t in tasks) - sum(t.family == family for t in ready)
            waited += n
            print(f"{stem}: {n} {family} tasks wait for the cut ({why})", flush=True)
        t0 = time.time()
        print(f"[{time.strftime('%H:%M:%S')}] {stem}: {len(ready)} tasks", flush=True)
        try:
            run_sweep(ready, store, device=device, max_batch=max_batch, progress=progress,
                      keep_images=kept_image_keys(profile, store))
        except SweepError as exc:
            failed.append(stem)
            print(f"[{time.strftime('%H:%M:%S')}] {stem}: {exc}", flush=True)
            continue
        print(f"[{time.strftime('%H:%M:%S')}] {stem}: done in {time.time() - t0:.0f} s",
              flush=True)
    return waited, failed


def _names(value: str | None, known: Sequence[str], what: str,
           ap: argparse.ArgumentParser) -> list[str] | None:
    if value is None:
        return None
    names = [v.strip() for v in value.split(",") if v.strip()]
    bad = [v for v in names if v not in known]
    if not names or bad:
        ap.error(f"--{what}: unknown {bad or value!r}; known: {sorted(known)}")
    return names


def _batch_size(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an int >= 1, got {text!r}")
    return value


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m gs.sweep", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    for name, text in (("status", "tasks done and left, per notebook, family and method"),
                       ("run", "compute the selected tasks into the results store")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--profile", default="offline", choices=sorted(PROFILES))
        p.add_argument("--store", help="results store (default outputs/results/PROFILE.sqlite)")
        p.add_argument("--only", nargs="+", metavar="PREFIX",
                       help="notebook name prefixes (e.g. 02 03; default all)")
        p.add_argument("--families", help="comma-separated model families (default all)")
        p.add_argument("--methods", help="comma-separated methods (default all)")
        p.add_argument("--image-sets", help="comma-separated image sets (default all)")
        if name == "run":
            p.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"),
                           help="where the batches run (default cpu)")
            p.add_argument("--max-batch", type=_batch_size, default=12,
                           help="tasks per batch (default 12): a killed run loses at most "
                                "the batch in flight")
            p.add_argument("--quiet", action="store_true",
                           help="no progress bar (for a log file)")
    args = ap.parse_args(argv)
    profile = get_profile(args.profile)
    try:
        notebooks = _notebooks(args.only)
    except ValueError as exc:
        ap.error(str(exc))
    if args.command == "run" and args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            ap.error("--device cuda: no CUDA device on this machine")
    if args.store is not None and not args.store.strip():
        ap.error("--store: an empty path")
    path = default_store_path(profile.name) if args.store is None else Path(args.store)
    if not path.is_file():
        shipped = FIGURES_DIR / profile.name / TABLE_NAME
        hint = (f"; {shipped.relative_to(REPO_ROOT)} holds results shipped with the "
                f"package: python -m gs.results restore --profile {profile.name} puts them "
                "into the store, so a run goes on from them" if shipped.is_file() else "")
        if args.command == "status":
            ap.error(f"--store: no results store at {path} (a run creates it){hint}")
        if hint and args.store is None:
            print(f"no results store at {path}: computing from scratch{hint}", flush=True)
    try:
        store = default_store(profile.name, path)
        plan = notebook_tasks(profile, store)
    except (OSError, sqlite3.Error) as exc:
        ap.error(f"--store {path}: {exc}")
    sets = sorted({t.image_set for ts in plan.values() for t in ts})
    filters = dict(families=_names(args.families, list(profile.models), "families", ap),
                   methods=_names(args.methods, list(METHODS), "methods", ap),
                   image_sets=_names(args.image_sets, sets, "image-sets", ap))
    if args.command == "status":
        print(status(profile, store, notebooks, plan, **filters))
        return 0
    try:
        waited, failed = run(profile, store, notebooks, device=args.device,
                             max_batch=args.max_batch, progress=not args.quiet, **filters)
    except KeyboardInterrupt:
        print("interrupted: the finished batches are in the store; run again to resume")
        return 130
    print(f"finished: {waited} tasks wait for their cut; "
          + (f"batches failed in {failed} (rerun to retry)" if failed else "no batch failed"))
    return 1 if failed else 0


__all__ = ["counts", "main", "run", "select", "status", "waiting_for_cut"]
