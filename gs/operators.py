"""Forward operators ("physics") for compressed sensing and other inverse problems.

Every operator maps images ``x: (B, 3, H, W)`` to measurements ``y = A(x)`` and has
the adjoint ``A_adjoint``. Random parts (matrices, masks, signs, permutations) are
drawn once, at construction, from an explicit :class:`torch.Generator`, and kept as
registered buffers so ``.to(device)``, ``.double()`` and ``state_dict`` just work.
Draws are made on the generator's device and then moved to ``device``: a CPU
generator gives the same operator on every device.

Noise model (docs/paper.md, "Problem setup and noise model"): Gaussian CS
measurements get ``eta ~ N(0, sigma^2 I_m)`` with ``sigma = 0.1 * sqrt(n / (m * 12288))``
(:func:`paper_noise_std`); inpainting, super-resolution and the identity are
noiseless. :meth:`Operator.measure` draws the noise once; recovery then shares that
``y`` between restarts, cuts and methods (docs/decisions.md, decision 1).

Operators that draw a matrix per image (``GaussianCS(per_image=B)``) take an optional
``index: (P,) long`` in :meth:`Operator.A` / :meth:`Operator.A_adjoint` that maps each
row of a batch of ``P`` problems to the image whose operator it uses; shared operators
ignore it.

>>> import torch
>>> op = make_operator("cs", (3, 8, 8), m=20, generator=torch.Generator().manual_seed(0))
>>> x = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(1))
>>> op.measure(x, generator=torch.Generator().manual_seed(2)).shape
torch.Size([2, 20])
>>> op.A_adjoint(op.A(x)).shape
torch.Size([2, 3, 8, 8])
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: The image size the authors' noise formula is normalised by (64 * 64 * 3).
N_PIXEL_BORA = 12288

OPERATOR_NAMES = ("cs", "cs_fast", "inpainting", "sr", "identity")


def paper_noise_std(n: int, m: int) -> float:
    """Per-measurement noise std of the paper: ``0.1 * sqrt(n / (m * 12288))``.

    At 64 px (n = 12288) this is ``0.1 / sqrt(m)``; at 128 px ``0.2 / sqrt(m)``. The
    expected noise energy ``m * sigma^2 = 0.01 n / 12288`` does not depend on m.
    """
    _check_m(m, n)
    return 0.1 * math.sqrt(n / (m * N_PIXEL_BORA))


def _check_m(m: int, n: int) -> int:
    if isinstance(m, bool) or not isinstance(m, int):
        raise TypeError(f"the number of measurements m must be an int, got {type(m).__name__}")
    if m <= 0:
        raise ValueError(f"the number of measurements m must be positive, got m={m}")
    if m > n:
        raise ValueError(
            f"the number of measurements m={m} exceeds the signal dimension n={n} "
            "(compressed sensing needs 0 < m <= n)"
        )
    return m


def _check_image_shape(image_shape: Sequence[int]) -> tuple[int, int, int]:
    shape = tuple(int(s) for s in image_shape)
    if len(shape) != 3 or any(s <= 0 for s in shape):
        raise ValueError(f"image_shape must be (C, H, W) with positive sizes, got {image_shape}")
    return shape  # type: ignore[return-value]


def _draw_device(generator: torch.Generator | None, device) -> torch.device:
    if generator is not None:
        return generator.device
    return torch.device(device) if device is not None else torch.device("cpu")


class Operator(nn.Module):
    """Base class of a linear forward operator ``A: R^n -> R^m`` on images.

    Attributes:
        image_shape: ``(C, H, W)`` of the images it takes.
        n: ``C * H * W``.
        m: number of (informative) measurements.
        meas_shape: per-example shape of ``A(x)``; ``(m,)`` for CS, image-shaped for
            inpainting (the masked entries are zeros, and the recovery loss averages
            over all entries as the authors did).
        noise_std: std of the additive Gaussian noise of :meth:`measure` (0: noiseless).
    """

    noise_std: float = 0.0

    def __init__(self, image_shape: Sequence[int]):
        super().__init__()
        self.image_shape = _check_image_shape(image_shape)
        self.n = math.prod(self.image_shape)
        # an empty buffer so that every operator knows its device and float dtype
        self.register_buffer("_anchor", torch.empty(0), persistent=False)

    # ------------------------------------------------------------ interface
    @property
    def m(self) -> int:
        raise NotImplementedError

    @property
    def meas_shape(self) -> tuple[int, ...]:
        return (self.m,)

    def A(self, x: Tensor, index: Tensor | None = None) -> Tensor:
        """Apply the operator: ``x: (B, C, H, W) -> y: (B, *meas_shape)``."""
        raise NotImplementedError

    def A_adjoint(self, y: Tensor, index: Tensor | None = None) -> Tensor:
        """Apply the adjoint: ``y: (B, *meas_shape) -> (B, C, H, W)``."""
        raise NotImplementedError

    def forward(self, x: Tensor, index: Tensor | None = None) -> Tensor:
        return self.A(x, index)

    @property
    def device(self) -> torch.device:
        return self._anchor.device

    @property
    def dtype(self) -> torch.dtype:
        return self._anchor.dtype

    # ------------------------------------------------------- entry subsets
    def informative_entries(self) -> Tensor:
        """Flat indices (long, ascending) of the entries of a measurement that carry
        information: all ``prod(meas_shape)`` of them, except for operators whose
        measurement holds structural zeros (:class:`Inpainting`: the kept pixels)."""
        return torch.arange(math.prod(self.meas_shape), device=self.device)

    def subset(self, entries: Tensor) -> SubsetOperator:
        """The operator that measures only the flat measurement entries ``entries``
        (e.g. to hold some measurements out): ``A_S(x) = A(x).flatten(1)[:, entries]``."""
        return SubsetOperator(self, entries)

    # ----------------------------------------------------------- measuring
    def measure(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Noisy measurements ``y = A(x) + noise_std * N(0, 1)`` of true images.

        ``x: (B, C, H, W)`` in ``[0, 1]`` (checked). The noise is drawn on the
        generator's device (the default RNG on ``x``'s device if ``generator`` is None)
        and moved to ``x``'s device, so a CPU generator gives the same noise everywhere.
        """
        self.check_image(x)
        y = self.A(x)
        if self.noise_std > 0:
            dev = generator.device if generator is not None else y.device
            noise = torch.randn(y.shape, generator=generator, device=dev, dtype=y.dtype)
            y = y + self.noise_std * noise.to(y.device)
        return y

    # ----------------------------------------------------------- checking
    def check_image(self, x: Tensor, name: str = "x", atol: float = 1e-3) -> Tensor:
        """Raise a ValueError naming the problem unless ``x`` is a finite batch of images
        of shape ``(B, *image_shape)`` with values in ``[0, 1]`` (tolerance ``atol``)."""
        self._check_shape(x, name)
        if not torch.isfinite(x).all():
            bad = int((~torch.isfinite(x)).sum())
            raise ValueError(f"{name} contains {bad} non-finite values (NaN or inf)")
        lo, hi = float(x.min()), float(x.max())
        if lo < -atol or hi > 1 + atol:
            raise ValueError(
                f"{name} must be an image in [0, 1], got values in [{lo:.4g}, {hi:.4g}] "
                "(DCGAN-style [-1, 1] data must be mapped by (x + 1) / 2 first)"
            )
        return x

    def _check_shape(self, x: Tensor, name: str = "x") -> None:
        if not isinstance(x, Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
        if x.ndim != 4 or tuple(x.shape[1:]) != self.image_shape:
            raise ValueError(
                f"{name} must have shape (B, {', '.join(map(str, self.image_shape))}) for "
                f"{type(self).__name__}, got {tuple(x.shape)}"
            )

    def check_measurements(self, y: Tensor) -> Tensor:
        """Raise unless ``y`` is a finite ``(B, *meas_shape)`` tensor of measurements."""
        if not isinstance(y, Tensor):
            raise TypeError(f"y must be a torch.Tensor, got {type(y).__name__}")
        self._check_meas(y, name="y")
        if not torch.isfinite(y).all():
            raise ValueError("y contains non-finite values (NaN or inf)")
        return y

    def _check_meas(self, y: Tensor, name: str = "measurements") -> None:
        if y.ndim != 1 + len(self.meas_shape) or tuple(y.shape[1:]) != self.meas_shape:
            raise ValueError(
                f"{name} must have shape (B, {', '.join(map(str, self.meas_shape))}) "
                f"for {type(self).__name__}, got {tuple(y.shape)}"
            )

    def extra_repr(self) -> str:
        return f"image_shape={self.image_shape}, m={self.m}, noise_std={self.noise_std:.4g}"


class GaussianCS(Operator):
    """Dense Gaussian compressed sensing, ``y = vec(x) A + eta``.

    ``A: (n, m)`` has i.i.d. ``N(0, 1/m)`` entries (so ``E ||vec(x) A||^2 = ||x||^2``)
    and ``vec`` flattens in C, H, W order, as in the authors' code. It is stored as the
    buffer ``matrix`` of shape ``(n, m)``, or ``(B, n, m)`` with ``per_image=B`` (a fresh
    A per image, as the authors did); by default one A is shared by the batch
    (docs/decisions.md, decision 2). Noise std: :func:`paper_noise_std` unless
    ``noise_std`` is given (0 for noiseless).

    Memory is ``4 n m`` bytes per matrix: 4.7 GB at 128 px with m = 24000; use
    :class:`StructuredCS` there.
    """

    def __init__(
        self,
        image_shape: Sequence[int],
        m: int,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        per_image: int | None = None,
        noise_std: float | None = None,
        dtype: torch.dtype = torch.float32,
    ):
        super().__init__(image_shape)
        self._m = _check_m(m, self.n)
        if per_image is not None and (not isinstance(per_image, int) or per_image <= 0):
            raise ValueError(f"per_image must be a positive int or None, got {per_image!r}")
        self.per_image = per_image
        size = (self.n, m) if per_image is None else (per_image, self.n, m)
        dev = _draw_device(generator, device)
        a = torch.randn(size, generator=generator, device=dev, dtype=dtype) / math.sqrt(m)
        self.register_buffer("matrix", a)
        self._anchor = torch.empty(0, dtype=dtype)
        self.noise_std = paper_noise_std(self.n, m) if noise_std is None else float(noise_std)
        if device is not None:
            self.to(device)

    @property
    def m(self) -> int:
        return self._m

    def _groups(self, batch: int, index: Tensor | None):
        """Yield (rows, image) pairs: which batch rows use which per-image matrix."""
        if index is None:
            if batch != self.per_image:
                raise ValueError(
                    f"this GaussianCS has one matrix per image for {self.per_image} images; "
                    f"a batch of {batch} needs index=(batch,) mapping rows to images"
                )
            index = torch.arange(batch, device=self.matrix.device)
        if index.shape != (batch,):
            raise ValueError(f"index must have shape ({batch},), got {tuple(index.shape)}")
        for b in torch.unique(index).tolist():
            if not 0 <= b < self.per_image:
                raise IndexError(f"index {b} out of range for {self.per_image} per-image matrices")
            yield (index == b).nonzero().squeeze(1), b

    def A(self, x: Tensor, index: Tensor | None = None) -> Tensor:
        self._check_shape(x)
        v = x.reshape(x.shape[0], self.n)
        if self.per_image is None:
            return v @ self.matrix
        out = v.new_empty(x.shape[0], self.m)
        for rows, b in self._groups(x.shape[0], index):
            out[rows] = v[rows] @ self.matrix[b]
        return out

    def A_adjoint(self, y: Tensor, index: Tensor | None = None) -> Tensor:
        self._check_meas(y)
        if self.per_image is None:
            return (y @ self.matrix.T).reshape(y.shape[0], *self.image_shape)
        out = y.new_empty(y.shape[0], self.n)
        for rows, b in self._groups(y.shape[0], index):
            out[rows] = y[rows] @ self.matrix[b].T
        return out.reshape(y.shape[0], *self.image_shape)


def real_fourier(v: Tensor) -> Tensor:
    """Orthonormal real Fourier transform of the last axis, ``(..., n) -> (..., n)``.

    With ``R = rfft(v, norm="ortho")`` the output is ``[Re R_0, sqrt2 Re R_1..,
    (Re R_{n/2} if n even), sqrt2 Im R_1..]``: the coefficients of ``v`` in the
    orthonormal basis of cosines and sines, so the transform is orthogonal.
    """
    n = v.shape[-1]
    r = torch.fft.rfft(v, norm="ortho")
    half = (n - 1) // 2  # number of frequencies with a cosine and a sine
    s2 = math.sqrt(2.0)
    parts = [r[..., :1].real, s2 * r[..., 1 : half + 1].real]
    if n % 2 == 0:
        parts.append(r[..., half + 1 : half + 2].real)
    parts.append(s2 * r[..., 1 : half + 1].imag)
    return torch.cat(parts, dim=-1)


def real_fourier_inverse(w: Tensor) -> Tensor:
    """Inverse (= transpose) of :func:`real_fourier`."""
    n = w.shape[-1]
    half = (n - 1) // 2
    s2 = math.sqrt(2.0)
    re = [w[..., :1], w[..., 1 : half + 1] / s2]
    im = [torch.zeros_like(w[..., :1]), w[..., n - half :] / s2]
    if n % 2 == 0:
        re.append(w[..., half + 1 : half + 2])
        im.append(torch.zeros_like(w[..., :1]))
    r = torch.complex(torch.cat(re, -1), torch.cat(im, -1))
    return torch.fft.irfft(r, n=n, norm="ortho")


class StructuredCS(Operator):
    """Fast structured compressed sensing with O(n) memory.

    ``A x = sqrt(n / m) * S T D P vec(x)``: ``P`` a random permutation, ``D`` random
    signs, ``T`` the orthonormal real Fourier transform (:func:`real_fourier`, an FFT)
    and ``S`` keeps m rows drawn without replacement. ``A`` has orthogonal rows of norm
    ``sqrt(n/m)`` and ``E ||A x||^2 = ||x||^2``, like :class:`GaussianCS`; the same
    noise model applies. Buffers: ``perm (n,)``, ``signs (n,)``, ``rows (m,)``: no
    ``n x m`` matrix is ever formed, and ``A`` costs O(n log n) per image.

    Recovery with it behaves like the dense Gaussian operator: the randomisation ``D P``
    makes every row incoherent with smooth images, as Gaussian rows are. Measured with
    ``bench/recovery.py --compare-structured`` (DigiFace DCGAN, c=1, m=1000, 16 shipped
    test faces x 3 restarts, same inits, L-BFGS lr 0.1 for 2 of the paper's 25 steps, CPU):
    mean PSNR 21.78 dB structured vs 21.65 dB dense, paired difference +0.13 +- 0.36 dB
    (mean +- SD over images). It is not the authors' operator: use ``"cs"`` for
    paper-faithful runs that fit in memory.
    """

    def __init__(
        self,
        image_shape: Sequence[int],
        m: int,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        noise_std: float | None = None,
        dtype: torch.dtype = torch.float32,
    ):
        super().__init__(image_shape)
        self._m = _check_m(m, self.n)
        dev = _draw_device(generator, device)
        perm = torch.randperm(self.n, generator=generator, device=dev)
        signs = torch.randint(0, 2, (self.n,), generator=generator, device=dev).to(dtype) * 2 - 1
        rows = torch.randperm(self.n, generator=generator, device=dev)[:m].sort().values
        self.register_buffer("perm", perm)
        self.register_buffer("signs", signs)
        self.register_buffer("rows", rows)
        self._anchor = torch.empty(0, dtype=dtype)
        self.scale = math.sqrt(self.n / m)
        self.noise_std = paper_noise_std(self.n, m) if noise_std is None else float(noise_std)
        if device is not None:
            self.to(device)

    @property
    def m(self) -> int:
        return self._m

    def A(self, x: Tensor, index: Tensor | None = None) -> Tensor:
        self._check_shape(x)
        v = x.reshape(x.shape[0], self.n)[:, self.perm] * self.signs
        return real_fourier(v)[:, self.rows] * self.scale

    def A_adjoint(self, y: Tensor, index: Tensor | None = None) -> Tensor:
        self._check_meas(y)
        w = y.new_zeros(y.shape[0], self.n)
        w[:, self.rows] = y * self.scale
        v = real_fourier_inverse(w) * self.signs
        out = torch.empty_like(v)
        out[:, self.perm] = v
        return out.reshape(y.shape[0], *self.image_shape)


class Inpainting(Operator):
    """Random inpainting: keep exactly ``int(fraction * n)`` scalar entries.

    The mask (buffer ``mask``, bool, ``(C, H, W)``) is drawn by ``randperm``, so the
    channels are masked independently (docs/paper.md, "Problem setup and noise model").
    ``A(x) = mask * x`` keeps the image shape; ``m`` is the number of kept entries, but a
    loss that averages ``A(x)`` over all entries (zeros included) is the authors' loss.
    Noiseless.
    """

    def __init__(
        self,
        image_shape: Sequence[int],
        fraction: float = 0.1,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
    ):
        super().__init__(image_shape)
        if not 0 < fraction <= 1:
            raise ValueError(f"inpainting fraction must be in (0, 1], got {fraction}")
        k = int(fraction * self.n)
        if k == 0:
            raise ValueError(f"fraction {fraction} keeps no entry of an image with n={self.n}")
        dev = _draw_device(generator, device)
        keep = torch.randperm(self.n, generator=generator, device=dev)[:k]
        mask = torch.zeros(self.n, dtype=torch.bool, device=dev)
        mask[keep] = True
        mask = mask.reshape(self.image_shape)
        self.register_buffer("mask", mask)
        self.fraction = fraction
        self._m = k
        if device is not None:
            self.to(device)

    @property
    def m(self) -> int:
        return self._m

    @property
    def meas_shape(self) -> tuple[int, ...]:
        return self.image_shape

    def A(self, x: Tensor, index: Tensor | None = None) -> Tensor:
        self._check_shape(x)
        return x * self.mask

    def informative_entries(self) -> Tensor:
        return self.mask.flatten().nonzero().squeeze(1)

    def A_adjoint(self, y: Tensor, index: Tensor | None = None) -> Tensor:
        self._check_meas(y)
        return y * self.mask


class SuperResolution(Operator):
    """Down-sampling by ``factor``: ``F.interpolate(x, scale_factor=1/factor,
    mode="bilinear", align_corners=True)``, no antialiasing, as the authors did.

    Output ``(B, C, floor(H/factor), floor(W/factor))``; ``m`` is its size. The adjoint
    is the vector-Jacobian product of this linear map. Noiseless.
    """

    def __init__(self, image_shape: Sequence[int], factor: int = 4):
        super().__init__(image_shape)
        if factor < 1:
            raise ValueError(f"super-resolution factor must be >= 1, got {factor}")
        c, h, w = self.image_shape
        if h // factor < 1 or w // factor < 1:
            raise ValueError(f"factor {factor} is too large for images of {h}x{w}")
        self.factor = factor
        self._out = (c, int(math.floor(h / factor)), int(math.floor(w / factor)))

    @property
    def m(self) -> int:
        return math.prod(self._out)

    @property
    def meas_shape(self) -> tuple[int, ...]:
        return self._out

    def A(self, x: Tensor, index: Tensor | None = None) -> Tensor:
        self._check_shape(x)
        return F.interpolate(x, scale_factor=1.0 / self.factor, mode="bilinear", align_corners=True)

    def A_adjoint(self, y: Tensor, index: Tensor | None = None) -> Tensor:
        self._check_meas(y)
        x0 = y.new_zeros(y.shape[0], *self.image_shape)
        _, vjp = torch.func.vjp(self.A, x0)
        return vjp(y)[0]


class Identity(Operator):
    """The identity ("raw reconstruction", the authors' NoOp). Noiseless."""

    @property
    def m(self) -> int:
        return self.n

    @property
    def meas_shape(self) -> tuple[int, ...]:
        return self.image_shape

    def A(self, x: Tensor, index: Tensor | None = None) -> Tensor:
        self._check_shape(x)
        return x

    def A_adjoint(self, y: Tensor, index: Tensor | None = None) -> Tensor:
        self._check_meas(y)
        return y


class SubsetOperator(Operator):
    """Some entries of another operator's measurements: ``A(x) = parent.A(x).flatten(1)[:,
    entries]``, so ``meas_shape = (len(entries),)``; the adjoint scatters into the
    parent's measurement shape and applies the parent's adjoint. ``index`` is passed on
    (per-image parents), ``noise_std`` is the parent's. Built by :meth:`Operator.subset`.

    >>> op = make_operator("cs", (3, 8, 8), m=20, generator=torch.Generator().manual_seed(0))
    >>> sub = op.subset(torch.tensor([0, 5, 7]))
    >>> x = torch.rand(2, 3, 8, 8)
    >>> torch.equal(sub.A(x), op.A(x)[:, [0, 5, 7]]), sub.m
    (True, 3)
    """

    def __init__(self, parent: Operator, entries: Tensor):
        super().__init__(parent.image_shape)
        size = math.prod(parent.meas_shape)
        if not isinstance(entries, Tensor) or entries.ndim != 1 or entries.is_floating_point():
            raise TypeError("entries must be a 1-D integer tensor of flat measurement indices")
        entries = entries.to(device=parent.device, dtype=torch.long)
        if entries.numel() == 0:
            raise ValueError("a subset needs at least one measurement entry")
        if int(entries.min()) < 0 or int(entries.max()) >= size:
            raise ValueError(f"entries must lie in 0..{size - 1} (the parent measures {size} "
                             f"entries), got {int(entries.min())}..{int(entries.max())}")
        if entries.unique().numel() != entries.numel():
            raise ValueError("entries must not repeat")
        self.parent = parent
        self.register_buffer("entries", entries)
        self._anchor = torch.empty(0, dtype=parent.dtype, device=parent.device)
        self.noise_std = parent.noise_std

    @property
    def m(self) -> int:
        return int(self.entries.numel())

    def A(self, x: Tensor, index: Tensor | None = None) -> Tensor:
        return self.parent.A(x, index).flatten(1)[:, self.entries]

    def A_adjoint(self, y: Tensor, index: Tensor | None = None) -> Tensor:
        self._check_meas(y)
        full = y.new_zeros(y.shape[0], math.prod(self.parent.meas_shape))
        full[:, self.entries] = y
        return self.parent.A_adjoint(full.view(y.shape[0], *self.parent.meas_shape), index)


def make_operator(
    name: str,
    image_shape: Sequence[int],
    m: int | None = None,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    **kw,
) -> Operator:
    """Build an operator by name.

    ``"cs"``: :class:`GaussianCS` (needs ``m``); ``"cs_fast"``: :class:`StructuredCS`
    (needs ``m``); ``"inpainting"``: :class:`Inpainting` (``fraction=0.1``); ``"sr"``:
    :class:`SuperResolution` (``factor=4``); ``"identity"``: :class:`Identity`.
    Extra keywords go to the class.
    """
    if name in ("cs", "cs_fast"):
        if m is None:
            raise ValueError(f"operator {name!r} needs the number of measurements m")
        cls = GaussianCS if name == "cs" else StructuredCS
        return cls(image_shape, m, generator=generator, device=device, **kw)
    if m is not None:
        raise ValueError(f"operator {name!r} does not take m (got m={m})")
    if name == "inpainting":
        return Inpainting(image_shape, generator=generator, device=device, **kw)
    if name == "sr":
        op = SuperResolution(image_shape, **kw)
    elif name == "identity":
        op = Identity(image_shape, **kw)
    else:
        raise ValueError(f"unknown operator {name!r}; choose one of {OPERATOR_NAMES}")
    return op.to(device) if device is not None else op

