"""Properties of the block generators (gs.models): cuts, latents, parameter counts.

Forward passes use tiny widths; shape and parameter-count checks use the paper's
sizes (docs/paper.md, "Generators") and need no forward pass.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from gs.models import BEGAN, DCGAN, MODELS, VAE, build, vae_loss

pytestmark = pytest.mark.usefixtures("one_thread")


# tiny members of every family, for forward passes
TINY = {
    "dcgan": lambda: DCGAN(nz=5, ngf=2),
    "began128": lambda: BEGAN(128, latent_dim=3, ch=2),
    "began64": lambda: BEGAN(64, latent_dim=3, ch=3),
    "vae128": lambda: VAE(128, latent_dim=3, widths=(4, 3, 2, 2, 2, 2)),
    "vae64": lambda: VAE(64, latent_dim=5, widths=(3, 2, 2, 2, 2)),
}

# docs/paper.md, "Generators": cut -> (latent shapes, optimised dim, params cut in % to 0.1)
DCGAN_TABLE = {
    0: (((100, 1, 1),), 100, 0.0),
    1: (((512, 4, 4),), 8192, 22.9),
    2: (((256, 8, 8),), 16384, 81.6),
    3: (((128, 16, 16),), 32768, 96.2),
    4: (((64, 32, 32),), 65536, 99.9),
}
_S = (128, 8, 8)
BEGAN_TABLE = {
    0: (((64,),), 64, 0.0),
    1: (((128, 8, 8),), 8192, 24.4),
    2: (((128, 16, 16), _S), 40960, 24.4),
    3: (((128, 16, 16), _S), 40960, 31.2),
    4: (((128, 16, 16), _S), 40960, 38.1),
    5: (((128, 32, 32), _S), 139264, 38.1),
    6: (((128, 32, 32), _S), 139264, 51.8),
    7: (((128, 32, 32), _S), 139264, 58.7),
    8: (((128, 64, 64), _S), 532480, 58.7),
    9: (((128, 64, 64), _S), 532480, 72.4),
    10: (((128, 64, 64), _S), 532480, 79.3),
    11: (((128, 128, 128), _S), 2105344, 79.3),
    12: (((128, 128, 128), _S), 2105344, 93.0),
    13: (((128, 128, 128), _S), 2105344, 99.8),
}
VAE_TABLE = {
    0: (((512,),), 512, 0.0),
    1: (((2048, 4, 4),), 32768, 40.0),
    2: (((1024, 8, 8),), 65536, 84.9),
    3: (((512, 16, 16),), 131072, 96.1),
    4: (((256, 32, 32),), 262144, 98.9),
    5: (((128, 64, 64),), 524288, 99.6),
    6: (((128, 128, 128),), 2097152, 100.0),  # "≈100%"
}
PAPER = [
    ("dcgan", DCGAN, DCGAN_TABLE, 3_576_704, 1, (0, 1, 2, 3, 4)),
    ("began", BEGAN, BEGAN_TABLE, 2_149_760, 2, (0, 1, 2, 3, 4, 5, 7, 9, 11, 13)),
    ("vae", VAE, VAE_TABLE, 42_034_563, 1, (0, 1, 2, 3, 4, 5)),
]


@pytest.fixture(params=sorted(TINY))
def tiny(request) -> torch.nn.Module:
    torch.manual_seed(0)
    g = TINY[request.param]()
    # non-trivial BN statistics, so eval mode really differs from an identity BN
    for m in g.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    return g.eval()


def _meta(name: str, **kw) -> torch.nn.Module:
    """A paper-size generator on the meta device: shapes and counts, no weights drawn."""
    with torch.device("meta"):
        return build(name, **kw)


def _rng(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ------------------------------------------------------------------ paper sizes
@pytest.mark.parametrize("name,cls,table,total,default,sweep", PAPER, ids=[p[0] for p in PAPER])
def test_paper_latent_shapes_params_and_shares(name, cls, table, total, default, sweep):
    g = _meta(name)
    assert isinstance(g, cls)
    assert g.num_params() == total
    assert g.valid_cuts == tuple(table)
    assert g.default_cut == default and g.sweep_cuts == sweep
    for c, (shapes, dim, pct) in table.items():
        assert g.latent_shapes(c) == shapes, c
        assert g.latent_dim(c) == dim, c
        assert round(100 * g.params_removed(c) / total, 1) == pct, c


def test_paper_block_structure():
    began = _meta("began")
    assert len(began.blocks) == 14
    assert isinstance(began.blocks[0].linear, torch.nn.Linear)
    assert began.blocks[0].linear.bias is None
    ups = [i for i, b in enumerate(began.blocks) if isinstance(b, torch.nn.Upsample)]
    assert ups == [1, 4, 7, 10]
    skip_convs = [i for i, b in enumerate(began.blocks) if getattr(b, "uses_skip", False)]
    assert skip_convs == [5, 8, 11]
    assert all(b.conv.bias is None for b in began.blocks if hasattr(b, "conv"))
    assert isinstance(began.blocks[13].act, torch.nn.ELU)
    vae = _meta("vae")
    assert len(vae.blocks) == 7 and vae.blocks[0].linear.bias is not None
    assert isinstance(vae.blocks[6][1], torch.nn.Sigmoid)
    convs = [m for m in vae.encoder.net if isinstance(m, torch.nn.Conv2d)]
    assert [m.out_channels for m in convs] == [128, 256, 512, 1024, 2048]
    assert all(m.stride == (2, 2) for m in convs)
    assert vae.encoder.fc_mu.in_features == 2048 * 16


def test_64px_members():
    b = BEGAN(64)
    assert len(b.blocks) == 11 and b.valid_cuts == tuple(range(11))
    assert b.latent_shapes(10) == ((128, 64, 64), (128, 8, 8))
    assert b.default_cut == 2 and b.sweep_cuts == (0, 1, 2, 3, 4, 5, 7, 9, 10)
    v = VAE(64)
    assert len(v.blocks) == 6 and v.sweep_cuts == (0, 1, 2, 3, 4)
    assert v.latent_shapes(1) == ((v.widths[0], 4, 4),)
    assert len([m for m in v.encoder.net if isinstance(m, torch.nn.Conv2d)]) == 4


# ------------------------------------------------------------------ forward passes
def test_cut0_is_the_uncut_generator(tiny):
    z = tiny.sample_latents(2, 0, generator=_rng())
    y = tiny(z)
    assert torch.equal(y, tiny(z, cut=0))
    assert torch.equal(y, tiny(z[0]))  # a bare tensor works too
    assert y.shape == (2, 3, tiny.image_size, tiny.image_size)
    if not isinstance(tiny, BEGAN):  # a chain: the blocks run by hand (BEGAN: see below)
        x = z[0]
        for block in tiny.blocks:
            x = block(x)
        assert torch.equal(tiny.output(x), y)


def test_features_reproduce_the_output_at_every_cut(tiny):
    z = tiny.sample_latents(3, 0, generator=_rng(1))
    y = tiny(z)
    feats = tiny.features(z)
    assert len(feats) == len(tiny.valid_cuts)
    for c in tiny.valid_cuts:
        assert isinstance(feats[c], tuple)
        assert tuple(tuple(t.shape[1:]) for t in feats[c]) == tiny.latent_shapes(c)
        torch.testing.assert_close(tiny(feats[c], cut=c), y, atol=1e-5, rtol=1e-5)
    # features from a later cut are the tail of the features from cut 0
    c = tiny.default_cut
    tail = tiny.features(feats[c], cut=c)
    assert len(tail) == len(feats) - c
    for a, b in zip(tail, feats[c:], strict=True):
        assert all(torch.allclose(u, v) for u, v in zip(a, b, strict=True))


def test_sample_latents_shapes_and_inits(tiny):
    for c in tiny.valid_cuts:
        lat = tiny.sample_latents(2, c, generator=_rng(c))
        assert tuple(tuple(t.shape[1:]) for t in lat) == tiny.latent_shapes(c)
        assert all(t.shape[0] == 2 and t.abs().max() <= 1 for t in lat)
        assert tiny(lat, cut=c).shape == (2, 3, tiny.image_size, tiny.image_size)
    a = tiny.sample_latents(2, 1, generator=_rng(5))
    b = tiny.sample_latents(2, 1, generator=_rng(5))
    assert all(torch.equal(u, v) for u, v in zip(a, b, strict=True))
    assert all((t == 0).all() for t in tiny.sample_latents(1, 1, init="zero"))
    with pytest.raises(ValueError, match="unknown init"):
        tiny.sample_latents(1, 0, init="bogus")


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("bad", [-1, 99, "1", 1.0, True, None])
def test_invalid_cuts_raise(tiny, bad):
    z = tiny.sample_latents(1, 0)
    with pytest.raises((ValueError, TypeError), match="cut"):
        tiny(z, cut=bad)
    with pytest.raises((ValueError, TypeError), match="cut"):
        tiny.latent_shapes(bad)


def test_cut_at_the_image_is_invalid(tiny):
    with pytest.raises(ValueError, match="out of range"):
        tiny.latent_shapes(len(tiny.blocks))


def test_began_cut_14_is_invalid():
    with pytest.raises(ValueError, match="cut 14 is out of range"):
        BEGAN().latent_shapes(14)


def test_wrong_latents_raise(tiny):
    shapes = tiny.latent_shapes(1)
    with pytest.raises(ValueError, match="per-example shapes"):
        tiny(torch.zeros(2, shapes[0][0] + 1, *shapes[0][1:]), cut=1)
    with pytest.raises(ValueError, match="per-example shapes"):
        tiny((torch.zeros(2, *shapes[0]),) * 3, cut=1)
    with pytest.raises(TypeError):
        tiny([], cut=0)
    with pytest.raises(TypeError):
        tiny("z", cut=0)


def test_began_wrong_latents_raise():
    g = TINY["began128"]().eval()
    x, s = g.sample_latents(2, 2)
    with pytest.raises(ValueError, match="per-example shapes"):
        g(x, cut=2)  # the skip is missing
    with pytest.raises(ValueError, match="batch"):
        g((x, s[:1]), cut=2)


# ------------------------------------------------------------------ BEGAN skips
def _authors_began_forward(g: BEGAN, z: torch.Tensor) -> torch.Tensor:
    """The authors' ordering: concat[x, up(skip)] *before* each Upsample, then upsample."""
    h0 = g.blocks[0](z)
    x = h0
    for i, block in enumerate(g.blocks):
        if i == 0:
            continue
        if isinstance(block, torch.nn.Upsample) and i > 1:
            skip = F.interpolate(h0, size=x.shape[-2:], mode="nearest")
            x = block(torch.cat([x, skip], 1))
        elif getattr(block, "uses_skip", False):
            x = block.act(block.conv(x))  # x already holds the concatenation
        else:
            x = block(x)
    return x


