"""Image quality metrics: PSNR (the paper's) and SSIM (Wang et al. 2004).

Both take batches ``(B, C, H, W)`` and return one number per image, ``(B,)``.

>>> import torch
>>> x = torch.full((1, 3, 16, 16), 0.5)
>>> round(float(psnr(x + 0.1, x)), 3)
20.0
>>> float(ssim(x, x))
1.0
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def _check_pair(x_hat: Tensor, x: Tensor) -> None:
    if x_hat.shape != x.shape or x.ndim != 4:
        raise ValueError(
            f"x_hat and x must both be (B, C, H, W) batches of the same shape, got "
            f"{tuple(x_hat.shape)} and {tuple(x.shape)}"
        )


def mse(x_hat: Tensor, x: Tensor) -> Tensor:
    """Per-image mean squared error over C, H, W: ``(B,)``."""
    _check_pair(x_hat, x)
    return (x_hat - x).pow(2).flatten(1).mean(1)


def psnr(x_hat: Tensor, x: Tensor, peak: float = 1.0, clamp: bool = True) -> Tensor:
    """Peak signal-to-noise ratio per image, ``10 log10(peak^2 / MSE)`` in dB.

    ``x_hat`` is clamped to ``[0, peak]`` first (the paper's "clamped PSNR"), unless
    ``clamp=False``. MSE averages over all C*H*W entries. A perfect reconstruction
    gives ``inf`` (the authors' code returned -1 there). Returns ``(B,)``.
    """
    if clamp:
        x_hat = x_hat.clamp(0.0, peak)
    return 10 * torch.log10(peak**2 / mse(x_hat, x))


def _gaussian_window(sigma: float, truncate: float, dtype, device) -> Tensor:
    radius = int(truncate * sigma + 0.5)
    t = torch.arange(-radius, radius + 1, dtype=dtype, device=device)
    w = torch.exp(-0.5 * (t / sigma) ** 2)
    return w / w.sum()


def ssim(
    x_hat: Tensor,
    x: Tensor,
    data_range: float = 1.0,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
    clamp: bool = True,
) -> Tensor:
    """Structural similarity per image, averaged over channels: ``(B,)``.

    Gaussian-weighted SSIM with an 11-tap window (``sigma`` 1.5, truncated at 3.5
    sigma) and population covariances; the SSIM map is averaged over the pixels at
    least one window radius from the border. This matches
    ``skimage.metrics.structural_similarity(..., channel_axis=0, data_range=1,
    gaussian_weights=True, sigma=1.5, use_sample_covariance=False)`` per image.
    ``x_hat`` is clamped to ``[0, data_range]`` unless ``clamp=False``.
    """
    _check_pair(x_hat, x)
    if clamp:
        x_hat = x_hat.clamp(0.0, data_range)
    dtype = torch.promote_types(x.dtype, torch.float64) if x.device.type == "cpu" else x.dtype
    a, b = x_hat.to(dtype), x.to(dtype)
    w = _gaussian_window(sigma, 3.5, dtype, x.device)
    k = w.numel()
    if min(x.shape[-2:]) < k:
        raise ValueError(f"SSIM needs images of at least {k}x{k} pixels, got {tuple(x.shape[-2:])}")
    ch = x.shape[1]

    def filt(t: Tensor) -> Tensor:  # separable 'valid' Gaussian filter per channel
        t = F.conv2d(t, w.view(1, 1, 1, k).expand(ch, 1, 1, k), groups=ch)
        return F.conv2d(t, w.view(1, 1, k, 1).expand(ch, 1, k, 1), groups=ch)

    ux, uy = filt(a), filt(b)
    vx = filt(a * a) - ux * ux
    vy = filt(b * b) - uy * uy
    vxy = filt(a * b) - ux * uy
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux**2 + uy**2 + c1) * (vx + vy + c2))
    return s.flatten(1).mean(1).to(x.dtype)


__all__ = ["mse", "psnr", "ssim"]
