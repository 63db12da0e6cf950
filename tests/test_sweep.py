"""Sweeps: grids and keys, the results store, resume after a kill, paired measurements,
executors (threads, dask.distributed worker processes), batch invariance, exact cut
provenance, non-finite results as failures, adding a method in one place.

Real recoveries use the shipped DCGAN at its cheapest cut (4) with 2 L-BFGS steps of one
iteration each, on the data-free ``synthetic`` image set; the bookkeeping tests use a
fake method registered in-process that costs nothing.
"""

from __future__ import annotations

import dataclasses
import multiprocessing as mp
import sqlite3
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch

from gs import sweep as E
from gs import zoo
from gs.profiles import get_profile
from gs.sweep import MethodSpec, ResultsStore, SweepError, Task, grid, run_sweep

MODEL = "dcgan64-digiface"
IMAGES = ["synthetic-000", "synthetic-001", "synthetic-002"]

needs_dcgan = pytest.mark.skipif(not zoo.available(MODEL), reason=f"{MODEL} is not installed")


def real_tasks(images=IMAGES, cut=4, m=(200,), method="surgery", seed=0) -> list[Task]:
    """A tiny real grid: DCGAN 64, cheapest cut, 2 steps x 1 L-BFGS iteration, 1 restart."""
    return grid(model=MODEL, family="dcgan", image_set="synthetic", split="test",
                image=list(images), image_size=64, operator="cs", m=list(m), method=method,
                cut=cut, seed=seed, steps=2, restarts=1, lr=0.1,
                extra={"optimizer_options": {"max_iter": 1}})


class Spy:
    """A fake method: returns the clamped back-projection and remembers every call."""

    def __init__(self, fail_on_call: int | None = None, exc: BaseException | None = None):
        self.calls: list[tuple[Task, list[str], torch.Tensor]] = []
        self.fail_on_call, self.exc = fail_on_call, exc

    def __call__(self, generator, operator, y, task, x_true, names):
        self.calls.append((task, list(names), y.clone()))
        if self.fail_on_call is not None and len(self.calls) == self.fail_on_call:
            raise self.exc
        return type("R", (), {"images": operator.A_adjoint(y).clamp(0, 1)})()


def spec(fn, name: str = "spy") -> MethodSpec:
    """A generator-free method spec around ``fn``, run at the cuts a grid asks for."""
    return MethodSpec(name=name, fn=fn, label=name.title(), color="#000000",
                      needs_generator=False, cut="at_cut")


@pytest.fixture
def spy(monkeypatch):
    """Register methods ``spy`` and ``spy2`` (no generator) for this test only."""
    s = Spy()
    monkeypatch.setitem(E.METHODS, "spy", spec(s))
    monkeypatch.setitem(E.METHODS, "spy2", spec(s, "spy2"))
    return s


def spy_tasks(methods=("spy",), m=(100, 200), cut=(0, 1), images=IMAGES) -> list[Task]:
    return grid(model="", family="", image_set="synthetic", split="test", image=list(images),
                image_size=16, operator="cs", m=list(m), method=list(methods), cut=list(cut),
                seed=0, steps=1, restarts=1, lr=0.1)


# ---------------------------------------------------------------------- grids and keys
def test_keys_are_stable_and_distinct():
    t = real_tasks()[0]
    # a fixed value: keys must not change between processes, sessions or versions of Python
    # (it includes the DigiFace DCGAN's sha256 and RESULTS_VERSION, so it changes only with
    # the Task fields or when the package starts computing other numbers)
    assert t.key == "4b5ff59044d8b1bf7080d4fe948398329163e7d1"
    assert dataclasses.replace(t).key == t.key
    assert Task(**{**t.config(), "extra": t.options}).key == t.key  # dict or JSON: same
    assert dataclasses.replace(t, seed=1).key != t.key
    ts = spy_tasks(methods=("spy", "spy2"))
    assert len(ts) == 3 * 2 * 2 * 2 == len({x.key for x in ts})


