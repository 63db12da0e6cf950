"""Figures as functions of the per-task table: export and reload, lookups that never
recompute, styles, notes, and the shipped offline figures redrawn from the shipped table."""

import gzip
import math
import shutil

import numpy as np
import pandas as pd
import pytest
import torch

from gs import plotting, results, sweep
from gs.figures import budget_note, cli, lookup, percent, table_source
from gs.figures.common import MissingResults
from gs.notebooks import notebook_parameters, notebook_paths
from gs.paths import FIGURES_DIR, REPO_ROOT
from gs.profiles import get_profile
from gs.sweep import COLUMNS

SHIPPED = FIGURES_DIR / "offline" / results.TABLE_NAME


def _records(tasks, psnr):
    """Store records of ``tasks`` with made-up metrics (``psnr[i]``)."""
    out = []
    for t, p in zip(tasks, psnr, strict=True):
        r = {c: None for c in COLUMNS}
        r.update(t.config(), key=t.key, psnr=p, ssim=min(1.0, 0.5 + p / 100), loss=1e-3,
                 seconds=1.5, n=3 * t.image_size**2, ratio=t.m / (3 * t.image_size**2),
                 device="cpu", gs_version="0", torch_version="x", diverged=0,
                 engine=sweep.get_method(t.method).engine_version)
        out.append(r)
    return out


@pytest.fixture
def tasks():
    return sweep.grid(model="", family="", image_set="synthetic", split="test",
                      image=["synthetic-000", "synthetic-001"], image_size=8, operator="cs",
                      m=[20, 40], method="lasso_dct", cut=0, steps=None, restarts=1, lr=None,
                      extra={"tol": 1e-5})


@pytest.fixture
def store(tasks):
    s = sweep.ResultsStore(":memory:")
    s.add(_records(tasks, [10.0, 11.25, 12.5, math.inf]))
    return s


def test_table_round_trip_keeps_values_types_and_bytes(store, tmp_path):
    frame = store.to_frame()
    a = results.write_table(frame, tmp_path / "a.csv.gz")
    back = results.read_table(a)
    assert list(back.columns) == list(COLUMNS)
    back = back.set_index("key").loc[frame.key].reset_index()
    assert back["psnr"].tolist() == frame["psnr"].tolist()  # inf and every digit
    assert back["ssim"].tolist() == frame["ssim"].tolist()
    assert back["model"].tolist() == ["", "", "", ""]  # empty text is not NaN
    assert back["steps"].isna().all() and str(back["steps"].dtype) == "Int64"
    # the same records in another order give the same bytes (sorted, no gzip time stamp)
    b = results.write_table(frame.iloc[::-1], tmp_path / "b.csv.gz")
    assert a.read_bytes() == b.read_bytes()
    assert gzip.decompress(a.read_bytes()).startswith(b"key,model,")


def test_table_store_answers_lookups_and_never_recomputes(store, tasks):
    reloaded = results.table_store(store.to_frame())
    got = lookup(reloaded, tasks[::-1])
    assert got["key"].tolist() == [t.key for t in tasks[::-1]]
    extra = sweep.grid(model="", family="", image_set="synthetic", split="test",
                       image="synthetic-002", image_size=8, operator="cs", m=20,
                       method="lasso_dct", cut=0, steps=None, restarts=1, lr=None,
                       extra={"tol": 1e-5})
    with pytest.raises(MissingResults, match=r"1 of 5 records .* lasso_dct - cut 0 on "
                                             r"synthetic/synthetic-002"):
        lookup(reloaded, tasks + extra)
    with pytest.raises(MissingResults, match="with their images"):
        lookup(reloaded, tasks, keep_images=True)
    with pytest.raises(ValueError, match="lacks the columns"):
        results.table_store(store.to_frame().drop(columns=["psnr"]))
    # a record of another engine than its method's (a sweep would recompute it) is refused
    old = store.to_frame()
    old.loc[old.key == tasks[1].key, "engine"] = 1
    with pytest.raises(MissingResults, match=r"1 of 4 records are of another engine version "
                                             r"than their method's .* engine 1, now 2"):
        lookup(results.table_store(old), tasks)


