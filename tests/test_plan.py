"""The plan of a profile's run (which notebook computes what) and its projection."""

from __future__ import annotations

import pytest

from gs.profiles import get_profile
from gs.sweep.plan import (
    ITERATIONS_PER_STEP,
    NOTEBOOKS,
    kept_image_keys,
    notebook_tasks,
    project,
)


@pytest.fixture(scope="module")
def smoke_plan():
    return notebook_tasks(get_profile("smoke"))


def test_every_task_is_planned_once_in_the_first_notebook_that_needs_it(smoke_plan):
    assert list(smoke_plan) == list(NOTEBOOKS)
    keys = [t.key for tasks in smoke_plan.values() for t in tasks]
    assert len(keys) == len(set(keys))
    # 05 shows runs of 03 (same grid at one ratio), and adds only the images it shows
    # beyond the profile's test images (smoke has 2, 05 shows 4)
    assert {t.image for t in smoke_plan["05_qualitative"]}.isdisjoint(
        {t.image for t in smoke_plan["03_compressed_sensing"]})
    assert notebook_tasks(get_profile("offline"))["05_qualitative"] == []
    # 04 reuses 03's surgery runs and adds only the baselines
    assert {t.method for t in smoke_plan["04_baselines"]} == {"iagan", "mgan", "deep_decoder"}
    assert {t.method for t in smoke_plan["06_reinit_ablation"]} == {"reinit"}


def test_the_cut_sweep_covers_every_family_and_sweep_cut(smoke_plan):
    p = get_profile("smoke")
    got = {(t.family, t.cut) for t in smoke_plan["02_cut_selection"]}
    assert got == {(f, c) for f, cuts in p.sweep_cuts.items() for c in cuts}


def test_the_paper_profile_plans_without_its_data():
    """CelebA and COCO are not here: the plan names placeholder images, 100 test and 20
    validation per set as the paper; 128-px models measure with the structured operator."""
    plan = notebook_tasks(get_profile("paper"))
    cs = plan["03_compressed_sensing"]
    assert len({t.image for t in cs if t.image_set == "celeba"}) == 100
    val = [t for t in plan["02_cut_selection"] if t.family == "dcgan"]
    assert {s: len({t.image for t in val if t.image_set == s}) for s in ("celeba", "coco")} \
        == {"celeba": 20, "coco": 20}
    assert {t.operator for t in cs if t.image_size == 128} == {"cs_fast"}
    assert max(t.m for t in cs if t.image_size == 128) == 24000


class ConstantCosts:
    """A calibration with known costs: 1 ms per problem-iteration at m = 100 plus
    1 us per measurement; 2 s per baseline batch; 0.5 s per Lasso image."""

    def iteration(self, task, m):
        return 1e-3 + 1e-6 * (m or 0)

    def baseline(self, task, m):
        return 2.0

    def convex(self, task, m):
        return 0.5