def test_cs_grid_from_profile():
    p = get_profile("smoke", models={"dcgan": "dcgan64-digiface"})
    ts = E.cs_grid(p, image_set="synthetic", methods=("surgery", "reinit", "lasso_dct"))
    n_img, n_m = p.n_test, len(p.ratios)
    assert len(ts) == n_img * n_m * (2 + 1 + 1) == len({t.key for t in ts})
    surgery = [t for t in ts if t.method == "surgery"]
    assert {t.cut for t in surgery} == {0, 1}  # no surgery and the paper's DCGAN cut
    assert {t.m for t in ts} == set(p.m_values(3 * 64 * 64))
    assert all(t.steps == p.steps and t.lr == p.lr["dcgan"] for t in surgery)
    lasso = [t for t in ts if t.method == "lasso_dct"]
    # Lasso-DCT is convex: no step budget, the profile's solver options instead
    assert all(t.model == "" and t.steps is None and t.options == p.lasso for t in lasso)
    with pytest.raises(ValueError, match="unknown method"):
        E.cs_grid(p, image_set="synthetic", methods=("nope",))


def test_batches_group_by_everything_but_the_image(spy):
    ts = spy_tasks()
    bs = E.batches(ts)
    assert len(bs) == 2 * 2 and all(len(b) == 3 for b in bs)
    assert all(len({t.batch_key() for t in b}) == 1 for b in bs)
    assert [len(b) for b in E.batches(ts, max_batch=2)] == [2, 1] * 4


# ------------------------------------------------------------------------ the store
def test_store_roundtrip_and_no_duplicates(tmp_path):
    store = ResultsStore(tmp_path / "r.sqlite")
    t = spy_tasks()[0]
    rec = {"key": t.key, **t.config(), "psnr": 20.0, "ssim": 0.5, "loss": 0.01}
    assert store.add([rec]) == 1
    assert store.add([rec, rec]) == 0
    assert store.done_keys() == {t.key} and len(store) == 1
    df = store.query(method="spy", m=[100, 999])
    assert len(df) == 1 and df.psnr[0] == 20.0 and df.ssim[0] == 0.5
    assert len(store.query(method="other")) == 0
    with pytest.raises(ValueError, match="unknown column"):
        store.query(nope=1)
    with pytest.raises(ValueError, match="unknown columns"):
        store.add([{**rec, "bogus": 1}])


# ---------------------------------------------------------------------- sweeps (fake)
def test_sweep_resume_after_a_kill(tmp_path, spy, monkeypatch):
    store = ResultsStore(tmp_path / "r.sqlite")
    ts = spy_tasks()
    killer = Spy(fail_on_call=2, exc=KeyboardInterrupt())
    monkeypatch.setitem(E.METHODS, "spy", spec(killer))
    with pytest.raises(KeyboardInterrupt):
        run_sweep(ts, store, progress=False)
    assert len(store) == 3  # the first batch is stored, the killed one is not
    monkeypatch.setitem(E.METHODS, "spy", spec(spy))
    df = run_sweep(ts, store, progress=False)
    assert len(spy.calls) == 3  # only the missing batches ran
    assert len(store) == len(ts) == len(df) and list(df.key) == [t.key for t in ts]
    assert df.key.is_unique and np.isfinite(df.psnr).all()
    run_sweep(ts, store, progress=False)
    assert len(spy.calls) == 3 and len(store) == len(ts)  # rerun: nothing to do


def test_a_failing_batch_does_not_lose_the_others(tmp_path, monkeypatch):
    store = ResultsStore(tmp_path / "r.sqlite")
    bad = Spy(fail_on_call=1, exc=RuntimeError("boom"))
    monkeypatch.setitem(E.METHODS, "spy", spec(bad))
    ts = spy_tasks(cut=(0,))
    with pytest.raises(SweepError, match="1 of 2 batches failed.*boom"):
        run_sweep(ts, store, progress=False)
    assert len(store) == 3


