"""``python -m gs.paper``: the whole paper profile in one command, or its rehearsal."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from gs.notebooks import check_overrides, notebook_paths
from gs.paper.stages import STAGES, Plan, fmt_s, run

#: The rehearsal's sizes, all overrides of the paper profile: the code path is the
#: paper's (CelebA / COCO layout, 64-px DCGAN, 128-px BEGAN and VAE, every baseline and
#: notebook, the smallest and the largest m of the paper: 400 and 24,000 at 128 px).
REHEARSAL_IMAGES = {"celeba": 80, "coco": 24}  # 80 CelebA files: 4 held out
REHEARSAL_DRAW = {"n_test": 2, "n_val": 2}
REHEARSAL_TRAIN = {
    "dcgan": ["--steps", "12", "--batch-size", "4", "--ch", "8", "--d-ch", "8"],
    "began": ["--steps", "12", "--batch-size", "2", "--ch", "4", "--d-ch", "4"],
    "vae": ["--steps", "12", "--batch-size", "4", "--widths", "8,8,8,8,8,8"],
}
REHEARSAL_COMMON_TRAIN = ["--sample-every", "1000", "--ckpt-every", "1000", "--log-every",
                          "4", "--workers", "0", "--no-progress", "--device", "cpu",
                          "--threads", "1"]
#: One thread: these tiny models are bound by per-operation overheads, and on a busy
#: 2-core machine two OpenMP threads spin-wait for each other (measured: 8x the CPU time
#: per evaluation of the 128-px BEGAN under load).
REHEARSAL_THREADS = 1


def rehearsal_profile() -> dict[str, object]:
    """Overrides of the paper profile for the rehearsal (``$GS_PROFILE_OVERRIDES``): two
    images per split, one L-BFGS step and restart, the smallest and largest of the
    paper's ratios, two cuts per model in the cut sweep (the paper's among them), tiny
    baseline budgets, a loose Lasso-DCT."""
    from gs.profiles import PAPER_RATIOS

    lo, hi = PAPER_RATIOS[0], PAPER_RATIOS[-1]
    return {"n_test": 2, "n_val": 2, "steps": 1, "restarts": 1, "ratios": [lo, hi],
            "sweep_ratios": [hi], "sweep_cuts": {"dcgan": [0, 1], "began": [0, 2],
                                                 "vae": [0, 1]},
            "show_ratio": hi, "n_samples": 2, "baseline_budget": 0.0005,
            "lasso": {"tol": 1e-2, "steps": 10}, "device": "cpu"}


def rehearsal_params() -> dict[str, object]:
    """Notebook parameters of the rehearsal (those no profile field reaches)."""
    from gs.profiles import PAPER_RATIOS

    return {"n_show": 2, "noop_steps": 1, "restart_counts": [1, 2],
            "study_ratio": PAPER_RATIOS[-1], "inits": [["clamped_normal", 1.0], ["zero", 1.0]]}


def save_authors_dcgan(gs_checkpoint: Path, out: Path) -> Path:
    """The DCGAN of a gs checkpoint re-saved as the authors' code saves it: the
    PyTorch-examples ``netG.state_dict()`` (keys ``main.K.*``). For the rehearsal's
    demonstration of :func:`gs.paper.checkpoints.import_checkpoint`."""
    import torch

    state = torch.load(gs_checkpoint, map_location="cpu", weights_only=True)["state_dict"]
    authors = {}
    for key, value in state.items():
        _, block, layer, rest = key.split(".", 3)
        authors[f"main.{3 * int(block) + int(layer)}.{rest}"] = value
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(authors, out)
    return out


def _parse_checkpoints(pairs: list[str], kwargs: list[str]) -> dict[str, tuple[Path, dict]]:
    out = {}
    for pair in pairs:
        family, sep, path = pair.partition("=")
        if not sep or family not in ("dcgan", "began", "vae"):
            raise ValueError(f"--checkpoint takes FAMILY=PATH with FAMILY dcgan, began or vae, "
                             f"got {pair!r}")
        out[family] = (Path(path), {})
    for pair in kwargs:
        family, sep, text = pair.partition("=")
        if family not in out:
            raise ValueError(f"--checkpoint-kwargs {pair!r}: no --checkpoint {family}=PATH")
        try:
            value = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"--checkpoint-kwargs {pair!r}: not JSON ({e})") from e
        if not isinstance(value, dict):
            raise ValueError(f"--checkpoint-kwargs {pair!r}: give a JSON object")
        out[family] = (out[family][0], value)
    return out


#: Notebook parameters the paper plan sets itself.
PLAN_SET = {"profile": "always the paper profile", "store_path": "the plan's results store",
            "out_dir": "the plan's figures folder"}


def _parse_params(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"-p takes name=value, got {pair!r}")
        out[name] = value
    return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m gs.paper",
        description="Run the paper profile end to end: download CelebA and COCO (or use "
        "--data), train the DCGAN, BEGAN and VAE at the paper's sizes, run every notebook. "
        "Each stage resumes where it stopped: rerun the same command after an interruption.")
    p.add_argument("--rehearse", action="store_true",
                   help="the same stages on small paper-shaped fake data served by a local "
                   "server, with tiny sizes (minutes on a CPU)")
    p.add_argument("--workdir", type=Path,
                   help="where runs, stamps and (rehearsal) data go (default outputs/paper; "
                   "rehearsal: a new temporary folder)")
    p.add_argument("--data", type=Path,
                   help="data already on disk: a folder holding celeba/img_align_celeba and "
                   "coco/test2017 (nothing is downloaded)")
    p.add_argument("--stages", default=",".join(STAGES),
                   help=f"comma-separated subset of {','.join(STAGES)}")
    p.add_argument("--only", nargs="*", help="notebook name prefixes to run (e.g. 02 03)")
    p.add_argument("--checkpoint", action="append", default=[], metavar="FAMILY=PATH",
                   help="use this checkpoint for dcgan, began or vae instead of training it "
                   "(layouts: docs/paper_profile.md)")
    p.add_argument("--checkpoint-kwargs", action="append", default=[], metavar="FAMILY=JSON",
                   help='architecture arguments of a checkpoint, e.g. began=\'{"ch": 64}\'')
    p.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                   help="notebook parameter for every notebook that has it")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        stages = tuple(s.strip() for s in args.stages.split(",") if s.strip())
        if not stages:
            raise ValueError(f"--stages {args.stages!r}: no stage; choose from "
                             f"{','.join(STAGES)}")
        if bad := sorted(set(stages) - set(STAGES)):
            raise ValueError(f"--stages: unknown stage(s) {bad}; the stages are "
                             f"{','.join(STAGES)}")
        checkpoints = _parse_checkpoints(args.checkpoint, args.checkpoint_kwargs)
        params = _parse_params(args.param)
        notebooks = notebook_paths(args.only)
        if args.only and not notebooks:
            raise ValueError(f"--only {' '.join(args.only)}: no notebook starts so")
        # every -p checked now, not hours later when its notebook starts
        check_overrides(args.param, notebooks, "paper", PLAN_SET)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    try:
        if args.rehearse:
            plan = rehearse(args.workdir, stages, args.only, checkpoints, params, args.quiet)
        else:
            plan = _paper_plan(args, checkpoints, params)
            run(plan, stages, args.only)
    except (OSError, ValueError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"[gs.paper] all done in {fmt_s(time.perf_counter() - t0)}. Figures (PDF, PNG and "
          f"the CSV of their numbers): {plan.figures}; executed notebooks: "
          f"{plan.notebooks_out}; results store: {plan.store}")
    return 0


def _paper_plan(args: argparse.Namespace, checkpoints: dict, params: dict) -> Plan:
    from gs.data.paper import default_root
    from gs.notebooks import NOTEBOOK_OUTPUT_DIR
    from gs.paths import FIGURES_DIR, OUTPUT_DIR

    return Plan(workdir=args.workdir or OUTPUT_DIR / "paper",
                data_root=args.data or default_root(), fetch=args.data is None,
                checkpoints=checkpoints, params=params, figures=FIGURES_DIR / "paper",
                notebooks_out=NOTEBOOK_OUTPUT_DIR / "paper",
                store=OUTPUT_DIR / "results" / "paper.sqlite", quiet=args.quiet)


def rehearse(workdir: Path | None = None, stages: tuple[str, ...] = STAGES,
             only: list[str] | None = None, checkpoints: dict | None = None,
             params: dict | None = None, quiet: bool = True) -> Plan:
    """Run the paper profile's stages on fake paper-shaped data with tiny sizes.

    In ``workdir`` (default: a new temporary folder): the fake archives
    (:mod:`gs.paper.fakedata`) are served by a local :class:`~gs.paper.server.ArchiveServer`
    (CelebA behind Drive's confirmation page, COCO with one dropped connection, so the
    download resumes), ``$GS_DATA_SOURCES`` points the download at them, and
    :func:`~gs.paper.stages.run` runs every stage with the rehearsal's overrides. The
    trained DCGAN is re-saved in the authors' layout and registered from there, as a user
    with their own checkpoint would. Returns the plan (its folders hold the results).
    """
    from gs.paper.checkpoints import import_checkpoint
    from gs.paper.fakedata import write_celeba, write_coco, write_sources
    from gs.paper.server import ArchiveServer

    workdir = Path(workdir or tempfile.mkdtemp(prefix="gs-rehearsal-")).resolve()
    served = workdir / "served"
    print(f"[gs.paper] rehearsal in {workdir}", flush=True)
    archives = {"celeba": write_celeba(served, REHEARSAL_IMAGES["celeba"]),
                "coco": write_coco(served, REHEARSAL_IMAGES["coco"])}
    zoo = workdir / "zoo.json"
    train_args = {m: [*a, *REHEARSAL_COMMON_TRAIN] for m, a in REHEARSAL_TRAIN.items()}
    plan = Plan(workdir=workdir, data_root=workdir / "data", zoo_file=zoo,
                train_args=train_args, checkpoints=checkpoints or {},
                profile_overrides=rehearsal_profile(), threads=REHEARSAL_THREADS,
                params={**rehearsal_params(), **(params or {})}, quiet=quiet)

    def as_user_checkpoint(model: str, generator: Path) -> None:
        if model != "dcgan":
            return
        authors = save_authors_dcgan(generator, workdir / "user" / "netG_epoch_24.pth")
        name = import_checkpoint("dcgan", authors, {"ngf": 8}, zoo_file=zoo)
        print(f"[gs.paper] the DCGAN re-saved in the authors' layout ({authors}) and "
              f"registered from there as {name!r} (import_checkpoint)", flush=True)

    with ArchiveServer(served, drive=(archives["celeba"].path.name,)) as server:
        server.fail(archives["coco"].path.name, "drop")
        urls = {k: server.url(a.path.name) for k, a in archives.items()}
        sources = write_sources(workdir / "sources.json", archives, urls, **REHEARSAL_DRAW)
        old = os.environ.get("GS_DATA_SOURCES")
        os.environ["GS_DATA_SOURCES"] = str(sources)
        try:
            run(plan, stages, only, after_train=as_user_checkpoint)
        finally:
            if old is None:
                os.environ.pop("GS_DATA_SOURCES", None)
            else:
                os.environ["GS_DATA_SOURCES"] = old
    return plan
