"""Projected wall time of a profile's notebooks on this machine, from a calibrated slice.

For each profile asked for, lists what every notebook will compute (the notebooks'
default parameters, a task shared through the results store counted once; see
:mod:`gs.sweep.plan`), times a slice of every kind of work on the current device and
prints the projection per notebook and for the whole profile, training excluded.

    python bench/paper_profile.py                          # offline, offline-full, paper
    python bench/paper_profile.py --profile paper --device cuda --json out.json

A projection, not a measurement: problems that stop early take less; data loading and
figures are not counted.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gs.profiles import PROFILES, get_profile, resolve_device  # noqa: E402
from gs.sweep.plan import Calibration, notebook_tasks, project  # noqa: E402


def hours(seconds: float) -> str:
    return f"{seconds / 3600:6.2f} h" if seconds >= 3600 else f"{seconds / 60:6.1f} min"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", nargs="+", default=["offline", "offline-full", "paper"],
                   choices=sorted(PROFILES))
    p.add_argument("--device", default="auto")
    p.add_argument("--batch", type=int, default=None,
                   help="problems per calibration run (default: one CPU lane, 64 on a GPU)")
    p.add_argument("--store", action="store_true",
                   help="take the cuts from each profile's results store where it has them")
    p.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    p.add_argument("--quiet", action="store_true", help="do not print each calibration")
    a = p.parse_args(argv)
    from gs.notebooks import check_value

    try:
        if a.device != "auto":
            check_value("device", a.device, "offline")
    except ValueError as exc:
        p.error(str(exc).replace("parameter device", "--device"))
    if a.batch is not None and a.batch < 1:
        p.error(f"--batch {a.batch}: give at least 1 problem")
    if a.json is not None:
        if a.json.is_dir():
            p.error(f"--json {a.json} is a folder; name a file")
        try:
            a.json.parent.mkdir(parents=True, exist_ok=True)  # not a surprise at the end
        except OSError as exc:
            p.error(f"--json {a.json}: cannot make its folder ({exc.strerror})")
    device = resolve_device(a.device)
    name = (torch.cuda.get_device_name() if device == "cuda"
            else f"CPU, {torch.get_num_threads()} threads")
    print(f"[paper_profile] device {device} ({name}), {time.strftime('%Y-%m-%d')}")
    cal = Calibration(device, a.batch, log=None if a.quiet else print)
    report = {"device": device, "device_name": name, "date": time.strftime("%Y-%m-%d"),
              "profiles": {}}
    for prof in a.profile:
        cfg = get_profile(prof)
        store = None
        if a.store:
            from gs.sweep.store import default_store, default_store_path

            path = default_store_path(cfg.name)
            if path.is_file():  # else the paper's cuts (never an empty store made here)
                store = default_store(cfg.name, path)
            else:
                print(f"[paper_profile] {prof}: no results store at {path}; the paper's cuts")
        tasks = notebook_tasks(cfg, store)
        t0 = time.perf_counter()
        seconds = project(tasks, cal)
        total = sum(seconds.values())
        print(f"\n{prof}: {sum(map(len, tasks.values()))} recoveries "
              f"(calibration {time.perf_counter() - t0:.0f} s)")
        for stem, s in seconds.items():
            print(f"  {stem:32s} {len(tasks[stem]):6d} tasks  {hours(s)}")
        print(f"  {'whole profile (training excluded)':32s} {'':12s} {hours(total)}")
        report["profiles"][prof] = {"seconds": seconds, "total_s": total,
                                    "tasks": {k: len(v) for k, v in tasks.items()}}
    if a.json:
        a.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
