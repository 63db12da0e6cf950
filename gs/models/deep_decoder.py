"""Deep Decoder (Heckel & Hand, ICLR 2019) as the paper's authors built it.

An untrained network, freshly initialised for every recovery (docs/paper.md, "Baselines";
docs/decisions.md, decision 13). With ``k`` channels and ``depth`` layers:

    x_0 = z,                       z ~ N(0, 1) of shape (k, 2, 2), fixed
    x_{l+1} = ReLU(up_{s_l}(BN(conv1x1(x_l))))      for l = 0 .. depth - 2
    image = sigmoid(conv1x1_{k -> 3}(x_{depth-1}))

``conv1x1`` has a bias; ``BN`` is BatchNorm in *train* mode (batch statistics, affine);
``up_s`` is bilinear resizing to ``s x s`` with ``align_corners=True``. The sizes follow
the authors' log-size arithmetic: with ``p = log2(image_size) - depth + 1`` the layer
``l`` output is ``2^(p + l + 1)``, i.e. 8, 16, ..., image_size for the paper's
(64 px, depth 5) and (128 px, depth 6). The seed is ``2 x 2`` (the authors used the
exponent ``p = 2`` as the size; 4x4 was presumably intended: docs/paper.md, "Odd
behaviour in the authors' code", item 12).

Parameters: ``(depth - 1) (k^2 + k + 2k) + 3k + 3``: 8,407 for (k=44, depth 5) and
41,210 for (k=89, depth 6), matched by the authors to the surgery latent sizes.

Two forms of the same network:

- :class:`DeepDecoder`, an ``nn.Module`` with the authors' layout (``conv``, ``bn``),
  for one problem at a time (train-mode BN shares statistics over its batch, so a
  batch of *different* problems must not go through one module);
- :func:`batched_forward` with per-problem stacked parameters ``(P, ...)``, where
  every problem's BN normalises over its own single image only. It equals
  ``DeepDecoder`` run problem by problem, up to rounding: it resizes by two matrix
  products with the interpolation matrices (:func:`upsample_matrix`), the same linear
  map as ``F.interpolate`` and 3-5x faster on a CPU, forward and backward.

>>> import torch
>>> dd = DeepDecoder(k=44, depth=5, image_size=64)
>>> dd.num_params()
8407
>>> dd(torch.randn(1, 44, 2, 2)).shape
torch.Size([1, 3, 64, 64])
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import Tensor, nn

BN_EPS = 1e-5

DD_SETTINGS = {
    64: {"k": 44, "depth": 5},
    128: {"k": 89, "depth": 6},
}
"""The paper's Deep Decoder per image size: channels ``k`` and ``depth``."""


def upsample_sizes(image_size: int, depth: int) -> list[int]:
    """Output size of each of the ``depth - 1`` hidden layers (authors' arithmetic)."""
    log = math.log2(image_size)
    if image_size < 1 or log != int(log):
        raise ValueError(f"Deep Decoder needs a power-of-two image size, got {image_size}")
    if depth < 2:
        raise ValueError(f"depth must be >= 2, got {depth}")
    p = int(log) - depth + 1
    if p < 1:
        raise ValueError(
            f"depth {depth} is too large for {image_size} px: the first layer would be "
            f"{2 ** (p + 1)} px (needs log2(image_size) - depth + 1 >= 1)"
        )
    return [2 ** (p + l + 1) for l in range(depth - 1)]