def test_images_archive_round_trip(store, tasks, tmp_path):
    image = torch.rand(3, 8, 8, generator=torch.Generator().manual_seed(0))
    rec = _records(tasks[:1], [20.0])[0]
    rec["key"] = "k" * 40
    rec["image_png"] = sweep.encode_png(image)
    store.add([rec])
    path = results.write_images(store, [rec["key"]], tmp_path / "images.npz")
    pngs, truth = results.read_images(path)
    assert list(pngs) == [rec["key"]]
    assert torch.equal(sweep.decode_png(pngs[rec["key"]]), sweep.decode_png(rec["image_png"]))
    # the original comes along, as the data set has it (8-bit)
    (where, original), = truth.items()
    assert where == ("synthetic", "test", 8, "synthetic-000")
    expected = sweep.load_images("synthetic", "test", 8, ["synthetic-000"]).images[0]
    assert (original - expected).abs().max() <= 0.5 / 255 + 1e-6
    source = table_source(results.table_store(store.to_frame(), pngs), truth)
    assert torch.equal(source.truth("synthetic", "test", 8, ["synthetic-000"])[0], original)


def test_budget_note_states_what_ran_below_the_papers_budget():
    rows = pd.DataFrame({
        "method": ["surgery", "surgery", "iagan", "mgan", "lasso_dct"],
        "steps": [5, 5, None, None, None], "restarts": [2, 2, 3, 3, 1],
        "extra": ["{}", '{"optimizer":"lbfgs"}', '{"budget":0.03}', '{"budget":0.03}',
                  '{"tol":1e-05}']})
    note = budget_note(rows)
    assert "surgery: 5 L-BFGS steps x 2 restarts (paper 25 x 3)" in note
    assert "IAGAN, mGANprior at 3% of the paper's steps" in note
    paper = rows.assign(steps=[25, 25, None, None, None], restarts=3,
                        extra=["{}", "{}", '{"budget":1.0}', '{"budget":1.0}', "{}"])
    assert budget_note(paper) == ""
    assert budget_note(rows.iloc[:1], paper_steps=100).endswith("(paper 100 x 3)")


def test_percent_never_prints_minus_zero():
    assert percent(-0.001) == "0%"
    assert percent(0.126) == "13%"
    assert percent(-0.5) == "-50%"


def test_line_figure_log_ratio_axis_points_and_summary():
    plotting.set_style("paper")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"family": "dcgan", "series": np.repeat(["surgery", "lasso_dct"], 8),
                          "ratio": np.tile(np.repeat([0.033, 0.049], 4), 2),
                          "psnr": rng.normal(20, 2, 16)})
    fig, summary = plotting.psnr_vs_ratio(frame, title="t", note="n")
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.033", "0.049"]
    assert len(ax.collections) >= 2 + 2  # two bands, and the points of both series
    points = sum(len(c.get_offsets()) for c in ax.collections
                 if c.get_offsets().shape[0] in (8,))
    assert points == 16
    expect = frame.groupby(["series", "ratio"]).psnr.mean()
    got = summary.set_index(["series", "ratio"])["mean"]
    assert np.allclose(got.loc[expect.index], expect)
    assert fig._suptitle.get_text() == "t\nn"
    plotting.plt.close(fig)


def test_talk_style_is_16_by_9_and_paper_style_column_wide():
    try:
        plotting.set_style("talk")
        fig, _ = plotting.subplots(1, 3)
        w, h = fig.get_size_inches()
        assert abs(w / h - 16 / 9) < 0.01
        plotting.plt.close(fig)
        plotting.set_style("paper")
        for ncols, width in ((1, 3.4), (3, 7.0)):
            fig, _ = plotting.subplots(1, ncols)
            assert fig.get_size_inches()[0] == pytest.approx(width)
            plotting.plt.close(fig)
        with pytest.raises(ValueError, match="unknown style 'poster'"):
            plotting.set_style("poster")
    finally:
        plotting.set_style("paper")


def test_points_on_a_dark_box_are_lighter_and_on_a_light_box_darker():
    def lum(rgb):
        return 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]

    for color in ("#111111", "#2c3e50"):
        assert lum(plotting._point_color(color)) > lum(plotting.matplotlib.colors.to_rgb(color))
    assert lum(plotting._point_color("#c0392b")) < lum((0.753, 0.224, 0.169))


def test_save_figure_formats(tmp_path):
    fig, _ = plotting.subplots()
    paths = plotting.save_figure(fig, "x", tmp_path, pd.DataFrame({"a": [1]}), ("svg",))
    assert sorted(p.suffix for p in paths) == [".csv", ".svg"]
    with pytest.raises(ValueError, match=r"unknown format\(s\) \['gif'\]"):
        plotting.save_figure(fig, "x", tmp_path, pd.DataFrame({"a": [1]}), ("gif",))
    plotting.plt.close(fig)


