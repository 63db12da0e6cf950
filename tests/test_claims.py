"""The paper's claims judged from paired differences over images."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gs import claims
from gs.profiles import get_profile

P = get_profile("offline")


def frame(gain: float, noise: float, n_images: int = 8, seed: int = 0) -> pd.DataFrame:
    """Surgery at cut 2 and no surgery (cut 0) for the DCGAN on faces, two ratios per
    image; surgery's PSNR = no surgery's + gain + per-image noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_images):
        base, d = 20 + rng.normal(), gain + noise * rng.normal()
        for m in (400, 2000):
            for cut, psnr in ((0, base), (2, base + d)):
                rows.append(dict(method="surgery", family="dcgan", model="dcgan64-digiface",
                                 image_set="faces", split="test", image=f"img{i}",
                                 image_size=64, operator="cs", m=m, cut=cut, extra="{}",
                                 steps=P.steps, restarts=P.restarts, init="clamped_normal",
                                 lr=P.lr["dcgan"], seed=P.seed, psnr=psnr))
    return pd.DataFrame(rows)


def verdict(f: pd.DataFrame) -> claims.Verdict:
    c = claims.Claims(f, P, {"dcgan": 2})
    c.surgery_beats_no_surgery(1, "faces", "cs", "surgery beats no surgery")
    (v,) = c.out
    return v


@pytest.mark.parametrize("gain, noise, expected", [
    (2.0, 0.5, claims.HOLDS), (-2.0, 0.5, claims.FAILS), (0.1, 3.0, claims.NOT_SHOWN)])
def test_a_claim_holds_fails_or_is_not_shown_by_its_interval(gain, noise, expected):
    v = verdict(frame(gain, noise))
    assert v.verdict == expected and v.n == 8
    assert f"{gain:+.0f}" in v.numbers or expected == claims.NOT_SHOWN


def test_the_image_is_the_unit_and_only_the_profiles_budget_counts():
    f = frame(2.0, 0.5)
    # studies' variants at the same method, cut and m: another optimiser, start, learning
    # rate or seed (notebook 08's) must not enter the paper's claims
    at2 = f[f.cut == 2]
    studies = [at2.assign(extra='{"optimizer":"adam"}', psnr=0.0),
               at2.assign(init="zero", psnr=0.0), at2.assign(lr=1.0, psnr=0.0),
               at2.assign(seed=1, psnr=0.0)]
    v = verdict(pd.concat([f, *studies]))
    mean, n, lo, hi = claims.mean_ci((f[f.cut == 2].groupby("image").psnr.mean()
                                      - f[f.cut == 0].groupby("image").psnr.mean()).tolist())
    assert v.n == n == 8 and f"{mean:+.2f}" in v.numbers and f"{lo:+.2f}" in v.numbers


def test_a_run_in_progress_counts_only_the_ratios_every_image_has():
    f = frame(2.0, 0.5)
    # half the images also ran at m=4000, where surgery would win by 10 dB
    extra = f[(f.m == 2000) & f.image.isin(["img0", "img1", "img2", "img3"])].assign(m=4000)
    extra = extra.assign(psnr=extra.psnr + np.where(extra.cut == 2, 10.0, 0.0))
    v_full, v_partial = verdict(f), verdict(pd.concat([f, extra]))
    assert v_partial.mean == pytest.approx(v_full.mean) and v_partial.n == 8
    assert "m 400, 2000" in v_partial.numbers
    assert "m 4000 not run for both on every image" in v_partial.numbers
    assert "not run for both on every image" not in v_full.numbers
    # one method at a ratio the other has not run (a baseline in progress): said, not hidden
    only_surgery = f[(f.m == 2000) & (f.cut == 2)].assign(m=6000, psnr=40.0)
    v_one_side = verdict(pd.concat([f, only_surgery]))
    assert v_one_side.mean == pytest.approx(v_full.mean) and v_one_side.n == 8
    assert "m 400, 2000, those both sides have" in v_one_side.numbers
    assert "(m 6000 not run for both on every image)" in v_one_side.numbers
    assert (v_full.over, v_one_side.over) == ("", "m 400, 2000")  # the figure's row says it


def test_paired_gains_weigh_each_ratio_once_and_say_when_no_ratio_is_shared():
    def rows(image, m, psnr):
        return pd.DataFrame({"image_set": "s", "image": image, "m": m, "psnr": psnr})

    # a repeated row at m=400 does not weigh that ratio twice
    a = rows(["x", "x", "x"], [400, 400, 2000], [21.0, 25.0, 21.0])
    b = rows(["x", "x"], [400, 2000], [20.0, 20.0])
    assert claims.paired_gain(a, b).tolist() == [2.0]  # mean(mean(1, 5), 1)
    # several configuration columns: tuples, named in the claim
    a = rows(["x", "x", "y"], [1, 2, 1], [2.0, 3.0, 2.0]).assign(seed=0)
    g = claims.paired_gain(a, a.assign(psnr=0.0), on=("image_set", "image", "m", "seed"))
    assert g.attrs["left_out"] == [(2, 0)] and claims._partial(g).startswith("over m/seed (1, 0)")
    # no ratio every image has: not shown, and said so (not "not run")
    f = frame(2.0, 0.5)
    f = f[(f.image == "img0") == (f.m == 400)]
    v = verdict(f)
    assert v.verdict == claims.NOT_SHOWN and v.n == 0 and v.unshared
    assert claims.UNSHARED in v.numbers and "m 400, 2000 each run on only some" in v.numbers
    assert "a run in progress" in claims.likely_reason(v, P)
    assert "unshared" not in claims.table([v]).columns  # said in its numbers
    # a claim no image was run for is not a run in progress
    none = verdict(f[f.image == "nothing"])
    assert none.n == 0 and not none.unshared
    assert "not run in this profile" in claims.likely_reason(none, P)


