"""The small study behind gs.autocut's defaults: hold-out fraction and candidate cuts.

On the validation images of the offline profile (3 faces, 3 scenes, m/n = 0.033 and 0.163,
the profile's budget), notebook 02's sweep has stored surgery at every cut from all
measurements. For each hold-out fraction this script runs only the cross-validation of
``surgery_auto`` (the same split, starts and budget as the sweep method) and looks up the
PSNR of the chosen cut in the store, which is what ``surgery_auto`` would record (its
final recovery equals surgery at the chosen cut). It compares that with the oracle (best
cut per image in hindsight) and with a fixed cut.

    python scripts/autocut_study.py --families dcgan vae began --holdouts 0.1 0.2 0.3 \
        --out figures/offline/09_holdout_study.csv

Rows are appended batch by batch, so an interrupted run keeps what it did; a rerun skips
the (family, set, m, holdout) batches already in the CSV. Run notebook 02 in the offline
profile first.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from pathlib import Path

import pandas as pd
import torch

from gs import sweep
from gs.autocut import CANDIDATE_CUTS, cross_validate, sweep_settings
from gs.profiles import get_profile


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="offline")
    ap.add_argument("--families", nargs="+", default=["dcgan", "vae", "began"])
    ap.add_argument("--holdouts", nargs="+", type=float, default=[0.1, 0.2, 0.3])
    ap.add_argument("--cuts", nargs="+", type=int, default=list(CANDIDATE_CUTS))
    ap.add_argument("--fixed-cut", type=int, default=2, help="the fixed cut to compare with")
    ap.add_argument("--store", default=None, help="results store (default the profile's)")
    ap.add_argument("--out", type=Path, required=True, help="CSV to append to")
    ap.add_argument("--threads", type=int, default=None)
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    cfg = get_profile(a.profile)
    store = sweep.default_store(cfg.name, a.store)
    done = set()
    if a.out.exists():
        old = pd.read_csv(a.out)
        done = set(zip(old.family, old.image_set, old.m, old.holdout, strict=True))
    for holdout in a.holdouts:
        for family in a.families:
            generator = sweep.prepared_generator(cfg.models[family], "cpu")
            for image_set in (cfg.in_dist, cfg.ood):
                tasks = sweep.cut_sweep_grid(cfg, family, image_set)
                frame = store.query(keys=[t.key for t in tasks])
                if frame.empty:
                    raise SystemExit(f"{family} {image_set}: no validation sweep in the store; "
                                     "run notebook 02 first")
                psnr = frame.pivot_table(index=["image", "m"], columns="cut", values="psnr")
                if len(frame) < len(tasks):  # leave out the (image, m) pairs lacking a cut
                    print(f"{family} {image_set}: {len(frame)} of {len(tasks)} sweep rows stored;"
                          " pairs lacking one are left out", flush=True)
                    psnr = psnr.dropna()
                for m in sorted({t.m for t in tasks}):
                    if (family, image_set, m, holdout) in done:
                        continue
                    batch = [dataclasses.replace(t, method="surgery_auto", cut=0)
                             for t in tasks if t.m == m and t.cut == tasks[0].cut
                             and (t.image, m) in psnr.index]
                    names = [t.image for t in batch]
                    x = sweep.load_images(image_set, "val", batch[0].image_size, names).images
                    op, y = sweep.measurements(batch[0], x, names)
                    t0 = time.perf_counter()
                    cv = cross_validate(generator, op, y, a.cuts, holdout=holdout,
                                        **sweep_settings(generator, batch[0], names))
                    seconds = time.perf_counter() - t0
                    rows = []
                    for b, name in enumerate(names):
                        p = psnr.loc[(name, m)]
                        cands = p[list(a.cuts)]
                        rows.append(dict(
                            family=family, image_set=image_set, image=name, m=m,
                            ratio=op.m / op.n, holdout=holdout, n_held=cv.n_held,
                            chosen=int(cv.cut[b]), psnr_chosen=float(p[int(cv.cut[b])]),
                            oracle_cut=int(cands.idxmax()), psnr_oracle=float(cands.max()),
                            oracle_all_cut=int(p.idxmax()), psnr_oracle_all=float(p.max()),
                            fixed_cut=a.fixed_cut, psnr_fixed=float(p[a.fixed_cut]),
                            psnr_cut0=float(p[0]), cv_seconds=seconds,
                            **{f"heldout_{c}": float(cv.heldout[b, j])
                               for j, c in enumerate(cv.cuts)}))
                    _append(a.out, pd.DataFrame(rows))
                    part = pd.DataFrame(rows)
                    print(f"holdout {holdout} {family} {image_set} m={m}: chosen "
                          f"{part.chosen.tolist()} oracle {part.oracle_cut.tolist()}; gap to "
                          f"oracle {(part.psnr_chosen - part.psnr_oracle).mean():+.2f} dB, vs "
                          f"cut {a.fixed_cut} {(part.psnr_chosen - part.psnr_fixed).mean():+.2f}"
                          f" dB ({seconds:.0f} s)", flush=True)
    _summary(pd.read_csv(a.out))
    return 0


def _append(path: Path, rows: pd.DataFrame) -> None:
    """Append rows to the CSV through a temporary file and a rename (never half-written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        rows = pd.concat([pd.read_csv(path), rows], ignore_index=True)
    tmp = path.with_name(f".{path.name}.tmp")
    rows.to_csv(tmp, index=False)
    os.replace(tmp, path)


def _summary(df: pd.DataFrame) -> None:
    df = df.assign(gap=df.psnr_chosen - df.psnr_oracle, vs_fixed=df.psnr_chosen - df.psnr_fixed,
                   hit=df.chosen == df.oracle_cut)
    print(df.groupby(["holdout", "family", "image_set"])[["gap", "vs_fixed", "hit"]]
          .mean().round(2).to_string())
    print(df.groupby("holdout")[["gap", "vs_fixed", "hit"]].mean().round(2).to_string())


if __name__ == "__main__":
    raise SystemExit(main())