def test_cli_rejects_unknown_figures_and_formats(capsys):
    with pytest.raises(SystemExit):
        cli.main(["09x"])
    assert "unknown figure(s) ['09x']" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["03", "--format", "png,gif"])
    assert "unknown format(s) ['gif']" in capsys.readouterr().err


@pytest.mark.skipif(not SHIPPED.is_file(), reason="no shipped offline results table")
@pytest.mark.parametrize("group,stems", [("03", ["03_cs_faces", "03_cs_scenes"]),
                                         ("08", ["08a_raw_reconstruction", "08c_restarts"])])
def test_shipped_figures_are_what_the_shipped_table_gives(group, stems, tmp_path):
    """Redrawn from results.csv.gz alone, each figure's numbers equal the shipped CSV's."""
    assert cli.main([group, "--out", str(tmp_path), "--format", "png"]) == 0
    for stem in stems:
        assert (tmp_path / f"{stem}.png").stat().st_size > 10_000
        new = pd.read_csv(tmp_path / f"{stem}.csv")
        old = pd.read_csv(FIGURES_DIR / "offline" / f"{stem}.csv")
        assert len(new) == len(old)
        pd.testing.assert_frame_equal(new, old)


@pytest.mark.skipif(not SHIPPED.is_file(), reason="no shipped offline results table")
def test_a_table_missing_a_record_fails_instead_of_recomputing(tmp_path, capsys):
    table = results.read_table(SHIPPED)
    drop = table[(table.method == "lasso_dct") & (table.image_set == "scenes")].key.iloc[0]
    results.write_table(table[table.key != drop], tmp_path / results.TABLE_NAME)
    assert cli.main(["03", "--results", str(tmp_path), "--out", str(tmp_path / "f")]) == 1
    captured = capsys.readouterr()
    assert "figure 03: 1 of" in captured.err and "lasso_dct" in captured.err
    # all of a group or nothing: not even its faces figure, which had every record
    assert list((tmp_path / "f").iterdir()) == []
    assert "not drawn (nothing written for them): 03" in captured.out


@pytest.mark.skipif(not SHIPPED.is_file(), reason="no shipped offline results table")
def test_a_bad_out_folder_or_results_file_is_a_one_line_error(tmp_path, capsys):
    """--out empty or a file, a results table or image archive that is not what export
    writes: one line naming the problem, exit 2, no traceback."""
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    for out, message in (("", "--out: an empty path"),
                         (str(a_file), f"--out: {a_file} is a file, not a folder")):
        with pytest.raises(SystemExit) as exit_:
            cli.main(["03", "--out", out])
        assert exit_.value.code == 2 and message in capsys.readouterr().err
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / results.TABLE_NAME).write_text("plain text, not gzip")
    for junk, what in ((None, results.TABLE_NAME), (b"junk", results.IMAGES_NAME)):
        if junk is not None:
            shutil.copy(SHIPPED, bad / results.TABLE_NAME)
            (bad / results.IMAGES_NAME).write_bytes(junk)
        assert cli.main(["03", "--results", str(bad), "--out", str(tmp_path / "f")]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: {bad / what} is not readable as what python -m "
                              "gs.results export writes") and len(err.splitlines()) == 1
        assert results.main(["summary", "--dir", str(bad)]) == 2
        assert f"{bad / what} is not readable" in capsys.readouterr().err


@pytest.mark.skipif(not SHIPPED.is_file(), reason="no shipped offline results table")
def test_export_writes_all_its_files_or_none(tmp_path, capsys, monkeypatch):
    """An empty store, one of another profile's models, a file that is no store, or a
    failure while drawing the samples: an error and nothing written (never the default
    store exported in the named one's place, never a table without its samples)."""
    out = tmp_path / "out"
    empty = tmp_path / "empty.sqlite"
    empty.write_bytes(b"")
    junk = tmp_path / "junk.sqlite"
    junk.write_text("not sqlite")
    store_path = tmp_path / "offline.sqlite"
    table = results.read_table(SHIPPED)
    sweep.ResultsStore(store_path).add(results._records(table[table.family == "dcgan"]))
    for argv, message in (
            (["--store", str(empty)], f"the results store {empty} is an empty file"),
            (["--store", str(junk)], f"{junk} is not a results store"),
            (["--store", str(store_path), "--profile", "paper"],
             "holds records of ['dcgan64-digiface'], models profile 'paper' does not use")):
        assert results.main(["export", "--out", str(out), "--no-samples"] + argv) == 2
        assert message in capsys.readouterr().err
        assert not out.exists() or list(out.iterdir()) == []

    def failing_sheets(cfg):
        raise ValueError("unknown zoo entry 'x'")

    monkeypatch.setattr("gs.figures.images.shipped_sheets", failing_sheets)
    assert results.main(["export", "--store", str(store_path), "--out", str(out)]) == 2
    assert "unknown zoo entry 'x'" in capsys.readouterr().err
    assert list(out.iterdir()) == []
    assert results.main(["export", "--store", str(store_path), "--out", str(out),
                         "--no-samples"]) == 0
    assert [p.name for p in out.iterdir()] == [results.TABLE_NAME]  # no images stored
    assert len(results.read_table(out / results.TABLE_NAME)) == (table.family == "dcgan").sum()


