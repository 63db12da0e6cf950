"""The stages of ``python -m gs.paper``: data, training, notebooks; each resumes.

A :class:`Plan` says where everything goes and what to override; :func:`run` runs the
stages in order:

1. **data**: :func:`gs.data.download_set` for CelebA and COCO (a complete, verified
   folder is not fetched again; an interrupted download resumes), or ``--data DIR`` for
   data already on disk (checked, never fetched).
2. **train**: ``python -m gs.train <model> --profile paper`` for the DCGAN (64 px), the
   BEGAN and the VAE (128 px), each in its run directory with ``--resume``, registered in
   the zoo file under the paper profile's names; a model with a ``done.json`` stamp whose
   generator still has the stamped sha256 is skipped; a model given by ``--checkpoint``
   is imported (:mod:`gs.paper.checkpoints`) instead of trained.
3. **notebooks**: every numbered notebook in the paper profile, in order, with the plan's
   parameters, sharing one results store (a rerun reuses every recovery already done);
   a notebook with a ``.done`` stamp is skipped.

Before each item it prints what is left and an estimate of the time that takes: for
training the FLOP-count projections of :mod:`gs.train` (not measurements), then the
measured rate; for notebooks the mean time of those done so far.
"""

from __future__ import annotations

import json
import os
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from gs.data.download import download_set, verify_folder
from gs.data.paper import data_source
from gs.train.config import MODEL_NAMES, PAPER_ZOO_NAMES

#: Projected GPU time of ``gs.train --profile paper`` per model (s), from the FLOP counts
#: in :mod:`gs.train` (H100; not measured).
TRAIN_PROJECTION_S = {"dcgan": 30 * 60, "began": 6 * 3600, "vae": 60 * 60}


@dataclass
class Plan:
    """Where a run of the paper profile reads and writes, and its overrides.

    ``data_root`` holds ``celeba/`` and ``coco/``; ``fetch`` says whether the data stage
    downloads (else the data must be there). ``train_args`` are extra ``gs.train``
    arguments per model; ``checkpoints`` maps a family to ``(path, model_kwargs)`` to
    import instead of training; ``params`` are notebook parameters (``-p``), given to
    every notebook that has them; ``profile_overrides`` change fields of the paper
    profile in every notebook (``$GS_PROFILE_OVERRIDES``, see :func:`gs.profiles.get_profile`);
    ``threads`` sets ``OMP_NUM_THREADS`` for the notebooks' kernels (None: torch's default).
    """

    workdir: Path
    data_root: Path
    fetch: bool = True
    zoo_file: Path | None = None
    train_args: dict[str, list[str]] = field(default_factory=dict)
    checkpoints: dict[str, tuple[Path, dict]] = field(default_factory=dict)
    params: dict[str, object] = field(default_factory=dict)
    profile_overrides: dict[str, object] = field(default_factory=dict)
    figures: Path | None = None
    notebooks_out: Path | None = None
    store: Path | None = None
    threads: int | None = None
    quiet: bool = False

    def __post_init__(self) -> None:
        self.workdir = Path(self.workdir)
        self.data_root = Path(self.data_root)
        self.figures = Path(self.figures or self.workdir / "figures")
        self.notebooks_out = Path(self.notebooks_out or self.workdir / "notebooks")
        self.store = Path(self.store or self.workdir / "results" / "paper.sqlite")

    def environment(self) -> dict[str, str]:
        """Variables every stage (and each notebook's kernel) runs with."""
        env = {"GS_DATA_ROOT": str(self.data_root)}
        if self.zoo_file is not None:
            env["GS_LOCAL_ZOO"] = str(self.zoo_file)
        if self.threads:
            env["OMP_NUM_THREADS"] = str(self.threads)
        if self.profile_overrides:
            env["GS_PROFILE_OVERRIDES"] = json.dumps({"paper": self.profile_overrides})
        return env


def fmt_s(s: float) -> str:
    """Seconds as '42 s', '12 min' or '3.4 h'."""
    return f"{s / 3600:.1f} h" if s >= 5400 else f"{s / 60:.0f} min" if s >= 90 else f"{s:.0f} s"


def _say(plan: Plan, msg: str) -> None:
    print(f"[gs.paper] {msg}", flush=True)


def _write_stamp(path: Path, obj: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2))
    os.replace(tmp, path)


# ------------------------------------------------------------------------------ data
def stage_data(plan: Plan) -> dict[str, Path]:
    """CelebA and COCO under ``plan.data_root``, fetched (resuming) or checked."""
    out = {}
    for kind in ("celeba", "coco"):
        src = data_source(kind)
        base = plan.data_root / kind
        if plan.fetch:
            _say(plan, f"data: {kind} ({src.n_images:,} files) from {src.url}")
            out[kind] = download_set(kind, plan.data_root, quiet=plan.quiet)
            continue
        why = verify_folder(base, src, base / src.zip_name)
        if why is not None:
            raise FileNotFoundError(
                f"--data {plan.data_root}: {why}. It must hold {kind}/{src.folder}/ with "
                f"{src.n_images:,} files (or {kind}/{src.zip_name}); `python -m gs.data "
                f"download {kind} --root {plan.data_root}` verifies and extracts an archive "
                "put there by hand")
        _say(plan, f"data: {kind} found in {base / src.folder} ({src.n_images:,} files)")
        out[kind] = base / src.folder
    return out


