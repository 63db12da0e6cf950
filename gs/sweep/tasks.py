"""Tasks: one recovery problem each, with a key that names everything that decides it.

>>> t = Task(model="", family="", image_set="synthetic", split="test", image="synthetic-000",
...          image_size=64, operator="cs", m=100, method="lasso_dct", cut=0, steps=None,
...          restarts=1, lr=None)
>>> t.key == Task(**t.config()).key
True
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
from dataclasses import dataclass
from typing import Any

#: Operators that take a number of measurements ``m``.
CS_OPERATORS = ("cs", "cs_fast")

#: Part of every task's key. Bumped whenever the package starts computing a different
#: number for the same task, so a store never mixes old and new results: 2 = surgery,
#: mGANprior and Deep Decoder return their best iterate and stop problems that blow up
#: (1: the last iterate; IAGAN still returns its last).
RESULTS_VERSION = 2


def stable_seed(*parts: Any) -> int:
    """A seed in ``[0, 2**63)`` that depends only on ``parts`` (sha1 of their JSON).

    Unlike ``hash()`` it is the same in every process and Python session.

    >>> stable_seed("noise", "img-000", 100, 0) == stable_seed("noise", "img-000", 100, 0)
    True
    """
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"))
    return int.from_bytes(hashlib.sha1(text.encode()).digest()[:8], "big") >> 1


def _canonical_extra(extra: Any) -> str:
    if isinstance(extra, str):
        extra = json.loads(extra or "{}")
    if not isinstance(extra, dict):
        raise TypeError(f"extra must be a dict or a JSON object string, got {type(extra).__name__}")
    return json.dumps(extra, sort_keys=True, separators=(",", ":"))


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _positive_number(v: Any) -> bool:
    return (isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            and v > 0)


@dataclass(frozen=True)
class Task:
    """One recovery problem: an image and everything that decides its result.

    Attributes:
        model: zoo entry name of the generator (``""`` for methods that use none:
            ``lasso_dct``, ``deep_decoder``).
        family: ``"dcgan"``, ``"began"``, ``"vae"`` (picks lr and baseline defaults).
        image_set, split, image: which image (``image`` is its name in the set).
        image_size: H = W in pixels.
        operator: ``"cs"``, ``"cs_fast"``, ``"identity"``, ``"inpainting"``, ``"sr"``.
        m: number of measurements (CS operators only; None otherwise), 1 <= m <= n.
        method: a name in :data:`gs.sweep.methods.METHODS`.
        cut: the cut index.
        seed: seeds the operator (with m), the noise (with image, m) and the init.
        steps, restarts, lr, init: the recovery budget; ``steps``/``lr`` None means the
            method's own defaults (baselines).
        extra: method options as a dict (stored as canonical JSON), e.g.
            ``{"budget": 0.2}`` for baselines or ``{"optimizer": "adam"}``.
        weights: the first 16 hex digits of the zoo entry's sha256 (:func:`gs.zoo.weights_id`,
            computed from the checkpoint when the entry gives none), filled in when left
            empty; ``""`` only without a model. Part of the key, so results of replaced
            weights are never reused.

    Impossible values (fractional or negative steps, no restarts, a non-finite or
    non-positive lr, m outside 1..n, a non-positive init limit or chunk size) are
    rejected here, before anything runs.
    """

    model: str
    family: str
    image_set: str
    split: str
    image: str
    image_size: int
    operator: str
    m: int | None
    method: str
    cut: int
    seed: int = 0
    steps: int | None = 25
    restarts: int = 3
    lr: float | None = 0.1
    init: str = "clamped_normal"
    extra: str = "{}"
    weights: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "extra", _canonical_extra(self.extra))
        self._check()
        if not self.weights and self.model:
            from gs import zoo

            object.__setattr__(self, "weights", zoo.weights_id(self.model))

    def _check(self) -> None:
        problems = []
        if not _is_int(self.image_size) or self.image_size < 1:
            problems.append(f"image_size must be a positive int, got {self.image_size!r}")
        if self.operator in CS_OPERATORS:
            n = 3 * self.image_size**2 if _is_int(self.image_size) else None
            if not _is_int(self.m) or self.m < 1 or (n is not None and self.m > n):
                problems.append(f"operator {self.operator!r} needs an int m in 1..n={n}, "
                                f"got {self.m!r}")
        elif self.m is not None:
            problems.append(f"operator {self.operator!r} takes no m, got m={self.m!r}")
        if not _is_int(self.cut) or self.cut < 0:
            problems.append(f"cut must be an int >= 0, got {self.cut!r}")
        if not _is_int(self.seed):
            problems.append(f"seed must be an int, got {self.seed!r}")
        if self.steps is not None and (not _is_int(self.steps) or self.steps < 0):
            problems.append(f"steps must be an int >= 0 (or None), got {self.steps!r}")
        if not _is_int(self.restarts) or self.restarts < 1:
            problems.append(f"restarts must be an int >= 1, got {self.restarts!r}")
        if self.lr is not None and not _positive_number(self.lr):
            problems.append(f"lr must be a finite number > 0 (or None), got {self.lr!r}")
        opts = self.options
        for name in ("init_limit", "budget", "tol"):
            if name in opts and not _positive_number(opts[name]):
                problems.append(f"extra[{name!r}] must be a finite number > 0, got "
                                f"{opts[name]!r}")
        for name in ("chunk_size", "steps", "steps2"):
            if name in opts and (not _is_int(opts[name]) or opts[name] < 1):
                problems.append(f"extra[{name!r}] must be an int >= 1, got {opts[name]!r}")
        if problems:
            raise ValueError(f"invalid task ({self.method} on {self.image!r}): "
                             + "; ".join(problems))

    @property
    def options(self) -> dict:
        """``extra`` as a dict."""
        return json.loads(self.extra)

    def config(self) -> dict:
        """The task's fields as a plain dict (``extra`` as its JSON string)."""
        return dataclasses.asdict(self)

    @property
    def key(self) -> str:
        """A stable id: sha1 of the sorted JSON of :meth:`config` and
        :data:`RESULTS_VERSION` (the same in every process)."""
        text = json.dumps({**self.config(), "results_version": RESULTS_VERSION},
                          sort_keys=True, separators=(",", ":"))
        return hashlib.sha1(text.encode()).hexdigest()

    def batch_key(self, across: tuple[str, ...] = ()) -> tuple:
        """Everything but the image (and the fields ``across``): tasks with equal batch
        keys may run as one batch (see :attr:`gs.sweep.methods.MethodSpec.batch_across`)."""
        skip = {"image", *across}
        return tuple(v for k, v in self.config().items() if k not in skip)


TASK_FIELDS = tuple(f.name for f in dataclasses.fields(Task))


def grid(**axes: Any) -> list[Task]:
    """Tasks for the cartesian product of the list- or tuple-valued arguments.

    Every :class:`Task` field is given; a list or tuple value is an axis, anything else
    is held fixed (give ``extra`` as a dict, or a list of dicts for an axis).

    >>> ts = grid(model="", family="", image_set="synthetic", split="test",
    ...           image=["a", "b"], image_size=64, operator="cs", m=[100, 200],
    ...           method="lasso_dct", cut=[0, 1])
    >>> len(ts), len({t.key for t in ts})
    (8, 8)
    """
    unknown = set(axes) - set(TASK_FIELDS)
    if unknown:
        raise ValueError(f"unknown Task fields {sorted(unknown)}; fields are {TASK_FIELDS}")
    names = list(axes)
    values = [v if isinstance(v, list | tuple) else [v] for v in axes.values()]
    return [Task(**dict(zip(names, combo, strict=True))) for combo in itertools.product(*values)]
