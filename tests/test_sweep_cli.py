"""``python -m gs.sweep``: status and run of a profile's tasks outside the notebooks."""

from __future__ import annotations

import pytest

from gs.profiles import get_profile
from gs.sweep import ResultsStore
from gs.sweep import cli as C
from gs.sweep.plan import kept_image_keys, notebook_tasks

SMOKE = get_profile("smoke")


def _all_tasks():
    return [t for ts in notebook_tasks(SMOKE).values() for t in ts]


def _total(text: str) -> list[str]:
    """``[done, left]`` of the status table's last row."""
    return next(line.split()[1:] for line in text.splitlines() if line.startswith("all "))


def test_select_filters_and_generator_free_methods():
    """--families keeps the generator-free baselines out unless --methods names them."""
    tasks = _all_tasks()
    assert C.select(tasks) == tasks
    dcgan = C.select(tasks, families=["dcgan"])
    assert dcgan and {t.family for t in dcgan} == {"dcgan"}
    named = C.select(tasks, families=["dcgan"], methods=["deep_decoder", "mgan"])
    assert {(t.family, t.method) for t in named} == {("", "deep_decoder"), ("dcgan", "mgan")}
    scenes = C.select(tasks, methods=["lasso_dct"], image_sets=["scenes"])
    assert scenes and {(t.method, t.image_set) for t in scenes} == {("lasso_dct", "scenes")}


def test_status_counts_every_planned_task_and_says_which_cuts_wait(tmp_path):
    store = ResultsStore(tmp_path / "s.sqlite")
    text = C.status(SMOKE, store, C._notebooks(None))
    assert _total(text) == ["0", str(len(_all_tasks()))]
    assert "dcgan: cut 1, the paper's default (no validation sweep in the store" in text
    only_04 = C.status(SMOKE, store, C._notebooks(["04"]), methods=["deep_decoder"])
    rows = [line.split() for line in only_04.splitlines()[1:] if line.startswith("04")]
    assert [r[:3] for r in rows] == [["04_baselines", "-", "deep_decoder"]]


def test_run_computes_the_selection_and_keeps_the_images_the_figures_show(tmp_path):
    store = ResultsStore(tmp_path / "s.sqlite")
    waited, failed = C.run(SMOKE, store, C._notebooks(["03"]), methods=["lasso_dct"],
                           progress=False)
    expected = {t.key for t in notebook_tasks(SMOKE)["03_compressed_sensing"]
                if t.method == "lasso_dct"}
    assert waited == 0 and failed == [] and expected and store.done_keys() == expected
    shown = expected & kept_image_keys(SMOKE, store)  # 05 shows 03's images at one ratio
    assert shown and shown != expected and store.image_keys() == shown
    text = C.status(SMOKE, store, C._notebooks(["03"]), methods=["lasso_dct"])
    assert _total(text) == [str(len(expected)), "0"]
    gone = sorted(shown)[0]  # a record without the image its figure shows is left to do
    with store._connection() as con, con:
        con.execute("DELETE FROM images WHERE key = ?", (gone,))
    text = C.status(SMOKE, store, C._notebooks(["03"]), methods=["lasso_dct"])
    assert _total(text) == [str(len(expected) - 1), "1"]
    C.run(SMOKE, store, C._notebooks(["03"]), methods=["lasso_dct"], progress=False)
    assert store.done_keys() == expected and store.image_keys() == shown  # resumed


def test_run_holds_back_tasks_at_a_cut_the_sweep_has_not_chosen(tmp_path, monkeypatch):
    """Without 02's sweep, 03's surgery at the paper's cut waits; no surgery (cut 0) and
    the sweep itself run."""
    import gs.sweep.runner as runner

    ran = {}

    def fake_run_sweep(tasks, store, keep_images=False, **kw):
        ran.setdefault(tasks[0].method if tasks else None, []).extend(tasks)

    monkeypatch.setattr(runner, "run_sweep", fake_run_sweep)
    store = ResultsStore(tmp_path / "s.sqlite")
    waited, _ = C.run(SMOKE, store, C._notebooks(["02", "03"]), families=["dcgan"],
                      progress=False)
    sweep_keys = {t.key for t in notebook_tasks(SMOKE)["02_cut_selection"]
                  if t.family == "dcgan"}
    surgery03 = [t for t in notebook_tasks(SMOKE)["03_compressed_sensing"]
                 if t.family == "dcgan"]
    cut = C.chosen_cuts(SMOKE, store, ["dcgan"])["dcgan"].cut
    ran_keys = {t.key for t in ran["surgery"]}
    assert sweep_keys <= ran_keys
    assert {t.key for t in surgery03 if t.cut == 0} <= ran_keys
    held = {t.key for t in surgery03 if t.cut == cut}
    assert held and not held & ran_keys and waited == len(held)


