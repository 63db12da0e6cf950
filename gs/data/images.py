"""Images: the :class:`ImageSet` batch, argument checks, and single-image I/O.

Every image is returned as ``(3, size, size)`` float32 in [0, 1]; resizing is PIL
bilinear (antialiased when shrinking), as the paper's ``transforms.Resize`` on PIL images.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

OFFLINE_KINDS = ("faces", "scenes")
PAPER_KINDS = ("celeba", "coco")
SPLITS = ("test", "val")


@dataclass
class ImageSet:
    """A named batch of images.

    ``images``: (N, 3, size, size) float32 in [0, 1]; ``names[i]`` names ``images[i]``.
    ``kind`` is the set (``faces``, ``scenes``, ``celeba``, ``coco``), ``split`` is
    ``test`` or ``val``.
    """

    images: torch.Tensor
    names: list[str]
    kind: str
    split: str
    size: int

    def __post_init__(self) -> None:
        x = self.images
        if x.ndim != 4 or x.shape[1] != 3 or tuple(x.shape[2:]) != (self.size, self.size):
            raise ValueError(
                f"ImageSet images must be (N, 3, {self.size}, {self.size}), got {tuple(x.shape)}"
            )
        if len(self.names) != x.shape[0]:
            raise ValueError(f"{len(self.names)} names for {x.shape[0]} images")

    def __len__(self) -> int:
        return len(self.names)

    def subset(self, n: int) -> ImageSet:
        """The first ``n`` images (same order)."""
        if not isinstance(n, int) or n < 1 or n > len(self):
            raise ValueError(f"subset(n) needs 1 <= n <= {len(self)} ({self.kind}/{self.split}), "
                             f"got {n!r}")
        return ImageSet(self.images[:n].clone(), list(self.names[:n]), self.kind, self.split,
                        self.size)


# ==========================================================================================
# Argument checks shared by the loaders
# ==========================================================================================


def check_size(size: int, max_size: int | None = None) -> int:
    """``size`` as an int, if it is a positive int no larger than ``max_size``."""
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 1:
        raise ValueError(f"size must be a positive int, got {size!r}")
    if max_size is not None and size > max_size:
        raise ValueError(f"size {size} > {max_size}: these images are stored at {max_size} px "
                         "and are never upsampled")
    return int(size)


def check_split(split: str) -> str:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {SPLITS}")
    return split


def check_limit(n: int | None) -> int | None:
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ValueError(f"the number of images must be None or a positive int, got {n!r}")
    return n


# ==========================================================================================
# Single images
# ==========================================================================================


def to_tensor(img: Image.Image) -> torch.Tensor:
    """PIL RGB image -> (3, H, W) float32 in [0, 1] (like torchvision's ``ToTensor``)."""
    a = np.asarray(img.convert("RGB"), dtype=np.uint8)
    return torch.from_numpy(a.copy()).permute(2, 0, 1).float().div_(255.0)


def center_crop_square(img: Image.Image) -> Image.Image:
    """The central square of side ``min(W, H)`` (offsets rounded as torchvision's CenterCrop)."""
    w, h = img.size
    s = min(w, h)
    left, top = int(round((w - s) / 2.0)), int(round((h - s) / 2.0))
    return img.crop((left, top, left + s, top + s))


def resize(img: Image.Image, size: int) -> Image.Image:
    """Square resize with PIL bilinear (antialiased when shrinking), as the paper's Resize."""
    if img.size == (size, size):
        return img
    return img.resize((size, size), Image.BILINEAR)


def open_rgb(path: str | Path) -> Image.Image:
    """An image file as 8-bit RGB, turned upright by its EXIF orientation.

    Grayscale, palette and CMYK images are converted by PIL. Images with 16-bit (or
    32-bit integer / float) channels are scaled to 8 bits (x 255 / 65535), where PIL's
    own conversion would clip every value above 255; an integer image whose values all
    fit in 8 bits is taken as it is.
    """
    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im)
        if im.mode.startswith("I") or im.mode == "F":
            a = np.asarray(im, dtype=np.float64)
            if im.mode.startswith("I;16") or a.max(initial=0) > 255:
                a = a * (255.0 / 65535.0)
            im = Image.fromarray(np.clip(np.rint(a), 0, 255).astype(np.uint8), "L")
        return im.convert("RGB")


def load_image(path: str | Path, size: int) -> torch.Tensor:
    """One image file -> (3, size, size) float32 in [0, 1].

    Center-crops to the square of the shorter side, then resizes with PIL bilinear.
    """
    size = check_size(size)
    return to_tensor(resize(center_crop_square(open_rgb(path)), size))


def stack(tensors: Sequence[torch.Tensor], size: int) -> torch.Tensor:
    """``(N, 3, size, size)`` from N images; an empty batch of that shape if there are none."""
    if not tensors:
        return torch.empty(0, 3, size, size)
    return torch.stack(list(tensors))
