"""Box-plot studies: samples of the uncut generator (07) and the supplement's studies (08):
(a) raw reconstruction, (b) initialisation, (c) restarts, (d) inpainting and
super-resolution, (e) no surgery with its best optimiser."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import matplotlib.colors as mcolors
import numpy as np
import pandas as pd

from gs import plotting, sweep
from gs.figures.common import Drawn, Source, budget_note, cuts_of, images_note, provenance
from gs.figures.curves import PAPER_FORMATS
from gs.profiles import Profile

#: The paper's four starts of the initialisation study: (init, limit or scale).
PAPER_INITS = (("clamped_normal", 1.0), ("zero", 1.0), ("normal", 5.0), ("normal", 10.0))
#: The paper's raw reconstruction ran L-BFGS for 100 steps (VAE 40).
PAPER_RAW_STEPS = 100


def _by_model(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(model=frame.family.str.upper())


def zero_error_config(base: Profile, n_images: int | None = None, ratios=None) -> Profile:
    """07's profile: ``base.zero_error_samples`` samples per model (at most ``n_test``)
    and every other ratio unless given."""
    return dataclasses.replace(base, n_test=n_images or min(base.n_test, base.zero_error_samples),
                               ratios=tuple(ratios or base.ratios[1::2]))


def zero_error_tasks(cfg: Profile, cuts: dict[str, sweep.CutChoice],
                     families: Sequence[str]) -> list[sweep.Task]:
    """07's grid on ``cfg`` (:func:`zero_error_config`): each family's samples recovered
    with the identity and with compressed sensing, at cut 0 and the chosen cut."""
    return [t for family in families for operator in ("identity", cfg.operator)
            for t in sweep.cs_grid(cfg, families=[family],
                                   image_set=sweep.samples_image_set(cfg.models[family]),
                                   operator=operator, methods=("surgery",),
                                   cuts=(0, cuts[family].cut))]


def zero_error(source: Source, base: Profile, families: Sequence[str] | None = None,
               n_images: int | None = None, ratios=None, *, out_dir: Path | None = None,
               formats: Sequence[str] = PAPER_FORMATS) -> Drawn:
    """``07_zero_representation_error``: samples of each uncut generator recovered with the
    identity operator and compressed sensing, without and with surgery."""
    families = list(families or base.models)
    cfg = zero_error_config(base, n_images, ratios)
    cuts = cuts_of(source, base, families)
    frame = _by_model(plotting.label_series(source.fetch(zero_error_tasks(cfg, cuts,
                                                                          families))))
    frame["problem"] = [op if op == "identity" else f"m/n={r:.3f}"
                        for op, r in zip(frame.operator, frame.ratio, strict=True)]
    frame["panel"] = frame.model
    fig, summary = plotting.box_by(
        frame, x="problem", hue="series", col="panel", rotation=30,
        title=f"Recovering samples of the uncut generator ({images_note(frame, 'family')} "
              "per model)", note=budget_note(frame))
    summary["cut_provenance"] = summary.panel.map({f.upper(): c.describe()
                                                   for f, c in cuts.items()})
    out = Drawn(cuts=cuts)
    out.frames["07_zero_representation_error"] = frame
    out.save("07_zero_representation_error", fig, summary, out_dir, formats)
    return out


@dataclasses.dataclass(frozen=True)
class SupplementSettings:
    """The settings of notebook 08's studies (its parameters, resolved)."""

    cfg: Profile
    base: Profile
    families: tuple[str, ...]
    study_family: str
    study_ratio: float
    noop_lr: float
    noop_steps: int
    inits: tuple[tuple[str, float], ...]
    restart_counts: tuple[int, ...]
    adam_lr: float


