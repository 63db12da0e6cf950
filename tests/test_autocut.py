"""The cut chosen from held-out measurements (gs.autocut) and the operator subsets it uses.

A tiny random DCGAN gives the case where the right cut is known: a sample of the uncut
generator, measured by few rows. Deep cuts have latents far larger than m, so they fit
the kept rows (almost) exactly, but not the held-out ones; cut 0 must win. Sweep-level
tests use the shipped DCGAN at its cheapest cuts with one short L-BFGS step.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from gs import sweep as E
from gs import zoo
from gs.autocut import HOLDOUT, holdout_split, recover_auto_cut
from gs.models.dcgan import DCGAN
from gs.operators import make_operator
from gs.recovery import recover
from gs.sweep import grid

MODEL = "dcgan64-digiface"
needs_dcgan = pytest.mark.skipif(not zoo.available(MODEL), reason=f"{MODEL} is not installed")


# ------------------------------------------------------------------- operator subsets
@pytest.mark.parametrize("name, kw", [("cs", {"m": 50}), ("cs_fast", {"m": 40}),
                                      ("inpainting", {}), ("sr", {})])
def test_a_subset_measures_the_chosen_entries_and_has_their_adjoint(name, kw):
    g = torch.Generator().manual_seed(0)
    op = make_operator(name, (3, 8, 8), generator=g, **kw)
    entries = op.informative_entries()
    pick = entries[torch.randperm(len(entries), generator=g)[:7]]
    sub = op.subset(pick)
    x = torch.rand(2, 3, 8, 8, generator=g)
    assert sub.m == 7 and sub.meas_shape == (7,)
    assert torch.equal(sub.A(x), op.A(x).flatten(1)[:, pick])
    y = torch.randn(2, 7, generator=g)
    assert torch.allclose((sub.A(x) * y).sum(), (x * sub.A_adjoint(y)).sum(), atol=1e-4)


def test_informative_entries_of_inpainting_are_its_kept_pixels():
    op = make_operator("inpainting", (3, 8, 8), generator=torch.Generator().manual_seed(0))
    entries = op.informative_entries()
    assert len(entries) == op.m == int(op.mask.sum())
    assert op.mask.flatten()[entries].all()
    cs = make_operator("cs", (3, 8, 8), m=20, generator=torch.Generator().manual_seed(0))
    assert torch.equal(cs.informative_entries(), torch.arange(20))


@pytest.mark.parametrize("entries, match", [
    (torch.tensor([0, 20]), r"entries must lie in 0..19"),
    (torch.tensor([1, 1]), "must not repeat"),
    (torch.tensor([], dtype=torch.long), "at least one"),
    (torch.tensor([0.0, 1.0]), "integer tensor"),
])
def test_a_bad_subset_is_refused(entries, match):
    cs = make_operator("cs", (3, 8, 8), m=20, generator=torch.Generator().manual_seed(0))
    with pytest.raises((ValueError, TypeError), match=match):
        cs.subset(entries)


def test_holdout_split_partitions_the_informative_entries():
    op = make_operator("inpainting", (3, 16, 16), generator=torch.Generator().manual_seed(0))
    kept, held = holdout_split(op, 0.25, torch.Generator().manual_seed(1))
    assert len(held) == round(0.25 * op.m) and len(kept) + len(held) == op.m
    assert torch.equal(torch.cat([kept, held]).sort().values, op.informative_entries())
    again = holdout_split(op, 0.25, torch.Generator().manual_seed(1))
    assert torch.equal(again[1], held)  # the split is a function of its generator


@pytest.mark.parametrize("holdout", [0, 1, 1.5, -0.1, True, "0.2"])
def test_impossible_holdouts_are_refused(holdout):
    op = make_operator("cs", (3, 8, 8), m=20, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="holdout must be a fraction in"):
        holdout_split(op, holdout)


def test_a_holdout_that_leaves_nothing_is_refused():
    op = make_operator("cs", (3, 8, 8), m=2, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="leaves none to recover from"):
        holdout_split(op, 0.9)


# ----------------------------------------------------------------------- the choice
@pytest.fixture(scope="module")
def tiny():
    """A tiny random DCGAN, 3 samples of it at cut 0 and 60 noisy Gaussian measurements."""
    torch.manual_seed(0)
    g = DCGAN(nz=16, ngf=8).eval().requires_grad_(False)
    rng = torch.Generator().manual_seed(1)
    x = g(g.sample_latents(3, 0, generator=rng), cut=0).detach()
    op = make_operator("cs", (3, 64, 64), m=60, generator=rng)
    return g, op, x, op.measure(x, generator=rng)


def test_a_sample_of_the_uncut_generator_chooses_cut_0(tiny):
    g, op, x, y = tiny
    res = recover_auto_cut(g, op, y, cuts=(3, 0), restarts=1, steps=2, x_true=x)
    assert res.cuts == (0, 3)
    assert res.cut.tolist() == [0, 0, 0]
    # the deep cut (8,192 numbers for 48 kept rows) fits the kept rows better than cut 0
    # does, and the held-out rows far worse
    assert (res.kept_loss[:, 1] < res.kept_loss[:, 0]).all()
    assert (res.heldout[:, 1] > 10 * res.heldout[:, 0]).all()
    assert res.info["n_held"] == round(HOLDOUT * 60) and res.info["n_kept"] == 60 - 12
    # the final recovery is plain surgery at the chosen cut, from all measurements
    plain = recover(g, op, y, 0, restarts=1, steps=2, seed=0, x_true=x)
    assert torch.equal(res.images, plain.images) and torch.equal(res.psnr, plain.psnr.double())
    assert [d["cut"] for d in res.info["details"]] == [0, 0, 0]
    assert set(res.info["details"][0]["heldout"]) == {"0", "3"}


def test_bad_candidate_cuts_are_refused(tiny):
    g, op, _, y = tiny
    with pytest.raises(ValueError, match="cut 9 is out of range"):
        recover_auto_cut(g, op, y, cuts=(0, 9), steps=1)
    with pytest.raises(ValueError, match="must not repeat"):
        recover_auto_cut(g, op, y, cuts=(0, 0), steps=1)
    with pytest.raises(ValueError, match="non-empty list"):
        recover_auto_cut(g, op, y, cuts=(), steps=1)


# ------------------------------------------------------------------ the sweep method
def auto_tasks(images=("synthetic-000", "synthetic-001", "synthetic-002"), method="surgery_auto",
               cut=0, **extra):
    return grid(model=MODEL, family="dcgan", image_set="synthetic", split="test",
                image=list(images), image_size=64, operator="cs", m=300, method=method,
                cut=cut, steps=1, restarts=1, lr=0.1,
                extra={"cuts": [3, 4], "optimizer_options": {"max_iter": 2}, **extra})


@needs_dcgan
def test_the_chosen_cut_does_not_depend_on_the_batch_and_equals_surgery_there():
    ts = auto_tasks()
    target = ts[1]

    def run(batch):
        recs, images = E.runner._run(batch, "cpu")
        i = [r["key"] for r in recs].index(target.key)
        return recs[i], images[i]

    ref, ref_image = run([target])
    assert ref["batch_invariant"] == 1
    for batch in ([ts[0], target], [target, ts[2], ts[0]]):
        rec, image = run(batch)
        assert rec["details"] == ref["details"]
        assert (rec["psnr"], rec["loss"]) == (ref["psnr"], ref["loss"])
        assert torch.equal(image, ref_image)
    import json

    chosen = json.loads(ref["details"])["cut"]
    assert chosen in (3, 4)
    surgery = dataclasses.replace(target, method="surgery", cut=chosen,
                                  extra={"optimizer_options": {"max_iter": 2}})
    plain, plain_image = E.runner._run([surgery], "cpu")
    assert plain[0]["psnr"] == ref["psnr"] and torch.equal(plain_image[0], ref_image)


@needs_dcgan
def test_surgery_auto_refuses_options_it_does_not_take():
    with pytest.raises(ValueError, match=r"takes no options \['holdut'\]"):
        E.run_batch(auto_tasks(images=("synthetic-000",), holdut=0.3), device="cpu")
    with pytest.raises(ValueError, match="holdout must be a fraction"):
        E.run_batch(auto_tasks(images=("synthetic-000",), holdout=2), device="cpu")


def test_surgery_auto_is_a_sweep_method_at_cut_0():
    from gs.profiles import get_profile

    spec = E.get_method("surgery_auto")
    assert spec.batch_invariant and spec.needs_generator
    ts = E.cs_grid(get_profile("smoke"), families=["dcgan"], methods=("surgery_auto",))
    assert {t.cut for t in ts} == {0} and {t.steps for t in ts} == {1}


def test_cut_comparison_reads_the_four_choices_from_sweep_rows():
    import json

    import pandas as pd

    from gs.autocut import cut_comparison

    base = dict(family="dcgan", image_set="scenes", image="a", m=400, ratio=400 / 12288)
    psnr = {0: 20.0, 1: 23.0, 2: 21.0, 3: 12.0}
    rows = [{**base, "method": "surgery", "cut": c, "psnr": p, "seconds": 1.0}
            for c, p in psnr.items()]
    details = {"cut": 2, "heldout": {"0": 0.3, "1": 0.25, "2": 0.2}}
    rows.append({**base, "method": "surgery_auto", "cut": 0, "psnr": 21.0, "seconds": 4.5,
                 "details": json.dumps(details)})
    out = cut_comparison(pd.DataFrame(rows), {"dcgan": 3}).set_index("series")
    assert out.loc["no_surgery", "psnr"] == 20.0
    assert (out.loc["surgery_validation", "cut"], out.loc["surgery_validation", "psnr"]) == (3, 12)
    # the oracle is the best of the candidates surgery_auto had (0-2), not of every cut
    assert (out.loc["surgery_oracle", "cut"], out.loc["surgery_oracle", "psnr"]) == (1, 23.0)
    assert (out.loc["surgery_auto", "cut"], out.loc["surgery_auto", "seconds"]) == (2, 4.5)
    # scored by the surgery record at its chosen cut, like the other series (an auto
    # record from another engine version than the surgery records cannot beat the oracle)
    rows[-1]["psnr"] = 22.5
    out = cut_comparison(pd.DataFrame(rows), {"dcgan": 3}).set_index("series")
    assert (out.loc["surgery_auto", "psnr"], out.loc["surgery_auto", "own_psnr"]) == (21.0, 22.5)
    with pytest.raises(ValueError, match=r"no surgery rows at cut\(s\) \[3\]"):
        cut_comparison(pd.DataFrame(rows[:3] + rows[4:]), {"dcgan": 3})