@lru_cache(maxsize=64)
def _upsample_matrix(s_in: int, s_out: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    """Cached, shared and read-only; built outside any inference mode, so that a first call
    under ``torch.inference_mode()`` cannot leave a tensor autograd refuses to save."""
    with torch.inference_mode(False), torch.no_grad():
        return _interpolation(s_in, s_out).to(device=device, dtype=dtype)


def _interpolation(s_in: int, s_out: int) -> Tensor:
    M = torch.zeros(s_out, s_in, dtype=torch.float64)
    if s_in == 1 or s_out == 1:
        M[:, 0] = 1.0
    else:
        pos = torch.arange(s_out, dtype=torch.float64) * (s_in - 1) / (s_out - 1)
        lo = pos.floor().long().clamp(max=s_in - 2)
        frac = pos - lo
        rows = torch.arange(s_out)
        M[rows, lo] += 1 - frac
        M[rows, lo + 1] += frac
    return M


def upsample_matrix(s_in: int, s_out: int, *, dtype: torch.dtype = torch.float32,
                    device: torch.device | str = "cpu") -> Tensor:
    """``(s_out, s_in)`` matrix ``U`` of 1-D linear interpolation with
    ``align_corners=True``: ``U @ X @ U.T`` resizes an ``s_in x s_in`` plane ``X`` as
    ``F.interpolate(..., mode="bilinear", align_corners=True)`` does (bilinear
    interpolation is separable), up to rounding."""
    if s_in < 1 or s_out < 1:
        raise ValueError(f"sizes must be positive, got {s_in} -> {s_out}")
    return _upsample_matrix(s_in, s_out, dtype, torch.device(device)).clone()


def num_params(k: int, depth: int, out_channels: int = 3) -> int:
    """``(depth - 1)(k^2 + k + 2k) + out_channels (k + 1)``."""
    return (depth - 1) * (k * k + 3 * k) + out_channels * (k + 1)


class DeepDecoder(nn.Module):
    """The authors' Deep Decoder; see the module docstring.

    Args:
        k: channels of every hidden layer.
        depth: number of 1x1 convolutions (``depth - 1`` hidden layers).
        image_size: output size (a power of two).
        out_channels: 3.
        seed_size: spatial size of the input ``z`` (2, the authors').

    ``forward(z: (B, k, seed_size, seed_size)) -> (B, out_channels, S, S)`` in (0, 1).
    """

    def __init__(self, k: int, depth: int, image_size: int, out_channels: int = 3,
                 seed_size: int = 2):
        super().__init__()
        if k < 1:
            raise ValueError(f"k must be positive, got {k}")
        self.k, self.depth, self.image_size = k, depth, image_size
        self.out_channels, self.seed_size = out_channels, seed_size
        self.sizes = upsample_sizes(image_size, depth)
        self.conv = nn.ModuleList(
            [nn.Conv2d(k, k, 1) for _ in range(depth - 1)] + [nn.Conv2d(k, out_channels, 1)]
        )
        self.bn = nn.ModuleList([nn.BatchNorm2d(k) for _ in range(depth - 1)])

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.k, self.seed_size, self.seed_size)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(self, z: Tensor) -> Tensor:
        x = z
        for conv, bn, s in zip(self.conv[:-1], self.bn, self.sizes, strict=True):
            x = bn(conv(x))
            x = F.interpolate(x, size=(s, s), mode="bilinear", align_corners=True)
            x = F.relu(x)
        return torch.sigmoid(self.conv[-1](x))


def param_shapes(k: int, depth: int, out_channels: int = 3) -> dict[str, tuple[int, ...]]:
    """Names and shapes of :class:`DeepDecoder`'s parameters, in ``named_parameters``
    order."""
    shapes: dict[str, tuple[int, ...]] = {}
    for l in range(depth - 1):
        shapes[f"conv.{l}.weight"] = (k, k, 1, 1)
        shapes[f"conv.{l}.bias"] = (k,)
    shapes[f"conv.{depth - 1}.weight"] = (out_channels, k, 1, 1)
    shapes[f"conv.{depth - 1}.bias"] = (out_channels,)
    for l in range(depth - 1):
        shapes[f"bn.{l}.weight"] = (k,)
        shapes[f"bn.{l}.bias"] = (k,)
    return shapes


