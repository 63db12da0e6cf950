"""The paper's claims, each checked against stored results with paired differences.

Every claim compares two series on the same images, measurements and noise (the store
pairs them: one ``y`` per image, m and seed, shared by every method and cut). The unit
of evidence is the image: a difference is averaged over the ratios every image of the
claim's scope was run at (in a run still in progress the others are left out, and the
claim says which), and the mean over images gets a Student-t 95 % confidence interval.
Verdicts:

* ``holds``: the interval lies on the claimed side (above 0 for "better"; above
  ``-COMPARABLE_DB`` for "at least as good"; within ``+-COMPARABLE_DB`` for "comparable");
* ``does not hold``: the interval lies on the other side;
* ``not shown``: the interval straddles the line, or the runs are missing (too few
  images, or the profile did not run that experiment).

>>> mean_ci([1.0, 2.0, 3.0])[:2]
(2.0, 3)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd

from gs.profiles import Profile

#: Two methods within this many dB of each other are "comparable"; "at least as good"
#: allows a loss of at most this much.
COMPARABLE_DB = 1.0
#: "Recovered almost exactly": a mean PSNR at least this high (dB).
EXACT_DB = 30.0
#: A PSNR-per-cut curve counts as concave-ish if it rises to one peak and falls after it,
#: allowing wiggles of this many dB.
CONCAVE_SLACK_DB = 0.25

HOLDS, FAILS, NOT_SHOWN = "holds", "does not hold", "not shown"
CS = ("cs", "cs_fast")
#: the latent start of the paper's protocol (a task's default init)
DEFAULT_INIT = "clamped_normal"


@dataclass(frozen=True)
class Verdict:
    """One claim of the paper and what the numbers say."""

    number: int
    claim: str
    scope: str  # e.g. "dcgan, faces"
    verdict: str
    numbers: str
    n: int
    mean: float = math.nan  # the paired difference (dB) and its interval, where one applies
    low: float = math.nan
    high: float = math.nan
    #: No configuration is shared by every image (a run in progress), so nothing is paired.
    unshared: bool = False
    #: The configurations the difference is over when it leaves some out (e.g. "m 600,
    #: 4000": one side ran more ratios, or a run in progress); "" when it covers them all.
    over: str = ""

    def line(self) -> str:
        return (f"({self.number}) {self.claim} [{self.scope}]: {self.verdict.upper()} - "
                f"{self.numbers}")


def mean_ci(values: Sequence[float], level: float = 0.95) -> tuple[float, int, float, float]:
    """``(mean, n, low, high)``: the mean and its Student-t interval (nan for n < 2)."""
    from scipy import stats

    v = [float(x) for x in values]
    n = len(v)
    if n == 0:
        return math.nan, 0, math.nan, math.nan
    mean = math.fsum(v) / n
    if n < 2:
        return mean, n, math.nan, math.nan
    sd = math.sqrt(math.fsum((x - mean) ** 2 for x in v) / (n - 1))
    half = stats.t.ppf(0.5 + level / 2, n - 1) * sd / math.sqrt(n)
    return mean, n, mean - half, mean + half


def _judge(lo: float, hi: float, kind: str) -> str:
    if math.isnan(lo):
        return NOT_SHOWN
    if kind == "better":
        return HOLDS if lo > 0 else FAILS if hi < 0 else NOT_SHOWN
    if kind == "at_least":
        return HOLDS if lo > -COMPARABLE_DB else FAILS if hi < -COMPARABLE_DB else NOT_SHOWN
    if kind == "comparable":
        inside = -COMPARABLE_DB < lo and hi < COMPARABLE_DB
        outside = hi < -COMPARABLE_DB or lo > COMPARABLE_DB
        return HOLDS if inside else FAILS if outside else NOT_SHOWN
    raise ValueError(f"unknown comparison {kind!r}")


IMAGE = ["image_set", "image"]
#: What a claim's numbers say when its images share no configuration (a run in progress).
UNSHARED = "no measurement count is shared by every image"


def paired_gain(a: pd.DataFrame, b: pd.DataFrame, on: Sequence[str] = ("image_set", "image", "m"),
                metric: str = "psnr") -> pd.Series:
    """Per image: mean of ``a - b`` over the configurations (the ``on`` columns besides
    ``image_set`` and ``image``: the ratios) that *every* paired image has; rows matched
    on ``on``, configurations only one side ran left out, repeated rows of one image and
    configuration averaged first (so no configuration weighs more than another).

    A run in progress has some images at more ratios than others, or one method at more
    ratios than the other; averaging each image over its own ratios would mix easy and hard
    ratios unevenly, so only the shared ones count. ``gains.attrs``: ``configuration``
    (the column names), ``shared`` (the configurations counted) and ``left_out`` (those
    of the paired images that one side or some image lacks); values, or tuples when there
    are several columns.

    >>> a = pd.DataFrame({"image_set": "s", "image": ["x", "x", "y", "y"], "m": [1, 2, 1, 3],
    ...                   "psnr": [20.0, 30.0, 22.0, 25.0]})
    >>> b = a.iloc[:3].assign(psnr=[19.0, 25.0, 20.0])
    >>> g = paired_gain(a, b)
    >>> g.tolist(), g.attrs["shared"], g.attrs["left_out"]
    ([1.0, 2.0], [1], [2, 3])
    """
    cols = list(on)
    config = [c for c in cols if c not in IMAGE]
    j = a[cols + [metric]].merge(b[cols + [metric]], on=cols, suffixes=("_a", "_b"))
    j["d"] = j[f"{metric}_a"] - j[f"{metric}_b"]
    j = j.groupby(IMAGE + config, dropna=False)["d"].mean().reset_index()
    shared: list = []
    left_out: list = []
    if config and not j.empty:
        per_config = j.groupby(config, dropna=False).size()  # images per configuration
        everywhere = per_config.to_numpy() == j.groupby(IMAGE).ngroups
        shared = list(per_config.index[everywhere])
        paired = j.set_index(IMAGE).index
        one_side = {c for side in (a, b)
                    for c in side[side.set_index(IMAGE).index.isin(paired)]
                    .groupby(config, dropna=False).size().index} - set(per_config.index)
        left_out = _sorted(list(set(per_config.index[~everywhere]) | one_side))
        j = j[j.set_index(config).index.isin(shared)]
    gains = j.groupby(IMAGE)["d"].mean()
    gains.attrs.update(configuration=config, shared=shared, left_out=left_out)
    return gains


def _sorted(values: list) -> list:
    try:
        return sorted(values)
    except TypeError:  # mixed types in a configuration column
        return sorted(values, key=str)


def _values(values: Sequence) -> str:
    def one(v) -> str:
        if isinstance(v, tuple):
            return "(" + ", ".join(one(x) for x in v) + ")"
        return str(int(v)) if isinstance(v, (int, float)) and float(v).is_integer() else str(v)

    return ", ".join(one(v) for v in values)


def _partial(gains: pd.Series) -> str:
    """What a claim over a run in progress leaves out ("" when nothing)."""
    left_out = gains.attrs.get("left_out")
    if not left_out:
        return ""
    name = "/".join(gains.attrs["configuration"])
    if not gains.attrs["shared"]:
        return f"{UNSHARED} ({name} {_values(left_out)} each run on only some)"
    return (f"over {name} {_values(gains.attrs['shared'])}, those both sides have for every "
            f"image ({name} {_values(left_out)} not run for both on every image)")


def _fmt(mean: float, n: int, lo: float, hi: float, what: str) -> str:
    if n == 0:
        return f"no paired runs of {what}"
    if n < 2:
        return f"{what} {mean:+.2f} dB (n=1, no interval)"
    return f"{what} {mean:+.2f} dB, 95% CI [{lo:+.2f}, {hi:+.2f}], n={n} images"


class Claims:
    """Evaluate the paper's claims on a results ``frame`` (the store's or the shipped
    table's rows) of a ``profile`` run whose chosen cut per family is ``cuts``."""

    def __init__(self, frame: pd.DataFrame, profile: Profile, cuts: dict[str, int]):
        self.f, self.p, self.cuts = frame, profile, cuts
        self.out: list[Verdict] = []

    # -- selections ------------------------------------------------------------------
    def runs(self, method: str, *, family: str | None = None, cut: int | None = None,
             image_set: str | None = None, split: str = "test", operator: str = "cs",
             default_budget: bool = True) -> pd.DataFrame:
        """Rows of ``method`` (``operator="cs"``: dense or structured Gaussian CS), at the
        profile's own budget for surgery and its ablation (not a study's variant)."""
        f = self.f
        keep = (f.method == method) & (f.split == split)
        if family is not None and method not in ("lasso_dct", "deep_decoder"):
            keep &= f.family == family
        if family is not None:
            size = int(f.loc[(f.family == family), "image_size"].iloc[0]) \
                if (f.family == family).any() else None
            if size is not None:
                keep &= f.image_size == size
        if cut is not None:
            keep &= f.cut == cut
        if image_set is not None:
            keep &= f.image_set == image_set
        keep &= f.operator.isin(CS if operator == "cs" else (operator,))
        if default_budget and method in ("surgery", "reinit"):
            # the profile's own protocol, not a study's variant (08's other starts,
            # learning rates, restart counts or optimisers share method, cut and m)
            keep &= (f.extra == "{}") & (f.steps == self.p.steps) & (f.restarts == self.p.restarts)
            keep &= (f.init == DEFAULT_INIT) & (f.seed == self.p.seed)
            if family is not None and family in self.p.lr:
                keep &= f.lr == self.p.lr[family]
        return f[keep]

    def _add(self, number: int, claim: str, scope: str, kind: str, gains: pd.Series,
             what: str) -> None:
        mean, n, lo, hi = mean_ci(gains.tolist())
        numbers = _fmt(mean, n, lo, hi, what)
        if partial := _partial(gains):
            numbers = f"{what}: {partial}" if n == 0 else f"{numbers}; {partial}"
        unshared = bool(gains.attrs.get("left_out")) and not gains.attrs.get("shared")
        over = (f"{'/'.join(gains.attrs['configuration'])} {_values(gains.attrs['shared'])}"
                if partial and not unshared else "")
        self.out.append(Verdict(number, claim, scope, _judge(lo, hi, kind), numbers, n,
                                mean, lo, hi, unshared, over))

    def _families(self) -> list[str]:
        return [f for f in self.p.models if f in self.cuts]

    # -- the claims ------------------------------------------------------------------
    def surgery_beats_no_surgery(self, number: int, image_set: str, operator: str,
                                 claim: str) -> None:
        for fam in self._families():
            c = self.cuts[fam]
            a = self.runs("surgery", family=fam, cut=c, image_set=image_set, operator=operator)
            b = self.runs("surgery", family=fam, cut=0, image_set=image_set, operator=operator)
            self._add(number, claim, f"{fam}, {image_set}", "better", paired_gain(a, b),
                      f"surgery (cut {c}) - no surgery")

    def baselines(self, number: int = 3) -> None:
        kinds = {"mgan": "at_least", "iagan": "at_least", "deep_decoder": "comparable"}
        for fam in self._families():
            c = self.cuts[fam]
            for image_set in (self.p.in_dist, self.p.ood):
                s = self.runs("surgery", family=fam, cut=c, image_set=image_set)
                for method, kind in kinds.items():
                    b = self.runs(method, family=fam, image_set=image_set)
                    if b.empty:
                        continue
                    wording = ("comparable with" if kind == "comparable"
                               else "at least as good as")
                    self._add(number, f"surgery is {wording} {method}",
                              f"{fam}, {image_set}", kind, paired_gain(s, b),
                              f"surgery - {method}")

    def concave_in_cut(self, number: int = 4) -> None:
        for fam in self._families():
            v = self.runs("surgery", family=fam, image_set=self.p.in_dist, split="val")
            curve = v.groupby("cut")["psnr"].mean().sort_index()
            if len(curve) < 3:
                self.out.append(Verdict(number, "PSNR is roughly concave in the cut",
                                        f"{fam}, {self.p.in_dist} (validation)", NOT_SHOWN,
                                        "fewer than 3 cuts swept", int(v.image.nunique())))
                continue
            peak = int(curve.values.argmax())
            vals = curve.values
            rises = all(vals[i + 1] >= vals[i] - CONCAVE_SLACK_DB for i in range(peak))
            falls = all(vals[i + 1] <= vals[i] + CONCAVE_SLACK_DB
                        for i in range(peak, len(vals) - 1))
            shape = " ".join(f"c{c}:{p:.1f}" for c, p in curve.items())
            verdict = HOLDS if rises and falls else FAILS
            self.out.append(Verdict(number, "PSNR is roughly concave in the cut",
                                    f"{fam}, {self.p.in_dist} (validation)", verdict,
                                    f"mean PSNR by cut {shape} dB; peak at cut "
                                    f"{curve.index[peak]}", int(v.image.nunique())))

    def reinit_hurts(self, number: int = 5) -> None:
        for fam in self._families():
            c = self.cuts[fam]
            for image_set in (self.p.in_dist, self.p.ood):
                s = self.runs("surgery", family=fam, cut=c, image_set=image_set)
                r = self.runs("reinit", family=fam, cut=c, image_set=image_set)
                if r.empty:
                    continue
                self._add(number, "re-initialising the kept blocks hurts",
                          f"{fam}, {image_set}", "better", paired_gain(s, r),
                          "surgery - re-initialised")

    def samples_recovered(self, number: int = 6) -> None:
        for fam in self._families():
            model = self.p.models[fam]
            for op in ("identity", "cs"):
                v = self.runs("surgery", family=fam, cut=0, image_set=f"samples:{model}",
                              operator=op)
                per_image = v.groupby("image")["psnr"].mean()
                mean, n, lo, hi = mean_ci(per_image.tolist())
                verdict = NOT_SHOWN if n < 2 else (
                    HOLDS if lo > EXACT_DB else FAILS if hi < EXACT_DB else NOT_SHOWN)
                self.out.append(Verdict(
                    number, f"samples of the generator are recovered almost exactly "
                    f"(>= {EXACT_DB:.0f} dB at cut 0)", f"{fam}, {op}", verdict,
                    f"PSNR {mean:.1f} dB, 95% CI [{lo:.1f}, {hi:.1f}], n={n} samples"
                    if n >= 2 else f"{n} samples", n))

    def evaluate(self) -> list[Verdict]:
        self.out = []
        self.surgery_beats_no_surgery(1, self.p.in_dist, "cs",
                                      "surgery beats no surgery (in distribution)")
        self.surgery_beats_no_surgery(2, self.p.ood, "cs",
                                      "surgery beats no surgery (out of distribution)")
        self.baselines(3)
        self.concave_in_cut(4)
        self.reinit_hurts(5)
        self.samples_recovered(6)
        for op in ("inpainting", "sr"):
            for image_set in (self.p.in_dist, self.p.ood):
                for fam in self._families():
                    c = self.cuts[fam]
                    a = self.runs("surgery", family=fam, cut=c, image_set=image_set,
                                  operator=op)
                    b = self.runs("surgery", family=fam, cut=0, image_set=image_set,
                                  operator=op)
                    if a.empty or b.empty:
                        continue
                    self._add(7, f"surgery helps {op}", f"{fam}, {image_set}", "better",
                              paired_gain(a, b), "surgery - no surgery")
        return self.out