def supplement_settings(base: Profile, families=None, n_images=None, ratios=None,
                        noop_lr: float = 1.0, noop_steps: int | None = None,
                        inits=PAPER_INITS, study_family: str | None = None,
                        study_ratio: float | None = None, restart_counts=None,
                        adam_lr: float | None = None) -> SupplementSettings:
    """08's settings from its parameters: at most the profile's ``supplement_images``
    test images per set unless ``n_images``; studies (b)-(d) on ``study_family`` (BEGAN
    if run) at the ratio nearest 0.16; restarts 1, R and 3R without surgery (R: the
    profile's)."""
    from gs.studies import ADAM_LR

    cfg = dataclasses.replace(base, n_test=n_images or min(base.n_test, base.supplement_images),
                              ratios=tuple(ratios or base.ratios))
    families = tuple(families or cfg.models)
    study_family = study_family or ("began" if "began" in families else families[0])
    R = cfg.restarts
    return SupplementSettings(
        cfg, base, families, study_family,
        study_ratio or min(cfg.ratios, key=lambda r: abs(r - 0.16)), noop_lr,
        noop_steps or cfg.steps, tuple((str(i), float(v)) for i, v in inits),
        tuple(sorted(set(restart_counts or (1, R, 3 * R)))), adam_lr or ADAM_LR)


def supplement(source: Source, s: SupplementSettings, studies: str = "abcde", *,
               out_dir: Path | None = None, formats: Sequence[str] = PAPER_FORMATS) -> Drawn:
    """``08a_raw_reconstruction`` ... ``08e_fair_baseline`` (the letters in ``studies``)."""
    out = Drawn(cuts=cuts_of(source, s.base, s.families))
    for letter in studies:
        _STUDIES[letter](source, s, out, out_dir, formats)
    return out


def supplement_tasks(s: SupplementSettings, cuts: dict[str, sweep.CutChoice],
                     studies: str = "abcde") -> list[sweep.Task]:
    """The recoveries of 08's ``studies`` at the chosen ``cuts`` (each study's builder)."""
    builders = {"a": raw_tasks, "b": lambda s, cuts: init_tasks(s, cuts)[0],
                "c": lambda s, cuts: restart_tasks(s, cuts)[0], "d": inverse_tasks,
                "e": fair_tasks}
    return [t for letter in studies for t in builders[letter](s, cuts)]


def raw_tasks(s: SupplementSettings, cuts: dict[str, sweep.CutChoice]) -> list[sweep.Task]:
    """(a): the identity operator at cut 0 and the chosen cut, every family and set, at
    the raw reconstruction's own learning rate and steps."""
    cfg = s.cfg
    return [dataclasses.replace(t, lr=s.noop_lr, steps=s.noop_steps)
            for family in s.families for image_set in (cfg.in_dist, cfg.ood)
            for t in sweep.cs_grid(cfg, families=[family], image_set=image_set,
                                   operator="identity", methods=("surgery",),
                                   cuts=(0, cuts[family].cut))]


def _raw(source: Source, s: SupplementSettings, out: Drawn, out_dir, formats) -> None:
    cuts = out.cuts
    raw = _by_model(plotting.label_series(source.fetch(raw_tasks(s, cuts))))
    fig, summary = plotting.box_by(
        raw, x="model", hue="series", col="image_set",
        title=f"Raw reconstruction (identity operator, {images_note(raw)} per set)",
        note=budget_note(raw, paper_steps=PAPER_RAW_STEPS))
    summary["cut_provenance"] = summary.model.map({f.upper(): p
                                                   for f, p in provenance(cuts).items()})
    out.frames["08a_raw_reconstruction"] = raw
    out.save("08a_raw_reconstruction", fig, summary, out_dir, formats)


def start_label(init: str, limit: float) -> str:
    """``"CN(0,1)"``, ``"Zero"``, ``"N(0,5)"``: how the initialisation study names a start."""
    names = {"clamped_normal": "CN(0,{:g})", "zero": "Zero", "normal": "N(0,{:g})"}
    return names.get(init, init + " {:g}").format(limit)