def test_a_claim_not_shown_says_whether_its_images_are_too_few_or_the_effect_is_nil():
    """An interval through 0 that is wide: too few images for their spread; one inside
    +-1 dB (COMPARABLE_DB): no effect either way, more images would not show a gain."""
    wide = claims.Verdict(7, "c", "s", claims.NOT_SHOWN, "", 3, 2.7, -0.2, 5.6)
    narrow = claims.Verdict(7, "c", "s", claims.NOT_SHOWN, "", 10, 0.11, -0.74, 0.97)
    assert "3 images are too few" in claims.likely_reason(wide, P)
    assert "no effect either way" in claims.likely_reason(narrow, P)
    assert "[-0.74, +0.97] dB lies within +-1 dB" in claims.likely_reason(narrow, P)


def test_missing_runs_are_not_shown_with_the_reason():
    v = verdict(frame(2.0, 0.5).query("cut == 0"))
    assert v.verdict == claims.NOT_SHOWN and v.n == 0
    assert "not run in this profile" in claims.likely_reason(v, P)


def test_concavity_of_psnr_in_the_cut():
    def curve(values):
        rows = [dict(method="surgery", family="dcgan", image_set="faces", split="val",
                     image=f"v{i}", image_size=64, operator="cs", m=400, cut=c, extra="{}",
                     steps=P.steps, restarts=P.restarts, init="clamped_normal",
                     lr=P.lr["dcgan"], seed=P.seed, psnr=p + 0.01 * i)
                for c, p in enumerate(values) for i in range(3)]
        c = claims.Claims(pd.DataFrame(rows), P, {"dcgan": 1})
        c.concave_in_cut()
        return c.out[0].verdict

    assert curve([18, 22, 23, 19]) == claims.HOLDS
    assert curve([18, 22, 18, 23]) == claims.FAILS


def test_compare_says_how_each_verdict_moved_between_two_runs():
    """A quick and a full run side by side: same, decided, undecided, reversed, and scopes
    only one run has (a verdict on no runs counts as absent); one sentence per claim."""
    V = claims.Verdict
    quick = [V(1, "c1", "dcgan, faces", claims.HOLDS, "", 4, 4.6),
             V(1, "c1", "vae, faces", claims.HOLDS, "", 4, 2.0),
             V(2, "c2", "dcgan, scenes", claims.NOT_SHOWN, "", 4, 3.4),
             V(2, "c2", "vae, scenes", claims.HOLDS, "", 4, 1.0),
             V(3, "surgery is at least as good as mgan", "dcgan, faces", claims.HOLDS, "", 3,
               0.8)]
    full = [V(1, "c1", "dcgan, faces", claims.HOLDS, "", 21, 5.1),
            V(1, "c1", "vae, faces", claims.NOT_SHOWN, "no paired runs", 0),
            V(2, "c2", "dcgan, scenes", claims.HOLDS, "", 30, 3.9),
            V(2, "c2", "vae, scenes", claims.FAILS, "", 30, -1.0),
            V(3, "surgery is at least as good as mgan", "dcgan, faces", claims.NOT_SHOWN, "",
              10, -0.9),
            V(4, "c4", "dcgan, faces (validation)", claims.HOLDS, "", 7)]
    t = claims.compare(quick, full)
    assert dict(zip(t.scope + "/" + t.number.astype(str), t.change, strict=True)) == {
        "dcgan, faces/1": "same", "vae, faces/1": "only first", "dcgan, scenes/2": "decided",
        "vae, scenes/2": "reversed", "dcgan, faces/3": "undecided",
        "dcgan, faces (validation)/4": "only second"}
    assert t.loc[t.scope == "vae, faces", "second_n"].item() == 0
    s = claims.compare_sentences(t, "offline", "offline-full")
    assert len(s) == 4
    assert s[0] == ("(1) c1: same conclusion for dcgan, faces (offline: holds +4.60 dB, n=4; "
                    "offline-full: holds +5.10 dB, n=21); not in the offline-full run for "
                    "vae, faces (offline: holds +2.00 dB, n=4; offline-full: not run).")
    assert "decided by the offline-full run for dcgan, scenes" in s[1]
    assert "reversed by the offline-full run for vae, scenes" in s[1]
    assert s[2].startswith(f"(3) {claims.TITLES[3]}: no longer decided in the offline-full "
                           "run for surgery is at least as good as mgan, dcgan, faces")
    assert s[3] == ("(4) c4: only in the offline-full run for dcgan, faces (validation) "
                    "(offline: not run; offline-full: holds, n=7).")


def test_compare_says_when_neither_run_has_a_scope():
    """A scope with no runs on either side (a partial run compared with itself) is "in
    neither run", not "not in the second run yet" with both sides "not run"."""
    V = claims.Verdict
    first = [V(2, "c2", "dcgan, scenes", claims.NOT_SHOWN, "no paired runs", 0)]
    second = [V(2, "c2", "dcgan, scenes", claims.NOT_SHOWN, "no paired runs", 0)]
    t = claims.compare(first, second)
    assert t.change.tolist() == ["neither"]
    assert claims.compare_sentences(t, "a", "b") == [
        "(2) c2: in neither run for dcgan, scenes (a: not run; b: not run)."]
