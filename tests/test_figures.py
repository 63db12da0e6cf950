"""Figures as functions of the per-task table: export and reload, lookups that never
recompute, styles, notes, and the shipped offline figures redrawn from the shipped table."""

import gzip
import math

import numpy as np
import pandas as pd
import pytest
import torch

from gs import plotting, results, sweep
from gs.figures import budget_note, cli, lookup, percent, table_source
from gs.figures.common import MissingResults
from gs.notebooks import notebook_parameters, notebook_paths
from gs.paths import FIGURES_DIR, REPO_ROOT
from gs.sweep import COLUMNS

SHIPPED = FIGURES_DIR / "offline" / results.TABLE_NAME


def _records(tasks, psnr):
    """Store records of ``tasks`` with made-up metrics (``psnr[i]``)."""
    out = []
    for t, p in zip(tasks, psnr, strict=True):
        r = {c: None for c in COLUMNS}
        r.update(t.config(), key=t.key, psnr=p, ssim=min(1.0, 0.5 + p / 100), loss=1e-3,
                 seconds=1.5, n=3 * t.image_size**2, ratio=t.m / (3 * t.image_size**2),
                 device="cpu", gs_version="0", torch_version="x", diverged=0)
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
    err = capsys.readouterr().err
    assert "figure 03: 1 of" in err and "lasso_dct" in err
    assert not (tmp_path / "f" / "03_cs_scenes.png").exists()


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