def init_tasks(s: SupplementSettings, cuts: dict[str, sweep.CutChoice]
               ) -> tuple[list[sweep.Task], dict[str, str]]:
    """(b): the study family at its chosen cut from each of ``s.inits``, and Lasso-DCT, at
    the study ratio; with each task key's start label."""
    cfg, cut = s.cfg, cuts[s.study_family].cut
    lasso = sweep.series_label("lasso_dct")
    tasks, start = [], {}
    for image_set in (cfg.in_dist, cfg.ood):
        base_tasks = sweep.cs_grid(cfg, families=[s.study_family], image_set=image_set,
                                   ratios=[s.study_ratio], methods=("surgery",), cuts=(cut,))
        for init, limit in s.inits:
            extra = {} if limit == 1 else {"init_limit": limit}
            for t in base_tasks:
                t = dataclasses.replace(t, init=init, extra=extra)
                tasks.append(t)
                start[t.key] = start_label(init, limit)
        for t in sweep.cs_grid(cfg, families=[s.study_family], image_set=image_set,
                               ratios=[s.study_ratio], methods=("lasso_dct",)):
            tasks.append(t)
            start[t.key] = lasso
    return tasks, start


def _inits(source: Source, s: SupplementSettings, out: Drawn, out_dir, formats) -> None:
    cut = out.cuts[s.study_family].cut
    tasks, start = init_tasks(s, out.cuts)
    frame = source.fetch(tasks)
    frame["start"] = frame.key.map(start)
    fig, summary = plotting.box_by(
        frame, x="start", hue="image_set", rotation=30,
        title=f"Initialisation, {s.study_family.upper()} c={cut}, m/n={s.study_ratio:.3f} "
              f"({images_note(frame)} per set)", note=budget_note(frame))
    summary["cut_provenance"] = out.cuts[s.study_family].describe()
    out.frames["08b_initialisation"] = frame
    out.save("08b_initialisation", fig, summary, out_dir, formats)


def effort_label(series: str, restarts: int) -> str:
    """The hue value of a series run with ``restarts`` restarts, e.g. "No Surgery, 3
    restarts"."""
    return f"{sweep.series_label(series)}, {restarts} restart" + "s" * (restarts > 1)


def restart_tasks(s: SupplementSettings, cuts: dict[str, sweep.CutChoice]
                  ) -> tuple[list[sweep.Task], dict[str, str]]:
    """(c): no surgery with each of ``s.restart_counts`` restarts and surgery at the chosen
    cut with the profile's restarts, the study family on the in-distribution set at the study
    ratio; with each task key's effort label."""
    cfg, cut = s.cfg, cuts[s.study_family].cut
    tasks, effort = [], {}
    for r in s.restart_counts:
        for t in sweep.cs_grid(cfg, families=[s.study_family], ratios=[s.study_ratio],
                               methods=("surgery",), cuts=(0,)):
            t = dataclasses.replace(t, restarts=r)
            tasks.append(t)
            effort[t.key] = effort_label("no_surgery", r)
    for t in sweep.cs_grid(cfg, families=[s.study_family], ratios=[s.study_ratio],
                           methods=("surgery",), cuts=(cut,)):
        tasks.append(t)
        effort[t.key] = effort_label("surgery", cfg.restarts)
    return tasks, effort


def _restarts(source: Source, s: SupplementSettings, out: Drawn, out_dir, formats) -> None:
    cfg = s.cfg
    surgery_label = effort_label("surgery", cfg.restarts)
    tasks, effort = restart_tasks(s, out.cuts)
    frame = _by_model(source.fetch(tasks))
    frame["effort"] = frame.key.map(effort)
    # no surgery in greys from light (1 restart) to dark (most), surgery in its colour
    greys = plotting.plt.cm.Greys(np.linspace(0.35, 0.85, len(s.restart_counts)))
    palette = {effort_label("no_surgery", r): mcolors.to_hex(c)
               for r, c in zip(s.restart_counts, greys, strict=True)}
    palette[surgery_label] = sweep.series_color("surgery")
    fig, summary = plotting.box_by(
        frame, x="model", hue="effort", palette=palette,
        title=f"Restarts, {cfg.in_dist}, m/n={s.study_ratio:.3f} ({images_note(frame)})",
        note=budget_note(frame))
    summary["cut_provenance"] = out.cuts[s.study_family].describe()
    out.frames["08c_restarts"] = frame
    out.save("08c_restarts", fig, summary, out_dir, formats)