@pytest.mark.parametrize("size", [64, 128])
def test_began_matches_the_authors_concat_before_upsample(size):
    g = TINY[f"began{size}"]().eval()
    (z,) = g.sample_latents(2, 0, generator=_rng(2))
    assert torch.equal(g(z), _authors_began_forward(g, z))


@pytest.mark.parametrize("name", ["began128", "began64"])
def test_began_skip_is_tied_at_cut1_and_free_from_cut2(name):
    g = TINY[name]().eval()
    z = g.sample_latents(2, 0, generator=_rng(3))
    feats = g.features(z)
    assert len(feats[1]) == 1 and torch.equal(feats[2][1], feats[1][0])  # skip = h0
    last_skip_cut = max(i for i, b in enumerate(g.blocks) if getattr(b, "uses_skip", False))
    for c in range(2, len(g.blocks)):
        x, skip = feats[c]
        other = skip + 0.5 * torch.randn(skip.shape, generator=_rng(c))
        changed = not torch.allclose(g((x, other), cut=c), g((x, skip), cut=c))
        # the skip is free up to the last skip injection and unused (but carried) after it
        assert changed == (c <= last_skip_cut), c


# ------------------------------------------------------------------ VAE
def test_vae_encoder_is_not_part_of_the_generator():
    g = TINY["vae64"]()
    n_blocks = sum(p.numel() for p in g.blocks.parameters())
    n_enc = sum(p.numel() for p in g.encoder.parameters())
    assert n_enc > 0 and g.num_params() == n_blocks
    assert g.params_removed(len(g.blocks) - 1) < n_blocks
    assert all(not name.startswith("encoder") for name, _ in g.blocks.named_parameters())


