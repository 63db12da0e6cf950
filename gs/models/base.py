"""Generators as ordered lists of blocks, the representation generator surgery needs.

A :class:`BlockGenerator` holds ``self.blocks`` (an :class:`torch.nn.ModuleList`).
*Cut index* ``c`` means: drop ``blocks[:c]`` and feed the free latent tensor(s) of
cut ``c`` straight into ``blocks[c]`` (docs/paper.md, "Generators"). At every cut the free
variables are a tuple of tensors whose per-example shapes :meth:`latent_shapes`
gives; most models have one, BEGAN has a second (the decoupled skip source) past
its first upsampling block.

>>> import torch
>>> from gs.models.dcgan import DCGAN
>>> g = DCGAN().eval()
>>> g.latent_shapes(1)
((512, 4, 4),)
>>> z = g.sample_latents(2, cut=1, generator=torch.Generator().manual_seed(0))
>>> g(z, cut=1).shape
torch.Size([2, 3, 64, 64])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

Latents = tuple[Tensor, ...]
LatentLike = Tensor | Sequence[Tensor]

INITS = ("clamped_normal", "normal", "zero", "uniform")


def as_latents(latents: LatentLike) -> Latents:
    """Normalise a tensor or a sequence of tensors to a tuple of tensors."""
    if isinstance(latents, Tensor):
        return (latents,)
    out = tuple(latents)
    if not out or not all(isinstance(t, Tensor) for t in out):
        raise TypeError("latents must be a Tensor or a non-empty sequence of Tensors")
    return out


class BlockGenerator(nn.Module):
    """Base class: an image generator written as an ordered list of blocks.

    Subclasses set ``name``, ``image_size``, ``default_cut`` (the paper's cut),
    ``sweep_cuts`` (the cuts of the paper's cut sweep), build ``self.blocks`` and
    implement :meth:`latent_shapes` and :meth:`_run`.

    Outputs are images ``(B, 3, H, W)`` nominally in ``[0, 1]`` (DCGAN's tanh output
    is mapped by ``(x + 1) / 2``; BEGAN's ELU and VAE's sigmoid outputs are used raw,
    as in the paper). Nothing is clamped here: recovery clamps when it scores.
    """

    name: str = "generator"
    image_size: int = 64
    default_cut: int = 0
    sweep_cuts: tuple[int, ...] = (0,)

    blocks: nn.ModuleList

    # ----------------------------------------------------------------- cuts
    @property
    def num_blocks(self) -> int:
        return len(self.blocks)

    @property
    def valid_cuts(self) -> tuple[int, ...]:
        """Cuts at which at least one block is kept and the forward pass is defined."""
        return tuple(range(self.num_blocks))

    def check_cut(self, cut: int) -> int:
        """Return ``cut`` if valid, else raise a ValueError naming the valid range."""
        if isinstance(cut, bool) or not isinstance(cut, int):
            raise TypeError(f"cut must be an int, got {type(cut).__name__}")
        if cut not in self.valid_cuts:
            raise ValueError(
                f"cut {cut} is out of range for {self.name}: valid cuts are "
                f"{self.valid_cuts[0]}..{self.valid_cuts[-1]} "
                f"({self.num_blocks} blocks; a cut must keep at least one block)"
            )
        return cut

    def latent_shapes(self, cut: int = 0) -> tuple[tuple[int, ...], ...]:
        """Per-example shapes of the free tensors optimised at ``cut``."""
        raise NotImplementedError

    def latent_dim(self, cut: int = 0) -> int:
        """Number of optimised scalars per image at ``cut``."""
        return sum(int(torch.Size(s).numel()) for s in self.latent_shapes(cut))

    def params_removed(self, cut: int) -> int:
        """Number of generator weights in the blocks removed by ``cut``."""
        self.check_cut(cut)
        return sum(p.numel() for b in self.blocks[:cut] for p in b.parameters())

    def num_params(self) -> int:
        return sum(p.numel() for p in self.blocks.parameters())

    # -------------------------------------------------------------- latents
    def sample_latents(
        self,
        batch: int,
        cut: int = 0,
        *,
        init: str = "clamped_normal",
        limit: float = 1.0,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> Latents:
        """Draw starting latents for ``batch`` problems at ``cut``.

        ``clamped_normal`` (the paper's init): N(0,1) clamped to ``[-limit, limit]``;
        ``normal``: N(0,1) * limit; ``uniform``: U(-limit, limit); ``zero``.
        """
        if init not in INITS:
            raise ValueError(f"unknown init {init!r}; choose one of {INITS}")
        if device is None:
            device = generator.device if generator is not None else self.device
        out = []
        for shape in self.latent_shapes(cut):
            size = (batch, *shape)
            if init == "zero":
                t = torch.zeros(size, device=device, dtype=dtype)
            elif init == "uniform":
                t = torch.rand(size, generator=generator, device=device, dtype=dtype)
                t = (2 * t - 1) * limit
            else:
                t = torch.randn(size, generator=generator, device=device, dtype=dtype)
                t = t.clamp(-limit, limit) if init == "clamped_normal" else t * limit
            out.append(t)
        return tuple(out)

    @property
    def device(self) -> torch.device:
        p = next(self.parameters(), None)
        return p.device if p is not None else torch.device("cpu")

    # -------------------------------------------------------------- forward
    def check_latents(self, latents: LatentLike, cut: int) -> Latents:
        lat = as_latents(latents)
        shapes = self.latent_shapes(cut)
        if len(lat) != len(shapes) or any(
            tuple(t.shape[1:]) != s for t, s in zip(lat, shapes, strict=True)
        ):
            got = [tuple(t.shape) for t in lat]
            raise ValueError(
                f"{self.name} at cut {cut} takes latents of per-example shapes {list(shapes)}, "
                f"got tensors of shapes {got}"
            )
        if len({t.shape[0] for t in lat}) != 1:
            raise ValueError("all latent tensors must share the batch dimension")
        return lat

    def forward(self, latents: LatentLike, cut: int = 0) -> Tensor:
        """Run ``blocks[cut:]`` on ``latents``; returns images ``(B, 3, H, W)``."""
        self.check_cut(cut)
        return self._run(self.check_latents(latents, cut), cut, None)

    def features(self, latents: LatentLike, cut: int = 0) -> list[Latents]:
        """All intermediate latents from ``cut`` on.

        Returns ``feats`` with ``feats[k - cut]`` the latent tuple at cut ``k`` for every
        valid ``k >= cut``, so that ``forward(feats[k - cut], cut=k)`` equals
        ``forward(latents, cut=cut)``.
        """
        self.check_cut(cut)
        feats: list[Latents] = []
        self._run(self.check_latents(latents, cut), cut, feats)
        return feats

    def head(self, latents: LatentLike, cut: int) -> Tensor:
        """The main latent tensor at ``cut`` from cut-0 latents, running only ``blocks[:cut]``.

        ``(B, *latent_shapes(0)[0])`` -> ``(B, *latent_shapes(cut)[0])``; equals
        ``features(latents)[cut][0]`` without running the blocks after ``cut`` (mGANprior
        composes features there).
        """
        self.check_cut(cut)
        return self._run(self.check_latents(latents, 0), 0, None, stop=cut)

    def _run(self, latents: Latents, cut: int, record: list[Latents] | None,
             stop: int | None = None) -> Tensor:
        """Run from ``cut`` to the image, or only up to cut ``stop`` (returning the main
        latent there); append each cut's latents to ``record``."""
        raise NotImplementedError


class SequentialGenerator(BlockGenerator):
    """A chain of blocks with one latent tensor at every cut (DCGAN, VAE decoder).

    Subclasses give ``input_shape`` (the latent at cut 0) and may override
    :meth:`output` (applied after the last block).
    """

    def latent_shapes(self, cut: int = 0) -> tuple[tuple[int, ...], ...]:
        self.check_cut(cut)
        return (self._shapes()[cut],)

    def _shapes(self) -> list[tuple[int, ...]]:
        if getattr(self, "_shape_cache", None) is None:
            shapes = [tuple(self.input_shape)]
            p = next(self.parameters(), None)
            dtype = p.dtype if p is not None else torch.float32
            x = torch.zeros(1, *self.input_shape, device=self.device, dtype=dtype)
            was_training = self.training
            self.eval()
            with torch.no_grad():
                for block in self.blocks[:-1]:
                    x = block(x)
                    shapes.append(tuple(x.shape[1:]))
            self.train(was_training)
            self._shape_cache = shapes
        return self._shape_cache

    def output(self, x: Tensor) -> Tensor:
        return x

    def _run(self, latents: Latents, cut: int, record: list[Latents] | None,
             stop: int | None = None) -> Tensor:
        (x,) = latents
        for block in self.blocks[cut:stop]:
            if record is not None:
                record.append((x,))
            x = block(x)
        return x if stop is not None else self.output(x)