def test_sweep_keeps_images_and_fetches_missing_ones(tmp_path, spy):
    """keep_images stores each clamped output as 8-bit PNG beside its record; a task stored
    without its image runs again for it, and its record is kept as it was."""
    ts = spy_tasks(m=(100,), cut=(0,))
    store = ResultsStore(tmp_path / "r.sqlite")
    first = run_sweep(ts[:2], store, device="cpu", progress=False)
    with pytest.raises(KeyError, match="keep_images=True"):
        store.images([ts[0].key])
    calls = len(spy.calls)
    df = run_sweep(ts, store, device="cpu", progress=False, keep_images=True)
    assert len(spy.calls) == calls + 1  # one batch: all three images lacked a stored image
    assert len(store) == len(ts) and store.image_keys() == {t.key for t in ts}
    assert list(df.timestamp[:2]) == list(first.timestamp)  # stored records untouched
    images = store.images([t.key for t in ts])
    _, names, y = spy.calls[-1]
    op, _ = E.measurements(ts[0], torch.zeros(len(names), 3, 16, 16), names, "cpu")
    expected = op.A_adjoint(y).clamp(0, 1)
    for b, name in enumerate(names):
        got = images[next(t.key for t in ts if t.image == name)]
        assert got.shape == (3, 16, 16) and got.dtype == torch.float32
        assert (got - expected[b]).abs().max() <= 0.5 / 255 + 1e-6  # 8-bit rounding only
    run_sweep(ts, store, device="cpu", progress=False, keep_images=True)
    assert len(spy.calls) == calls + 1  # nothing left to do


def test_sweep_keeps_only_the_images_it_is_asked_for(tmp_path, spy):
    """keep_images names tasks by key: only theirs are stored, in a thread pool too (the
    batch that computes them computes every image; the others are not kept), and a task
    stored without its image runs again only if it is named."""
    ts = spy_tasks(m=(100, 200), cut=(0,))
    wanted = {ts[0].key, ts[-1].key}
    store = ResultsStore(tmp_path / "r.sqlite")
    with ThreadPoolExecutor(2) as pool:
        run_sweep(ts, store, pool, device="cpu", progress=False, keep_images=wanted)
    assert store.done_keys() == {t.key for t in ts} and store.image_keys() == wanted
    calls = len(spy.calls)
    run_sweep(ts, store, device="cpu", progress=False, keep_images=wanted | {"no such key"})
    assert len(spy.calls) == calls  # every named image is there; unknown keys are no task
    run_sweep(ts, store, device="cpu", progress=False, keep_images={ts[1].key})
    assert len(spy.calls) == calls + 1 and store.image_keys() == wanted | {ts[1].key}
    assert E.kept_images(ts, True) == {t.key for t in ts} and E.kept_images(ts, False) == set()


def test_y_is_shared_across_batches_and_methods(tmp_path, spy):
    """One noise draw per (image, m, seed): the same y in a batch of 1 or 3, for every
    method and cut (docs/decisions.md, decision 1); one A per (m, seed) (decision 2)."""
    run_sweep(spy_tasks(methods=("spy", "spy2"), m=(100,)), ResultsStore(tmp_path / "a.sqlite"),
              progress=False)
    run_sweep(spy_tasks(m=(100,), cut=(5,), images=IMAGES[1:2]),
              ResultsStore(tmp_path / "b.sqlite"), progress=False)
    ys = {}
    for _task, names, y in spy.calls:
        for name, row in zip(names, y, strict=True):
            ys.setdefault(name, []).append(row)
    assert len(ys[IMAGES[1]]) == 2 * 2 + 1
    for rows in ys.values():
        for row in rows[1:]:
            assert torch.equal(row, rows[0])
    assert not torch.equal(ys[IMAGES[0]][0], ys[IMAGES[1]][0])


def test_unknown_methods_fail_clearly():
    t = dataclasses.replace(spy_tasks()[0], method="nope")
    with pytest.raises(ValueError, match="unknown method 'nope'; known methods"):
        E.run_batch([t])


