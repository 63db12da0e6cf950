"""PSNR curves: cut selection (02), compressed sensing (03), baselines (04), re-initialised
kept blocks (06); and the table of numbers each method optimises (04)."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence
from pathlib import Path

import pandas as pd

from gs import plotting, sweep
from gs.figures.common import Drawn, Source, budget_note, cuts_of, images_note, provenance, sets_of
from gs.profiles import Profile

PAPER_FORMATS = ("pdf", "png")


def cut_selection(source: Source, cfg: Profile, families: Sequence[str] | None = None,
                  image_sets: Sequence[str] | None = None, *, out_dir: Path | None = None,
                  formats: Sequence[str] = PAPER_FORMATS) -> Drawn:
    """``02_cut_selection``: PSNR against the cut on the validation images (the sweep
    :func:`gs.sweep.chosen_cuts` reads back), in and out of distribution (or
    ``image_sets``), pooled over m."""
    families = list(families or cfg.models)
    frame = source.fetch(cut_sweep_tasks(cfg, families, image_sets))
    out = Drawn(cuts=cuts_of(source, cfg, families))
    ratios = ", ".join(f"{r:.3g}" for r in sorted(frame.ratio.unique()))
    fig, summary = plotting.psnr_vs_ratio(
        frame, x="cut", series="image_set", points=False,
        title=f"PSNR vs cut index (validation, {images_note(frame)} per set, m/n = {ratios} "
              "pooled)", note=budget_note(frame))
    summary["cut_provenance"] = summary.family.map(provenance(out.cuts))
    out.frames["02_cut_selection"] = frame
    out.save("02_cut_selection", fig, summary, out_dir, formats)
    return out


def cut_sweep_tasks(cfg: Profile, families: Sequence[str],
                    image_sets: Sequence[str] | None = None) -> list[sweep.Task]:
    """02's grid: every cut on the validation images of each family and set (default both
    sets: the figure shows both; the in-distribution sweep alone chooses the cut)."""
    return [t for family in families for image_set in sets_of(cfg, image_sets)
            for t in sweep.cut_sweep_grid(cfg, family, image_set)]


def cs_tasks(cfg: Profile, cuts: dict[str, sweep.CutChoice], families: Sequence[str],
             image_sets: Sequence[str], ratios=None, methods=("surgery", "lasso_dct"),
             n_images: int | None = None) -> list[sweep.Task]:
    """Surgery at cut 0 and the chosen cut, and ``methods``' other entries at their own
    cuts, for each family and image set (the grid of 03; 05 shows part of it)."""
    return [t for family in families for image_set in image_sets
            for t in sweep.cs_grid(cfg, families=[family], image_set=image_set, ratios=ratios,
                                   methods=methods, cuts=(0, cuts[family].cut),
                                   n_images=n_images)]


def _curves(source: Source, cfg: Profile, tasks, cuts, stem: str, title: str,
            image_sets: Sequence[str], out: Drawn, out_dir, formats,
            keep_images: bool | Collection[str] = False) -> Drawn:
    families = sorted({t.family for t in tasks if t.family}, key=list(cfg.models).index)
    sizes = {f: sweep.model_info(cfg.models[f])[0] for f in families}
    frame = plotting.label_series(sweep.per_family(source.fetch(tasks, keep_images), sizes))
    for image_set in image_sets:
        part = frame[frame.image_set == image_set]
        name = f"{stem}_{image_set}"
        fig, summary = plotting.psnr_vs_ratio(
            part, title=f"{title}, {image_set} (test, {images_note(part)})",
            note=budget_note(part))
        summary = summary.assign(cut_provenance=summary.family.map(provenance(cuts)))
        out.frames[name] = part
        out.save(name, fig, summary, out_dir, formats)
    return out


def compressed_sensing(source: Source, cfg: Profile, families: Sequence[str] | None = None,
                       ratios=None, image_sets: Sequence[str] | None = None, *,
                       out_dir: Path | None = None,
                       formats: Sequence[str] = PAPER_FORMATS) -> Drawn:
    """``03_cs_<set>``: PSNR against m/n with surgery, without and Lasso-DCT, per family,
    in and out of distribution (or ``image_sets``). Keeps the recovered images 05 shows
    (:func:`gs.figures.images.qualitative_tasks`), only those."""
    from gs.figures.images import qualitative_tasks

    families = list(families or cfg.models)
    cuts = cuts_of(source, cfg, families)
    image_sets = sets_of(cfg, image_sets)
    tasks = cs_tasks(cfg, cuts, families, image_sets, ratios)
    shown = {t.key for t in qualitative_tasks(cfg, cuts, families, image_sets)}
    return _curves(source, cfg, tasks, cuts, "03_cs", "Compressed sensing", image_sets,
                   Drawn(cuts=cuts), out_dir, formats, keep_images=shown)


def baseline_config(base: Profile, n_images: int | None = None, ratios=None,
                    image_sets: Sequence[str] | None = None) -> tuple[Profile, list[str]]:
    """04's profile and image sets: at a reduced baseline budget (smoke, offline) at most 3
    test images, every other ratio and the in-distribution set only (one baseline batch
    costs minutes on a CPU); at full budget both sets, every ratio and at most the
    profile's ``baseline_images`` test images; the arguments override this."""
    reduced = base.baseline_budget < 1
    default_n = min(base.n_test, 3 if reduced else base.baseline_images or base.n_test)
    cfg = dataclasses.replace(
        base, n_test=n_images or default_n,
        ratios=tuple(ratios or (base.ratios[1::2] if reduced else base.ratios)))
    sets = sets_of(cfg, image_sets or ([cfg.in_dist] if reduced else None))
    return cfg, sets