@pytest.mark.skipif(not SHIPPED.is_file(), reason="no shipped offline results table")
def test_restore_puts_the_shipped_table_back_into_a_store_that_exports_it_unchanged(
        tmp_path, capsys):
    """A fresh clone resumes a profile's run: its store rebuilt from the shipped table
    and images exports the same bytes, restoring again adds nothing, a store that ran on
    keeps its own records, and another profile's table is refused with nothing written."""
    path = tmp_path / "offline.sqlite"
    argv = ["restore", "--profile", "offline", "--store", str(path)]
    assert results.main(argv) == 0
    table, images, _ = results.load("offline")
    assert f"{len(table)} records and {len(images)} images added" in capsys.readouterr().out
    store = sweep.ResultsStore(path)
    assert store.done_keys() == set(table.key) and store.image_keys() == set(images)
    out = tmp_path / "out"
    results.export("offline", store, out, samples=False)
    for name in (results.TABLE_NAME, results.IMAGES_NAME):
        assert (out / name).read_bytes() == (SHIPPED.parent / name).read_bytes(), name
    assert results.main(argv) == 0
    assert "0 records and 0 images added" in capsys.readouterr().out
    # a record the store computed since the export is kept, not the shipped one
    key = table.key.iloc[0]
    store.drop([key])
    mine = results._records(table[table.key == key])[0] | {"psnr": 99.0}
    store.add([mine])
    assert results.restore("offline", store) == (0, int(key in images))
    assert store.query(keys=[key]).psnr.item() == 99.0
    other = tmp_path / "other.sqlite"
    assert results.main(["restore", "--profile", "paper", "--store", str(other),
                         "--dir", str(SHIPPED.parent)]) == 2
    assert "models the profile does not use" in capsys.readouterr().err
    assert len(sweep.ResultsStore(other)) == 0


DOCUMENTED = [p for p in notebook_paths()
              if (REPO_ROOT / "docs" / "notebooks" / f"{p.stem}.md").is_file()]


def test_the_paper_notebooks_have_docs_pages():
    stems = {p.stem[:2] for p in DOCUMENTED}
    assert {f"{i:02d}" for i in range(1, 9)} <= stems


@pytest.mark.parametrize("path", DOCUMENTED, ids=[p.stem for p in DOCUMENTED])
def test_a_notebooks_docs_page_lists_its_parameters(path):
    text = (REPO_ROOT / "docs" / "notebooks" / f"{path.stem}.md").read_text()
    missing = [name for name in notebook_parameters(path) if f"| `{name}` |" not in text]
    assert not missing, f"{path.stem}.md does not list the parameters {missing}"
    assert f"notebooks/{path.stem}.md" in (REPO_ROOT / "docs" / "index.md").read_text()


# --------------------------------------------------------------- samples without generators
def _no_generator(monkeypatch):
    """Loading any generator fails: a figure drawn anyway never ran one."""
    from gs import zoo

    def refuse(*args, **kwargs):
        raise AssertionError("a generator was loaded")

    monkeypatch.setattr(zoo, "load", refuse)
    # nothing a generator made earlier in this process either
    sweep.images._load_images_cached.cache_clear()
    sweep.runner.prepared_generator.cache_clear()


def _sheet(kind="01", model="m", cuts=(0, 2), seeds=(0, 1, 2), size=4):
    from gs.samples import SampleSheet, quantise

    g = torch.Generator().manual_seed(1)
    pixels = quantise(torch.rand(len(cuts), len(seeds), 3, size, size, generator=g) * 1.2)
    stats = pd.DataFrame([{"model": model, "cut": c, "seed": s, "pixel_mean": 1 / (3 + s + c),
                           "std": np.float32(0.1 + s)} for c in cuts for s in seeds])
    return SampleSheet(kind, model, cuts, seeds, pixels, stats, {"latent_dims": [7, 9]})


