"""Training configuration: :class:`TrainConfig` and the per-profile presets.

Everything a run depends on is a field of :class:`TrainConfig` (stored in the run's
``config.json`` and ``state.pt``); :data:`PRESETS` holds the ``paper``, ``offline`` and
``smoke`` defaults that ``python -m gs.train --profile ...`` starts from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MODEL_NAMES = ("dcgan", "began", "vae")


@dataclass
class TrainConfig:
    """Everything a training run depends on (stored in ``config.json`` and ``state.pt``).

    ``steps`` is the length of the schedule (cosine annealing for BEGAN); ``None`` means
    ``epochs * steps_per_epoch``. ``stop_at`` ends the run early at that step (the
    schedule still being the ``steps``-long one), so a snapshot taken mid-run is
    reproducible by a command.
    """

    model: str
    data: str = "digiface"
    data_root: str | None = None
    image_size: int = 64
    model_kwargs: dict = field(default_factory=dict)
    disc_kwargs: dict = field(default_factory=dict)
    batch_size: int = 32
    lr: float | None = None  # None: the recipe's
    epochs: float = 1.0
    epoch_size: int | None = None  # images per epoch for the endless digiface stream
    steps: int | None = None
    stop_at: int | None = None
    seed: int = 0
    device: str = "auto"
    threads: int | None = None
    amp: bool | None = None  # None: on for CUDA, off on CPU
    deterministic: bool = False
    # BEGAN
    objective: str = "gan"  # "gan" (the recipe) or "distill" (regression on the teacher)
    gamma: float = 0.5
    lambda_k: float = 0.001
    clamp_k: bool = False
    lr_min_factor: float = 0.25
    # VAE
    beta: float = 1.0
    lr_gamma: float = 0.9
    init_from: str | None = None  # start G from this gs checkpoint (fine-tuning)
    # bookkeeping
    out: str | None = None
    log_every: int = 10
    sample_every: int = 500
    ckpt_every: int = 500
    workers: int = 4
    progress: bool = True

    def __post_init__(self) -> None:
        if self.model not in MODEL_NAMES:
            raise ValueError(f"unknown model {self.model!r}; choose one of {MODEL_NAMES}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.steps is not None and self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")

    @property
    def model_name(self) -> str:
        """Registry name for :func:`gs.models.build` (``dcgan``, ``began64``, ``vae128``...)."""
        return "dcgan" if self.model == "dcgan" else f"{self.model}{self.image_size}"

    @property
    def recipe_lr(self) -> float:
        return self.lr if self.lr is not None else {"dcgan": 2e-4, "began": 1e-4, "vae": 2e-4}[
            self.model
        ]


PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "paper": {
        "dcgan": dict(data="celeba", image_size=64, batch_size=64, epochs=25),
        "began": dict(data="celeba", image_size=128, batch_size=32, epochs=50,
                      model_kwargs={"ch": 128}, disc_kwargs={"ch": 128}),
        "vae": dict(data="celeba", image_size=128, batch_size=128, epochs=20),
    },
    # The shipped zoo/began64-digiface.pt (one GPU) and zoo/vae64-digiface.pt (CPU).
    "offline": {
        "dcgan": dict(data="digiface", image_size=64, batch_size=64, epochs=2,
                      epoch_size=10_000, model_kwargs={"ngf": 32}, disc_kwargs={"ndf": 32},
                      threads=1),
        # BEGAN: the recipe (objective "gan"), sized for one GPU (16,000 steps: 5 min on an
        # H200). On a CPU the same run takes days; --objective distill is the CPU fallback.
        "began": dict(data="digiface", image_size=64, batch_size=32, steps=16_000,
                      objective="gan", model_kwargs={"ch": 64},
                      disc_kwargs={"ch": 64, "convs_per_level": 2}, lr=1e-4, amp=False,
                      threads=4, sample_every=2000, ckpt_every=2000),
        "vae": dict(data="digiface", image_size=64, batch_size=32, epochs=20,
                    epoch_size=3200, model_kwargs={"widths": (128, 128, 64, 32, 16)},
                    threads=1, sample_every=100, ckpt_every=100),
    },
    "smoke": {
        "dcgan": dict(data="digiface", batch_size=8, steps=4, model_kwargs={"ngf": 8},
                      disc_kwargs={"ndf": 8}, sample_every=4, ckpt_every=4),
        "began": dict(data="digiface", batch_size=4, steps=4, model_kwargs={"ch": 8},
                      disc_kwargs={"ch": 8}, sample_every=4, ckpt_every=4),
        "vae": dict(data="digiface", batch_size=8, steps=4,
                    model_kwargs={"widths": (16, 16, 8, 8, 8)}, sample_every=4, ckpt_every=4),
    },
}
"""Per-profile, per-model defaults for :class:`TrainConfig`."""

PROFILE_ALL = {"paper": MODEL_NAMES, "smoke": MODEL_NAMES, "offline": ("began", "vae")}
"""What ``all`` trains per profile (offline: the two shipped models; the DigiFace DCGAN
itself is the offline DCGAN)."""

PAPER_ZOO_NAMES = {"dcgan": "dcgan64-celeba", "began": "began128-celeba", "vae": "vae128-celeba"}


def paper_architecture(name: str) -> tuple[str, dict] | None:
    """``(model, kwargs)`` for :func:`gs.models.build` of the paper-profile zoo entry
    ``name`` (e.g. ``began128-celeba``) as ``make paper`` trains it; None for other names.
    What plans and projections of the paper profile use before its models exist."""
    family = {v: k for k, v in PAPER_ZOO_NAMES.items()}.get(name)
    if family is None:
        return None
    preset = {"model": family, **PRESETS["paper"][family]}
    cfg = TrainConfig(**{k: v for k, v in preset.items()
                         if k in TrainConfig.__dataclass_fields__})
    return cfg.model_name, dict(cfg.model_kwargs)