def evaluate(frame: pd.DataFrame, profile: Profile, cuts: dict[str, int]) -> list[Verdict]:
    """Every claim's verdicts (:class:`Claims`)."""
    return Claims(frame, profile, cuts).evaluate()


def judge(store, profile: Profile) -> tuple[list[Verdict], dict]:
    """Every claim judged from all the records of ``store`` (a
    :class:`gs.sweep.ResultsStore`) at the cuts ``profile``'s validation sweep chose there:
    ``(verdicts, cut choices)`` (a family without a complete sweep is judged at the
    paper's cut; its :class:`~gs.sweep.cuts.CutChoice` says so)."""
    from gs.sweep.cuts import chosen_cuts

    choices = chosen_cuts(profile, store, list(profile.models))
    return evaluate(store.to_frame(), profile, {f: c.cut for f, c in choices.items()}), choices


def table(verdicts: Sequence[Verdict]) -> pd.DataFrame:
    """The verdicts as a frame (one row per claim and scope; ``unshared`` is said in
    ``numbers``)."""
    return pd.DataFrame([{k: x for k, x in v.__dict__.items() if k != "unshared"}
                         for v in verdicts])


def summary(verdicts: Sequence[Verdict], reason: Callable[[Verdict], str] | None = None) -> str:
    """One line per claim and scope, with ``reason(v)`` after each that does not hold."""
    lines = []
    for v in verdicts:
        line = v.line()
        if reason is not None and v.verdict != HOLDS:
            line += f"  <- {reason(v)}"
        lines.append(line)
    return "\n".join(lines)


