"""The three profiles (smoke, offline, paper): one code path, other data, weights and sizes.

Every notebook takes a papermill parameter ``profile`` and passes its finer overrides
to :func:`get_profile`; a notebook never branches on the profile itself.

>>> p = get_profile("smoke", n_test=1)
>>> p.name, p.n_test
('smoke', 1)
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

# The paper's measurement counts (settings.py n_measure_64 / n_measure_128); both lists
# give the same undersampling ratios m / n.
PAPER_M_64 = (100, 200, 300, 400, 600, 1000, 2000, 3000, 4000, 6000)
PAPER_M_128 = (400, 800, 1200, 1600, 2400, 4000, 8000, 12000, 16000, 24000)
PAPER_RATIOS = tuple(m / 12288 for m in PAPER_M_64)


@dataclass(frozen=True)
class Profile:
    """Everything a notebook needs to know about where and how big to run.

    ``models`` maps a model family (``dcgan``, ``began``, ``vae``) to a zoo entry;
    ``in_dist`` / ``ood`` name the in-distribution and out-of-distribution image sets
    (see :func:`gs.data.load_image_set`); ``ratios`` are the undersampling ratios m/n
    (``m = round(ratio * n)``); ``steps`` / ``restarts`` / ``lr`` the L-BFGS budget per
    model family (the paper's SUPP Table 1 unless scaled down).
    """

    name: str
    models: dict[str, str]
    in_dist: str
    ood: str
    n_test: int
    n_val: int
    ratios: tuple[float, ...]
    steps: int
    restarts: int
    lr: dict[str, float] = field(default_factory=lambda: {"dcgan": 0.1, "began": 1.0, "vae": 1.0})
    operator: str = "cs"
    n_samples: int = 8
    baseline_budget: float = 1.0
    device: str = "auto"
    seed: int = 0

    def m_values(self, n: int) -> list[int]:
        """Measurement counts for an image of ``n`` entries, one per ratio."""
        return [max(1, round(r * n)) for r in self.ratios]


PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke",
        models={"dcgan": "dcgan64-digiface"},
        in_dist="faces",
        ood="scenes",
        n_test=2,
        n_val=2,
        ratios=(PAPER_RATIOS[3], PAPER_RATIOS[6]),
        steps=2,
        restarts=1,
        n_samples=4,
        baseline_budget=0.01,
    ),
    "offline": Profile(
        name="offline",
        models={"dcgan": "dcgan64-digiface"},
        in_dist="faces",
        ood="scenes",
        n_test=16,
        n_val=6,
        ratios=tuple(PAPER_RATIOS[i] for i in (1, 3, 5, 6, 8)),
        steps=25,
        restarts=3,
        n_samples=8,
        baseline_budget=0.2,
    ),
    "paper": Profile(
        name="paper",
        models={"dcgan": "dcgan64-celeba", "began": "began128-celeba", "vae": "vae128-celeba"},
        in_dist="celeba",
        ood="coco",
        n_test=100,
        n_val=20,
        ratios=PAPER_RATIOS,
        steps=25,
        restarts=3,
        n_samples=10,
        baseline_budget=1.0,
    ),
}


def get_profile(name: str, **overrides) -> Profile:
    """The named profile with ``overrides`` applied; ``None`` overrides are ignored."""
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; choose one of {sorted(PROFILES)}")
    known = {f.name for f in fields(Profile)}
    bad = set(overrides) - known
    if bad:
        raise ValueError(f"unknown profile fields {sorted(bad)}; known: {sorted(known)}")
    given = {k: v for k, v in overrides.items() if v is not None}
    if "ratios" in given:
        given["ratios"] = tuple(given["ratios"])
    return replace(PROFILES[name], **given)


def resolve_device(device: str = "auto") -> str:
    """``"auto"`` -> ``"cuda"`` when a GPU is present, else ``"cpu"``."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device
