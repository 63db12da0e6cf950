"""The images a task names: image sets by name, loaded once per process.

A name is looked up in :data:`IMAGE_SOURCES` (``"synthetic"`` is always there), then
``"samples:<zoo entry>"`` (samples of that generator), then the data sets of
:func:`gs.data.load_image_set` (``faces``, ``scenes``, ``celeba``, ``coco``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import torch

from gs.data import ImageSet
from gs.sweep.tasks import stable_seed

#: Extra image sources by name: ``fn(split, size) -> ImageSet``. Checked before
#: :func:`gs.data.load_image_set`. A source registered at run time exists only in the
#: process that registered it; worker processes see the sources defined at import.
IMAGE_SOURCES: dict[str, Callable[[str, int], ImageSet]] = {}


def register_image_source(name: str, fn: Callable[[str, int], ImageSet]) -> None:
    """Make ``name`` an image set served by ``fn(split, size) -> ImageSet`` (this process)."""
    IMAGE_SOURCES[name] = fn
    _load_images_cached.cache_clear()


def _synthetic(split: str, size: int, n: int = 32) -> ImageSet:
    """``n`` smooth random colour images (low-resolution noise, bilinearly upsampled):
    a data-free image set for tests and dry runs; a fixed function of (split, index)."""
    ims = []
    for i in range(n):
        g = torch.Generator().manual_seed(stable_seed("synthetic", split, i))
        low = torch.rand(1, 3, 6, 6, generator=g)
        ims.append(torch.nn.functional.interpolate(low, size=(size, size), mode="bilinear",
                                                   align_corners=True))
    return ImageSet(torch.cat(ims).clamp(0, 1), [f"synthetic-{i:03d}" for i in range(n)],
                    "synthetic", split, size)


IMAGE_SOURCES["synthetic"] = _synthetic


#: Image sets ``"samples:<zoo entry>"`` hold this many generator samples per split.
SAMPLES_PER_SPLIT = 32


def samples_image_set(model: str) -> str:
    """The name of the image set of samples of zoo entry ``model`` (see
    :func:`generator_sample_images`), e.g. ``"samples:dcgan64-digiface"``."""
    return f"samples:{model}"


def generator_sample_images(model: str, split: str, size: int,
                            n: int = SAMPLES_PER_SPLIT) -> ImageSet:
    """Image set ``"samples:<model>"``: ``n`` samples ``sample-000``, ... of the uncut
    generator (:func:`gs.samples.generator_samples`, clamped-normal latents), ground truth
    with zero representation error at cut 0. Each split has its own latents (seeded by
    ``(model, split)``). Known in every process, so sweeps may run on workers."""
    from gs.samples import generator_samples
    from gs.sweep.runner import prepared_generator

    x = generator_samples(prepared_generator(model, "cpu"), n,
                          seed=stable_seed("samples", model, split) % 2**40, size=size)
    return ImageSet(x, [f"sample-{i:03d}" for i in range(n)], samples_image_set(model), split,
                    size)


@functools.lru_cache(maxsize=8)
def _load_images_cached(image_set: str, split: str, size: int) -> ImageSet:
    if image_set in IMAGE_SOURCES:
        out = IMAGE_SOURCES[image_set](split, size)
    elif image_set.startswith("samples:"):
        out = generator_sample_images(image_set.removeprefix("samples:"), split, size)
    else:
        from gs.data import load_image_set  # lazy: data sets are optional

        out = load_image_set(image_set, split, size)
    if len(set(out.names)) != len(out.names):
        raise ValueError(f"image set {image_set!r} ({split}) has duplicate image names")
    return ImageSet(out.images.detach().float().cpu(), list(out.names), image_set, split, size)


def image_names(image_set: str, split: str, size: int) -> list[str]:
    """The names of a set's images, in order. Those of ``"samples:<zoo entry>"`` are known
    without running the generator (``sample-000``, ...), so a figure drawn from stored
    records never needs it."""
    if image_set.startswith("samples:") and image_set not in IMAGE_SOURCES:
        return [f"sample-{i:03d}" for i in range(SAMPLES_PER_SPLIT)]
    return list(_load_images_cached(image_set, split, size).names)


def load_images(image_set: str, split: str, size: int, names: Sequence[str] | None = None
                ) -> ImageSet:
    """Images of a set (cached per process), all or those named, in the order named,
    as a :class:`gs.data.ImageSet`."""
    s = _load_images_cached(image_set, split, size)
    if names is None:
        return s
    pos = {n: i for i, n in enumerate(s.names)}
    missing = [n for n in names if n not in pos]
    if missing:
        raise KeyError(f"images {missing[:5]} are not in image set {image_set!r} ({split}, "
                       f"{size} px)")
    return ImageSet(s.images[[pos[n] for n in names]], list(names), image_set, split, size)