#: How a claim's verdict moved from a first run to a second (:func:`compare`).
CHANGES = {"same": "same conclusion", "decided": "decided by the {b} run",
           "undecided": "no longer decided in the {b} run", "reversed": "reversed by the {b} run",
           "only first": "not in the {b} run", "only second": "only in the {b} run",
           "neither": "in neither run"}


#: A claim's wording where its scopes word it differently (one per baseline, problem).
TITLES = {3: "surgery is at least as good as mGANprior and IAGAN and comparable with Deep "
             "Decoder", 7: "surgery helps inpainting and super-resolution"}


def compare(first: Sequence[Verdict], second: Sequence[Verdict]) -> pd.DataFrame:
    """Each claim and scope of two runs side by side (e.g. the quick offline profile and
    offline-full): verdict, mean paired difference and n of each, and ``change`` (a key of
    :data:`CHANGES`). A verdict on no runs (n = 0) counts as absent."""
    rows: dict[tuple, dict] = {}
    for side, verdicts in (("first", first), ("second", second)):
        for v in verdicts:
            row = rows.setdefault((v.number, v.claim, v.scope),
                                  {"number": v.number, "claim": v.claim, "scope": v.scope})
            if v.n:
                row.update({f"{side}_verdict": v.verdict, f"{side}_mean": v.mean,
                            f"{side}_n": v.n})
    out = pd.DataFrame(list(rows.values()))
    for side in ("first", "second"):
        for col, empty in (("verdict", None), ("mean", math.nan), ("n", 0)):
            if f"{side}_{col}" not in out:
                out[f"{side}_{col}"] = empty
    out[["first_n", "second_n"]] = out[["first_n", "second_n"]].fillna(0).astype(int)

    def change(r) -> str:
        a, b = r.first_verdict, r.second_verdict
        if not isinstance(a, str) and not isinstance(b, str):
            return "neither"
        if not isinstance(b, str):
            return "only first"
        if not isinstance(a, str):
            return "only second"
        if a == b:
            return "same"
        if a == NOT_SHOWN:
            return "decided"
        return "undecided" if b == NOT_SHOWN else "reversed"

    out["change"] = out.apply(change, axis=1) if len(out) else []
    return out.sort_values("number", kind="stable").reset_index(drop=True)


