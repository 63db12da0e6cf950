"""Studies beyond the paper's figures that check how far a conclusion can be trusted.

*Divergence and a fair baseline* (notebook 08, study e): without a line search, L-BFGS
at the paper's learning rates sometimes diverges, most often without surgery. Every
method returns its best iterate (so a divergence costs only the steps after it), and the
record counts the restarts that diverged. To be sure the surgery gain is not an artefact
of the optimiser, no surgery also runs with Adam at the same evaluation budget, and each
image keeps whichever optimiser fitted its measurements better (lower measurement loss,
never the true image): no surgery with its best optimiser.

>>> frame = __import__("pandas").DataFrame({
...     "family": ["dcgan"] * 3, "image_set": ["faces"] * 3, "image": ["a"] * 3,
...     "m": [100] * 3, "series": ["no_surgery", "no_surgery", "surgery"],
...     "optimizer": ["lbfgs", "adam", "lbfgs"], "loss": [0.02, 0.01, 0.005],
...     "psnr": [15.0, 17.0, 22.0]})
>>> fair_gap(frame)[["no_surgery", "no_surgery_best_optimiser", "surgery"]].values.tolist()
[[15.0, 17.0, 22.0]]
"""

from __future__ import annotations

import dataclasses

import pandas as pd

from gs.profiles import Profile
from gs.sweep import Task, cs_grid

#: Adam's learning rate for the fair-baseline runs: IAGAN's first stage (Adam on the
#: input latent, lr 0.1), the paper's own Adam setting for a latent at cut 0.
ADAM_LR = 0.1


def best_optimiser_tasks(profile: Profile, family: str, image_set: str, cut: int,
                         ratios=None, adam_lr: float = ADAM_LR) -> list[Task]:
    """No surgery with L-BFGS (the profile's budget), no surgery with Adam at the same
    number of evaluations (``steps * 20``: an L-BFGS step evaluates up to 20 times), and
    surgery at ``cut``, on the profile's test images."""
    lbfgs = cs_grid(profile, families=[family], image_set=image_set, methods=("surgery",),
                    cuts=(0, cut), ratios=ratios)
    adam = [dataclasses.replace(t, steps=t.steps * 20, lr=adam_lr,
                                extra={**t.options, "optimizer": "adam"})
            for t in lbfgs if t.cut == 0]
    return lbfgs + adam


def optimizer_of(frame: pd.DataFrame) -> pd.Series:
    """The optimiser of each record (``extra["optimizer"]``, default L-BFGS)."""
    import json

    return frame["extra"].map(lambda e: json.loads(e or "{}").get("optimizer", "lbfgs"))


def divergence_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per family, series and optimiser: records, restarts run, restarts stopped as
    diverged, and the share of images with at least one diverged restart."""
    f = frame.assign(restarts_run=frame["restarts"], diverged=frame["diverged"].fillna(0))
    if "optimizer" not in f:
        f = f.assign(optimizer=optimizer_of(f))
    out = (f.groupby(["family", "series", "optimizer"])
           .agg(records=("key", "count"), restarts=("restarts_run", "sum"),
                diverged=("diverged", "sum"),
                images_hit=("diverged", lambda d: float((d > 0).mean())))
           .reset_index())
    out["diverged_share"] = out["diverged"] / out["restarts"]
    return out


def fair_gap(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (family, image_set, image, m): PSNR of no surgery with L-BFGS, with
    Adam, with whichever fitted the measurements better (``no_surgery_best_optimiser``),
    and of surgery; plus the two gaps (surgery minus each no-surgery)."""
    keys = ["family", "image_set", "image", "m"]
    ns = frame[frame["series"] == "no_surgery"]
    by_opt = ns.pivot_table(index=keys, columns="optimizer", values=["psnr", "loss"])
    best = by_opt["loss"].idxmin(axis=1)
    rows = pd.DataFrame({
        "no_surgery": by_opt["psnr"]["lbfgs"],
        "no_surgery_adam": by_opt["psnr"].get("adam"),
        "no_surgery_best_optimiser": [by_opt["psnr"].loc[i, o] for i, o in best.items()],
        "best_optimiser": best,
    })
    surgery = frame[frame["series"] == "surgery"].set_index(keys)["psnr"]
    rows["surgery"] = surgery.reindex(rows.index)
    rows["gap"] = rows["surgery"] - rows["no_surgery"]
    rows["gap_best_optimiser"] = rows["surgery"] - rows["no_surgery_best_optimiser"]
    return rows.reset_index()