def test_samples_archive_round_trip_select_and_bytes(tmp_path):
    a, b = _sheet(), _sheet("train", "n", (0,), (0, 1))
    path = results.write_samples([a, b], tmp_path / "s.npz")
    back = results.read_samples(path)
    assert set(back) == {("01", "m"), ("train", "n")}
    got = back["01", "m"]
    assert torch.equal(got.pixels, a.pixels)  # 8-bit pixels come back exactly
    assert got.stats.to_csv(index=False) == a.stats.to_csv(index=False)  # every digit
    assert got.info == {"latent_dims": [7, 9]} and got.cuts == (0, 2) and got.seeds == (0, 1, 2)
    part = got.select([2], [2, 0])
    assert torch.equal(part.pixels[0, 0], a.pixels[1, 2]) and part.stats.seed.tolist() == [2, 0]
    with pytest.raises(KeyError, match=r"cut\(s\) \[1\]"):
        got.select([1], [0])
    # merging keeps the other sheets; the same sheets give the same bytes
    again = results.write_samples([_sheet()], tmp_path / "s.npz")
    assert set(results.read_samples(again)) == {("01", "m"), ("train", "n")}
    assert results.write_samples([b, a], tmp_path / "t.npz", merge=False).read_bytes() \
        == path.read_bytes()


def test_sample_figures_name_the_missing_archive_and_never_run_a_generator(tmp_path,
                                                                           monkeypatch):
    from gs.figures import images

    _no_generator(monkeypatch)
    cfg = get_profile("smoke")
    source = table_source(sweep.ResultsStore(":memory:"), samples_path=tmp_path / "samples.npz")
    with pytest.raises(MissingResults, match=str(tmp_path / "samples.npz")):
        images.samples(cfg, source=source)
    # an archive without the figure's sheet names the archive and the model
    results.write_samples([_sheet(model="other")], tmp_path / "samples.npz")
    with pytest.raises(MissingResults, match=r"samples.npz has no samples of dcgan64-digiface"):
        images.samples(cfg, source=table_source(sweep.ResultsStore(":memory:"),
                                                samples_path=tmp_path / "samples.npz"))


SAMPLES = FIGURES_DIR / "offline" / results.SAMPLES_NAME


@pytest.mark.skipif(not (SHIPPED.is_file() and SAMPLES.is_file()),
                    reason="no shipped offline results")
def test_generator_figures_redraw_from_the_shipped_files_alone(tmp_path, monkeypatch):
    """01, 07 and train are redrawn with every generator load failing, and their numbers
    equal the shipped CSVs'."""
    _no_generator(monkeypatch)
    assert cli.main(["01", "07", "train", "--out", str(tmp_path), "--format", "png"]) == 0
    stems = sorted(p.stem for p in tmp_path.glob("*.csv"))
    assert "01_samples_dcgan" in stems and "07_zero_representation_error" in stems
    assert any(s.startswith("train_") for s in stems)
    for stem in stems:
        assert (tmp_path / f"{stem}.png").stat().st_size > 10_000
        # samples.npz and the figures' CSVs come from the same generators; a forward pass
        # on another number of threads may move the last float32 digit
        pd.testing.assert_frame_equal(pd.read_csv(tmp_path / f"{stem}.csv"),
                                      pd.read_csv(FIGURES_DIR / "offline" / f"{stem}.csv"),
                                      check_exact=False, rtol=1e-6, obj=stem)


def test_sample_names_are_known_without_the_generator(monkeypatch):
    names = sweep.image_names("samples:dcgan64-digiface", "test", 64)
    assert len(names) == sweep.images.SAMPLES_PER_SPLIT
    assert sweep.generator_sample_images("dcgan64-digiface", "test", 64, n=3).names == names[:3]
    _no_generator(monkeypatch)
    assert sweep.image_names("samples:dcgan64-digiface", "test", 64) == names
    with pytest.raises(AssertionError, match="generator was loaded"):
        sweep.load_images("samples:dcgan64-digiface", "test", 64)


# ------------------------------------------------------------------ 09 and 10 from a table
def _auto_cut_records(cfg, family="dcgan"):
    """A synthetic table of notebook 09's runs: surgery at cut c scores 20 + c (+ 0.1 per
    image), surgery_auto picks the deepest candidate but the last."""
    import json

    from gs.figures import auto_cut_candidates, auto_cut_tasks

    cand = auto_cut_candidates(cfg, [family])
    validation = {family: sweep.chosen_cuts(cfg, sweep.ResultsStore(":memory:"),
                                            [family])[family].cut}
    tasks = auto_cut_tasks(cfg, [family], cfg.sweep_ratios, validation, cand, 0.2)
    records = _records(tasks, [20.0 + t.cut + 0.1 * int(t.image[-1] in "02468")
                               for t in tasks])
    chosen = cand[family][-2]
    for t, r in zip(tasks, records, strict=True):
        if t.method == "surgery_auto":
            r["psnr"] = 20.0 + chosen
            r["details"] = json.dumps({"cut": chosen, "heldout": {str(c): 1.0 / (1 + c)
                                                                  for c in cand[family]}})
    return records, cand[family], validation[family]


