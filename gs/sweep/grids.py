"""Grids of tasks: the compressed-sensing grid of a profile and its cut sweep.

>>> from gs.profiles import get_profile
>>> tasks = cs_grid(get_profile("smoke"), families=["dcgan"], methods=("surgery",))
>>> sorted({t.cut for t in tasks}), len({t.m for t in tasks})
([0, 1], 2)
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence

import torch

from gs.profiles import Profile
from gs.sweep.images import image_names
from gs.sweep.methods import get_method
from gs.sweep.tasks import CS_OPERATORS, Task, grid


@functools.cache
def _meta_model(model: str):
    """The architecture of zoo entry ``model`` on the meta device (no weights); for a
    paper-profile entry not trained yet, the architecture ``make paper`` will train."""
    from gs import zoo
    from gs.models import build
    from gs.train.config import paper_architecture

    try:
        entry = zoo.get(model)
        name, kwargs = entry.model, entry.model_kwargs
    except ValueError:
        if (arch := paper_architecture(model)) is None:
            raise
        name, kwargs = arch
    with torch.device("meta"):
        return build(name, **kwargs)


def model_info(model: str) -> tuple[int, int]:
    """``(image_size, paper_cut)`` of a zoo entry (the paper's cut for its family)."""
    g = _meta_model(model)
    return int(g.image_size), int(g.default_cut)


def model_sweep_cuts(model: str) -> tuple[int, ...]:
    """The cuts of the paper's cut sweep for zoo entry ``model``'s architecture."""
    return tuple(_meta_model(model).sweep_cuts)


def _check_ratios(ratios: Sequence[float]) -> tuple[float, ...]:
    bad = [r for r in ratios if isinstance(r, bool) or not isinstance(r, int | float)
           or not 0 < r <= 1]
    if bad or not ratios:
        raise ValueError(f"ratios m/n must be numbers in (0, 1], got {list(ratios)!r}")
    return tuple(float(r) for r in ratios)


def cs_grid(
    profile: Profile,
    families: Sequence[str] | None = None,
    image_set: str | None = None,
    split: str = "test",
    methods: Sequence[str] = ("surgery",),
    cuts: Sequence[int] | None = None,
    ratios: Sequence[float] | None = None,
    seeds: Sequence[int] | None = None,
    n_images: int | None = None,
    operator: str | None = None,
    extra: dict | None = None,
) -> list[Task]:
    """The compressed-sensing grid of a profile: families x images x m x methods x cuts.

    Args:
        profile: sizes, budgets and models (see :mod:`gs.profiles`).
        families: model families to run (default: all of ``profile.models``).
        image_set: image set name (default ``profile.in_dist``).
        split: ``"test"`` (``profile.n_test`` images) or ``"val"`` (``profile.n_val``).
        methods: names in :data:`gs.sweep.methods.METHODS`.
        cuts: the cuts asked for; each method's cut policy
            (:meth:`~gs.sweep.methods.MethodSpec.cuts`) decides what it runs at.
        ratios: undersampling ratios m/n in (0, 1] (default ``profile.ratios``).
        seeds: default ``(profile.seed,)``.
        n_images: the first ``n_images`` images of the set (default by split, above).
        operator: default ``profile.operator``; ``"cs"`` becomes ``"cs_fast"`` for models
            of ``profile.structured_from`` px or more.
        extra: options merged into every task's ``extra``.

    Methods with a generator get ``profile.steps``, ``profile.restarts`` and
    ``profile.lr[family]`` unless they scale their own step counts (``budget_params``):
    those get ``steps``/``lr`` None and ``extra["budget"] = profile.baseline_budget``.
    Convex methods run to a tolerance and get ``profile.lasso`` as options. Methods that
    use no generator get ``model=""`` and so run once per image size.
    """
    families = list(families) if families is not None else list(profile.models)
    image_set = image_set or profile.in_dist
    operator = operator or profile.operator
    seeds = list(seeds) if seeds is not None else [profile.seed]
    if n_images is None:
        n_images = profile.n_val if split in ("val", "validation") else profile.n_test
    if isinstance(n_images, bool) or not isinstance(n_images, int) or n_images < 1:
        raise ValueError(f"n_images must be an int >= 1, got {n_images!r}")
    r_profile = dataclasses.replace(profile, ratios=_check_ratios(
        profile.ratios if ratios is None else ratios))
    specs = [get_method(m) for m in methods]  # fail early on unknown names
    tasks: list[Task] = []
    for family in families:
        if family not in profile.models:
            raise ValueError(f"profile {profile.name!r} has no model for family {family!r}; "
                             f"it has {sorted(profile.models)}")
        model = profile.models[family]
        size, paper_cut = model_info(model)
        names = image_names(image_set, split, size)[:n_images]
        op = operator
        if op == "cs" and profile.structured_from and size >= profile.structured_from:
            op = "cs_fast"
        m_values = r_profile.m_values(3 * size * size) if op in CS_OPERATORS else [None]
        for spec in specs:
            common = dict(image_set=image_set, split=split, image=list(names), image_size=size,
                          operator=op, m=list(m_values), seed=seeds, method=spec.name,
                          cut=list(spec.cuts(paper_cut, tuple(cuts) if cuts else None)),
                          model=model if spec.needs_generator else "",
                          family=family if spec.needs_generator else "",
                          restarts=spec.restarts or profile.restarts)
            if spec.convex:
                opts, budget = dict(profile.lasso), dict(steps=None, lr=None)
            elif spec.budget_params:
                opts = {"budget": profile.baseline_budget}
                budget = dict(steps=None, lr=None)
            else:
                opts, budget = {}, dict(steps=profile.steps, lr=profile.lr[family])
            tasks += grid(extra={**opts, **(extra or {})}, **budget, **common)
    return list({t.key: t for t in tasks}.values())  # drop duplicates, keep order


def sweep_cuts(profile: Profile, family: str) -> tuple[int, ...]:
    """The cuts of ``family``'s cut sweep in ``profile`` (its ``sweep_cuts`` or the
    model's paper sweep)."""
    return tuple((profile.sweep_cuts or {}).get(family)
                 or model_sweep_cuts(profile.models[family]))


def cut_sweep_grid(profile: Profile, family: str, image_set: str | None = None) -> list[Task]:
    """The validation cut sweep of ``family`` (notebook 02): surgery at every sweep cut,
    on ``profile.n_val`` validation images of ``image_set`` (default ``in_dist``), at
    ``profile.sweep_ratios`` (default ``ratios``). :func:`gs.sweep.cuts.chosen_cuts`
    reads exactly these tasks back."""
    return cs_grid(profile, families=[family], image_set=image_set or profile.in_dist,
                   split="val", methods=("surgery",), cuts=sweep_cuts(profile, family),
                   ratios=profile.sweep_ratios or profile.ratios)


def per_family(frame, families: dict[str, int]):
    """Give generator-free rows (Lasso-DCT, Deep Decoder: ``family == ""``) to every family
    whose image size they match, so they can be drawn in that family's panel.

    ``families`` maps family -> image size. Returns a new frame.
    """
    import pandas as pd

    own = frame[frame["family"] != ""]
    shared = frame[frame["family"] == ""]
    parts = [own]
    for family, size in families.items():
        part = shared[shared["image_size"] == size].copy()
        part["family"] = family
        parts.append(part)
    return pd.concat(parts, ignore_index=True)
