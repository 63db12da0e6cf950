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

The recipes (docs/paper.md, "Generator training"):

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

Modules: :mod:`~gs.train.config` (TrainConfig, presets), :mod:`~gs.train.trainers` (the
recipes), :mod:`~gs.train.loop` (the loop, checkpoints, sample grids), :mod:`~gs.train.cli`
(``python -m gs.train``); the data streams are in :mod:`gs.data.streams`.
"""

from __future__ import annotations

from gs.train.cli import build_parser, config_from_args, main
from gs.train.config import (
    MODEL_NAMES,
    PAPER_ZOO_NAMES,
    PRESETS,
    PROFILE_ALL,
    TrainConfig,
)
from gs.train.loop import TrainResult, default_run_dir, save_grid, schedule, train
from gs.train.trainers import (
    TRAINERS,
    BEGANDistillTrainer,
    BEGANTrainer,
    DCGANTrainer,
    Trainer,
    VAETrainer,
    dcgan_weights_init,
)

__all__ = [
    "MODEL_NAMES", "PRESETS", "PROFILE_ALL", "PAPER_ZOO_NAMES", "TrainConfig",
    "Trainer", "DCGANTrainer", "BEGANTrainer", "BEGANDistillTrainer", "VAETrainer",
    "TRAINERS", "dcgan_weights_init",
    "TrainResult", "train", "schedule", "default_run_dir", "save_grid",
    "build_parser", "config_from_args", "main",
]