def test_auto_cut_and_claims_redraw_from_a_table(tmp_path, monkeypatch):
    from gs.figures import auto_cut, paper_claims

    _no_generator(monkeypatch)
    cfg = get_profile("smoke")
    records, cand, val = _auto_cut_records(cfg)
    store = sweep.ResultsStore(":memory:")
    store.add(records)
    source = table_source(results.table_store(store.to_frame()))
    drawn = auto_cut(source, cfg, families=["dcgan"], out_dir=tmp_path, formats=("png",))
    compared = drawn.frames["09_comparison"]
    by = compared.groupby("series").cut.unique()
    assert list(by["no_surgery"]) == [0] and list(by["surgery_validation"]) == [val]
    assert list(by["surgery_oracle"]) == [max(cand)] and list(by["surgery_auto"]) == [cand[-2]]
    summary = pd.read_csv(tmp_path / "09_auto_cut_faces.csv")
    assert set(summary.series) == {"no_surgery", "surgery_validation", "surgery_auto",
                                   "surgery_oracle"}
    assert summary.candidates.unique().tolist() == [str(cand)]
    assert (tmp_path / "09_auto_cut_scenes.png").stat().st_size > 10_000
    claims = paper_claims(source, cfg, out_dir=tmp_path, formats=("png",))
    assert len(claims.extra["verdicts"]) == len(pd.read_csv(tmp_path / "10_paper_claims.csv"))


def test_a_profile_without_notebook_09_is_skipped_with_a_message(store, tmp_path, capsys):
    """A table holding nothing of notebook 09: the figure command says so, draws the
    others and succeeds; a table holding some of it but not all is an error."""
    results.write_table(store.to_frame(), tmp_path / results.TABLE_NAME)
    out = tmp_path / "f"
    assert cli.main(["09", "10", "--profile", "smoke", "--results", str(tmp_path),
                     "--out", str(out), "--format", "png"]) == 0
    printed = capsys.readouterr().out
    assert "09: skipped: notebook 09 has not run in the smoke profile" in printed
    assert "10: 10_paper_claims" in printed and not list(out.glob("09_*"))

    records, _, _ = _auto_cut_records(get_profile("smoke"))
    partial = sweep.ResultsStore(":memory:")
    partial.add([r for r in records if r["method"] == "surgery_auto"])
    results.write_table(partial.to_frame(), tmp_path / results.TABLE_NAME)
    assert cli.main(["09", "--profile", "smoke", "--results", str(tmp_path),
                     "--out", str(out)]) == 1
    assert "figure 09:" in capsys.readouterr().err


def test_figure_08_studies_the_selected_families_only(tmp_path):
    """``--families dcgan`` makes the DCGAN 08's only family and its study family (a run
    that has computed only the DCGAN can draw its supplement); by default the BEGAN is
    the study family and every family is in (a) and (e)."""
    from gs.figures.common import Source, load_truth

    class Fetched(Exception):
        pass

    p = get_profile("smoke")
    fetched: list = []

    def fetch(tasks, keep_images=False):
        fetched.extend(tasks)
        raise Fetched

    source = Source(sweep.ResultsStore(tmp_path / "empty.sqlite"), fetch, load_truth)
    for studies in "abcde":
        with pytest.raises(Fetched):
            cli.FIGURES["08"](source, p, families=["dcgan"], out_dir=None, studies=studies)
    assert fetched and {t.family for t in fetched} == {"dcgan", ""}  # "": Lasso-DCT
    fetched.clear()
    with pytest.raises(Fetched):  # the command line's path passes the selection on
        cli.draw_all(source, p, ["08"], out_dir=None, families=["dcgan"])
    assert {t.family for t in fetched} == {"dcgan"}
    fetched.clear()
    with pytest.raises(Fetched):
        cli.FIGURES["08"](source, p, out_dir=None, studies="d")
    assert {t.family for t in fetched} == {"began"}