# ----------------------------------------------------------------------------- train
def _sha_file(path: Path) -> str:
    from gs.zoo import sha256sum

    return sha256sum(path)


def stage_train(plan: Plan, after_train: Callable[[str, Path], None] | None = None
                ) -> dict[str, str]:
    """Train (or import) the three generators; returns their zoo names by family."""
    from gs.paper.checkpoints import import_checkpoint
    from gs.train.cli import main as train_main

    names, done_s, measured = {}, 0.0, []
    todo = [m for m in MODEL_NAMES if m not in plan.checkpoints]
    for family, (path, kwargs) in plan.checkpoints.items():
        names[family] = import_checkpoint(family, path, kwargs, zoo_file=plan.zoo_file)
        _say(plan, f"train: {family} imported from {path} as {names[family]!r}")
    for i, model in enumerate(todo):
        run_dir = plan.workdir / "train" / model
        stamp = run_dir / "done.json"
        gen = run_dir / "generator.pt"
        if stamp.is_file() and gen.is_file():
            st = json.loads(stamp.read_text())
            if st.get("sha256") == _sha_file(gen):
                _say(plan, f"train: {model} done before ({st['steps']} steps), skipped")
                names[model] = st["name"]
                continue
        left = [m for m in todo[i:]]
        if measured:
            est = sum(measured) / len(measured) * len(left)
            how = "at the mean time per model so far"
        else:
            est = sum(TRAIN_PROJECTION_S[m] for m in left)
            how = "projected from FLOP counts for one H100 at the paper's sizes, not measured"
        _say(plan, f"train: {model} ({i + 1} of {len(todo)}); about {fmt_s(est)} left for "
                   f"training ({how})")
        argv = [model, "--profile", "paper", "--data", "celeba", "--data-root",
                str(plan.data_root), "--out", str(run_dir), "--resume",
                *plan.train_args.get(model, [])]
        _say(plan, "  python -m gs.train " + shlex.join(argv))
        t0 = time.perf_counter()
        if train_main(argv) != 0:
            raise RuntimeError(f"training {model} failed; rerun to resume from {run_dir}")
        dt = time.perf_counter() - t0
        measured.append(dt)
        done_s += dt
        names[model] = PAPER_ZOO_NAMES[model]
        if after_train is not None:
            after_train(model, gen)
        steps = json.loads((run_dir / "config.json").read_text())["total_steps"]
        _write_stamp(stamp, {"name": names[model], "sha256": _sha_file(gen), "steps": steps,
                             "seconds": round(dt, 1)})
        _say(plan, f"train: {model} done in {fmt_s(dt)} -> {gen}")
    return names


# ------------------------------------------------------------------------- notebooks
def stage_notebooks(plan: Plan, only: list[str] | None = None) -> list[Path]:
    """Every numbered notebook (or those whose names start with ``only``) in the paper
    profile; returns the executed copies."""
    from gs.notebooks import notebook_parameters, notebook_paths, run_notebook

    paths = notebook_paths(only)
    params = {**plan.params, "store_path": str(plan.store), "out_dir": str(plan.figures)}
    plan.store.parent.mkdir(parents=True, exist_ok=True)
    stamps = plan.notebooks_out / "done"
    outs, times = [], []
    for i, path in enumerate(paths):
        stamp = stamps / f"{path.stem}.done"
        out = plan.notebooks_out / path.name
        if stamp.is_file() and out.is_file():
            _say(plan, f"notebooks: {path.stem} done before, skipped")
            outs.append(out)
            continue
        left = len(paths) - i
        est = (f"about {fmt_s(sum(times) / len(times) * left)} left at the mean so far"
               if times else "no estimate before the first notebook")
        _say(plan, f"notebooks: {path.stem} ({i + 1} of {len(paths)}; {est})")
        known = notebook_parameters(path)
        given = {k: v for k, v in params.items() if k in known}
        t0 = time.perf_counter()
        outs.append(run_notebook(path, "paper", parameters=given,
                                 output_dir=plan.notebooks_out, progress=not plan.quiet))
        times.append(time.perf_counter() - t0)
        _write_stamp(stamp, {"seconds": round(times[-1], 1), "parameters": given})
        _say(plan, f"notebooks: {path.stem} done in {fmt_s(times[-1])}")
    return outs


STAGES = ("data", "train", "notebooks")


def run(plan: Plan, stages: tuple[str, ...] = STAGES, only: list[str] | None = None,
        after_train: Callable[[str, Path], None] | None = None) -> dict[str, float]:
    """Run ``stages`` of ``plan`` in order; returns the seconds each took. The plan's
    environment variables are set in this process (and so in the notebooks' kernels)."""
    bad = sorted(set(stages) - set(STAGES))
    if bad:
        raise ValueError(f"unknown stage(s) {bad}; the stages are {STAGES}")
    env = plan.environment()
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    took = {}
    try:
        for stage in (s for s in STAGES if s in stages):
            t0 = time.perf_counter()
            if stage == "data":
                stage_data(plan)
            elif stage == "train":
                stage_train(plan, after_train)
            else:
                stage_notebooks(plan, only)
            took[stage] = time.perf_counter() - t0
            _say(plan, f"stage {stage} done in {fmt_s(took[stage])}")
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return took