# ---------------------------------------------------------------------- sweeps (real)
@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """A real sequential sweep: 2 batches (m = 100, 200) of 3 images."""
    if not zoo.available(MODEL):
        pytest.skip(f"{MODEL} is not installed")
    store = ResultsStore(tmp_path_factory.mktemp("ref") / "r.sqlite")
    ts = real_tasks(m=(100, 200))
    return ts, run_sweep(ts, store, device="cpu", progress=False)


@needs_dcgan
def test_real_sweep_writes_one_record_per_task(reference):
    ts, df = reference
    assert len(df) == len(ts) and list(df.key) == [t.key for t in ts]
    assert np.isfinite(df.psnr).all() and np.isfinite(df.ssim).all()
    # surgery batches across m: both ratios' 3 images ran as one batch of 6
    assert (df.loss > 0).all() and (df.batch_size == 6).all() and (df.device == "cpu").all()
    assert set(df.cut) == {4} and set(df.m) == {100, 200}


@needs_dcgan
def test_thread_pool_sweep_equals_sequential(reference, tmp_path):
    ts, ref = reference
    with ThreadPoolExecutor(max_workers=2) as ex:
        df = run_sweep(ts, ResultsStore(tmp_path / "r.sqlite"), ex, device="cpu", progress=False)
    assert list(df.psnr) == list(ref.psnr) and list(df.loss) == list(ref.loss)


@needs_dcgan
def test_image_result_does_not_depend_on_its_batch(reference):
    """Init is drawn per image: recovering one image alone gives its batched result."""
    ts, ref = reference
    one = E.run_batch([ts[1]], device="cpu")[0]
    assert one["key"] == ref.key[1]
    assert one["psnr"] == ref.psnr[1] and one["loss"] == ref.loss[1]
    images = E.recover_images([ts[1]], device="cpu")
    assert images[ts[1].key].shape == (3, 64, 64)


@needs_dcgan
def test_dask_distributed_sweep_writes_to_the_same_store(reference, tmp_path):
    """Half the grid sequentially, the rest on two dask worker processes, one store."""
    distributed = pytest.importorskip("dask.distributed")
    ts, ref = reference
    store = ResultsStore(tmp_path / "r.sqlite")
    run_sweep(ts[:3], store, device="cpu", progress=False)
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        df = run_sweep(ts, store, client.get_executor(), device="cpu", progress=False)
    assert len(store) == len(ts) and list(df.key) == list(ref.key)
    np.testing.assert_allclose(df.psnr, ref.psnr, rtol=1e-4)


@needs_dcgan
def test_every_baseline_runs_through_a_sweep(tmp_path):
    """Each baseline on one image, its step counts scaled down to a few steps by the
    budget; lasso_dct and deep_decoder (no generator) at 16 px."""
    pytest.importorskip("gs.baselines")
    p = get_profile("smoke", n_test=1, ratios=(0.01,), restarts=1, baseline_budget=0.002,
                    models={"dcgan": "dcgan64-digiface"})
    ts = E.cs_grid(p, image_set="synthetic", methods=("iagan", "mgan"))
    assert [t.cut for t in ts] == [0, 1]  # IAGAN: full generator; mGAN: the paper's cut
    common = dict(image_set="synthetic", split="test", image="synthetic-000", operator="cs",
                  m=30, seed=0, steps=None, lr=None, restarts=1, model="", family="",
                  image_size=16, cut=0)
    ts += [Task(method="lasso_dct", extra={"tol": 1e-3}, **common),
           Task(method="deep_decoder", extra={"budget": 0.002, "k": 4, "depth": 3}, **common)]
    df = run_sweep(ts, ResultsStore(tmp_path / "r.sqlite"), device="cpu", progress=False)
    assert list(df.method) == ["iagan", "mgan", "lasso_dct", "deep_decoder"]
    assert np.isfinite(df.psnr).all() and np.isfinite(df.loss).all()


