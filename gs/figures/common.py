"""What every figure function shares: where its records come from, and its notes.

A figure function takes a :class:`Source` and a profile, builds the tasks its figure
shows (the same tasks whoever calls it), asks the source for their records and draws.
A notebook's source runs what is missing (:func:`notebook_source`, through
:func:`gs.sweep.run_sweep`); the figure command's source only reads the shipped table
and fails, naming what is missing, rather than recompute (:func:`table_source`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from torch import Tensor

from gs import plotting, sweep
from gs.profiles import Profile, get_profile
from gs.samples import SampleSheet
from gs.sweep import ResultsStore, Task
from gs.sweep.methods import get_method


class MissingResults(LookupError):
    """Records a figure needs are not in the table it is drawn from."""


class NotRun(MissingResults):
    """The table holds nothing of a figure's notebook: it has not run in that profile
    (the figure command skips the figure and says so)."""


@dataclass
class Source:
    """Where a figure's records come from.

    ``store`` answers :func:`gs.sweep.chosen_cuts` and holds the kept images; ``fetch(tasks,
    keep_images=False)`` returns the records of ``tasks`` (a frame in task order; a
    notebook's source also keeps their images, or those of the keys ``keep_images``
    names, when it computes them);
    ``truth(image_set, split, size, names)`` the true images ``(N, 3, H, W)``;
    ``images(keys)`` the recovered images by key. ``samples(kind, model)``, where given,
    returns the kept :class:`gs.samples.SampleSheet` of a sample figure (01, ``train``)
    from the archive at ``samples_path``; without it those figures run the generators.
    """

    store: ResultsStore
    fetch: Callable[..., pd.DataFrame]
    truth: Callable[[str, str, int, Sequence[str]], Tensor]
    samples: Callable[[str, str], SampleSheet] | None = None
    samples_path: Path | None = None

    def images(self, keys: Sequence[str]) -> dict[str, Tensor]:
        """The stored images of ``keys``; :class:`MissingResults` when some have none."""
        try:
            return self.store.images(keys)
        except KeyError as exc:
            raise MissingResults(exc.args[0]) from None


def load_truth(image_set: str, split: str, size: int, names: Sequence[str]) -> Tensor:
    """The true images from their image set (:func:`gs.sweep.load_images`)."""
    return sweep.load_images(image_set, split, size, list(names)).images


def notebook_source(store: ResultsStore, device: str = "cpu") -> Source:
    """Records from ``store``; tasks not stored yet are run first (:func:`run_sweep`,
    without its progress bar, so an executed notebook's outputs do not depend on timing;
    ``python -m gs.notebooks`` shows progress over the cells)."""

    def fetch(tasks: Sequence[Task], keep_images: bool | Collection[str] = False
              ) -> pd.DataFrame:
        return sweep.run_sweep(tasks, store, device=device, keep_images=keep_images,
                               progress=False)

    return Source(store, fetch, load_truth)


def lookup(store: ResultsStore, tasks: Sequence[Task],
           keep_images: bool | Collection[str] = False) -> pd.DataFrame:
    """The stored records of ``tasks``, never computing any: a :class:`MissingResults`
    error counts the missing ones (with ``keep_images``, as in :func:`gs.sweep.run_sweep`,
    also those without the image they should keep), or those computed by another engine
    version than their method's (which a sweep would recompute), and describes the
    first."""
    tasks = list({t.key: t for t in tasks}.values())
    have = store.done_keys() - (sweep.kept_images(tasks, keep_images) - store.image_keys())
    missing = [t for t in tasks if t.key not in have]
    rerun = "run the notebook that computes them (python -m gs.notebooks) and export again"
    if missing:
        t = missing[0]
        what = "records with their images" if keep_images else "records"
        raise MissingResults(
            f"{len(missing)} of {len(tasks)} {what} are not in the results table (first: "
            f"{_describe(t)}); {rerun}")
    engines = store.engines()
    stale = [t for t in tasks if engines[t.key] != get_method(t.method).engine_version]
    if stale:
        t = stale[0]
        raise MissingResults(
            f"{len(stale)} of {len(tasks)} records are of another engine version than their "
            f"method's (first: {_describe(t)}, engine {engines[t.key]}, now "
            f"{get_method(t.method).engine_version}); {rerun}")
    return store.query(keys=[t.key for t in tasks])


def _describe(t: Task) -> str:
    return (f"{t.method} {t.model or '-'} cut {t.cut} on {t.image_set}/{t.image}, operator "
            f"{t.operator}, m={t.m}, steps={t.steps}, restarts={t.restarts}")


def table_source(store: ResultsStore, truth: Mapping[tuple, Tensor] | None = None,
                 samples_path: str | Path | None = None) -> Source:
    """Records only from ``store`` (:func:`lookup`); true images from ``truth`` (keyed by
    ``(image_set, split, size, name)``) where it has them, else from their image set;
    generator samples only from the archive ``samples_path`` (read when first needed; a
    :class:`MissingResults` error names it when it is absent or lacks a sheet)."""
    truth = dict(truth or {})
    sheets: dict = {}

    def get_samples(kind: str, model: str) -> SampleSheet:
        from gs import results

        if samples_path is None:
            raise MissingResults(f"no samples archive to draw figure {kind} of {model} from")
        if not sheets:
            try:
                sheets.update(results.read_samples(samples_path))
            except FileNotFoundError as exc:
                raise MissingResults(str(exc)) from None
        if (kind, model) not in sheets:
            raise MissingResults(
                f"{samples_path} has no samples of {model} for figure {kind} (it has "
                f"{sorted('|'.join(k) for k in sheets)}); python -m gs.results export "
                "writes them")
        return sheets[kind, model]

    def get_truth(image_set: str, split: str, size: int, names: Sequence[str]) -> Tensor:
        keys = [(image_set, split, size, n) for n in names]
        if all(k in truth for k in keys):
            import torch

            return torch.stack([truth[k] for k in keys])
        return load_truth(image_set, split, size, names)

    # the table ships only the images its figures show: those are checked by Source.images
    return Source(store, lambda tasks, keep_images=False: lookup(store, tasks), get_truth,
                  get_samples, Path(samples_path) if samples_path is not None else None)


@dataclass
class Drawn:
    """What a figure function drew: its figures by name, the summaries saved as their
    CSVs, the labelled records (``frames``), the cuts it used, the saved paths and
    anything else its notebook prints from (``extra``)."""

    figures: dict[str, plt.Figure] = field(default_factory=dict)
    summaries: dict[str, pd.DataFrame] = field(default_factory=dict)
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    cuts: dict[str, sweep.CutChoice] = field(default_factory=dict)
    paths: list[Path] = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    def save(self, name: str, fig: plt.Figure, summary: pd.DataFrame, out_dir: Path | None,
             formats: Sequence[str]) -> None:
        """Keep ``fig`` and its ``summary``; write them when ``out_dir`` is given."""
        self.figures[name] = fig
        self.summaries[name] = summary
        if out_dir is not None:
            self.paths += plotting.save_figure(fig, name, out_dir, summary, formats)

    def close(self) -> None:
        """Close every figure (the figure command; a notebook shows them instead)."""
        for fig in self.figures.values():
            plt.close(fig)


def cuts_of(source: Source, profile, families: Sequence[str]) -> dict[str, sweep.CutChoice]:
    """Each family's cut (:func:`gs.sweep.chosen_cuts`), as the notebooks print it."""
    return sweep.chosen_cuts(profile, source.store, families)


