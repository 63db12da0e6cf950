"""Small layers shared by the block generators."""

from __future__ import annotations

import math

from torch import Tensor, nn


class LinearReshape(nn.Module):
    """``Linear(in_features, prod(shape))`` then reshape: ``(B, in) -> (B, *shape)``.

    >>> import torch
    >>> LinearReshape(4, (2, 3, 3))(torch.zeros(5, 4)).shape
    torch.Size([5, 2, 3, 3])
    """

    def __init__(self, in_features: int, shape: tuple[int, ...], bias: bool = True):
        super().__init__()
        self.shape = tuple(shape)
        self.linear = nn.Linear(in_features, math.prod(self.shape), bias=bias)

    def forward(self, z: Tensor) -> Tensor:
        return self.linear(z).view(z.shape[0], *self.shape)