def test_task_key_changes_with_the_zoo_weights(monkeypatch):
    kw = dict(model="dcgan64-digiface", family="dcgan", image_set="faces", split="test",
              image="a", image_size=64, operator="cs", m=100, method="surgery", cut=1)
    t = Task(**kw)
    assert t.weights == zoo.get("dcgan64-digiface").sha256[:16]
    entry = zoo.entries()["dcgan64-digiface"]
    monkeypatch.setitem(zoo.entries(), "dcgan64-digiface",
                        dataclasses.replace(entry, sha256="0" * 64))
    retrained = Task(**kw)
    assert retrained.weights == "0" * 16 and retrained.key != t.key
    assert Task(**{**kw, "model": "", "method": "lasso_dct"}).weights == ""


# ----------------------------------------------------------------- trustworthy records
def test_store_refuses_non_finite_records(tmp_path):
    store = ResultsStore(tmp_path / "r.sqlite")
    t = spy_tasks()[0]
    good = {"key": t.key, **t.config(), "psnr": 20.0, "ssim": 0.5, "loss": 0.01}
    for bad in ({"ssim": float("nan")}, {"loss": float("inf")}, {"psnr": None}):
        with pytest.raises(ValueError, match="non-finite"):
            store.add([{**good, **bad}])
    assert len(store) == 0
    assert store.add([{**good, "psnr": float("inf")}]) == 1  # a perfect reconstruction


def test_a_non_finite_batch_fails_names_its_tasks_and_is_retried(tmp_path, monkeypatch):
    store = ResultsStore(tmp_path / "r.sqlite")

    def nan_method(generator, operator, y, task, x_true, names):
        return type("R", (), {"images": torch.full_like(x_true, float("nan"))})()

    monkeypatch.setitem(E.METHODS, "spy", spec(nan_method))
    ts = spy_tasks(cut=(0,), m=(100,))
    with pytest.raises(SweepError, match=r"not finite.*synthetic-000"):
        run_sweep(ts, store, progress=False)
    assert len(store) == 0  # nothing stored, so a rerun retries it
    monkeypatch.setitem(E.METHODS, "spy", spec(Spy()))
    assert len(run_sweep(ts, store, progress=False)) == len(ts)


@pytest.mark.parametrize("field, value, match", [
    ("lr", float("nan"), "lr must be a finite number"),
    ("lr", -0.1, "lr must be a finite number"),
    ("steps", 2.5, "steps must be an int"),
    ("restarts", 0, "restarts must be an int >= 1"),
    ("m", 0, "needs an int m in 1..n"),
    ("m", 10**6, "needs an int m in 1..n"),
    ("extra", {"init_limit": -1.0}, "init_limit"),
    ("extra", {"chunk_size": 0}, "chunk_size"),
])
def test_impossible_parameters_are_rejected_before_anything_runs(field, value, match):
    t = real_tasks()[0]
    with pytest.raises(ValueError, match=match):
        dataclasses.replace(t, **{field: value})


def test_impossible_grids_are_rejected():
    p = get_profile("smoke")
    for ratios in ([0.0], [1.5], [float("nan")]):
        with pytest.raises(ValueError, match=r"ratios m/n must be numbers in \(0, 1\]"):
            E.cs_grid(p, families=["dcgan"], ratios=ratios)
    with pytest.raises(ValueError, match="max_batch"):
        E.batches(spy_tasks(), max_batch=0)
    with pytest.raises(ValueError, match="at least one task"):
        E.run_batch([])


def test_adding_a_method_touches_one_place(tmp_path, monkeypatch):
    """A method is one decorated function: the grid, the sweep and the figures know it."""
    monkeypatch.setattr(E.methods, "METHODS", dict(E.METHODS))
    monkeypatch.setattr(E, "METHODS", E.methods.METHODS)

    @E.register_method("zero_filled", label="Zero-filled", color="#95a5a6",
                       needs_generator=False, cut=0)
    def zero_filled(generator, operator, y, task, x_true, names):
        return type("R", (), {"images": operator.A_adjoint(y).clamp(0, 1)})()

    p = get_profile("smoke", models={"dcgan": MODEL}, n_test=1)
    ts = E.cs_grid(p, image_set="synthetic", methods=("zero_filled",))
    assert {t.cut for t in ts} == {0} and all(t.model == "" for t in ts)
    df = run_sweep(ts, ResultsStore(tmp_path / "r.sqlite"), progress=False)
    assert len(df) == len(ts) and np.isfinite(df.psnr).all()
    from gs import plotting

    frame = plotting.label_series(df)
    assert set(frame.series) == {"zero_filled"}
    assert E.series_label("zero_filled") == "Zero-filled"
    assert plotting.series_color("zero_filled") == "#95a5a6"


