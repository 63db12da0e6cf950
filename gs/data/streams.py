"""Training data streams: endless, seeded, resumable batches ``(B, 3, S, S)`` in [0, 1].

What ``python -m gs.train --data ...`` reads (:func:`make_stream`):

* ``digiface``: :class:`DigiFaceStream`, samples of the DigiFace DCGAN (64 px).
* ``celeba``: :class:`ImageFolderStream` over the paper's CelebA train split
  (:func:`gs.data.paper.celeba_train_files`), each file cropped as the paper
  (:func:`gs.data.paper.load_celeba_image`).
* ``folder:PATH``: :class:`ImageFolderStream` over every image under PATH
  (:func:`list_images`), centre-cropped to a square and resized
  (:func:`gs.data.images.load_image`).

A stream has ``next()`` (one batch), ``state_dict()`` and ``load_state_dict()`` (its
position, saved in the training run's ``state.pt`` so that ``--resume`` is exact).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from gs.data.images import load_image
from gs.data.paper import celeba_train_files, load_celeba_image

if TYPE_CHECKING:
    from gs.models.base import BlockGenerator
    from gs.train.config import TrainConfig

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


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


def list_images(root: str | Path) -> list[Path]:
    """All image files under ``root`` (recursive), sorted by path."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"image folder {root} does not exist")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTS and p.is_file())
    if not files:
        raise FileNotFoundError(f"no images ({', '.join(IMAGE_EXTS)}) under {root}")
    return files


class ImageFolderStream:
    """Shuffled epochs over a list of image files, read lazily: ``(B, 3, S, S)`` in [0, 1].

    Epoch ``e`` visits the files in the order ``randperm(n)`` drawn from
    ``torch.Generator().manual_seed(seed * 1_000_003 + e)``; the last incomplete batch of
    an epoch is dropped. The state is ``(epoch, position)``, so resuming is exact.
    Files are decoded by a small thread pool (``workers``).
    """

    def __init__(self, files: Sequence[str | Path], size: int, batch_size: int, seed: int = 0,
                 loader: Callable[[Path, int], Tensor] = load_image, workers: int = 4,
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
                                 load_image, cfg.workers, device)
    raise ValueError(f"unknown data source {cfg.data!r}; use digiface, celeba or folder:PATH")
