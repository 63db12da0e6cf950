"""The profiles (smoke, offline, offline-full, paper): one code path, other data, weights and sizes.

Every notebook takes a papermill parameter ``profile`` and passes its finer overrides
to :func:`get_profile`; a notebook never branches on the profile itself.

>>> p = get_profile("smoke", n_test=1)
>>> p.name, p.n_test
('smoke', 1)
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields, replace

# The paper's measurement counts (settings.py n_measure_64 / n_measure_128); both lists
# give the same undersampling ratios m / n.
PAPER_M_64 = (100, 200, 300, 400, 600, 1000, 2000, 3000, 4000, 6000)
PAPER_M_128 = (400, 800, 1200, 1600, 2400, 4000, 8000, 12000, 16000, 24000)
PAPER_RATIOS = tuple(m / 12288 for m in PAPER_M_64)

# The offline zoo: the DigiFace DCGAN (gan_face_generate) and the BEGAN and VAE that
# this project trained on its samples (zoo/, see gs.zoo).
OFFLINE_MODELS = {"dcgan": "dcgan64-digiface", "began": "began64-digiface",
                  "vae": "vae64-digiface"}


@dataclass(frozen=True)
class Profile:
    """Everything a notebook needs to know about where and how big to run.

    ``models`` maps a model family (``dcgan``, ``began``, ``vae``) to a zoo entry;
    ``in_dist`` / ``ood`` name the in-distribution and out-of-distribution image sets
    (see :func:`gs.data.load_image_set`); ``ratios`` are the undersampling ratios m/n
    (``m = round(ratio * n)``); ``steps`` / ``restarts`` / ``lr`` the L-BFGS budget per
    model family (the paper's SUPP Table 1 unless scaled down). ``sweep_cuts`` limits the
    cut-selection sweep per family (None: each model's ``sweep_cuts``) and
    ``sweep_ratios`` its ratios (None: ``ratios``; the paper pools all ten); ``show_ratio``
    is the ratio of the qualitative figures; ``baseline_budget`` scales every baseline's
    step counts (1.0 = the paper's) and ``baseline_images`` caps the test images per set
    that the baselines of notebook 04 run on (None: ``n_test``); ``zero_error_samples`` is
    how many samples of each uncut generator notebook 07 recovers (its claim needs an
    interval over samples: 3 show the effect, 10 can decide it); ``supplement_images``
    caps the test images per set of notebook 08's studies (the paper showed inpainting and
    super-resolution on 20 images per set; 3 keep a quick run cheap); ``lasso`` holds options
    of the Lasso-DCT solver (``tol``, ``steps`` = max FISTA iterations; empty = run to
    1e-6 relative change).
    ``structured_from``: images of at least this many pixels a side use ``"cs_fast"``
    (:class:`gs.operators.StructuredCS`) where ``operator`` is ``"cs"`` (a dense A at
    128 px and the paper's largest m = 24,000 is 4.7 GB); None: never.
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
    sweep_cuts: dict[str, tuple[int, ...]] | None = None
    sweep_ratios: tuple[float, ...] | None = None
    show_ratio: float = PAPER_RATIOS[6]
    n_samples: int = 8
    baseline_budget: float = 1.0
    baseline_images: int | None = None
    zero_error_samples: int = 3
    supplement_images: int = 3
    lasso: dict = field(default_factory=dict)
    structured_from: int | None = None
    device: str = "auto"
    seed: int = 0

    def m_values(self, n: int) -> list[int]:
        """Measurement counts for an image of ``n`` entries, one per ratio."""
        return [max(1, round(r * n)) for r in self.ratios]


PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke",
        models=OFFLINE_MODELS,
        in_dist="faces",
        ood="scenes",
        n_test=2,
        n_val=1,
        ratios=(PAPER_RATIOS[1], PAPER_RATIOS[3]),
        steps=1,
        restarts=1,
        sweep_cuts={"dcgan": (0, 1, 2), "began": (0, 2), "vae": (0, 1)},
        sweep_ratios=(PAPER_RATIOS[3],),
        show_ratio=PAPER_RATIOS[3],
        n_samples=4,
        baseline_budget=0.005,
        lasso={"tol": 1e-4, "steps": 1000},
    ),
    # Sized to run every notebook in < 45 min on 2 CPU cores (about 30 min measured): fewer
    # images, ratios and L-BFGS steps (5 outer steps = up to 100 iterations, the paper's
    # 25 = up to 500). Ratios 0.033, 0.049, 0.163, 0.326 of the paper's ten.
    "offline": Profile(
        name="offline",
        models=OFFLINE_MODELS,
        in_dist="faces",
        ood="scenes",
        n_test=4,
        n_val=3,
        ratios=tuple(PAPER_RATIOS[i] for i in (3, 4, 6, 8)),
        steps=5,
        restarts=2,
        sweep_cuts={"dcgan": (0, 1, 2, 3), "began": (0, 1, 2, 3, 5, 7), "vae": (0, 1, 2, 3)},
        sweep_ratios=(PAPER_RATIOS[3], PAPER_RATIOS[6]),
        n_samples=8,
        baseline_budget=0.03,
        lasso={"tol": 1e-5},
    ),
    # The paper's protocol on everything the offline assets hold: every shipped test and
    # validation image, 25 L-BFGS steps x 3 restarts, the baselines at full budget, the
    # cut sweep over every cut of each model at every ratio, six of the paper's ten
    # ratios (0.008 to 0.49). Hours on 2 CPU cores (bench/paper_profile.py projects it);
    # its per-task results are shipped. n_test / n_val: more than any shipped set holds.
    # The baselines at full budget cost minutes per image and ratio on a CPU: notebook 04
    # runs them on the first 10 test images of each set (its figures say so).
    "offline-full": Profile(
        name="offline-full",
        models=OFFLINE_MODELS,
        in_dist="faces",
        ood="scenes",
        n_test=100,
        n_val=20,
        ratios=tuple(PAPER_RATIOS[i] for i in (0, 3, 4, 6, 8, 9)),
        steps=25,
        restarts=3,
        n_samples=8,
        baseline_budget=1.0,
        baseline_images=10,
        zero_error_samples=10,
        supplement_images=10,
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
        supplement_images=20,
        structured_from=128,
    ),
}


def env_overrides(name: str) -> dict:
    """Overrides of profile ``name`` from ``$GS_PROFILE_OVERRIDES``, a JSON object mapping
    profile names to field values, e.g. ``{"paper": {"sweep_cuts": {"began": [0, 2]}}}``
    (lists become tuples); ``{}`` when unset. How ``python -m gs.paper --rehearse`` runs
    every notebook of the paper profile with tiny sizes. Raises ValueError naming the
    variable for malformed JSON."""
    text = os.environ.get("GS_PROFILE_OVERRIDES")
    if not text:
        return {}
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"$GS_PROFILE_OVERRIDES is not valid JSON: {e}") from e
    if not isinstance(raw, dict) or not all(isinstance(v, dict) for v in raw.values()):
        raise ValueError("$GS_PROFILE_OVERRIDES must map profile names to objects of fields")
    out = dict(raw.get(name, {}))
    for key in ("ratios", "sweep_ratios"):
        if isinstance(out.get(key), list):
            out[key] = tuple(out[key])
    if isinstance(out.get("sweep_cuts"), dict):
        out["sweep_cuts"] = {k: tuple(v) for k, v in out["sweep_cuts"].items()}
    return out


def get_profile(name: str, **overrides) -> Profile:
    """The named profile with ``overrides`` applied; ``None`` overrides are ignored.

    Overrides from :func:`env_overrides` come first; those given here win over them.
    """
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; choose one of {sorted(PROFILES)}")
    known = {f.name for f in fields(Profile)}
    env = env_overrides(name)
    bad = set(overrides) - known
    if bad:
        raise ValueError(f"unknown profile fields {sorted(bad)}; known: {sorted(known)}")
    if set(env) - known:
        raise ValueError(f"$GS_PROFILE_OVERRIDES: unknown profile fields "
                         f"{sorted(set(env) - known)}; known: {sorted(known)}")
    given = {**env, **{k: v for k, v in overrides.items() if v is not None}}
    if "ratios" in given:
        given["ratios"] = tuple(given["ratios"])
    return replace(PROFILES[name], **given)


def resolve_device(device: str = "auto") -> str:
    """``"auto"`` -> ``"cuda"`` when a GPU is present, else ``"cpu"``; other names as given.

    The one place the package decides where to run (sweeps, notebooks, training).
    """
    import torch

    device = str(device)
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device