def test_projection_scales_the_calibration_by_iterations_restarts_and_m(smoke_plan):
    from collections import Counter

    from gs.sweep.runner import batch_key

    seconds = project(smoke_plan, ConstantCosts())
    groups = Counter(batch_key(t) for ts in smoke_plan.values() for t in ts)
    for stem, tasks in smoke_plan.items():
        expected = 0.0
        for t in tasks:
            if t.method in ("iagan", "mgan", "deep_decoder"):  # <= 10 images, padded batch
                g = groups[batch_key(t)]
                expected += 2.0 * -(-g // 10) / g
            elif t.method == "lasso_dct":
                expected += 0.5
            else:  # an Adam step (08's fair baseline) is one evaluation
                per_step = 1 if t.options.get("optimizer") == "adam" else ITERATIONS_PER_STEP
                expected += t.steps * per_step * t.restarts * (1e-3 + 1e-6 * (t.m or 0))
        assert seconds[stem] == pytest.approx(expected, rel=1e-9), stem


def test_calibration_times_real_work_of_each_kind(smoke_plan, monkeypatch):
    """One surgery, one baseline and one Lasso task of the smoke plan, calibrated on
    the CPU: positive, finite seconds, and a baseline costs more at a larger budget;
    mGANprior's and Deep Decoder's batches are timed on the 10 images the sweep batches."""
    import dataclasses
    import math

    from gs.sweep import methods
    from gs.sweep.plan import Calibration, batch_images, task_seconds

    seen = {}
    for name in ("mgan", "deep_decoder"):
        spec = methods.METHODS[name]

        def counting(*args, _fn=spec.fn, _name=name, **kw):
            seen.setdefault(_name, set()).add(len(args[5]))  # the batch's image names
            return _fn(*args, **kw)

        monkeypatch.setitem(methods.METHODS, name, dataclasses.replace(spec, fn=counting))
    assert (batch_images("mgan"), batch_images("deep_decoder")) == (10, 10)

    cal = Calibration("cpu", batch=2)
    tasks = [t for ts in smoke_plan.values() for t in ts]
    surgery = next(t for t in tasks if t.method == "surgery")
    lasso = next(t for t in tasks if t.method == "lasso_dct")
    dd = next(t for t in tasks if t.method == "deep_decoder")
    mgan = next(t for t in tasks if t.method == "mgan")  # timed on 10 images at once
    for t in (surgery, lasso, dd, mgan):
        s = task_seconds(t, cal, {})
        assert math.isfinite(s) and s > 0, t.method
    bigger = dataclasses.replace(dd, extra={**dd.options, "budget": 0.5})
    assert task_seconds(bigger, cal, {}) > task_seconds(dd, cal, {})
    assert seen == {"mgan": {10}, "deep_decoder": {10}}
    not_invariant = dataclasses.replace(methods.METHODS["mgan"], batch_invariant=False)
    monkeypatch.setitem(methods.METHODS, "mgan", not_invariant)
    assert batch_images("mgan") == 1  # runs one image per batch, so it is timed on one


def test_the_plan_is_exactly_what_the_figures_of_02_to_08_fetch(tmp_path):
    """Every figure, one family and image set at a time (each such call fetches once),
    recorded on an empty store: the union of their fetches is the plan, no task missing
    (02's sweep of the out-of-distribution validation images once was) and none extra
    (06 once planned the out-of-distribution set its notebook does not run)."""
    from gs import sweep
    from gs.figures import cli
    from gs.figures.common import Source, load_truth

    class Fetched(Exception):
        pass

    p = get_profile("smoke")
    planned = {t.key for tasks in notebook_tasks(p).values() for t in tasks}
    store = sweep.ResultsStore(tmp_path / "empty.sqlite")
    fetched: set[str] = set()

    with_images: set[str] = set()

    def fetch(tasks, keep_images=False):
        assert tasks
        fetched.update(t.key for t in tasks)
        with_images.update(sweep.kept_images(tasks, keep_images))
        raise Fetched

    source = Source(store, fetch, load_truth)
    for group in ("02", "03", "04", "05", "06", "07"):
        options = cli.SELECTABLE[group]
        for family in p.models:
            for image_set in cli.own_sets(group, p) if "image_sets" in options else [None]:
                kw = {"image_sets": [image_set]} if image_set else {}
                with pytest.raises(Fetched):
                    cli.FIGURES[group](source, p, families=[family], out_dir=None, **kw)
    for study in "abcde":  # 08 with every family (its study family depends on them)
        with pytest.raises(Fetched):
            cli.FIGURES["08"](source, p, out_dir=None, studies=study)
    assert fetched - planned == set()
    assert planned - fetched == set()
    # python -m gs.sweep run keeps the images the figures keep: 05's, at the shown ratio
    kept = kept_image_keys(p)
    assert with_images == kept
    cs = notebook_tasks(p)["03_compressed_sensing"]
    ratios = {round(t.m / (3 * t.image_size**2), 3) for t in cs if t.key in kept}
    assert ratios == {round(p.show_ratio, 3)} and 0 < len(kept & {t.key for t in cs}) < len(cs)


def test_notebook_07_recovers_the_profiles_number_of_samples():
    """3 samples per model show the effect; offline-full recovers 10, enough for an
    interval over samples to decide the claim."""
    for name, n in (("offline", 3), ("offline-full", 10)):
        tasks = notebook_tasks(get_profile(name))["07_zero_representation_error"]
        per_family = {f: len({t.image for t in tasks if t.family == f})
                      for f in get_profile(name).models}
        assert set(per_family.values()) == {n}, (name, per_family)


def test_notebook_08_studies_the_profiles_number_of_images():
    """3 test images per set keep the quick run's supplement cheap; offline-full studies
    10 (enough for an interval over images to decide claim 7), the paper profile 20 (the
    paper's inpainting and super-resolution figure)."""
    from gs.figures.studies import supplement_settings

    for name, n in (("smoke", None), ("offline", 3), ("offline-full", 10), ("paper", 20)):
        p = get_profile(name)
        s = supplement_settings(p)
        assert s.cfg.n_test == (n or min(p.n_test, 3)), (name, s.cfg.n_test)
        assert supplement_settings(p, n_images=2).cfg.n_test == 2
