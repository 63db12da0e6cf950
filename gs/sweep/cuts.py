"""Which cut each model uses, and where that choice came from.

The paper picks each model's cut on validation images (its Fig. 4): the cut with the
highest mean PSNR, pooled over images and measurement counts. :func:`chosen_cuts` reads
back exactly the tasks of the profile's validation sweep (:func:`~gs.sweep.grids.cut_sweep_grid`:
same weights, steps, restarts, lr, seed, init, options, image set and split) and nothing
else; when that sweep is not complete in the store it falls back to the paper's cut and
says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from gs.profiles import Profile
from gs.sweep.grids import cut_sweep_grid, model_info
from gs.sweep.store import ResultsStore


@dataclass(frozen=True)
class CutChoice:
    """The cut a family uses and its provenance.

    ``source`` is ``"validation sweep"`` or ``"paper default"``; ``rows`` the number of
    stored records it was chosen from (0 for the default); ``note`` says why the default
    was used, if it was.
    """

    family: str
    model: str
    cut: int
    paper_cut: int
    source: str
    rows: int = 0
    images: int = 0
    cuts_tried: tuple[int, ...] = ()
    note: str = ""

    def describe(self) -> str:
        """One line for a notebook's output and a figure's CSV."""
        if self.source == "validation sweep":
            return (f"{self.family}: cut {self.cut} chosen on the validation sweep "
                    f"({self.rows} rows, {self.images} images, cuts {list(self.cuts_tried)}; "
                    f"paper: {self.paper_cut})")
        return f"{self.family}: cut {self.cut}, the paper's default ({self.note})"


def select_cuts(frame) -> dict[str, int]:
    """The cut with the highest mean PSNR per family in ``frame`` (surgery rows, pooled
    over images and m, as the paper's Fig. 4)."""
    rows = frame[frame["method"] == "surgery"]
    return {str(family): int(part.groupby("cut")["psnr"].mean().idxmax())
            for family, part in rows.groupby("family")}


def chosen_cuts(profile: Profile, store: ResultsStore,
                families=None) -> dict[str, CutChoice]:
    """The cut of each family of ``profile``: chosen on its complete validation sweep in
    ``store`` (in-distribution images), else the paper's cut."""
    out = {}
    for family in families or profile.models:
        model = profile.models[family]
        paper_cut = model_info(model)[1]
        tasks = cut_sweep_grid(profile, family)
        frame = store.query(keys=[t.key for t in tasks])
        if len(frame) < len(tasks):
            note = ("no validation sweep in the store" if len(frame) == 0 else
                    f"validation sweep incomplete: {len(frame)} of {len(tasks)} tasks")
            out[family] = CutChoice(family, model, paper_cut, paper_cut, "paper default",
                                    note=note + "; run notebook 02 with the same settings")
            continue
        cut = select_cuts(frame)[family]
        out[family] = CutChoice(family, model, cut, paper_cut, "validation sweep",
                                rows=len(frame), images=frame["image"].nunique(),
                                cuts_tried=tuple(sorted(frame["cut"].unique().tolist())))
    return out


def cut_table(choices: dict[str, CutChoice]):
    """The choices as a frame (family, model, cut, paper_cut, source, rows, provenance),
    for a figure's CSV."""
    import pandas as pd

    return pd.DataFrame([{"family": c.family, "model": c.model, "cut": c.cut,
                          "paper_cut": c.paper_cut, "source": c.source, "rows": c.rows,
                          "provenance": c.describe()} for c in choices.values()])
