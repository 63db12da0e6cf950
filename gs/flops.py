"""Floating-point work of one recovery evaluation, counted from the layers, and the
machine's measured float32 matmul peak: what the benchmarks divide by.

One *evaluation* of a problem is the generator's forward pass from a cut, the operator,
and the backward pass to the latents (no weight gradients: the weights are frozen). A
transposed convolution does ``2 * C_in * C_out`` FLOPs for every (input pixel, kernel
tap) pair whose output lands inside the image (the padding crop discards the rest, so
those are not counted); a convolution ``2 * C_in * C_out * k * k`` per output pixel; a
linear layer ``2 * in * out``; the dense Gaussian operator ``2 * n * m``. The backward
pass to the input costs what the forward pass costs; BatchNorm, activations and
upsampling are not counted (memory-bound, a few per cent).

>>> from gs.models.dcgan import DCGAN
>>> from gs.operators import make_operator
>>> import torch
>>> g = DCGAN().eval()
>>> op = make_operator("cs", (3, 64, 64), m=1000, generator=torch.Generator().manual_seed(0))
>>> round(generator_flops(g, 1) / 1e6), round(evaluation_flops(g, 1, op) / 1e6)  # MFLOP
(179, 408)
"""

from __future__ import annotations

import time

import torch
from torch import nn


def _taps_1d(n_in: int, n_out: int, k: int, stride: int, pad: int) -> int:
    """(input, tap) pairs of a 1-D transposed convolution that land in ``[0, n_out)``."""
    return sum(1 for i in range(n_in) for t in range(k) if 0 <= i * stride - pad + t < n_out)


def _layer_flops(module: nn.Module, x: torch.Tensor, out: torch.Tensor) -> int:
    if isinstance(module, nn.ConvTranspose2d):
        (kh, kw), (sh, sw), (ph, pw) = module.kernel_size, module.stride, module.padding
        taps = (_taps_1d(x.shape[2], out.shape[2], kh, sh, ph)
                * _taps_1d(x.shape[3], out.shape[3], kw, sw, pw))
        return 2 * module.in_channels * module.out_channels // module.groups * taps
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        return (2 * module.in_channels // module.groups * kh * kw
                * out.shape[1] * out.shape[2] * out.shape[3])
    if isinstance(module, nn.Linear):
        return 2 * module.in_features * module.out_features
    return 0


def generator_flops(generator: nn.Module, cut: int) -> int:
    """Forward FLOPs of one problem from ``cut`` (counted on one sample, weights unchanged)."""
    total = 0

    def hook(module, inputs, output):
        nonlocal total
        total += _layer_flops(module, inputs[0], output)

    z = generator.sample_latents(1, cut, generator=torch.Generator().manual_seed(0),
                                 device="cpu")  # (may run the model for shapes: not counted)
    param = next(generator.parameters())
    handles = [m.register_forward_hook(hook) for m in generator.modules()
               if isinstance(m, nn.ConvTranspose2d | nn.Conv2d | nn.Linear)]
    try:
        with torch.no_grad():
            generator(tuple(t.to(param.device, param.dtype) for t in z), cut=cut)
    finally:
        for h in handles:
            h.remove()
    return total


def operator_flops(operator) -> int:
    """Forward FLOPs of the operator on one image (dense Gaussian CS: ``2 n m``; the others
    are O(n) and counted as 0)."""
    from gs.operators import GaussianCS

    return 2 * operator.n * operator.m if isinstance(operator, GaussianCS) else 0


def evaluation_flops(generator: nn.Module, cut: int, operator) -> int:
    """FLOPs of one evaluation of one problem: forward and backward-to-input of the
    generator from ``cut`` and of the operator."""
    return 2 * (generator_flops(generator, cut) + operator_flops(operator))


def matmul_peak(device: torch.device | str = "cpu", size: int = 2048, seconds: float = 2.0,
                dtype: torch.dtype = torch.float32) -> float:
    """The float32 matmul rate this device reaches now, in FLOP/s (best of repeated
    ``size x size`` products over about ``seconds``): the peak the benchmarks compare with."""
    device = torch.device(device)
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    best = 0.0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        a @ b
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        best = max(best, 2 * size**3 / (time.perf_counter() - t0))
    return best