def _store_of(tmp_path, rows):
    store = ResultsStore(tmp_path / "r.sqlite")
    store.add(rows)
    return store


def _record(t: Task, psnr: float) -> dict:
    return {"key": t.key, **t.config(), "psnr": psnr, "ssim": 0.5, "loss": 0.01}


def test_cut_choice_reads_only_its_own_sweep(tmp_path):
    p = get_profile("smoke")
    sweep_tasks = E.cut_sweep_grid(p, "dcgan")
    assert {t.split for t in sweep_tasks} == {"val"} and {t.cut for t in sweep_tasks} == {0, 1, 2}
    # the sweep says cut 2; a foreign row (other weights, cut 0, 40 dB) must not matter
    rows = [_record(t, 20.0 + t.cut) for t in sweep_tasks]
    foreign = dataclasses.replace(sweep_tasks[0], weights="f" * 16)
    other_steps = dataclasses.replace(sweep_tasks[0], steps=p.steps + 1)
    store = _store_of(tmp_path, rows + [_record(foreign, 40.0), _record(other_steps, 40.0)])
    choice = E.chosen_cuts(p, store, families=["dcgan"])["dcgan"]
    assert choice.cut == 2 and choice.source == "validation sweep"
    assert choice.rows == len(sweep_tasks) and "validation sweep" in choice.describe()
    # the configuration with more steps has one row of its sweep: not enough, the paper's
    # cut, and it says so; one with more restarts has none
    other = E.chosen_cuts(get_profile("smoke", steps=p.steps + 1), store, families=["dcgan"])
    assert other["dcgan"].cut == 1 and other["dcgan"].source == "paper default"
    assert "incomplete: 1 of 3" in other["dcgan"].describe()
    none = E.chosen_cuts(get_profile("smoke", restarts=2), store, families=["dcgan"])
    assert "no validation sweep" in none["dcgan"].describe()
    assert "provenance" in E.cut_table({"dcgan": choice}).columns


def _open_store(path, q):
    try:
        ResultsStore(path)
        q.put("ok")
    except Exception as exc:  # pragma: no cover - reported to the parent
        q.put(repr(exc))