def sets_of(cfg: Profile, image_sets: Sequence[str] | None) -> list[str]:
    """``image_sets`` (default: the profile's in-distribution and out-of-distribution
    sets); a set the profile does not use is a ValueError naming both."""
    known = [cfg.in_dist, cfg.ood]
    if image_sets is None:
        return known
    bad = [s for s in image_sets if s not in known]
    if bad or not image_sets:
        raise ValueError(f"image sets {list(image_sets)!r}: profile {cfg.name!r} uses {known}")
    return list(image_sets)


def provenance(cuts: Mapping[str, sweep.CutChoice]) -> dict[str, str]:
    """``{family: where its cut came from}`` for the figures' CSVs."""
    return {f: c.describe() for f, c in cuts.items()}


def images_note(frame: pd.DataFrame, per: str = "image_set") -> str:
    """``"n = 4 images"`` (or ``"n = 3-4 images"`` when the sets differ)."""
    counts = frame.groupby(per)["image"].nunique() if per in frame else frame["image"].nunique()
    lo, hi = int(pd.Series(counts).min()), int(pd.Series(counts).max())
    return f"n = {lo} image{'s' * (hi > 1)}" if lo == hi else f"n = {lo}-{hi} images"


def _span(values) -> str:
    values = sorted({int(v) for v in values})
    return str(values[0]) if len(values) == 1 else f"{values[0]}-{values[-1]}"


def _optimizer(extra: str) -> str:
    return json.loads(extra or "{}").get("optimizer", "lbfgs")


def budget_note(frame: pd.DataFrame, paper_steps: int | None = None) -> str:
    """What in ``frame`` ran below the paper's budget, e.g. ``"surgery: 5 L-BFGS steps x
    2 restarts (paper 25 x 3); IAGAN, mGANprior at 3% of the paper's steps"``; empty when
    nothing did. ``paper_steps`` overrides the paper's L-BFGS steps (raw reconstruction:
    100)."""
    paper = get_profile("paper")
    paper_steps = paper_steps or paper.steps
    parts = []
    own = frame[frame["method"].isin(["surgery", "reinit"]) & frame["steps"].notna()]
    own = own[own["extra"].map(_optimizer) == "lbfgs"]
    if len(own) and (own["steps"].max() < paper_steps or own["restarts"].max() < paper.restarts):
        parts.append(f"surgery: {_span(own['steps'])} L-BFGS steps x "
                     f"{_span(own['restarts'])} restarts (paper {paper_steps} x "
                     f"{paper.restarts})")
    budgets: dict[float, list[str]] = {}
    for method, extra in frame[["method", "extra"]].drop_duplicates().itertuples(index=False):
        b = json.loads(extra or "{}").get("budget")
        if b is not None and b < 1:
            budgets.setdefault(float(b), []).append(sweep.series_label(method))
    for b, labels in sorted(budgets.items()):
        parts.append(f"{', '.join(sorted(set(labels)))} at {b:.0%} of the paper's steps")
    return "; ".join(parts)


def percent(x: float) -> str:
    """``x`` as a whole percentage, never ``"-0%"``."""
    return f"{round(100 * x):d}%"