def init_params(
    P: int,
    k: int,
    depth: int,
    rng: torch.Generator,
    *,
    out_channels: int = 3,
    seed_size: int = 2,
    dtype: torch.dtype = torch.float32,
) -> tuple[dict[str, Tensor], Tensor]:
    """PyTorch-default initialisation of ``P`` independent Deep Decoders and their inputs.

    Conv weights and biases ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (what
    ``nn.Conv2d.reset_parameters`` draws: kaiming-uniform with ``a = sqrt(5)``), BN
    weight 1, bias 0; input ``z ~ N(0, 1)`` of shape ``(k, seed_size, seed_size)``.
    Problem ``p`` draws everything (convs in order, weight then bias, then ``z``) before
    problem ``p + 1``, so batched draws equal one-at-a-time draws from a shared ``rng``.

    Returns ``(params, z)``: a dict of stacked tensors ``(P, *shape)`` (names as in
    :func:`param_shapes`) and ``z: (P, k, seed_size, seed_size)``, on ``rng``'s device.
    """
    shapes = param_shapes(k, depth, out_channels)
    dev = rng.device
    per: dict[str, list[Tensor]] = {name: [] for name in shapes}
    zs = []
    bound = 1.0 / math.sqrt(k)  # fan_in of every 1x1 conv is k
    for _ in range(P):
        for l in range(depth):
            for part in ("weight", "bias"):
                name = f"conv.{l}.{part}"
                u = torch.rand(shapes[name], generator=rng, device=dev, dtype=dtype)
                per[name].append((2 * u - 1) * bound)
        for l in range(depth - 1):
            per[f"bn.{l}.weight"].append(torch.ones(k, device=dev, dtype=dtype))
            per[f"bn.{l}.bias"].append(torch.zeros(k, device=dev, dtype=dtype))
        zs.append(torch.randn((k, seed_size, seed_size), generator=rng, device=dev,
                              dtype=dtype))
    return {name: torch.stack(v) for name, v in per.items()}, torch.stack(zs)


def batched_forward(params: dict[str, Tensor], z: Tensor, image_size: int, *,
                    resize: str = "matrix") -> Tensor:
    """``P`` Deep Decoders, each on its own input, in one pass.

    ``params``: stacked parameters ``(P, *shape)`` (names of :func:`param_shapes`);
    ``z: (P, k, s, s)``. Problem ``p``'s BatchNorm uses the statistics of its own
    single image (mean and biased variance over H, W per channel, eps 1e-5), exactly
    as a train-mode ``nn.BatchNorm2d`` on a batch of one. ``resize``: ``"matrix"``
    (:func:`upsample_matrix`, faster) or ``"interpolate"`` (``F.interpolate``, as
    :class:`DeepDecoder`): the same map, other rounding. Returns ``(P, 3, S, S)``.
    """
    if resize not in ("matrix", "interpolate"):
        raise ValueError(f"resize must be 'matrix' or 'interpolate', got {resize!r}")
    depth = sum(1 for n in params if n.startswith("conv.") and n.endswith(".weight"))
    sizes = upsample_sizes(image_size, depth)
    x = z
    for l, s in enumerate(sizes):
        w = params[f"conv.{l}.weight"].flatten(2)  # (P, k_out, k_in)
        x = torch.einsum("poc,pchw->pohw", w, x) + params[f"conv.{l}.bias"][:, :, None, None]
        mean = x.mean(dim=(2, 3), keepdim=True)
        var = x.var(dim=(2, 3), keepdim=True, unbiased=False)
        x = (x - mean) * torch.rsqrt(var + BN_EPS)
        gamma, beta = params[f"bn.{l}.weight"], params[f"bn.{l}.bias"]
        x = x * gamma[:, :, None, None] + beta[:, :, None, None]
        if resize == "matrix":
            U = _upsample_matrix(x.shape[-1], s, x.dtype, x.device)
            x = U @ x @ U.T
        else:
            x = F.interpolate(x, size=(s, s), mode="bilinear", align_corners=True)
        x = F.relu(x)
    L = depth - 1
    w = params[f"conv.{L}.weight"].flatten(2)
    x = torch.einsum("poc,pchw->pohw", w, x) + params[f"conv.{L}.bias"][:, :, None, None]
    return torch.sigmoid(x)


__all__ = [
    "DD_SETTINGS",
    "DeepDecoder",
    "batched_forward",
    "init_params",
    "num_params",
    "param_shapes",
    "upsample_matrix",
    "upsample_sizes",
]
