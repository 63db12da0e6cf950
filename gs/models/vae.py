"""Convolutional VAE: the decoder as a block generator, plus the encoder for training.

The paper's "standard convolutional VAE" (docs/paper.md, "Generators" and "Generator
training"); only the decoder is used for recovery. With the 128-px default widths
``(2048, 1024, 512, 256, 128, 128)`` and ``latent_dim = 512`` the decoder is

=====  ====================================================  ===============
block  what it does                                          output
=====  ====================================================  ===============
0      Linear 512 -> 2048*4*4 (with bias), reshaped          2048 x 4 x 4
1      UpConv 2048 -> 1024                                   1024 x 8 x 8
2      UpConv 1024 -> 512                                    512 x 16 x 16
3      UpConv 512 -> 256                                     256 x 32 x 32
4      UpConv 256 -> 128                                     128 x 64 x 64
5      UpConv 128 -> 128                                     128 x 128 x 128
6      Conv3x3 128 -> 3 (with bias), Sigmoid                 3 x 128 x 128
=====  ====================================================  ===============

``UpConv`` = nearest Upsample x2, Conv3x3 (with bias), BatchNorm, LeakyReLU(0.01).
42,034,563 decoder parameters. The 64-px member has one fewer UpConv; its default
widths ``(256, 128, 64, 32, 32)`` (decoder 2.5 M parameters, about 0.1 G
multiply-adds per image) are chosen so that the VAE trains on two CPU cores in tens
of minutes on a few thousand 64-px faces.

The encoder (:class:`VAEEncoder`, attribute ``vae.encoder``) has one stride-2
Conv3x3 + BN + LeakyReLU per UpConv of the decoder (5 at 128 px: 3 -> 128 -> 256 ->
512 -> 1024 -> 2048, down to 4x4; 4 at 64 px), then two Linear layers giving
``mu`` and ``logvar``. It is not in ``vae.blocks``, so generator surgery, cut tables
and :meth:`num_params` see the decoder only.

>>> import torch
>>> vae = VAE(image_size=64).eval()
>>> mu, logvar = vae.encode(torch.rand(2, 3, 64, 64))
>>> vae(mu).shape
torch.Size([2, 3, 64, 64])
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from gs.models.base import SequentialGenerator
from gs.models.layers import LinearReshape

VAE_WIDTHS = {
    128: (2048, 1024, 512, 256, 128, 128),
    64: (256, 128, 64, 32, 32),
}


def up_conv(in_ch: int, out_ch: int) -> nn.Sequential:
    """Nearest Upsample x2, Conv3x3 (bias), BN, LeakyReLU(0.01): ``(B,in,H,W) -> (B,out,2H,2W)``."""
    return nn.Sequential(
        nn.Upsample(scale_factor=2, mode="nearest"),
        nn.Conv2d(in_ch, out_ch, 3, 1, 1),
        nn.BatchNorm2d(out_ch),
        nn.LeakyReLU(0.01),
    )


class VAEEncoder(nn.Module):
    """Stride-2 Conv3x3 + BN + LeakyReLU stages down to 4x4, then Linear heads.

    ``x: (B, 3, S, S) in [0, 1]`` -> ``(mu, logvar)``, each ``(B, latent_dim)``.
    """

    def __init__(self, image_size: int, latent_dim: int, widths: Sequence[int]):
        super().__init__()
        n_down = int(math.log2(image_size // 4))
        if len(widths) != n_down or 4 * 2**n_down != image_size:
            raise ValueError(
                f"the encoder needs {n_down} widths to go from {image_size} px to 4x4, "
                f"got {tuple(widths)}"
            )
        layers: list[nn.Module] = []
        in_ch = 3
        for w in widths:
            layers += [nn.Conv2d(in_ch, w, 3, 2, 1), nn.BatchNorm2d(w), nn.LeakyReLU(0.01)]
            in_ch = w
        self.net = nn.Sequential(*layers)
        self.fc_mu = nn.Linear(in_ch * 16, latent_dim)
        self.fc_logvar = nn.Linear(in_ch * 16, latent_dim)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.net(x).flatten(1)
        return self.fc_mu(h), self.fc_logvar(h)


class VAE(SequentialGenerator):
    """Convolutional VAE; ``blocks`` is the decoder, ``encoder`` the encoder.

    Args:
        image_size: 128 (the paper's) or 64 (the offline member).
        latent_dim: size of ``z`` (512 in the paper).
        widths: decoder channel widths, ``widths[0]`` at 4x4 and one per UpConv after
            it (6 at 128 px, 5 at 64 px); ``None`` takes :data:`VAE_WIDTHS`. The
            encoder uses ``reversed(widths[:-1])``.

    ``forward(latents, cut)``: images ``(B, 3, S, S)`` in [0, 1] (sigmoid).
    """

    name = "vae"
    default_cut = 1

    def __init__(
        self,
        image_size: int = 128,
        latent_dim: int = 512,
        widths: Sequence[int] | None = None,
    ):
        super().__init__()
        if image_size not in VAE_WIDTHS:
            raise ValueError(f"VAE is defined at 64 or 128 px, got image_size={image_size}")
        widths = tuple(VAE_WIDTHS[image_size] if widths is None else widths)
        n_up = int(math.log2(image_size // 4))
        if len(widths) != n_up + 1 or any(int(w) < 1 for w in widths):
            raise ValueError(
                f"VAE at {image_size} px needs {n_up + 1} positive widths, got {widths}"
            )
        self.image_size = image_size
        self.name = f"vae{image_size}"
        self.latent_dim_z = latent_dim
        self.widths = widths
        self.input_shape = (latent_dim,)
        self.sweep_cuts = tuple(range(n_up + 1))  # 0..5 at 128 px, 0..4 at 64 px

        blocks: list[nn.Module] = [LinearReshape(latent_dim, (widths[0], 4, 4), bias=True)]
        blocks += [up_conv(widths[i], widths[i + 1]) for i in range(n_up)]
        blocks.append(nn.Sequential(nn.Conv2d(widths[-1], 3, 3, 1, 1), nn.Sigmoid()))
        self.blocks = nn.ModuleList(blocks)
        self.encoder = VAEEncoder(image_size, latent_dim, tuple(reversed(widths[:-1])))

    def _shapes(self) -> list[tuple[int, ...]]:
        # analytic, so no forward pass through a 42M-parameter decoder is needed
        return [(self.latent_dim_z,)] + [(w, 4 * 2**i, 4 * 2**i) for i, w in enumerate(self.widths)]

    # ---------------------------------------------------------------- training
    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``x: (B, 3, S, S) in [0, 1]`` -> ``(mu, logvar)``, each ``(B, latent_dim)``."""
        return self.encoder(x)

    @staticmethod
    def reparameterize(
        mu: Tensor, logvar: Tensor, generator: torch.Generator | None = None
    ) -> Tensor:
        """``z = mu + exp(logvar / 2) * eps``, ``eps ~ N(0, I)``."""
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        return mu + torch.exp(0.5 * logvar) * eps

    def decode(self, z: Tensor) -> Tensor:
        """``z: (B, latent_dim)`` -> images ``(B, 3, S, S)`` in [0, 1]; the full decoder."""
        return self(z, cut=0)

    def reconstruct(
        self, x: Tensor, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Encode, sample ``z``, decode: returns ``(x_hat, mu, logvar)``."""
        mu, logvar = self.encode(x)
        return self.decode(self.reparameterize(mu, logvar, generator)), mu, logvar


def vae_loss(x: Tensor, x_hat: Tensor, mu: Tensor, logvar: Tensor, beta: float = 1.0) -> Tensor:
    """Batch mean of the per-image sum of squared errors plus ``beta`` * KL.

    The authors' VAE loss (docs/paper.md, "Generator training").

    ``KL = -1/2 * sum(1 + logvar - mu^2 - exp(logvar))`` per image; ``beta = 1`` is the
    paper's "vanilla" VAE.
    """
    sse = (x_hat - x).pow(2).flatten(1).sum(1)
    kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)
    return (sse + beta * kl).mean()