@pytest.mark.skipif(not SHIPPED.is_file(), reason="no shipped offline results table")
def test_a_run_in_progress_draws_the_families_and_sets_it_holds(tmp_path, capsys):
    """A table holding only the DCGAN on faces (a long run in progress) draws those
    figures with --families/--image-sets, numbers equal to the complete table's, and
    fails without them; unknown names are errors naming what the profile has."""
    table = results.read_table(SHIPPED)
    part = table[table.family.isin(["dcgan", ""]) & (table.image_set == "faces")]
    results.write_table(part, tmp_path / results.TABLE_NAME)
    out = tmp_path / "f"
    argv = ["02", "03", "--results", str(tmp_path), "--out", str(out), "--format", "png"]
    assert cli.main(argv) == 1
    assert "figure 02:" in capsys.readouterr().err
    assert cli.main(argv + ["--families", "dcgan", "--image-sets", "faces"]) == 0
    assert sorted(p.name for p in out.glob("*.png")) == ["02_cut_selection.png",
                                                          "03_cs_faces.png"]
    new = pd.read_csv(out / "03_cs_faces.csv")
    old = pd.read_csv(FIGURES_DIR / "offline" / "03_cs_faces.csv")
    old = old[old.family == "dcgan"].reset_index(drop=True)
    assert len(new) == len(old) > 0
    pd.testing.assert_frame_equal(new, old)
    sweep_rows = pd.read_csv(out / "02_cut_selection.csv")
    assert set(sweep_rows.family) == {"dcgan"} and set(sweep_rows.image_set) == {"faces"}
    tables = results.summary_tables("offline", tmp_path, families=["dcgan"],
                                    image_sets=["faces"])
    assert set(tables["03 mean over ratios"].family) == {"dcgan"}
    assert set(tables["03 mean over ratios"].image_set) == {"faces"}
    assert "missing" in tables["08 missing"].columns  # 08 studies both sets: not drawn
    # printed as its message under the table's name, not as a padded one-cell table
    block = results.format_tables({"08 missing": tables["08 missing"]}).splitlines()
    assert block == ["== 08 missing", tables["08 missing"].missing.iloc[0]]
    for bad, message in ((["--families", "gan"], "has no family ['gan']"),
                         (["--image-sets", "celeba"], "not ['celeba']")):
        with pytest.raises(SystemExit):
            cli.main(argv + bad)
        assert message in capsys.readouterr().err


def test_baselines_run_on_the_profiles_baseline_images():
    from gs.figures.common import sets_of
    from gs.figures.curves import baseline_config

    full = get_profile("offline-full")
    cfg, image_sets = baseline_config(full)
    assert (cfg.n_test, image_sets, cfg.ratios) == (10, ["faces", "scenes"], full.ratios)
    quick = get_profile("offline")
    cfg, image_sets = baseline_config(quick)
    assert (cfg.n_test, image_sets, cfg.ratios) == (3, ["faces"], quick.ratios[1::2])
    assert baseline_config(full, n_images=4)[0].n_test == 4
    with pytest.raises(ValueError, match=r"profile 'offline' uses \['faces', 'scenes'\]"):
        sets_of(quick, ["celeba"])


@pytest.mark.skipif(not SHIPPED.is_file(), reason="no shipped offline results table")
def test_claims_command_prints_verdicts_and_one_sentence_per_claim(tmp_path, capsys):
    """A run compared with a copy of itself: every claim keeps its verdict, in one
    sentence each. Compared with its own table, the command says so instead."""
    with pytest.raises(SystemExit):
        results.main(["claims", "--profile", "offline", "--against", "offline"])
    assert "--against offline: the same table" in capsys.readouterr().err
    shutil.copy(SHIPPED, tmp_path / results.TABLE_NAME)
    assert results.main(["claims", "--profile", "offline", "--dir", str(tmp_path),
                         "--against", "offline"]) == 0
    printed = capsys.readouterr().out
    verdicts, comparison = printed.split("\noffline -> offline:\n")
    shipped = pd.read_csv(FIGURES_DIR / "offline" / "10_paper_claims.csv")
    lines = verdicts.strip().splitlines()
    assert sum("cut" in line and "chosen on the validation sweep" in line
               for line in lines) == 3  # where each family's cut came from, first
    assert len([line for line in lines if line.startswith("(")]) == len(shipped)
    sentences = comparison.strip().splitlines()
    assert [s.split(")")[0] for s in sentences] == [f"({i}" for i in range(1, 8)]
    assert all(": same conclusion for " in s and "decided" not in s and "reversed" not in s
               for s in sentences)


