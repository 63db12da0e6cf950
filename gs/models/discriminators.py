"""Discriminators used only for training the generators (:mod:`gs.train`).

* :class:`DCGANDiscriminator`: the PyTorch-examples DCGAN discriminator (ndf = 64),
  64 px, returning *logits* (the sigmoid is folded into ``BCEWithLogitsLoss``, which is
  the same loss as the examples' ``Sigmoid`` + ``BCELoss`` but numerically safe under
  mixed precision).
* :class:`BEGANDiscriminator`: BEGAN's autoencoder discriminator. The encoder goes
  from the image down to 8x8 with widths ``ch, 2ch, 3ch, ...`` (3 -> 128 ... -> 640 at
  128 px with ``ch = 128``, as the authors'), then ``Linear`` to the latent; the
  decoder is a BEGAN generator (:class:`gs.models.began.BEGAN`, skips included) of the
  same size. Its output is the reconstruction; BEGAN's loss is the L1 reconstruction
  error.

>>> import torch
>>> d = BEGANDiscriminator(image_size=64, ch=8)
>>> d(torch.rand(2, 3, 64, 64)).shape
torch.Size([2, 3, 64, 64])
>>> DCGANDiscriminator(ndf=8)(torch.rand(2, 3, 64, 64)).shape
torch.Size([2])
"""

from __future__ import annotations

import math

from torch import Tensor, nn

from gs.models.began import BEGAN


class DCGANDiscriminator(nn.Module):
    """PyTorch-examples DCGAN discriminator: ``(B, 3, 64, 64)`` in [-1, 1] -> logits ``(B,)``.

    Conv4x4 stride 2 (no bias) 3 -> ndf -> 2ndf -> 4ndf -> 8ndf with BN (not on the
    first) and LeakyReLU(0.2), then Conv4x4 8ndf -> 1 (valid) to a single logit.
    """

    def __init__(self, ndf: int = 64, nc: int = 3):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 4),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 8),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.main(x).flatten()


def _conv(in_ch: int, out_ch: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, 3, stride, 1), nn.ELU())


class BEGANEncoder(nn.Module):
    """``(B, 3, S, S)`` -> ``(B, latent_dim)``: convs at each scale, stride-2 convs down to 8x8.

    Widths grow by ``ch`` per downsampling (``ch, 2ch, ..., (n+1)ch`` at 8x8 with
    ``n = log2(S / 8)`` downsamplings); ``convs_per_level`` 3x3 convs (with ELU) per scale.
    """

    def __init__(self, image_size: int, latent_dim: int, ch: int, convs_per_level: int = 2):
        super().__init__()
        n_down = int(math.log2(image_size // 8))
        if 8 * 2**n_down != image_size:
            raise ValueError(f"image_size must be 8 * 2^k, got {image_size}")
        layers: list[nn.Module] = [_conv(3, ch)]
        c = ch
        for level in range(n_down + 1):
            layers += [_conv(c, c) for _ in range(convs_per_level)]
            if level < n_down:
                layers.append(_conv(c, c + ch, stride=2))
                c += ch
        self.net = nn.Sequential(*layers)
        self.fc = nn.Linear(c * 64, latent_dim)
        self.out_channels = c

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.net(x).flatten(1))


class BEGANDiscriminator(nn.Module):
    """BEGAN's autoencoder discriminator: ``x (B,3,S,S)`` -> reconstruction ``(B,3,S,S)``.

    Args:
        image_size: 64 or 128.
        latent_dim: bottleneck size (64, as the generator's latent).
        ch: width of encoder and decoder (128 in the paper).
        convs_per_level: encoder convs per scale (2 in the paper).
    """

    def __init__(
        self, image_size: int = 128, latent_dim: int = 64, ch: int = 128, convs_per_level: int = 2
    ):
        super().__init__()
        self.encoder = BEGANEncoder(image_size, latent_dim, ch, convs_per_level)
        self.decoder = BEGAN(image_size=image_size, latent_dim=latent_dim, ch=ch)

    def forward(self, x: Tensor) -> Tensor:
        return self.decoder(self.encoder(x), cut=0)