def _side(verdict, mean: float, n: int) -> str:
    if not isinstance(verdict, str):
        return "not run"
    return verdict + (f" {mean:+.2f} dB" if not math.isnan(mean) else "") + f", n={n}"


def compare_sentences(table: pd.DataFrame, first: str = "quick", second: str = "full"
                      ) -> list[str]:
    """One sentence per claim from :func:`compare`'s ``table``: which scopes kept, gained,
    lost or reversed their verdict, with both runs' numbers."""
    sentences = []
    for number, part in table.groupby("number", sort=True):
        several = part.claim.nunique() > 1 or int(number) in TITLES
        pieces = []
        for change in CHANGES:
            rows = part[part.change == change]
            if rows.empty:
                continue
            what = "; ".join(
                f"{(r.claim + ', ') if several else ''}{r.scope} ({first}: "
                f"{_side(r.first_verdict, r.first_mean, r.first_n)}; {second}: "
                f"{_side(r.second_verdict, r.second_mean, r.second_n)})"
                for r in rows.itertuples())
            pieces.append(f"{CHANGES[change].format(b=second)} for {what}")
        claim = TITLES.get(int(number), part.claim.iloc[0])
        sentences.append(f"({number}) {claim}: " + "; ".join(pieces) + ".")
    return sentences


