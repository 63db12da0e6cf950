"""Training the generators (DCGAN, BEGAN, VAE) the paper's way, and the offline zoo.

Command line::

    python -m gs.train {dcgan,began,vae,all} [--profile {smoke,offline,paper}] [overrides]

Profiles (:data:`PRESETS`; every value can be overridden on the command line):

* ``paper``: CelebA (``--data celeba --data-root DIR``, the aligned images; the paper's
  crop, 95:5 split, train part) at the paper's sizes and epochs: DCGAN 64 px 25 epochs
  batch 64; BEGAN 128 px (ch 128) 50 epochs batch 32; VAE 128 px 20 epochs batch 128.
  Meant for one GPU. After training, each generator is registered by path in the local
  zoo file (:func:`gs.zoo.add_local_entry`) as ``dcgan64-celeba``, ``began128-celeba``,
  ``vae128-celeba``.
* ``offline``: the commands that made the shipped ``zoo/began64-digiface.pt`` and
  ``zoo/vae64-digiface.pt``, 64-px models trained on the DigiFace DCGAN's samples
  (``--data digiface``: an endless, seeded stream), not on CelebA. The VAE follows the
  paper's VAE recipe on the CPU (20 "epochs" of 3,200 images; 2000 steps, ~50 min, one
  thread). The BEGAN follows the BEGAN recipe (``--objective gan``, batch 32, Adam 1e-4)
  on one GPU: 16,000 steps in 283 s on an H200 (17 ms/step). On the CPU that run takes
  two days (10.5 s/step at 2 threads here; a smaller CPU try gave near-black images);
  ``--objective distill`` (L1 regression of the BEGAN generator onto the DCGAN, ~45 min
  on a CPU) is the CPU fallback and was what an earlier version shipped. ``all`` trains
  these two.
* ``smoke``: a few steps of tiny models, to check that everything runs.

The recipes (PAPER_FACTS.md §(e)):

* **DCGAN**: PyTorch-examples DCGAN. Adam(2e-4, betas (0.5, 0.999)), batch 64, conv
  weights N(0, 0.02), BN weights N(1, 0.02) and biases 0; BCE with *float* labels
  1.0 / 0.0 (the authors' integer-label bug is not copied), D and G updated in turn.
  Images are fed to the discriminator in [-1, 1].
* **BEGAN**: latent 64, z ~ U[-1, 1], batch 32, Adam(1e-4, default betas) for G and D,
  cosine annealing over all steps down to 0.25 * lr, equilibrium gamma 0.5, k-gain
  lambda 0.001, k starting at 0 (not clamped unless ``--clamp-k``, as the authors).
  The discriminator is an autoencoder (:class:`gs.models.discriminators.BEGANDiscriminator`)
  and ``L(v) = mean |v - D(v)|``; ``loss_D = L(x) - k L(G(z))``, ``loss_G = L(G(z))``,
  both from one forward pass and applied together (the original BEGAN update);
  ``k += lambda (gamma L(x) - L(G(z)))``. The convergence measure
  ``M_global = L(x) + |gamma L(x) - L(G(z))|`` is logged.
* **VAE**: latent 512, AdamW(2e-4, weight decay 0.01), ExponentialLR(0.9) stepped once
  per epoch, loss = per-image sum of squared errors + beta * KL (beta = 1), batch 128.

Data (``--data``): ``digiface`` (64 px; the DCGAN's z ~ N(0, I) prior pushed through
``gs.zoo.load("dcgan64-digiface")``, images in [0, 1], reproducible from a seeded CPU
``torch.Generator``; an "epoch" is ``--epoch-size`` images, 10,000 by default),
``celeba`` (the aligned CelebA images under ``--data-root``, default
:func:`gs.data.default_root`; cropped at top 51 / left 26 to 128 x 128 and resized as the
paper by :func:`gs.data.load_celeba_image`; the sorted files minus the last 5%), or
``folder:PATH`` (every image under PATH, centre-cropped to a square and resized).

``--init-from CKPT`` starts the generator from a gs checkpoint (fine-tuning).

Every run writes to its run directory: ``state.pt`` (model, optimisers, schedulers,
BEGAN's k, all RNG states and the data stream position; ``--resume`` continues it
bit-for-bit on the same device and thread count), ``generator.pt`` (a gs checkpoint,
:func:`gs.zoo.save_checkpoint`), ``samples_XXXXXX.png`` grids of fixed latents,
``log.jsonl`` (losses per logged step) and ``config.json``.

Reproducibility: the same command (same seed) gives bitwise the same weights on the
same device type, torch version and thread count (``--threads``, 1 for the shipped
models). Different thread counts or CPU instruction sets may change the float
summation order and hence the weights in the last bits, which then grow over training;
GPU kernels are not bitwise deterministic unless ``torch.use_deterministic_algorithms``
is set (``--deterministic``).

Expected GPU time for ``--profile paper`` (192,470 training images; multiply-adds per
image counted with forward hooks; a training step costs ~3x the forward passes; 1 MAC =
2 FLOP; "effective" throughput assumed ~80 TFLOP/s bf16 on an A100, ~200 on an H100):

* DCGAN 64: G 0.21 + D 0.10 GMAC per image, ~3 GFLOP per image and step; 25 epochs =
  4.8 M images, ~1.5e16 FLOP: minutes of compute, so the run is bound by JPEG decoding
  (``--workers`` threads): **~30 minutes**.
* BEGAN 128 (ch 128): G 9.6 GMAC, D 26.5 GMAC (encoder 16.9 + decoder 9.6) per image;
  one step of 32 images ~14 TFLOP; 50 epochs = 300k steps, ~4e18 FLOP:
  **~15 hours on an A100, ~6 hours on an H100**. This is the expensive one.
* VAE 128 (paper widths): decoder 7.3 + encoder 1.3 GMAC per image, ~52 GFLOP per image
  and step; 20 epochs = 3.8 M images, ~2e17 FLOP: **~45-60 minutes**.

These are estimates, not measurements. Measured: the offline BEGAN-64 (ch 64, batch 32,
fp32) runs at 17 ms per step on one H200, far below that GPU's throughput (small kernels).
The offline VAE was trained on 2 shared CPU cores (one thread), the offline BEGAN on one
H200; see ``PRESETS["offline"]`` and the zoo entries' ``training`` field for the commands.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import shlex
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from gs.models import build, vae_loss
from gs.models.base import BlockGenerator
from gs.models.discriminators import BEGANDiscriminator, DCGANDiscriminator
from gs.profiles import resolve_device

MODEL_NAMES = ("dcgan", "began", "vae")
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


# =====================================================================================
# configuration
# =====================================================================================
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


def _device(device: str | torch.device = "auto") -> torch.device:
    """:func:`gs.profiles.resolve_device` as a ``torch.device``."""
    return torch.device(resolve_device(str(device)))


# =====================================================================================
# data
# =====================================================================================
class DigiFaceStream:
    """Endless stream of DigiFace-DCGAN samples: batches ``(B, 3, 64, 64)`` in [0, 1].

    ``z ~ N(0, I)`` (the DCGAN's training prior) is drawn from a CPU ``torch.Generator``
    seeded with ``seed`` (so the stream does not depend on the device up to the
    teacher's float arithmetic), then pushed through the eval-mode teacher.
    """

    size = 64

    def __init__(self, batch_size: int, seed: int = 0, device: str | torch.device = "cpu",
                 teacher: BlockGenerator | None = None):
        from gs import zoo

        self.batch_size = int(batch_size)
        self.device = torch.device(device)
        self.teacher = (teacher or zoo.load("dcgan64-digiface")).to(self.device).eval()
        self.gen = torch.Generator().manual_seed(int(seed))
        self.nz = self.teacher.latent_shapes(0)[0]

    @torch.no_grad()
    def next(self) -> Tensor:
        z = torch.randn((self.batch_size, *self.nz), generator=self.gen)
        return self.teacher(z.to(self.device), cut=0).clamp_(0, 1)

    @torch.no_grad()
    def next_pair(self, dim: int) -> tuple[Tensor, Tensor]:
        """``(u, x)`` for distillation: ``u (B, dim)`` uniform in (-1, 1), ``x = T(z)``.

        ``z ~ N(0, I)`` with its entries past ``dim`` set to 0 (a ``dim``-dimensional slice
        of the teacher's latent space) and ``u = erf(z[:, :dim] / sqrt 2)``, a bijection,
        so ``x`` is a deterministic function of ``u``.
        """
        z = torch.randn((self.batch_size, *self.nz), generator=self.gen)
        z[:, dim:] = 0
        u = torch.erf(z[:, :dim].flatten(1) / math.sqrt(2))
        return u.to(self.device), self.teacher(z.to(self.device), cut=0).clamp_(0, 1)

    def __iter__(self) -> Iterator[Tensor]:
        while True:
            yield self.next()

    def __len__(self) -> int:
        raise TypeError("the DigiFace stream is endless")

    def state_dict(self) -> dict:
        return {"gen": self.gen.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.gen.set_state(state["gen"])


def load_folder_image(path: str | Path, size: int) -> Tensor:
    """Any image -> ``(3, size, size)`` in [0, 1]: centred square crop, bilinear resize
    (:func:`gs.data.load_image`)."""
    from gs.data import load_image

    return load_image(path, size)


def load_celeba_image(path: str | Path, size: int) -> Tensor:
    """Aligned CelebA file -> ``(3, size, size)`` in [0, 1]: the paper's fixed crop (top 51,
    left 26, 128 x 128), then bilinear resize (:func:`gs.data.load_celeba_image`)."""
    from gs.data import load_celeba_image as _load

    return _load(path, size)


def list_images(root: str | Path) -> list[Path]:
    """All image files under ``root`` (recursive), sorted by path."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"image folder {root} does not exist")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTS and p.is_file())
    if not files:
        raise FileNotFoundError(f"no images ({', '.join(IMAGE_EXTS)}) under {root}")
    return files


def celeba_train_files(root: str | Path | None = None) -> list[Path]:
    """The paper's CelebA train split: the sorted aligned images minus the last 5%.

    ``root`` is the ``img_align_celeba`` folder, or a folder holding it directly or as
    ``celeba/img_align_celeba`` (the :mod:`gs.data` layout; default
    :func:`gs.data.default_root`). 192,470 files for the full 202,599.
    """
    from gs.data import celeba_held_out, default_root

    root = Path(root).expanduser() if root is not None else default_root()
    for sub in ("img_align_celeba", "celeba/img_align_celeba"):
        if (root / sub).is_dir():
            root = root / sub
            break
    if not root.is_dir():
        raise FileNotFoundError(
            f"CelebA folder {root} does not exist; fetch it with `python -m gs.data download "
            "celeba` or pass --data-root (the img_align_celeba folder)"
        )
    files = sorted(p for p in root.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if not files:
        raise FileNotFoundError(f"no CelebA images in {root}")
    held = set(celeba_held_out([p.name for p in files]))
    return [p for p in files if p.name not in held]


class ImageFolderStream:
    """Shuffled epochs over a list of image files, read lazily: ``(B, 3, S, S)`` in [0, 1].

    Epoch ``e`` visits the files in the order ``randperm(n)`` drawn from
    ``torch.Generator().manual_seed(seed * 1_000_003 + e)``; the last incomplete batch of
    an epoch is dropped. The state is ``(epoch, position)``, so resuming is exact.
    Files are decoded by a small thread pool (``workers``).
    """

    def __init__(self, files: Sequence[str | Path], size: int, batch_size: int, seed: int = 0,
                 loader: Callable[[Path, int], Tensor] = load_folder_image, workers: int = 4,
                 device: str | torch.device = "cpu"):
        self.files = [Path(f) for f in files]
        if len(self.files) < batch_size:
            raise ValueError(
                f"{len(self.files)} images is fewer than one batch of {batch_size}"
            )
        self.size, self.batch_size, self.seed = int(size), int(batch_size), seed
        self.loader = loader
        self.device = torch.device(device)
        self.epoch, self.pos = 0, 0
        self._perm: Tensor | None = None
        self._pool = ThreadPoolExecutor(max(1, workers)) if workers > 1 else None

    def __len__(self) -> int:
        return len(self.files)

    @property
    def batches_per_epoch(self) -> int:
        return len(self.files) // self.batch_size

    def _order(self) -> Tensor:
        if self._perm is None:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
            self._perm = torch.randperm(len(self.files), generator=g)
        return self._perm

    def next(self) -> Tensor:
        if self.pos + self.batch_size > len(self.files):
            self.epoch, self.pos, self._perm = self.epoch + 1, 0, None
        idx = self._order()[self.pos : self.pos + self.batch_size].tolist()
        self.pos += self.batch_size
        paths = [self.files[i] for i in idx]
        if self._pool is not None:
            imgs = list(self._pool.map(lambda p: self.loader(p, self.size), paths))
        else:
            imgs = [self.loader(p, self.size) for p in paths]
        return torch.stack(imgs).to(self.device)

    def __iter__(self) -> Iterator[Tensor]:
        while True:
            yield self.next()

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "pos": self.pos}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.pos, self._perm = int(state["epoch"]), int(state["pos"]), None


def make_stream(cfg: TrainConfig, device: torch.device) -> DigiFaceStream | ImageFolderStream:
    """The data stream named by ``cfg.data`` (``digiface``, ``celeba``, ``folder:PATH``)."""
    seed = cfg.seed * 7919 + 17  # the data stream's own seed, distinct from the model's
    if cfg.data == "digiface":
        if cfg.image_size != 64:
            raise ValueError("the DigiFace stream is 64 px; use --image-size 64")
        return DigiFaceStream(cfg.batch_size, seed, device)
    if cfg.data == "celeba":
        files = celeba_train_files(cfg.data_root)
        return ImageFolderStream(files, cfg.image_size, cfg.batch_size, seed,
                                 load_celeba_image, cfg.workers, device)
    if cfg.data.startswith("folder:"):
        files = list_images(cfg.data.split(":", 1)[1])
        return ImageFolderStream(files, cfg.image_size, cfg.batch_size, seed,
                                 load_folder_image, cfg.workers, device)
    raise ValueError(f"unknown data source {cfg.data!r}; use digiface, celeba or folder:PATH")


# =====================================================================================
# trainers
# =====================================================================================
def dcgan_weights_init(m: nn.Module) -> None:
    """PyTorch-examples init: conv weights N(0, 0.02); BN weights N(1, 0.02), biases 0."""
    name = type(m).__name__
    if "Conv" in name:
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif "BatchNorm" in name:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


class Trainer:
    """Base: owns the generator, its optimisers and schedulers, and a training RNG."""

    def __init__(self, cfg: TrainConfig, device: torch.device, steps_per_epoch: int,
                 total_steps: int):
        self.cfg, self.device = cfg, device
        self.steps_per_epoch, self.total_steps = steps_per_epoch, total_steps
        self.gen = torch.Generator(device=device).manual_seed(cfg.seed * 1_000_003 + 1)
        self.amp = (device.type == "cuda") if cfg.amp is None else cfg.amp
        self.G: BlockGenerator = build(cfg.model_name, **cfg.model_kwargs).to(device)

    def autocast(self):
        if self.amp and self.device.type in ("cuda", "cpu"):
            dtype = torch.bfloat16
            return torch.autocast(device_type=self.device.type, dtype=dtype)
        return nullcontext()

    def modules(self) -> dict[str, nn.Module]:
        return {"G": self.G}

    def optimizers(self) -> dict[str, Any]:
        raise NotImplementedError

    def step(self, x: Tensor, step: int) -> dict[str, float]:
        raise NotImplementedError

    def state_dict(self) -> dict:
        return {
            "modules": {k: m.state_dict() for k, m in self.modules().items()},
            "optim": {k: o.state_dict() for k, o in self.optimizers().items()},
            "gen": self.gen.get_state(),
        }

    def load_state_dict(self, state: dict) -> None:
        for k, m in self.modules().items():
            m.load_state_dict(state["modules"][k])
        for k, o in self.optimizers().items():
            o.load_state_dict(state["optim"][k])
        self.gen.set_state(state["gen"].cpu())

    @torch.no_grad()
    def sample(self, z: Tensor) -> Tensor:
        was = self.G.training
        self.G.eval()
        out = self.G(z.to(self.device), cut=0).float().clamp(0, 1).cpu()
        self.G.train(was)
        return out

    def sample_latents(self, n: int, seed: int) -> Tensor:
        raise NotImplementedError


class DCGANTrainer(Trainer):
    """PyTorch-examples DCGAN updates (D on real + fake, then G), BCE with float labels."""

    def __init__(self, cfg, device, steps_per_epoch, total_steps):
        super().__init__(cfg, device, steps_per_epoch, total_steps)
        self.D = DCGANDiscriminator(**cfg.disc_kwargs).to(device)
        self.G.apply(dcgan_weights_init)
        self.D.apply(dcgan_weights_init)
        lr = cfg.recipe_lr
        self.optG = torch.optim.Adam(self.G.parameters(), lr=lr, betas=(0.5, 0.999))
        self.optD = torch.optim.Adam(self.D.parameters(), lr=lr, betas=(0.5, 0.999))
        self.bce = nn.BCEWithLogitsLoss()

    def modules(self):
        return {"G": self.G, "D": self.D}

    def optimizers(self):
        return {"G": self.optG, "D": self.optD}

    def sample_latents(self, n, seed):
        return torch.randn((n, *self.G.latent_shapes(0)[0]),
                           generator=torch.Generator().manual_seed(seed))

    def step(self, x, step):
        b = x.shape[0]
        real = x * 2 - 1
        ones = torch.full((b,), 1.0, device=self.device)  # float labels
        zeros = torch.full((b,), 0.0, device=self.device)
        z = torch.randn((b, *self.G.latent_shapes(0)[0]), generator=self.gen, device=self.device)
        # (1) D: maximise log D(x) + log(1 - D(G(z)))
        self.optD.zero_grad(set_to_none=True)
        with self.autocast():
            out_real = self.D(real)
            fake = self.G(z, cut=0) * 2 - 1
            out_fake = self.D(fake.detach())
        err_real = self.bce(out_real.float(), ones)
        err_fake = self.bce(out_fake.float(), zeros)
        (err_real + err_fake).backward()
        self.optD.step()
        # (2) G: maximise log D(G(z))
        self.optG.zero_grad(set_to_none=True)
        with self.autocast():
            out = self.D(fake)
        err_g = self.bce(out.float(), ones)
        err_g.backward()
        self.optG.step()
        return {
            "loss_D": float((err_real + err_fake).detach()),
            "loss_G": float(err_g.detach()),
            "D_x": float(torch.sigmoid(out_real.detach().float()).mean()),
            "D_G_z": float(torch.sigmoid(out_fake.detach().float()).mean()),
        }


class BEGANTrainer(Trainer):
    """BEGAN with an autoencoder discriminator and the k-controlled equilibrium."""

    def __init__(self, cfg, device, steps_per_epoch, total_steps):
        super().__init__(cfg, device, steps_per_epoch, total_steps)
        dkw = {"ch": self.G.ch, **cfg.disc_kwargs}
        self.D = BEGANDiscriminator(image_size=cfg.image_size,
                                    latent_dim=self.G.latent_dim_z, **dkw).to(device)
        lr = cfg.recipe_lr
        self.optG = torch.optim.Adam(self.G.parameters(), lr=lr)
        self.optD = torch.optim.Adam(self.D.parameters(), lr=lr)
        eta_min = cfg.lr_min_factor * lr
        self.schedG = torch.optim.lr_scheduler.CosineAnnealingLR(self.optG, total_steps, eta_min)
        self.schedD = torch.optim.lr_scheduler.CosineAnnealingLR(self.optD, total_steps, eta_min)
        self.k = 0.0
        self._pG = [p for p in self.G.parameters()]
        self._pD = [p for p in self.D.parameters()]

    def modules(self):
        return {"G": self.G, "D": self.D}

    def optimizers(self):
        return {"G": self.optG, "D": self.optD, "schedG": self.schedG, "schedD": self.schedD}

    def state_dict(self):
        return {**super().state_dict(), "k": self.k}

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.k = float(state["k"])

    def sample_latents(self, n, seed):
        g = torch.Generator().manual_seed(seed)
        return torch.rand((n, self.G.latent_dim_z), generator=g) * 2 - 1

    def step(self, x, step):
        b = x.shape[0]
        z = torch.rand((b, self.G.latent_dim_z), generator=self.gen, device=self.device) * 2 - 1
        with self.autocast():
            fake = self.G(z, cut=0)
            rec = self.D(torch.cat([x, fake]))
        rec = rec.float()
        l_real = (rec[:b] - x).abs().mean()
        l_fake = (rec[b:] - fake.float()).abs().mean()
        # simultaneous updates from one forward pass: D gets grad of L(x) - k L(G(z)),
        # G gets grad of L(G(z)) (through both the target G(z) and D(G(z)))
        g_d = torch.autograd.grad(l_real - self.k * l_fake, self._pD, retain_graph=True)
        g_g = torch.autograd.grad(l_fake, self._pG)
        for p, g in zip(self._pD, g_d, strict=True):
            p.grad = g
        for p, g in zip(self._pG, g_g, strict=True):
            p.grad = g
        self.optD.step()
        self.optG.step()
        self.schedD.step()
        self.schedG.step()
        lr_, lf_ = float(l_real.detach()), float(l_fake.detach())
        balance = self.cfg.gamma * lr_ - lf_
        self.k += self.cfg.lambda_k * balance
        if self.cfg.clamp_k:
            self.k = min(max(self.k, 0.0), 1.0)
        return {"L_real": lr_, "L_fake": lf_, "k": self.k, "M_global": lr_ + abs(balance),
                "lr": self.optG.param_groups[0]["lr"]}


class BEGANDistillTrainer(Trainer):
    """Not the paper's recipe: the BEGAN generator regressed (L1) onto the DigiFace DCGAN.

    Uses :meth:`DigiFaceStream.next_pair`: ``G(u) ~ T(z(u))`` with ``u`` uniform in
    (-1, 1)^64 (BEGAN's prior). Adam with the recipe's lr and cosine annealing. A cheap,
    stable way to get a BEGAN-architecture face generator on a CPU; ``--objective distill``.
    """

    wants_pairs = True

    def __init__(self, cfg, device, steps_per_epoch, total_steps):
        super().__init__(cfg, device, steps_per_epoch, total_steps)
        lr = cfg.recipe_lr
        self.optG = torch.optim.Adam(self.G.parameters(), lr=lr)
        self.schedG = torch.optim.lr_scheduler.CosineAnnealingLR(
            self.optG, total_steps, cfg.lr_min_factor * lr)

    def optimizers(self):
        return {"G": self.optG, "schedG": self.schedG}

    def sample_latents(self, n, seed):
        g = torch.Generator().manual_seed(seed)
        return torch.rand((n, self.G.latent_dim_z), generator=g) * 2 - 1

    def step(self, batch, step):
        u, x = batch
        self.optG.zero_grad(set_to_none=True)
        with self.autocast():
            out = self.G(u, cut=0)
        loss = (out.float() - x).abs().mean()
        loss.backward()
        self.optG.step()
        self.schedG.step()
        return {"L1": float(loss.detach()), "lr": self.optG.param_groups[0]["lr"]}


class VAETrainer(Trainer):
    """VAE: per-image SSE + beta KL, AdamW, ExponentialLR(0.9) per epoch."""

    def __init__(self, cfg, device, steps_per_epoch, total_steps):
        super().__init__(cfg, device, steps_per_epoch, total_steps)
        self.opt = torch.optim.AdamW(self.G.parameters(), lr=cfg.recipe_lr)
        self.sched = torch.optim.lr_scheduler.ExponentialLR(self.opt, gamma=cfg.lr_gamma)

    def optimizers(self):
        return {"opt": self.opt, "sched": self.sched}

    def sample_latents(self, n, seed):
        return torch.randn((n, self.G.latent_dim_z), generator=torch.Generator().manual_seed(seed))

    def step(self, x, step):
        self.opt.zero_grad(set_to_none=True)
        with self.autocast():
            x_hat, mu, logvar = self.G.reconstruct(x, generator=self.gen)
        loss = vae_loss(x, x_hat.float(), mu.float(), logvar.float(), self.cfg.beta)
        loss.backward()
        self.opt.step()
        if (step + 1) % self.steps_per_epoch == 0:
            self.sched.step()
        with torch.no_grad():
            sse = (x_hat.float() - x).pow(2).flatten(1).sum(1).mean()
        loss = loss.detach()
        return {"loss": float(loss), "sse": float(sse), "kl": float(loss - sse),
                "lr": self.opt.param_groups[0]["lr"]}


TRAINERS = {"dcgan": DCGANTrainer, "began": BEGANTrainer, "vae": VAETrainer}


# =====================================================================================
# images
# =====================================================================================
def save_grid(images: Tensor, path: str | Path, nrow: int = 8, pad: int = 2) -> Path:
    """Save ``images (N, 3, H, W)`` in [0, 1] as a PNG grid of ``nrow`` columns."""
    from PIL import Image

    images = images.detach().float().clamp(0, 1).cpu()
    n, c, h, w = images.shape
    ncol = min(nrow, n)
    nr = math.ceil(n / ncol)
    grid = torch.ones(c, nr * (h + pad) + pad, ncol * (w + pad) + pad)
    for i in range(n):
        r, q = divmod(i, ncol)
        top, left = pad + r * (h + pad), pad + q * (w + pad)
        grid[:, top : top + h, left : left + w] = images[i]
    arr = (grid.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)
    return path


# =====================================================================================
# the loop
# =====================================================================================
def _atomic_save(obj: Any, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _rng_state(device: torch.device) -> dict:
    _, keys, pos, has_gauss, cached = np.random.get_state()
    st = {"torch": torch.get_rng_state(), "numpy": torch.from_numpy(keys.astype(np.int64)),
          "numpy_rest": [int(pos), int(has_gauss), float(cached)]}
    if device.type == "cuda":
        st["cuda"] = torch.cuda.get_rng_state(device)
    return st


def _set_rng_state(st: dict, device: torch.device) -> None:
    torch.set_rng_state(st["torch"])
    pos, has_gauss, cached = st["numpy_rest"]
    np.random.set_state(("MT19937", st["numpy"].numpy().astype(np.uint32), pos, has_gauss, cached))
    if "cuda" in st and device.type == "cuda":
        torch.cuda.set_rng_state(st["cuda"], device)


def _config_json(cfg: TrainConfig) -> dict:
    d = dataclasses.asdict(cfg)
    return json.loads(json.dumps(d, default=list))


@dataclass
class TrainResult:
    """What :func:`train` returns: the run directory, the exported generator and its sha256."""

    run_dir: Path
    generator_path: Path
    sha256: str
    step: int
    wall_s: float
    last: dict


def schedule(cfg: TrainConfig, stream) -> tuple[int, int]:
    """``(steps_per_epoch, total_steps)`` for a config and its data stream."""
    if isinstance(stream, ImageFolderStream):
        spe = stream.batches_per_epoch
    else:
        spe = max(1, (cfg.epoch_size or 10_000) // cfg.batch_size)
    total = cfg.steps if cfg.steps is not None else max(1, round(cfg.epochs * spe))
    return spe, total


def default_run_dir(cfg: TrainConfig) -> Path:
    tag = cfg.data.split(":")[0]
    return Path("runs") / f"{cfg.model_name}-{tag}-seed{cfg.seed}"


def train(cfg: TrainConfig, resume: bool = False, command: str | None = None,
          stream=None) -> TrainResult:
    """Train one generator as configured; returns a :class:`TrainResult`.

    With ``resume=True`` and a ``state.pt`` in the run directory, training continues from
    it exactly (model, optimisers, schedulers, k, RNG states, data position).
    ``stream`` overrides the data stream (tests).
    """
    t0 = time.time()
    device = _device(cfg.device)
    if cfg.threads:
        torch.set_num_threads(int(cfg.threads))
    if cfg.deterministic:
        torch.use_deterministic_algorithms(True)
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed % 2**32)
    run_dir = Path(cfg.out) if cfg.out else default_run_dir(cfg)
    run_dir.mkdir(parents=True, exist_ok=True)
    stream = stream if stream is not None else make_stream(cfg, device)
    spe, total = schedule(cfg, stream)
    stop = min(total, cfg.stop_at) if cfg.stop_at else total
    if cfg.objective == "distill":
        if cfg.model != "began" or not isinstance(stream, DigiFaceStream):
            raise ValueError("--objective distill is for BEGAN on --data digiface")
        trainer: Trainer = BEGANDistillTrainer(cfg, device, spe, total)
    elif cfg.objective == "gan":
        trainer = TRAINERS[cfg.model](cfg, device, spe, total)
    else:
        raise ValueError(f"unknown objective {cfg.objective!r}; use gan or distill")
    pairs = getattr(trainer, "wants_pairs", False)
    if cfg.init_from:
        init = torch.load(cfg.init_from, map_location="cpu", weights_only=True)
        trainer.G.load_state_dict(init["state_dict"], strict=True)
    step = 0
    state_path = run_dir / "state.pt"
    if resume and state_path.is_file():
        st = torch.load(state_path, map_location="cpu", weights_only=True)
        trainer.load_state_dict(st["trainer"])
        stream.load_state_dict(st["stream"])
        _set_rng_state(st["rng"], device)
        step = int(st["step"])
    (run_dir / "config.json").write_text(
        json.dumps({**_config_json(cfg), "command": command, "steps_per_epoch": spe,
                    "total_steps": total, "device_used": str(device),
                    "torch": torch.__version__, "threads": torch.get_num_threads()}, indent=2)
    )
    fixed_z = trainer.sample_latents(64, seed=cfg.seed + 12345)

    def checkpoint(s: int) -> tuple[Path, str]:
        _atomic_save({"step": s, "config": _config_json(cfg), "trainer": trainer.state_dict(),
                      "stream": stream.state_dict(), "rng": _rng_state(device)}, state_path)
        from gs.zoo import save_checkpoint

        gpath = run_dir / "generator.pt"
        meta = {"step": s, "seed": cfg.seed, "data": cfg.data, "total_steps": total}
        if command:
            meta["command"] = command
        sha = save_checkpoint(trainer.G, gpath, cfg.model_name, _config_json(cfg)["model_kwargs"],
                              **meta)
        return gpath, sha

    log = open(run_dir / "log.jsonl", "a")
    pbar = None
    if cfg.progress:
        from tqdm.auto import tqdm

        pbar = tqdm(total=stop, initial=step, desc=f"train {cfg.model_name}", dynamic_ncols=True)
    trainer.G.train()
    last: dict = {}
    gpath, sha = run_dir / "generator.pt", ""
    try:
        while step < stop:
            x = stream.next_pair(trainer.G.latent_dim_z) if pairs else stream.next()
            last = trainer.step(x, step)
            step += 1
            if not all(math.isfinite(v) for v in last.values()):
                raise FloatingPointError(f"non-finite loss at step {step}: {last}")
            if step % cfg.log_every == 0 or step == stop:
                log.write(json.dumps({"step": step, "t": round(time.time() - t0, 1), **last})
                          + "\n")
                log.flush()
            if pbar is not None:
                pbar.update(1)
                if step % cfg.log_every == 0:
                    pbar.set_postfix({k: f"{v:.4g}" for k, v in last.items()})
            if step % cfg.sample_every == 0 or step == stop:
                save_grid(trainer.sample(fixed_z), run_dir / f"samples_{step:06d}.png")
            if step % cfg.ckpt_every == 0 or step == stop:
                gpath, sha = checkpoint(step)
    finally:
        log.close()
        if pbar is not None:
            pbar.close()
    if not sha:  # nothing to do (already at stop): export the current state
        gpath, sha = checkpoint(step)
    return TrainResult(run_dir, gpath, sha, step, time.time() - t0, last)


# =====================================================================================
# CLI
# =====================================================================================
def config_from_args(model: str, args: argparse.Namespace) -> TrainConfig:
    """Profile preset for ``model``, then every command-line override that was given."""
    kw: dict[str, Any] = {"model": model, **PRESETS[args.profile][model]}
    kw["model_kwargs"] = dict(kw.get("model_kwargs", {}))
    kw["disc_kwargs"] = dict(kw.get("disc_kwargs", {}))
    for name in ("data", "data_root", "image_size", "batch_size", "lr", "epochs", "epoch_size",
                 "steps", "stop_at", "seed", "device", "threads", "out", "sample_every",
                 "ckpt_every", "log_every", "workers", "objective", "init_from", "gamma",
                 "lambda_k", "beta"):
        v = getattr(args, name)
        if v is not None:
            kw[name] = v
    if args.ch is not None:
        key = "ngf" if model == "dcgan" else "ch"
        if model != "vae":
            kw["model_kwargs"][key] = args.ch
    if args.d_ch is not None:
        kw["disc_kwargs"]["ndf" if model == "dcgan" else "ch"] = args.d_ch
    if args.d_convs is not None and model == "began":
        kw["disc_kwargs"]["convs_per_level"] = args.d_convs
    if args.widths is not None and model == "vae":
        kw["model_kwargs"]["widths"] = tuple(int(w) for w in args.widths.split(","))
    if args.clamp_k is not None:
        kw["clamp_k"] = args.clamp_k
    if args.amp is not None:
        kw["amp"] = args.amp
    if args.deterministic:
        kw["deterministic"] = True
    if args.no_progress:
        kw["progress"] = False
    if args.out is not None and args.model == "all":
        kw["out"] = str(Path(args.out) / model)
    if "model_kwargs" in kw and "widths" in kw["model_kwargs"]:
        kw["model_kwargs"]["widths"] = list(kw["model_kwargs"]["widths"])
    return TrainConfig(**kw)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m gs.train",
        description="Train DCGAN / BEGAN / VAE generators (see the gs.train docstring).",
    )
    p.add_argument("model", choices=(*MODEL_NAMES, "all"))
    p.add_argument("--profile", choices=tuple(PRESETS), default="offline")
    p.add_argument("--data", help="digiface | celeba | folder:PATH")
    p.add_argument("--data-root", help="CelebA img_align_celeba folder (for --data celeba)")
    p.add_argument("--image-size", type=int)
    p.add_argument("--ch", type=int, help="generator width (DCGAN ngf, BEGAN ch)")
    p.add_argument("--d-ch", type=int, help="discriminator width (DCGAN ndf, BEGAN ch)")
    p.add_argument("--d-convs", type=int, help="BEGAN encoder convs per scale (paper: 2)")
    p.add_argument("--widths", help="VAE decoder widths, comma separated")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--epochs", type=float)
    p.add_argument("--epoch-size", type=int, help="images per epoch of the digiface stream")
    p.add_argument("--steps", type=int, help="schedule length in steps (default from epochs)")
    p.add_argument("--stop-at", type=int, help="stop at this step of the schedule")
    p.add_argument("--seed", type=int)
    p.add_argument("--device")
    p.add_argument("--threads", type=int)
    p.add_argument("--amp", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--clamp-k", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--objective", choices=("gan", "distill"),
                   help="BEGAN only: gan (the recipe) or distill (L1 regression on the "
                   "DigiFace DCGAN, not the paper's)")
    p.add_argument("--init-from", help="initialise the generator from this gs checkpoint")
    p.add_argument("--gamma", type=float)
    p.add_argument("--lambda-k", type=float)
    p.add_argument("--beta", type=float)
    p.add_argument("--deterministic", action="store_true")
    p.add_argument("--out", help="run directory (for 'all': a parent folder)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/state.pt")
    p.add_argument("--sample-every", type=int)
    p.add_argument("--ckpt-every", type=int)
    p.add_argument("--log-every", type=int)
    p.add_argument("--workers", type=int)
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--register", help="after training, add the generator to the local zoo "
                   "file under this name (default for --profile paper: dcgan64-celeba, ...)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = "python -m gs.train " + " ".join(
        shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv)
    )
    models = PROFILE_ALL[args.profile] if args.model == "all" else (args.model,)
    for model in models:
        cfg = config_from_args(model, args)
        res = train(cfg, resume=args.resume, command=command)
        print(f"{cfg.model_name}: {res.step} steps in {res.wall_s:.0f} s -> {res.generator_path} "
              f"(sha256 {res.sha256})")
        name = args.register or (PAPER_ZOO_NAMES[model] if args.profile == "paper" else None)
        if name and args.model == "all" and args.register:
            name = f"{args.register}-{model}"
        if name:
            from gs.zoo import add_local_entry

            reg = add_local_entry(name, res.generator_path, training=command,
                                  description=f"{cfg.model_name} trained on {cfg.data} "
                                              f"({res.step} steps, seed {cfg.seed})")
            print(f"registered {name!r} in {reg}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
