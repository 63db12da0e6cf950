"""DCGAN generator, 64 px (the PyTorch-examples DCGAN: nz=100, ngf=64).

Blocks (docs/paper.md, "Generators"); each is ConvTranspose2d(k=4, no bias) + BN + ReLU,
the last ConvTranspose + Tanh:

=====  ==================  ==========
block  maps                output
=====  ==================  ==========
0      100 -> 512, s1 p0   512x4x4
1      512 -> 256, s2 p1   256x8x8
2      256 -> 128, s2 p1   128x16x16
3      128 -> 64,  s2 p1   64x32x32
4      64 -> 3,    s2 p1   3x64x64 (tanh)
=====  ==================  ==========

The output is mapped from tanh range to [0, 1] by ``(x + 1) / 2`` (``rescale=True``
in the authors' code).
"""

from __future__ import annotations

import re

from torch import Tensor, nn

from gs.models.base import SequentialGenerator


class DCGAN(SequentialGenerator):
    """DCGAN generator as 5 blocks. ``forward(z, cut)`` gives images in [0, 1]."""

    name = "dcgan"
    default_cut = 1
    sweep_cuts = (0, 1, 2, 3, 4)

    def __init__(self, nz: int = 100, ngf: int = 64, nc: int = 3, image_size: int = 64):
        super().__init__()
        if image_size != 64:
            raise ValueError("DCGAN is defined at 64 px only")
        self.image_size = image_size
        self.nz, self.ngf, self.nc = nz, ngf, nc
        self.input_shape = (nz, 1, 1)
        widths = [nz, ngf * 8, ngf * 4, ngf * 2, ngf]
        blocks = []
        for i in range(4):
            stride, pad = (1, 0) if i == 0 else (2, 1)
            blocks.append(
                nn.Sequential(
                    nn.ConvTranspose2d(widths[i], widths[i + 1], 4, stride, pad, bias=False),
                    nn.BatchNorm2d(widths[i + 1]),
                    nn.ReLU(True),
                )
            )
        blocks.append(nn.Sequential(nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh()))
        self.blocks = nn.ModuleList(blocks)

    def output(self, x: Tensor) -> Tensor:
        return (x + 1) / 2


_MAIN_KEY = re.compile(r"^main\.(\d+)\.(.+)$")


def convert_tutorial_state_dict(state: dict) -> dict:
    """Map a PyTorch-tutorial DCGAN state dict (``main.K.*``) onto :class:`DCGAN` keys.

    The tutorial's ``nn.Sequential`` puts ConvT/BN/ReLU at indices 3b, 3b+1, 3b+2 for
    block b, so ``main.K.x`` becomes ``blocks.{K // 3}.{K % 3}.x``.
    """
    out = {}
    for key, value in state.items():
        m = _MAIN_KEY.match(key)
        if m is None:
            raise KeyError(f"unexpected key {key!r} in a DCGAN tutorial state dict")
        k = int(m.group(1))
        out[f"blocks.{k // 3}.{k % 3}.{m.group(2)}"] = value
    return out