def test_schema_migration_is_safe_with_several_processes(tmp_path):
    """Two processes opening a store of an older schema at once both succeed."""
    path = tmp_path / "old.sqlite"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE results (key TEXT PRIMARY KEY, psnr REAL)")
    con.commit()
    con.close()
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    procs = [ctx.Process(target=_open_store, args=(path, q)) for _ in range(3)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(120)
    assert sorted(q.get(timeout=5) for _ in procs) == ["ok"] * 3
    cols = {row[1] for row in sqlite3.connect(path).execute("PRAGMA table_info(results)")}
    assert set(E.COLUMNS) <= cols


# ------------------------------------------------------------------- batch invariance
def _invariance_tasks(method: str, cut: int) -> list[Task]:
    images = [f"synthetic-{i:03d}" for i in range(8)]
    if method in ("mgan", "iagan"):  # 8 images x 3 restarts: one 30-problem lane
        return grid(model=MODEL, family="dcgan", image_set="synthetic", split="test",
                    image=images, image_size=64, operator="cs", m=300, method=method, cut=cut,
                    steps=2, restarts=3, lr=0.03,
                    extra={"n_codes": 2} if method == "mgan" else {"steps2": 2})
    if method == "lasso_dct":
        return grid(model="", family="", image_set="synthetic", split="test", image=images,
                    image_size=64, operator="cs", m=300, method=method, cut=0, steps=None,
                    restarts=1, lr=None, extra={"tol": 1e-3, "steps": 60})
    if method == "deep_decoder":
        return grid(model="", family="", image_set="synthetic", split="test", image=images,
                    image_size=64, operator="cs", m=300, method=method, cut=0, steps=3,
                    restarts=3, lr=1e-2, extra={"k": 8, "depth": 3})
    return grid(model=MODEL, family="dcgan", image_set="synthetic", split="test", image=images,
                image_size=64, operator="cs", m=300, method=method, cut=cut, steps=2,
                restarts=2, lr=0.1, extra={"optimizer_options": {"max_iter": 3}})


@needs_dcgan
@pytest.mark.parametrize("method, cut", [("surgery", 0), ("surgery", 1), ("lasso_dct", 0),
                                         ("mgan", 1), ("iagan", 0), ("deep_decoder", 0)],
                         ids=["no-surgery", "surgery", "lasso-dct", "mgan", "iagan",
                              "deep-decoder"])
def test_records_are_bit_identical_whatever_shares_the_batch(method, cut):
    """A record (PSNR, SSIM, loss, image) is the same alone, with one other image, with
    seven others, first or last in the batch (CPU, float32)."""
    ts = _invariance_tasks(method, cut)
    target = ts[3]

    def run(batch):
        recs, images = E.runner._run(batch, "cpu")
        i = [r["key"] for r in recs].index(target.key)
        return recs[i], images[i]

    ref, ref_image = run([target])
    assert ref["batch_invariant"] == 1
    for batch in ([ts[0], target], [target, ts[5]], ts, ts[::-1], ts[2:7]):
        rec, image = run(batch)
        for col in ("psnr", "ssim", "loss"):
            assert rec[col] == ref[col], (col, len(batch))
        assert torch.equal(image, ref_image)


def test_batches_across_configurations(monkeypatch):
    """Surgery batches across m and seed, reinit across m only (its seed re-draws the
    generator), mGANprior, IAGAN and Deep Decoder across images only, a method that is not
    batch-invariant not at all; max_batch and max_operators split batches, keeping each
    (m, seed) together."""
    ts = real_tasks(m=(100, 200, 300), seed=[0, 1])
    assert [len(b) for b in E.batches(ts)] == [18]
    for kw, sizes in (({"max_operators": 2}, [6, 6, 6]), ({"max_operators": 4}, [12, 6]),
                      ({"max_batch": 4}, [4, 4, 4, 4, 2])):
        bs = E.batches(ts, **kw)
        assert [len(b) for b in bs] == sizes, kw
        assert sorted(t.key for b in bs for t in b) == sorted(t.key for t in ts)
    assert [len({(t.m, t.seed) for t in b}) for b in E.batches(ts, max_operators=4)] == [4, 2]
    reinit = real_tasks(m=(100, 200), seed=[0, 1], method="reinit")
    assert sorted({t.seed for t in b}.pop() for b in E.batches(reinit)) == [0, 1]
    assert [len(b) for b in E.batches(reinit)] == [6, 6]
    for method, cut in (("mgan", 1), ("iagan", 0), ("deep_decoder", 0)):  # images, one m
        bs = E.batches(real_tasks(m=(100, 200), method=method, cut=cut))
        assert sorted(len(b) for b in bs) == [3, 3]
        assert all(len({t.m for t in b}) == 1 for b in bs)
        many = real_tasks(images=[f"synthetic-{i:03d}" for i in range(23)], method=method,
                          cut=cut)  # at most max_images (10) per batch, whatever max_batch
        assert [len(b) for b in E.batches(many)] == [10, 10, 3]
        assert [len(b) for b in E.batches(many, max_batch=4)] == [4] * 5 + [3]
    monkeypatch.setitem(E.methods.METHODS, "mgan", dataclasses.replace(
        E.methods.METHODS["mgan"], batch_invariant=False))
    assert all(len(b) == 1 for b in E.batches(real_tasks(m=(100, 200), method="mgan", cut=1)))
    with pytest.raises(ValueError, match="max_operators"):
        E.batches(ts, max_operators=0)
    with pytest.raises(ValueError, match="differ only in their image, m, seed"):
        E.runner._check_batch([ts[0], dataclasses.replace(ts[0], cut=1)])
    with pytest.raises(ValueError, match="batch_across must be a subset"):
        MethodSpec(name="x", fn=print, label="x", color="#000000", batch_across=("cut",))


@needs_dcgan
def test_a_batch_across_m_and_seed_gives_each_task_its_own_record():
    """Two images x three m x two seeds run as ONE recovery give, record by record (PSNR,
    SSIM, loss, ratio, noise, image), what each (m, seed) gives in a batch of its own."""
    ts = real_tasks(images=IMAGES[:2], m=(100, 200, 300), seed=[0, 1], cut=1)
    (batch,) = E.batches(ts)
    recs, images = E.runner._run(batch, "cpu")
    assert {r["batch_size"] for r in recs} == {12}
    together = {r["key"]: (r, im) for r, im in zip(recs, images, strict=True)}
    for m in (100, 200, 300):
        for seed in (0, 1):
            alone = [t for t in ts if t.m == m and t.seed == seed]
            for r, image in zip(*E.runner._run(alone, "cpu"), strict=True):
                rec, im = together[r["key"]]
                for col in ("psnr", "ssim", "loss", "ratio", "noise_std", "n", "diverged"):
                    assert rec[col] == r[col], (col, m, seed)
                assert torch.equal(im, image)


def test_surgery_rejects_options_it_does_not_take():
    t = dataclasses.replace(real_tasks()[0], extra={"optimiser": "adam"})
    with pytest.raises(ValueError, match=r"takes no options \['optimiser'\]"):
        E.run_batch([t])


def test_a_record_of_another_engine_version_is_recomputed_not_reused(tmp_path, spy):
    """Records of an older engine (or from before records carried one) are replaced, so
    a sweep never returns rows of two engines' numerics; the current ones are reused."""
    from gs.recovery import ENGINE_VERSION

    ts = spy_tasks(m=(100,), cut=(0,))  # one batch of the three images
    old = [{**_record(t, 99.0), "engine": ENGINE_VERSION - 1} for t in ts[:2]]
    legacy = [_record(ts[2], 98.0)]  # no engine column: counts as version 1
    store = _store_of(tmp_path, old + legacy)
    assert store.engines() == {ts[0].key: ENGINE_VERSION - 1, ts[1].key: ENGINE_VERSION - 1,
                               ts[2].key: 1}
    df = run_sweep(ts, store, progress=False)
    assert len(spy.calls) == 1 and len(store) == len(ts)
    assert (df.engine == ENGINE_VERSION).all() and not df.psnr.isin([98.0, 99.0]).any()
    run_sweep(ts, store, progress=False)
    assert len(spy.calls) == 1  # this version's records are reused


def test_a_method_with_an_engine_of_its_own_recomputes_only_its_records(tmp_path, monkeypatch):
    """A method whose numerics changed (its own ``engine``) has its stored records
    recomputed; another method's records of the shared engine are kept as they are."""
    from gs.recovery import ENGINE_VERSION

    s1, s2 = Spy(), Spy()
    monkeypatch.setitem(E.METHODS, "spy", spec(s1))
    monkeypatch.setitem(E.METHODS, "spy2", dataclasses.replace(spec(s2, "spy2"),
                                                               engine=ENGINE_VERSION + 5))
    ts = spy_tasks(methods=("spy", "spy2"), m=(100,), cut=(0,))
    store = _store_of(tmp_path, [{**_record(t, 99.0), "engine": ENGINE_VERSION} for t in ts])
    df = run_sweep(ts, store, progress=False).set_index("method")
    assert not s1.calls and len(s2.calls) == 1
    assert (df.loc["spy", "psnr"] == 99.0).all()
    assert (df.loc["spy", "engine"] == ENGINE_VERSION).all()
    assert (df.loc["spy2", "psnr"] != 99.0).all()
    assert (df.loc["spy2", "engine"] == ENGINE_VERSION + 5).all()
    for method in ("mgan", "iagan"):  # their lanes changed their numbers, no one else's
        assert E.get_method(method).engine_version != ENGINE_VERSION
