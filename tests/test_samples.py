"""Generator samples as ground truth: shapes, range, seeding, and the image set
``samples:<zoo entry>`` that sweeps load in any process."""

from __future__ import annotations

import pytest
import torch

import gs.samples as S
from gs import sweep as E
from gs import zoo
from gs.models import build
from gs.sweep.images import SAMPLES_PER_SPLIT

MODEL = "dcgan64-digiface"
needs_dcgan = pytest.mark.skipif(not zoo.available(MODEL), reason=f"{MODEL} is not installed")




def test_generator_samples_are_seeded_per_sample_and_in_range():
    g = build("dcgan", nz=7, ngf=4).eval()
    x = S.generator_samples(g, 3, seed=11)
    assert x.shape == (3, 3, 64, 64) and x.min() >= 0 and x.max() <= 1
    assert torch.equal(S.generator_samples(g, 1, seed=12)[0], x[1])
    assert not torch.equal(x[0], x[1])
    # sample i is the cut-0 generator output of the clamped-normal latent of seed + i
    z = g.sample_latents(1, 0, generator=torch.Generator().manual_seed(13), device="cpu")
    with torch.no_grad():
        torch.testing.assert_close(x[2], g(z, cut=0)[0].clamp(0, 1))


def test_generator_samples_reject_bad_input():
    g = build("dcgan", nz=7, ngf=4).eval()
    with pytest.raises(ValueError, match="px"):
        S.generator_samples(g, 2, size=128)
    with pytest.raises(ValueError, match="n must be"):
        S.generator_samples(g, 0)


@needs_dcgan
def test_samples_image_set_loads_by_name_in_any_process():
    name = E.samples_image_set(MODEL)
    assert name == f"samples:{MODEL}"
    test = E.load_images(name, "test", 64)
    assert len(test.names) == SAMPLES_PER_SPLIT and test.images.shape[1:] == (3, 64, 64)
    again = E.generator_sample_images(MODEL, "test", 64, n=2)
    torch.testing.assert_close(again.images, test.images[:2])
    val = E.load_images(name, "val", 64, names=["sample-001"])
    assert not torch.equal(val.images[0], test.images[1])  # each split has its own latents
    with pytest.raises(ValueError, match="px"):
        E.load_images(name, "test", 32)


@needs_dcgan
def test_uncut_generator_recovers_its_own_sample():
    """Zero representation error: the identity operator at cut 0 recovers a sample far
    better than at a deep cut with the same tiny budget is not required; it must be high."""
    tasks = E.grid(model=MODEL, family="dcgan", image_set=E.samples_image_set(MODEL),
                   split="test", image=["sample-000"], image_size=64, operator="identity",
                   m=None, method="surgery", cut=0, steps=3, restarts=1, lr=1.0)
    df = E.run_sweep(tasks, E.ResultsStore(":memory:"), device="cpu", progress=False)
    assert df.psnr.iloc[0] > 15