@pytest.mark.skipif(not SHIPPED.is_file(), reason="no shipped offline results table")
def test_selections_are_checked_deduplicated_and_restrict_each_figures_own_sets(
        tmp_path, capsys):
    """--families/--image-sets: an empty list or an unknown name is a one-line error in
    both commands; a repeated name counts once (summary's n is not doubled); an image set
    restricts each figure's own sets (offline's 04 and 06 show faces only), so naming both
    sets draws what the default draws and naming only scenes skips 04 with a message."""
    out = str(tmp_path / "f")
    base = ["--out", out, "--format", "png"]
    for bad, message in ((["--families", ""], "--families: no name"),
                         (["--families", " , "], "--families: no name"),
                         (["--image-sets", ","], "--image-sets: no name")):
        with pytest.raises(SystemExit):
            cli.main(["02"] + base + bad)
        assert message in capsys.readouterr().err
        with pytest.raises(SystemExit):
            results.main(["summary"] + bad)
        assert message in capsys.readouterr().err
    with pytest.raises(SystemExit):
        results.main(["summary", "--families", "gan"])
    assert "has no family ['gan']" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        results.main(["summary", "--image-sets", "celeba"])
    assert "not ['celeba']" in capsys.readouterr().err
    assert cli.main(["04", "06"] + base + ["--image-sets", "faces,scenes"]) == 0
    printed = capsys.readouterr().out
    assert "04: 04_baselines_faces, 04_optimised_parameters" in printed
    assert "06: 06_reinit_faces " in printed
    assert cli.main(["04"] + base + ["--image-sets", "scenes"]) == 2  # nothing to draw
    captured = capsys.readouterr()
    assert "04: skipped: figure 04 of profile 'offline' shows only ['faces']" in captured.out
    assert "the selection leaves every figure asked for nothing to show" in captured.err
    assert cli.main(["03", "04"] + base + ["--image-sets", "scenes"]) == 0  # 03 drawn
    once = results.summary_tables("offline", image_sets=["faces"])
    twice = results.summary_tables("offline", image_sets=["faces", "faces"])
    pd.testing.assert_frame_equal(once["03 mean over ratios"], twice["03 mean over ratios"])
    assert "04 not drawn" in results.summary_tables("offline", image_sets=["scenes"])


@pytest.mark.skipif(not SHIPPED.is_file(), reason="no shipped offline results table")
def test_summary_and_claims_fail_in_one_line_on_a_missing_table_or_missing_records(
        tmp_path, capsys):
    """No table: one line on stderr, exit 2, nothing printed before it (claims checks the
    --against table first). Records missing: summary prints what it holds and exits 1."""
    assert results.main(["summary", "--dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no results table at") and len(err.strip().splitlines()) == 1
    assert results.main(["claims", "--profile", "offline", "--against", "paper"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("error: no results table at")
    table = results.read_table(SHIPPED)
    results.write_table(table[table.family.isin(["dcgan", ""])], tmp_path / results.TABLE_NAME)
    assert results.main(["summary", "--dir", str(tmp_path), "--families", "dcgan"]) == 1
    captured = capsys.readouterr()
    assert "== 03 mean over ratios" in captured.out and "== 08 missing" in captured.out
    assert captured.err.strip() == ("error: figure(s) 08 lack records in the table; their "
                                    "'missing' tables above say which")


FULL = FIGURES_DIR / "offline-full"
#: The README's commands that draw the shipped offline-full figures, in order.
FULL_RUN_REDRAW = (["08", "--families", "dcgan,vae"],
                   ["02", "03", "05", "06", "07", "10", "--families", "dcgan,vae"])


@pytest.mark.skipif(not (FULL / results.TABLE_NAME).is_file(),
                    reason="no shipped offline-full results table")
def test_shipped_full_run_figures_are_what_its_table_gives(tmp_path):
    """The offline-full run in progress: the figures shipped for what it has computed are
    redrawn, number for number, from its shipped table with the README's selection."""
    shipped = sorted(p.stem for p in FULL.glob("*.csv"))
    assert {"03_cs_faces", "03_cs_scenes", "06_reinit_faces",
            "07_zero_representation_error"} <= set(shipped)
    for selection in FULL_RUN_REDRAW:  # later selections redraw some figures with more
        assert cli.main(selection + ["--profile", "offline-full", "--out", str(tmp_path),
                                     "--format", "png"]) == 0
    for stem in shipped:
        new = pd.read_csv(tmp_path / f"{stem}.csv")
        old = pd.read_csv(FULL / f"{stem}.csv")
        pd.testing.assert_frame_equal(new, old)