def baseline_tasks(cfg: Profile, cuts: dict[str, sweep.CutChoice], families: Sequence[str],
                   image_sets: Sequence[str]) -> list[sweep.Task]:
    """04's grid on ``cfg`` and ``image_sets`` as :func:`baseline_config` sizes them:
    surgery at cut 0 and the chosen cut, IAGAN, mGANprior and Deep Decoder."""
    return [t for family in families for image_set in image_sets
            for t in (cs_tasks(cfg, cuts, [family], [image_set], methods=("surgery",))
                      + sweep.cs_grid(cfg, families=[family], image_set=image_set,
                                      methods=("iagan", "mgan", "deep_decoder")))]


def baselines(source: Source, base: Profile, families: Sequence[str] | None = None,
              n_images: int | None = None, ratios=None,
              image_sets: Sequence[str] | None = None, *, out_dir: Path | None = None,
              formats: Sequence[str] = PAPER_FORMATS, parameters: bool = True) -> Drawn:
    """``04_baselines_<set>``: surgery against IAGAN, mGANprior and Deep Decoder (and no
    surgery); with ``parameters``, also ``04_optimised_parameters``. ``base`` is the
    profile whose validation sweep chose the cuts (:func:`baseline_config` reduces it)."""
    families = list(families or base.models)
    cfg, image_sets = baseline_config(base, n_images, ratios, image_sets)
    cuts = cuts_of(source, base, families)
    tasks = baseline_tasks(cfg, cuts, families, image_sets)
    out = _curves(source, cfg, tasks, cuts, "04_baselines", "Baselines", image_sets,
                  Drawn(cuts=cuts), out_dir, formats)
    if parameters:
        optimised_parameters(cfg, cuts, families, out, out_dir=out_dir, formats=formats)
    return out


#: Rows of :func:`gs.baselines.optimised_parameters_table` -> series names.
_PARAMETER_SERIES = {"Surgery": "surgery", "No surgery": "no_surgery", "mGAN": "mgan",
                     "IAGAN": "iagan", "DD": "deep_decoder"}


def optimised_parameters(cfg: Profile, cuts: dict[str, sweep.CutChoice],
                         families: Sequence[str], out: Drawn | None = None, *,
                         out_dir: Path | None = None,
                         formats: Sequence[str] = PAPER_FORMATS) -> Drawn:
    """``04_optimised_parameters``: numbers optimised per image by each method, for the
    paper's architectures (the counts the paper reports) and this profile's models at
    their chosen cuts (counted from the architectures; no weights are loaded)."""
    from gs.baselines import optimised_parameters_table

    out = out or Drawn(cuts=dict(cuts))
    paper = optimised_parameters_table()
    models = {f: sweep.grids._meta_model(cfg.models[f]) for f in families}
    columns = {f: f"{f.upper()} ours (c={cuts[f].cut})" for f in families}
    ours = optimised_parameters_table({columns[f]: g for f, g in models.items()})
    for f, g in models.items():
        ours.loc["Surgery", columns[f]] = g.latent_dim(cuts[f].cut)
    table = pd.concat([paper.rename(columns=lambda c: f"{c} paper"), ours], axis=1)
    table = table.rename(index=_PARAMETER_SERIES)  # rows by series name
    long = (table.reset_index()
            .melt(id_vars="method", var_name="model", value_name="parameters").dropna())
    long["cut_provenance"] = long.model.map(
        {columns[f]: cuts[f].describe() for f in families}).fillna("the paper's cut")
    fig, _ = plotting.bar_by(long, x="model", hue="method", y="parameters", log=True,
                             ylabel="numbers optimised per image",
                             title="Numbers each method optimises per image",
                             note="paper: the paper's architectures (128 px BEGAN, VAE); "
                                  "ours: this profile's models")
    out.frames["04_optimised_parameters"] = table
    out.save("04_optimised_parameters", fig, long, out_dir, formats)
    return out


def reinit_tasks(cfg: Profile, cuts: dict[str, sweep.CutChoice], families: Sequence[str],
                 image_sets: Sequence[str] | None = None, ratios=None) -> list[sweep.Task]:
    """06's grid: surgery at cut 0 and the chosen cut, and the chosen cut with its kept
    blocks re-initialised (default: the in-distribution set)."""
    return [t for family in families for image_set in sets_of(cfg, image_sets or [cfg.in_dist])
            for t in (cs_tasks(cfg, cuts, [family], [image_set], ratios, methods=("surgery",))
                      + sweep.cs_grid(cfg, families=[family], image_set=image_set,
                                      ratios=ratios, methods=("reinit",),
                                      cuts=(cuts[family].cut,)))]


def reinit(source: Source, cfg: Profile, families: Sequence[str] | None = None, ratios=None,
           image_sets: Sequence[str] | None = None, *, out_dir: Path | None = None,
           formats: Sequence[str] = PAPER_FORMATS) -> Drawn:
    """``06_reinit_<set>``: surgery with the trained kept blocks against the same blocks
    re-initialised, and no surgery, per family (default: the in-distribution set)."""
    families = list(families or cfg.models)
    image_sets = sets_of(cfg, image_sets or [cfg.in_dist])
    cuts = cuts_of(source, cfg, families)
    tasks = reinit_tasks(cfg, cuts, families, image_sets, ratios)
    return _curves(source, cfg, tasks, cuts, "06_reinit", "Trained vs re-initialised kept "
                   "blocks", image_sets, Drawn(cuts=cuts), out_dir, formats)
