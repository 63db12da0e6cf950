"""Beyond the paper's figures: the cut chosen from the measurements (09) and the paper's
claims checked by the numbers (10)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from gs import plotting, sweep
from gs.figures.common import Drawn, MissingResults, NotRun, Source, budget_note, provenance
from gs.figures.curves import PAPER_FORMATS
from gs.profiles import Profile, get_profile


def auto_cut_candidates(cfg: Profile, families: Sequence[str],
                        cuts: Sequence[int] | None = None) -> dict[str, list[int]]:
    """09's candidate cuts per family: ``cuts``, or the profile's sweep cuts that are in
    :data:`gs.autocut.CANDIDATE_CUTS`."""
    from gs import autocut

    return {f: list(cuts or [c for c in sweep.sweep_cuts(cfg, f) if c in autocut.CANDIDATE_CUTS])
            for f in families}


def auto_cut_tasks(cfg: Profile, families: Sequence[str], ratios: Sequence[float],
                   validation: dict[str, int], candidates: dict[str, list[int]],
                   holdout: float) -> list[sweep.Task]:
    """09's recoveries: surgery at cut 0, the validation cut and every candidate, and
    ``surgery_auto`` over the candidates, per family and image set (test split)."""
    tasks = []
    for family in families:
        for image_set in (cfg.in_dist, cfg.ood):
            grid = dict(families=[family], image_set=image_set, ratios=list(ratios))
            tasks += sweep.cs_grid(cfg, methods=("surgery",),
                                   cuts=sorted({0, validation[family], *candidates[family]}),
                                   **grid)
            tasks += sweep.cs_grid(cfg, methods=("surgery_auto",), **grid,
                                   extra={"cuts": candidates[family], "holdout": holdout})
    return tasks


def auto_cut(source: Source, cfg: Profile, families: Sequence[str] | None = None,
             ratios: Sequence[float] | None = None, cuts: Sequence[int] | None = None,
             holdout: float | None = None, *, out_dir: Path | None = None,
             formats: Sequence[str] = PAPER_FORMATS) -> Drawn:
    """``09_auto_cut_<set>``: PSNR against m/n of no surgery, surgery at the validation
    cut, at the cut chosen from the measurements (``surgery_auto``) and at the oracle cut,
    per family (:func:`gs.autocut.cut_comparison`). ``frames["09_comparison"]`` holds the
    compared records; ``cuts`` of the result, the validation cuts. A table without any
    ``surgery_auto`` record raises :class:`NotRun` (notebook 09 has not run)."""
    from gs import autocut

    families = list(families or cfg.models)
    ratios = list(ratios or cfg.sweep_ratios or cfg.ratios)
    holdout = holdout or autocut.HOLDOUT
    validation = sweep.chosen_cuts(cfg, source.store, families)
    candidates = auto_cut_candidates(cfg, families, cuts)
    tasks = auto_cut_tasks(cfg, families, ratios, {f: c.cut for f, c in validation.items()},
                           candidates, holdout)
    try:
        frame = source.fetch(tasks)
    except MissingResults as exc:
        if source.store.query(method="surgery_auto").empty:
            raise NotRun(f"notebook 09 has not run in the {cfg.name} profile: its results "
                         "table has no surgery_auto record (python -m gs.notebooks --profile "
                         f"{cfg.name} --only 09, then python -m gs.results export)") from exc
        raise
    compared = autocut.cut_comparison(frame, {f: c.cut for f, c in validation.items()})
    out = Drawn(cuts=validation)
    out.frames["09_comparison"] = compared
    where = provenance(validation)
    note = budget_note(frame)
    for image_set in (cfg.in_dist, cfg.ood):
        part = compared[compared.image_set == image_set]
        fig, summary = plotting.psnr_vs_ratio(
            part, title=f"Choosing the cut, {image_set}: n = {part.image.nunique()} test "
                        f"images, {holdout:.0%} of the measurements held out",
            note=note or f"{cfg.steps} L-BFGS steps x {cfg.restarts} restarts")
        summary = summary.assign(cut_provenance=summary.family.map(where),
                                 candidates=summary.family.map(lambda f: str(candidates[f])))
        out.save(f"09_auto_cut_{image_set}", fig, summary, out_dir, formats)
    return out


def paper_claims(source: Source, cfg: Profile, *, out_dir: Path | None = None,
                 formats: Sequence[str] = PAPER_FORMATS) -> Drawn:
    """``10_paper_claims``: every claim of the paper judged from all the records of the
    source's store (:mod:`gs.claims`), as a forest plot of the paired differences; the
    CSV holds every verdict with its likely reason. ``frames["10_paper_claims"]`` is that
    table and ``extra["verdicts"]`` the :class:`gs.claims.Verdict` list."""
    from gs import claims

    verdicts, choices = claims.judge(source.store, cfg)
    table = claims.table(verdicts).assign(
        likely_reason=[claims.likely_reason(v, cfg) if v.verdict != claims.HOLDS else ""
                       for v in verdicts],
        cut_provenance=[choices[v.scope.split(",")[0]].describe()
                        if v.scope.split(",")[0] in choices else "" for v in verdicts])
    n_images = int(table.n.max()) if len(table) else 0
    paper = get_profile("paper")
    budget = f"L-BFGS {cfg.steps} steps x {cfg.restarts} restarts (paper {paper.steps} x " \
             f"{paper.restarts})"
    if cfg.baseline_budget < 1:
        budget += f"; baselines at {cfg.baseline_budget:.0%} of the paper's steps"
    fig = claims.figure(verdicts, title=f"The paper's claims, {cfg.name} profile (n <= "
                        f"{n_images} images per check)\n{budget}")
    out = Drawn(cuts=choices)
    out.frames["10_paper_claims"] = table
    out.extra["verdicts"] = verdicts
    out.save("10_paper_claims", fig, table, out_dir, formats)
    return out