#: Offline profiles: what their models and images are (why a claim may not transfer).
OFFLINE_LIMITS = (
    "offline models: a DCGAN trained on synthetic DigiFace faces, BEGAN and VAE trained "
    "on its samples (blurry); shipped photos, not CelebA/COCO")


def likely_reason(v: Verdict, profile: Profile) -> str:
    """The likely reasons a claim is not shown or does not hold in ``profile``'s run."""
    reasons = []
    if v.n < 2:
        reasons.append("a run in progress" if v.unshared
                       else "not run in this profile" if v.n == 0 else "one image only")
    elif v.verdict == NOT_SHOWN and -COMPARABLE_DB <= v.low and v.high <= COMPARABLE_DB:
        reasons.append(f"no effect either way: the 95% interval [{v.low:+.2f}, "
                       f"{v.high:+.2f}] dB lies within +-{COMPARABLE_DB:g} dB")
    elif v.verdict == NOT_SHOWN:
        reasons.append(f"the 95% interval crosses the line: {v.n} images are too few "
                       "for their spread")
    if profile.steps < 25:
        reasons.append(f"L-BFGS budget {profile.steps}/25 steps, {profile.restarts} restarts")
    if profile.baseline_budget < 1 and v.number == 3:
        reasons.append(f"baselines at {profile.baseline_budget:g} of their budget")
    if profile.name != "paper" and v.verdict == FAILS:
        reasons.append(OFFLINE_LIMITS)
    return "; ".join(reasons) or "see the numbers"


