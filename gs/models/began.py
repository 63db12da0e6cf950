"""BEGAN generator with skip connections, 128 px (the paper's) and 64 px (offline member).

The authors' ``Generator128`` (docs/paper.md, "Generators"). All convs are 3x3,
stride 1, pad 1, no bias, each followed by ELU (the ``ConvBlock``; ELU on the output
layer too). With ``ch = 128`` at 128 px the module list is

=====  ==================================================  ===============
block  what it does                                        output
=====  ==================================================  ===============
0      Linear 64 -> ch*8*8 (no bias), reshaped: ``h0``      ch x 8 x 8
1      nearest Upsample x2                                 ch x 16 x 16
2, 3   ConvBlock ch -> ch                                  ch x 16 x 16
4      Upsample x2                                         ch x 32 x 32
5      ConvBlock on concat[x, up x4(skip)]: 2ch -> ch      ch x 32 x 32
6      ConvBlock ch -> ch                                  ch x 32 x 32
7      Upsample x2                                         ch x 64 x 64
8      ConvBlock on concat[x, up x8(skip)]: 2ch -> ch      ch x 64 x 64
9      ConvBlock ch -> ch                                  ch x 64 x 64
10     Upsample x2                                         ch x 128 x 128
11     ConvBlock on concat[x, up x16(skip)]: 2ch -> ch     ch x 128 x 128
12     ConvBlock ch -> ch                                  ch x 128 x 128
13     ConvBlock ch -> 3 (ELU output)                      3 x 128 x 128
=====  ==================================================  ===============

The skip source is ``h0``, the output of block 0. The authors concatenate
``[x, up x2(skip)]`` *before* each upsampling block and upsample the concatenation;
here the upsampling block upsamples ``x`` alone and the following 2ch-input conv
concatenates ``up(skip)`` at its own resolution. Nearest upsampling commutes with
channel concatenation, so the two are bitwise identical, and a cut at 5, 8 or 11
(a cut that starts at a 2ch-input conv, where the authors apply the "missing"
upsample-and-concat inside that step) needs no special case. Conv weights of the
2ch-input convs take the channels in the order ``[x, skip]``, as the authors'.

Free latents per cut (``latent_shapes``):

- cut 0: ``((64,),)``
- cut 1: ``((ch, 8, 8),)``: the skip is tied to ``z1`` (the skip *is* the cut-1 input);
- cut >= 2: ``((C, H, W), (ch, 8, 8))``: the skip is a second, *free* latent; it is
  carried, unused, at the cuts after the last skip injection (12 and 13 at 128 px),
  as in the paper. Cut 14 (the image) is not a valid cut.

The 64-px member has one fewer upsampling stage (11 blocks): Linear, Up, conv, conv,
Up, conv(+skip), conv, Up, conv(+skip), conv, conv -> 3.

The output (ELU, so >= -1) is used raw as a [0, 1] image, as in the paper.

>>> g = BEGAN().eval()
>>> g.num_params()
2149760
>>> g.latent_shapes(2)
((128, 16, 16), (128, 8, 8))
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gs.models.base import BlockGenerator, Latents
from gs.models.layers import LinearReshape


class ConvBlock(nn.Module):
    """BEGAN ``ConvBlock``: Conv3x3 (stride 1, pad 1, no bias) then ELU."""

    uses_skip = False

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, 3, 1, 1, bias=False)
        self.act = nn.ELU()

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.conv(x))


class SkipConvBlock(ConvBlock):
    """ConvBlock on ``concat[x, up(skip)]``; ``up`` is nearest, to ``x``'s resolution.

    ``x: (B, C, H, W)``, ``skip: (B, Cs, h, w)`` with ``H/h`` an integer; the conv has
    ``C + Cs`` input channels, ``x`` first.
    """

    uses_skip = True

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:  # type: ignore[override]
        up = F.interpolate(skip, size=x.shape[-2:], mode="nearest")
        return self.act(self.conv(torch.cat([x, up], dim=1)))


class BEGAN(BlockGenerator):
    """BEGAN generator with skips, as a list of blocks (see the module docstring).

    Args:
        image_size: 128 (the paper's, 14 blocks) or 64 (11 blocks).
        latent_dim: size of the input ``z`` (64 in the paper).
        ch: channel width ``ch`` (128 in the paper).

    ``forward(latents, cut)``: images ``(B, 3, image_size, image_size)``, ELU output
    (>= -1), used raw as [0, 1] images.
    """

    name = "began"
    default_cut = 2

    def __init__(self, image_size: int = 128, latent_dim: int = 64, ch: int = 128):
        super().__init__()
        if image_size not in (64, 128):
            raise ValueError(f"BEGAN is defined at 64 or 128 px, got image_size={image_size}")
        if latent_dim < 1 or ch < 1:
            raise ValueError(f"latent_dim and ch must be positive, got {latent_dim}, {ch}")
        self.image_size = image_size
        self.latent_dim_z = latent_dim
        self.ch = ch
        self.name = f"began{image_size}"
        n_up = int(math.log2(image_size // 8))  # 4 at 128 px, 3 at 64 px

        blocks: list[nn.Module] = [
            LinearReshape(latent_dim, (ch, 8, 8), bias=False),
            nn.Upsample(scale_factor=2, mode="nearest"),
            ConvBlock(ch, ch),
            ConvBlock(ch, ch),
        ]
        for _ in range(n_up - 1):
            blocks += [
                nn.Upsample(scale_factor=2, mode="nearest"),
                SkipConvBlock(2 * ch, ch),
                ConvBlock(ch, ch),
            ]
        blocks.append(ConvBlock(ch, 3))
        self.blocks = nn.ModuleList(blocks)

        # per-example shape of x at the input of every block
        shapes: list[tuple[int, ...]] = [(latent_dim,)]
        size = 8
        for block in blocks[:-1]:
            if isinstance(block, nn.Upsample):
                size *= 2
            shapes.append((ch, size, size))
        self._x_shapes = shapes

        # the paper's sweep at 128 px; at 64 px the same cuts up to 9, then the last block
        self.sweep_cuts = (
            (0, 1, 2, 3, 4, 5, 7, 9, 11, 13) if image_size == 128 else (0, 1, 2, 3, 4, 5, 7, 9, 10)
        )

    @property
    def skip_shape(self) -> tuple[int, int, int]:
        """Per-example shape of the skip source ``h0``: ``(ch, 8, 8)``."""
        return (self.ch, 8, 8)

    def latent_shapes(self, cut: int = 0) -> tuple[tuple[int, ...], ...]:
        """``((64,),)`` at 0, ``((ch,8,8),)`` at 1, ``((C,H,W), (ch,8,8))`` from 2 on."""
        self.check_cut(cut)
        if cut <= 1:
            return (self._x_shapes[cut],)
        return (self._x_shapes[cut], self.skip_shape)

    def _run(self, latents: Latents, cut: int, record: list[Latents] | None,
             stop: int | None = None) -> Tensor:
        if cut == 0:
            (x,) = latents
            skip = None
        elif cut == 1:
            (x,) = latents
            skip = x  # tied: the skip is the cut-1 input
        else:
            x, skip = latents
        for i in range(cut, len(self.blocks) if stop is None else stop):
            if record is not None:
                record.append((x,) if i <= 1 else (x, skip))
            block = self.blocks[i]
            if getattr(block, "uses_skip", False):
                x = block(x, skip)
            else:
                x = block(x)
            if i == 0:
                skip = x  # h0
        return x