def test_a_failed_batch_is_reported_and_the_run_goes_on(tmp_path, monkeypatch, capsys):
    import gs.sweep.runner as runner

    seen = []

    def failing(tasks, store, **kw):
        seen.append(tasks[0].method)
        if tasks[0].method == "lasso_dct":
            raise runner.SweepError("1 of 1 batches failed: boom")

    monkeypatch.setattr(runner, "run_sweep", failing)
    store = tmp_path / "s.sqlite"
    ResultsStore(store)
    code = C.main(["run", "--profile", "smoke", "--store", str(store), "--only", "03", "04",
                   "--methods", "lasso_dct,deep_decoder", "--quiet"])
    out = capsys.readouterr().out
    assert code == 1 and seen == ["lasso_dct", "deep_decoder"]
    assert "boom" in out and "batches failed in ['03_compressed_sensing']" in out


@pytest.mark.parametrize(("argv", "message"), [
    (["run", "--only", "99"], "no notebook starts with"),
    (["run", "--only", ""], "--only: an empty prefix"),
    (["status", "--families", "stylegan"], "--families: unknown"),
    (["status", "--methods", "nope"], "--methods: unknown"),
    (["status", "--image-sets", "facez"], "--image-sets: unknown ['facez']"),
    (["run", "--max-batch", "0"], "--max-batch: must be an int >= 1, got '0'"),
    (["run", "--max-batch", "1.5"], "--max-batch: must be an int >= 1, got '1.5'"),
    (["run", "--device", "tpu"], "--device: invalid choice"),
    (["status", "--store", " "], "--store: an empty path"),
    (["status", "--store", "MISSING"], "no results store at"),
    (["run", "--store", "DIRECTORY"], "--store"),
])
def test_bad_arguments_name_the_problem(argv, message, capsys, tmp_path):
    store = tmp_path / "s.sqlite"
    ResultsStore(store)
    argv = [{"MISSING": str(tmp_path / "nope.sqlite"), "DIRECTORY": str(tmp_path)}.get(a, a)
            for a in argv]
    if "--store" not in argv:
        argv = [*argv, "--store", str(store)]
    with pytest.raises(SystemExit):
        C.main([*argv, "--profile", "smoke"])
    assert message in capsys.readouterr().err


def test_cuda_is_refused_where_there_is_none(capsys, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(SystemExit):
        C.main(["run", "--device", "cuda", "--profile", "smoke", "--store",
                str(tmp_path / "s.sqlite")])
    assert "--device cuda: no CUDA device" in capsys.readouterr().err


def test_a_fresh_clone_is_told_to_restore_the_shipped_results(capsys, tmp_path, monkeypatch):
    """Without a store but with a shipped table, status and run name the command that
    puts the shipped results into the store (a run would compute them again)."""
    import gs.paths
    import gs.sweep.runner as runner
    from gs.paths import FIGURES_DIR

    if not (FIGURES_DIR / "offline" / "results.csv.gz").is_file():
        pytest.skip("no shipped offline table")
    monkeypatch.setattr(gs.paths, "OUTPUT_DIR", tmp_path)
    hint = "python -m gs.results restore --profile offline puts them into the store"
    with pytest.raises(SystemExit):
        C.main(["status", "--profile", "offline"])
    assert hint in capsys.readouterr().err
    monkeypatch.setattr(runner, "run_sweep", lambda *a, **kw: None)
    assert C.main(["run", "--profile", "offline", "--only", "02", "--quiet"]) == 0
    assert f"no results store at {tmp_path}" in (out := capsys.readouterr().out)
    assert "computing from scratch" in out and hint in out
    assert C.main(["status", "--profile", "offline"]) == 0  # the run created the store