@pytest.mark.parametrize("name", ["vae64", "vae128"])
def test_vae_encode_reconstruct_and_loss(name):
    g = TINY[name]().train()
    x = torch.rand(2, 3, g.image_size, g.image_size, generator=_rng())
    mu, logvar = g.encode(x)
    assert mu.shape == logvar.shape == (2, g.latent_dim_z)
    x_hat, mu2, _ = g.reconstruct(x, generator=_rng(1))
    assert x_hat.shape == x.shape and 0 <= x_hat.min() and x_hat.max() <= 1
    loss = vae_loss(x, x_hat, mu2, logvar)
    assert torch.isfinite(loss)
    loss.backward()
    assert g.encoder.fc_mu.weight.grad is not None and g.blocks[0].linear.weight.grad is not None
    zero = vae_loss(x, x, torch.zeros_like(mu), torch.zeros_like(mu))
    assert zero.item() == 0.0


def test_vae_rejects_bad_widths_and_sizes():
    with pytest.raises(ValueError, match="widths"):
        VAE(64, widths=(8, 4))
    with pytest.raises(ValueError, match="64 or 128"):
        VAE(96)
    with pytest.raises(ValueError, match="64 or 128"):
        BEGAN(32)


# ------------------------------------------------------------------ registry
@pytest.mark.parametrize(
    "name,cls,size",
    [
        ("dcgan", DCGAN, 64),
        ("began", BEGAN, 128),
        ("began128", BEGAN, 128),
        ("began64", BEGAN, 64),
        ("vae", VAE, 128),
        ("vae128", VAE, 128),
        ("vae64", VAE, 64),
    ],
)
def test_build(name, cls, size):
    kw = {"dcgan": {"ngf": 2}, "began": {"ch": 2}, "vae": {"widths": None}}
    g = _meta(name, **kw[name.rstrip("0123456789")])
    assert type(g) is cls and g.image_size == size


def test_build_unknown_model_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown model 'stylegan'.*began64.*vae128"):
        build("stylegan")
    assert set(MODELS) == {"dcgan", "began", "began64", "began128", "vae", "vae64", "vae128"}


