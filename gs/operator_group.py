"""Several operators as one: each image of a batch measured by its own operator.

:class:`OperatorGroup` lets problems of several configurations (different m, or seeds
that draw different matrices) share one batched recovery: the generator runs on all of
them at once, while each image keeps the operator, measurements and loss it would have
alone (:func:`gs.recovery.measurement_losses`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from gs.operators import Operator, SubsetOperator


class OperatorGroup(Operator):
    """One operator per image, for recovering problems of several configurations (e.g.
    different m or seeds) in ONE batched recovery: the generator runs on all of them at
    once, each image is measured by its own operator.

    ``operators`` must be of one type, for one image size, on one device and dtype;
    ``owner: (B,)`` names the operator of each image. Measurements are flat and
    zero-padded: ``meas_shape = (max_k size_k,)`` with ``size_k = prod(operators[k]
    .meas_shape)``, image b's entries first (:meth:`pad`, :meth:`unpad`). ``index`` maps
    the rows of a batch to images, as for per-image operators.

    The recovery loss of a group (:func:`gs.recovery.measurement_losses`) is computed for
    each operator on its own images and scattered back, so each problem's loss is the
    one its operator alone gives, bit for bit: the padding never enters it.

    >>> from gs.operators import make_operator
    >>> rng = torch.Generator().manual_seed(0)
    >>> ops = [make_operator("cs", (3, 8, 8), m=m, generator=rng) for m in (10, 20)]
    >>> group = OperatorGroup(ops, owner=[1, 0, 1])
    >>> x = torch.rand(3, 3, 8, 8, generator=rng)
    >>> y = group.A(x)
    >>> y.shape, torch.equal(group.unpad(y, 1), ops[0].A(x[1:2])[0]), group.m_of(0)
    (torch.Size([3, 20]), True, 20)
    """

    def __init__(self, operators: Sequence[Operator], owner: Tensor | Sequence[int]):
        ops = list(operators)
        if not ops:
            raise ValueError("an operator group needs at least one operator")
        for op in ops:
            if not isinstance(op, Operator) or isinstance(op, OperatorGroup):
                raise TypeError(f"an operator group holds operators, got {type(op).__name__}")
        super().__init__(ops[0].image_shape)
        kinds = sorted({type(op).__name__ for op in ops})
        if len(kinds) > 1:
            raise ValueError(f"the operators of a group must be of one type, got {kinds}")
        shapes = sorted({op.image_shape for op in ops})
        if len(shapes) > 1:
            raise ValueError(f"the operators of a group must take images of one size, got "
                             f"{shapes}")
        where = sorted({(str(op.device), str(op.dtype)) for op in ops})
        if len(where) > 1:
            raise ValueError(f"the operators of a group must be on one device and dtype, got "
                             f"{where}")
        if any(getattr(op, "per_image", None) is not None for op in ops):
            raise ValueError("an operator group takes shared operators (no per_image matrices)")
        owner = torch.as_tensor(owner)
        if owner.ndim != 1 or owner.numel() == 0 or owner.is_floating_point():
            raise ValueError("owner must be a non-empty 1-D integer tensor (one operator index "
                             "per image)")
        if int(owner.min()) < 0 or int(owner.max()) >= len(ops):
            raise ValueError(f"owner must name operators 0..{len(ops) - 1}, got "
                             f"{int(owner.min())}..{int(owner.max())}")
        self.ops = nn.ModuleList(ops)
        self.register_buffer("owner", owner.to(device=ops[0].device, dtype=torch.long))
        self._owner = owner.tolist()  # on the host: no device sync to look an image up
        self.sizes = tuple(math.prod(op.meas_shape) for op in ops)
        self._anchor = torch.empty(0, dtype=ops[0].dtype, device=ops[0].device)

    # ------------------------------------------------------------ per image
    @property
    def m(self) -> int:
        """The largest number of measurements of the group (see :meth:`m_of`)."""
        return max(op.m for op in self.ops)

    @property
    def meas_shape(self) -> tuple[int, ...]:
        return (max(self.sizes),)

    @property
    def images(self) -> int:
        """How many images the group measures (``len(owner)``)."""
        return len(self._owner)

    def operator_of(self, b: int) -> Operator:
        """The operator of image ``b``."""
        return self.ops[self._owner[b]]

    def m_of(self, b: int) -> int:
        """The number of measurements of image ``b``."""
        return self.operator_of(b).m

    def pad(self, ys: Sequence[Tensor]) -> Tensor:
        """``(B, *meas_shape)`` group measurements from each image's own, ``ys[b]`` of its
        operator's ``meas_shape`` (a leading 1 allowed): flattened, then zero-padded."""
        if len(ys) != self.images:
            raise ValueError(f"the group measures {self.images} images, got {len(ys)} "
                             "measurements")
        out = torch.zeros(self.images, *self.meas_shape, dtype=ys[0].dtype, device=ys[0].device)
        for b, yb in enumerate(ys):
            size = self.sizes[self._owner[b]]
            if yb.numel() != size:
                raise ValueError(f"image {b} has {yb.numel()} measurement entries; its "
                                 f"operator measures {size}")
            out[b, :size] = yb.reshape(size)
        return out

    def unpad(self, y: Tensor, b: int) -> Tensor:
        """Image ``b``'s measurement in its operator's ``meas_shape``, from ``y[b]`` of
        group measurements ``y: (B, *meas_shape)``."""
        op = self.operator_of(b)
        return y[b, : self.sizes[self._owner[b]]].reshape(op.meas_shape)

    def partition(self, index: Tensor | None = None) -> list[tuple[int, Tensor]]:
        """``(k, rows)`` for every operator k that measures some row of a batch whose rows
        are images ``index`` (default: one row per image): ``rows`` (long, ascending)
        are those rows. Computed once per batch, it syncs with the device once."""
        if index is None:
            index = torch.arange(self.images, device=self.owner.device)
        if index.ndim != 1:
            raise ValueError(f"index must be 1-D, got shape {tuple(index.shape)}")
        if index.numel() and (int(index.min()) < 0 or int(index.max()) >= self.images):
            raise IndexError(f"index out of range for a group of {self.images} images")
        which = self.owner.to(index.device)[index]
        return [(k, rows) for k in range(len(self.ops))
                if (rows := (which == k).nonzero().squeeze(1)).numel()]

    # ------------------------------------------------------------ the operator
    def A(self, x: Tensor, index: Tensor | None = None) -> Tensor:
        self._check_shape(x)
        index = self._index(x.shape[0], index, x.device)
        out = x.new_zeros(x.shape[0], *self.meas_shape)
        for k, rows in self.partition(index):
            out[rows, : self.sizes[k]] = self.ops[k].A(x[rows]).flatten(1)
        return out

    def A_adjoint(self, y: Tensor, index: Tensor | None = None) -> Tensor:
        self._check_meas(y)
        index = self._index(y.shape[0], index, y.device)
        out = y.new_zeros(y.shape[0], *self.image_shape)
        for k, rows in self.partition(index):
            op = self.ops[k]
            out[rows] = op.A_adjoint(y[rows, : self.sizes[k]].reshape(-1, *op.meas_shape))
        return out

    def _index(self, batch: int, index: Tensor | None, device) -> Tensor:
        if index is None:
            if batch != self.images:
                raise ValueError(f"this operator group measures {self.images} images; a batch "
                                 f"of {batch} needs index=(batch,) mapping rows to images")
            return torch.arange(batch, device=device)
        if index.shape != (batch,):
            raise ValueError(f"index must have shape ({batch},), got {tuple(index.shape)}")
        return index

    def measure(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Each image measured by its own operator (:meth:`Operator.measure`, one image
        after another from the same ``generator``), padded."""
        self.check_image(x)
        if x.shape[0] != self.images:
            raise ValueError(f"the group measures {self.images} images, got {x.shape[0]}")
        return self.pad([self.operator_of(b).measure(x[b : b + 1], generator)
                         for b in range(self.images)])

    def check_measurements(self, y: Tensor) -> Tensor:
        """As :meth:`Operator.check_measurements`, and one row per image of the group with
        zeros beyond each image's own entries."""
        super().check_measurements(y)
        if y.shape[0] != self.images:
            raise ValueError(f"the operator group measures {self.images} images but y holds "
                             f"{y.shape[0]}")
        sizes = torch.tensor([self.sizes[k] for k in self._owner], device=y.device)
        if (y.flatten(1) * (torch.arange(y.shape[1], device=y.device) >= sizes[:, None])).any():
            raise ValueError("y is not zero beyond each image's own measurements (build it "
                             "with OperatorGroup.pad)")
        return y

    @property
    def noise_std(self) -> float:  # type: ignore[override]
        stds = {op.noise_std for op in self.ops}
        if len(stds) > 1:
            raise ValueError("the operators of this group have different noise levels: ask "
                             "operator_of(b).noise_std")
        return stds.pop()

    def informative_entries(self) -> Tensor:
        raise TypeError("an operator group has no common entries: ask each operator")

    def subset(self, entries: Tensor) -> SubsetOperator:
        raise TypeError("an operator group cannot be subset: subset each operator")

    def extra_repr(self) -> str:
        return (f"image_shape={self.image_shape}, {len(self.ops)} x "
                f"{type(self.ops[0]).__name__}, m={[op.m for op in self.ops]}, "
                f"images={self.images}")