VERDICT_COLORS = {HOLDS: "#27ae60", FAILS: "#c0392b", NOT_SHOWN: "#7f8c8d"}


def figure(verdicts: Sequence[Verdict], title: str = ""):
    """A forest plot of the paired differences (claims 1, 2, 3, 5, 7): one row per claim
    and scope, the mean and its 95 % interval in dB, coloured by verdict. In talk style
    (:func:`gs.plotting.set_style`) it fills the 16:9 frame, its text as large as the rows
    allow and the legend below the axes."""
    import matplotlib.pyplot as plt

    from gs import plotting

    s = plotting.style()
    talk = s["name"] == "talk"
    rows = [v for v in verdicts if v.n > 0 and not math.isnan(v.mean)]
    size = (s["double"], s["height"]) if talk else (9.0, 0.28 * len(rows) + 1.4)
    fig, ax = plt.subplots(figsize=size, layout="constrained")
    # talk: as large as the rows allow in the frame (at most 0.75 of the base font)
    label = min(s["font"] * 0.75, 0.62 * (s["height"] - 2.2) * 72 / max(len(rows), 1)) \
        if talk else 7
    title_size = s["font"] * 0.8 if talk else 9
    if not rows:  # an empty store: say so on the figure
        ax.text(0.5, 0.5, "no paired runs in this store yet: run notebooks 02-08 first",
                ha="center", va="center", transform=ax.transAxes,
                fontsize=s["font"] if talk else None)
        ax.set_axis_off()
        ax.set_title(title, fontsize=title_size)
        return fig
    lw, ms = (s["line"], s["marker"] * 0.8) if talk else (2, 5)
    for i, v in enumerate(rows):
        y = len(rows) - 1 - i
        color = VERDICT_COLORS[v.verdict]
        if not math.isnan(v.low):
            ax.plot([v.low, v.high], [y, y], color=color, lw=lw)
        ax.plot([v.mean], [y], "o", color=color, ms=ms)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([f"({v.number}) {v.claim.removeprefix('surgery ')} [{v.scope}], n={v.n}"
                        + (f", {v.over} only" if v.over else "") for v in rows][::-1],
                       fontsize=label)
    if talk:
        ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_xlabel("paired PSNR difference, dB (mean and 95% CI over images)",
                  fontsize=s["font"] * 0.8 if talk else None)
    if talk:
        ax.tick_params(axis="x", labelsize=s["font"] * 0.75)
    handles = [plt.Line2D([], [], color=c, marker="o", lw=lw, ms=ms, label=k)
               for k, c in VERDICT_COLORS.items()]
    if talk:
        fig.legend(handles=handles, loc="outside lower center", ncol=len(handles),
                   frameon=False, fontsize=s["font"] * 0.75)
    else:
        ax.legend(handles=handles, fontsize=7, loc="best")
    if title:
        ax.set_title(title, fontsize=title_size)
    return fig