#: Study (d)'s inverse problems and their names in the figure.
INVERSE_PROBLEMS = {"inpainting": "Inpainting 10%", "sr": "SR x4"}


def inverse_tasks(s: SupplementSettings, cuts: dict[str, sweep.CutChoice]
                  ) -> list[sweep.Task]:
    """(d): inpainting and super-resolution at cut 0 and the study family's chosen cut."""
    cfg, cut = s.cfg, cuts[s.study_family].cut
    return [t for image_set in (cfg.in_dist, cfg.ood) for operator in INVERSE_PROBLEMS
            for t in sweep.cs_grid(cfg, families=[s.study_family], image_set=image_set,
                                   operator=operator, methods=("surgery",), cuts=(0, cut))]


def _inverse(source: Source, s: SupplementSettings, out: Drawn, out_dir, formats) -> None:
    frame = plotting.label_series(source.fetch(inverse_tasks(s, out.cuts)))
    frame["problem"] = frame.operator.map(INVERSE_PROBLEMS)
    frame["panel"] = frame.family.str.upper() + ", " + frame.image_set
    fig, summary = plotting.box_by(
        frame, x="problem", hue="series", col="panel",
        title=f"Inpainting and super-resolution ({images_note(frame)} per set)",
        note=budget_note(frame))
    summary["cut_provenance"] = out.cuts[s.study_family].describe()
    out.frames["08d_inverse_problems"] = frame
    out.save("08d_inverse_problems", fig, summary, out_dir, formats)


def fair_tasks(s: SupplementSettings, cuts: dict[str, sweep.CutChoice]) -> list[sweep.Task]:
    """(e): no surgery with L-BFGS and with Adam, and surgery, every family and set
    (:func:`gs.studies.best_optimiser_tasks`)."""
    from gs.studies import best_optimiser_tasks

    return [t for family in s.families for image_set in (s.cfg.in_dist, s.cfg.ood)
            for t in best_optimiser_tasks(s.cfg, family, image_set, cuts[family].cut,
                                          adam_lr=s.adam_lr)]


def _fair(source: Source, s: SupplementSettings, out: Drawn, out_dir, formats) -> None:
    from gs.studies import divergence_summary, fair_gap, optimizer_of

    fair = plotting.label_series(source.fetch(fair_tasks(s, out.cuts)))
    fair["optimizer"] = optimizer_of(fair)
    gaps = fair_gap(fair)
    long = gaps.melt(id_vars=["family", "image_set", "image", "m"],
                     value_vars=["no_surgery", "no_surgery_best_optimiser", "surgery"],
                     var_name="series", value_name="psnr")
    long = _by_model(long).replace(
        {"series": {"no_surgery_best_optimiser": "No Surgery, best optimiser"}})
    fig, summary = plotting.box_by(
        long, x="model", hue="series", col="image_set",
        palette={"No Surgery, best optimiser": "#7f8c8d"},
        title=f"No surgery with its best optimiser (L-BFGS or Adam); "
              f"{images_note(gaps)} per set x {gaps.m.nunique()} ratios",
        note=budget_note(fair))
    summary["cut_provenance"] = summary.model.map({f.upper(): p
                                                   for f, p in provenance(out.cuts).items()})
    out.frames["08e_fair_baseline"] = fair
    out.frames["08e_gaps"] = gaps
    out.frames["08e_divergence"] = divergence_summary(fair)
    out.save("08e_fair_baseline", fig, summary, out_dir, formats)


_STUDIES = {"a": _raw, "b": _inits, "c": _restarts, "d": _inverse, "e": _fair}
