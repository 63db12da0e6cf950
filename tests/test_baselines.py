"""Baselines: Lasso-DCT, Deep Decoder, mGANprior, IAGAN, and the parameter table.

Tiny sizes and few steps; each recovery test states the PSNR it must reach.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.fft
import torch

from gs.baselines import (
    DD_CPU_LANES,
    IAGAN_CPU_LANES,
    MGAN_CPU_LANES,
    MGAN_SETTINGS,
    optimised_parameters_table,
    recover_deep_decoder,
    recover_iagan,
    recover_lasso_dct,
    recover_mgan,
)
from gs.baselines.lasso_dct import dct2, idct2, lasso_objective
from gs.baselines.mgan import mgan_render
from gs.models import build
from gs.models.deep_decoder import (
    DeepDecoder,
    batched_forward,
    init_params,
    num_params,
    upsample_matrix,
)
from gs.operators import make_operator

pytestmark = pytest.mark.usefixtures("one_thread")


def smooth_image(size: int, dtype=torch.float32) -> torch.Tensor:
    """A smooth colour image ``(1, 3, size, size)`` in [0.1, 0.9]."""
    t = torch.linspace(0, 1, size, dtype=dtype)
    r = 0.5 + 0.3 * torch.sin(3 * t)[:, None] * torch.cos(2 * t)[None, :]
    g = 0.3 + 0.4 * t[:, None] * t[None, :]
    b = 0.7 - 0.4 * t[None, :].expand(size, size)
    return torch.stack([r, g, b])[None].clamp(0, 1)


@pytest.fixture(scope="module")
def tiny_dcgan():
    """A random DCGAN with ngf=8 whose weights are scaled so samples have contrast
    (two samples differ by ~22 dB; the flat mean image is ~20 dB from a sample)."""
    torch.manual_seed(0)
    g = build("dcgan", ngf=8).eval()
    with torch.no_grad():
        for block in g.blocks:
            block[0].weight.mul_(3.0)
    return g


def sample_problem(g, m=600, seed=3):
    rng = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        x = g(g.sample_latents(1, 0, generator=rng), cut=0).clamp(0, 1)
    op = make_operator("cs", tuple(x.shape[1:]), m=m, generator=rng)
    return x, op, op.measure(x, generator=rng)


# ------------------------------------------------------------------------ Lasso-DCT
def test_dct_is_scipys_orthonormal_dct():
    x = torch.randn(2, 3, 8, 6, dtype=torch.float64)
    ref = scipy.fft.dctn(x.numpy(), axes=(2, 3), norm="ortho")
    assert np.allclose(dct2(x).numpy(), ref, atol=1e-12)
    assert torch.allclose(idct2(dct2(x)), x, atol=1e-12)


def test_lasso_matches_sklearn():
    """Same optimum as the authors' sklearn call: Lasso(alpha=0.01, fit_intercept=True)
    on the system scaled by sqrt(2m), whose design rows are the per-channel DCTs of A's
    columns."""
    from sklearn.linear_model import Lasso

    m = 60
    op = make_operator("cs", (3, 8, 8), m=m, generator=torch.Generator().manual_seed(0)).double()
    x = smooth_image(8, torch.float64)
    y = op.measure(x, generator=torch.Generator().manual_seed(1))
    res = recover_lasso_dct(None, op, y, steps=20000, tol=1e-12)
    assert bool(res.info["converged"].all())

    cols = op.matrix.numpy().T.reshape(m, 3, 8, 8)  # column i of A as an image
    X = scipy.fft.dctn(cols, axes=(2, 3), norm="ortho").reshape(m, -1)
    s = np.sqrt(2 * m)
    sk = Lasso(alpha=0.01, fit_intercept=True, tol=1e-14, max_iter=10**6)
    sk.fit(s * X, s * y.numpy()[0])
    w_sk = torch.from_numpy(sk.coef_).view(1, 3, 8, 8)

    obj_ours = float(res.info["objective"][0])
    obj_sk = float(lasso_objective(op, y, w_sk)[0])
    assert abs(obj_ours - obj_sk) <= 1e-9 * obj_sk
    assert torch.allclose(res.latents[0], w_sk, atol=1e-6)
    assert abs(float(res.info["intercept"][0]) - sk.intercept_ / s) < 1e-7
    assert torch.allclose(res.images, idct2(w_sk).clamp(0, 1), atol=1e-6)


@pytest.mark.parametrize("kind", ["dense", "per_image", "structured"])
def test_lasso_recovers_smooth_image(kind, device):
    x = torch.cat([smooth_image(16), smooth_image(16).flip(-1)]).to(device)
    rng = torch.Generator().manual_seed(0)
    if kind == "structured":
        op = make_operator("cs_fast", (3, 16, 16), m=300, generator=rng, device=device)
    else:
        op = make_operator("cs", (3, 16, 16), m=300, generator=rng, device=device,
                           per_image=2 if kind == "per_image" else None)
    y = op.measure(x, generator=torch.Generator().manual_seed(1))
    res = recover_lasso_dct(None, op, y, x_true=x)
    assert res.images.shape == x.shape and res.images.min() >= 0 and res.images.max() <= 1
    assert res.psnr.min() > 30, res.psnr
    assert bool(res.info["converged"].all())
    tr = res.trace[:, :, 0]
    assert (tr[-1] < 0.01 * tr[0]).all()


# ---------------------------------------------------------------------- Deep Decoder
@pytest.mark.parametrize(("k", "depth", "size", "count"), [(44, 5, 64, 8407), (89, 6, 128, 41210)])
def test_deep_decoder_parameter_count(k, depth, size, count):
    dd = DeepDecoder(k, depth, size)
    assert dd.num_params() == num_params(k, depth) == count
    assert dd.sizes[0] == 8 and dd.sizes[-1] == size
    assert dd(torch.randn(1, k, 2, 2)).shape == (1, 3, size, size)


def test_deep_decoder_batched_forward_is_one_module_per_problem():
    params, z = init_params(3, 6, 3, torch.Generator().manual_seed(0))
    out = batched_forward(params, z, 16)
    interpolated = batched_forward(params, z, 16, resize="interpolate")
    for p in range(3):
        dd = DeepDecoder(6, 3, 16).train()
        dd.load_state_dict({n: v[p] for n, v in params.items()}, strict=False)
        ref = dd(z[p : p + 1])[0]
        assert torch.allclose(ref, out[p], atol=1e-6)
        assert torch.allclose(ref, interpolated[p], atol=1e-6)
    with pytest.raises(ValueError, match="resize must be 'matrix' or 'interpolate'"):
        batched_forward(params, z, 16, resize="nearest")


@pytest.mark.parametrize(("s_in", "s_out"), [(2, 8), (8, 16), (32, 64), (64, 128), (5, 7)])
def test_deep_decoder_resizes_as_bilinear_interpolation(s_in, s_out):
    """Two products with the interpolation matrix are F.interpolate's bilinear resize with
    align_corners (the authors' layer), up to rounding, and so are their gradients."""
    import torch.nn.functional as F

    x = torch.randn(2, 4, s_in, s_in, requires_grad=True)
    U = upsample_matrix(s_in, s_out)
    assert U.shape == (s_out, s_in) and torch.allclose(U.sum(1), torch.ones(s_out))
    ours = U @ x @ U.T
    ref = F.interpolate(x, size=(s_out, s_out), mode="bilinear", align_corners=True)
    assert torch.allclose(ours, ref, atol=1e-5)
    g = torch.randn_like(ref)
    (g_ours,) = torch.autograd.grad(ours, x, g)
    (g_ref,) = torch.autograd.grad(ref, x, g)
    assert torch.allclose(g_ours, g_ref, atol=1e-4)
    with pytest.raises(ValueError, match="sizes must be positive"):
        upsample_matrix(0, 4)
    U.mul_(0)  # a caller's copy: the network's own matrices are untouched
    assert torch.equal(upsample_matrix(s_in, s_out).sum(1), torch.ones(s_out))


def test_deep_decoder_trains_after_a_forward_under_inference_mode():
    """The resizing matrices are cached; one first built under inference_mode must not
    stop a later recovery from taking gradients through them."""
    from gs.models.deep_decoder import _upsample_matrix

    _upsample_matrix.cache_clear()  # so that the forward below builds them
    params, z = init_params(1, 5, 3, torch.Generator().manual_seed(0))
    with torch.inference_mode():
        batched_forward(params, z, 16)
    op = make_operator("cs", (3, 16, 16), m=50, generator=torch.Generator().manual_seed(1))
    res = recover_deep_decoder(None, op, torch.zeros(1, 50), restarts=1, steps=2, k=5, depth=3)
    assert torch.isfinite(res.images).all()
    with pytest.raises(ValueError, match="y holds no images"):
        recover_deep_decoder(None, op, torch.zeros(0, 50), restarts=1, steps=2, k=5, depth=3)


def test_deep_decoder_fits_smooth_image():
    x = smooth_image(16)
    op = make_operator("identity", (3, 16, 16))
    res = recover_deep_decoder(None, op, op.measure(x), restarts=2, steps=150, k=16, depth=3,
                               x_true=x)
    tr = res.trace[:, 0]
    assert (tr[-1] < 0.05 * tr[0]).all()
    assert float(res.psnr) > 30, res.psnr
    assert res.info["num_params"] == num_params(16, 3)


def test_deep_decoder_batched_equals_one_at_a_time(device):
    x = torch.cat([smooth_image(16), smooth_image(16).flip(-2)]).to(device)
    op = make_operator("cs", (3, 16, 16), m=200, generator=torch.Generator().manual_seed(0),
                       device=device)
    y = op.measure(x, generator=torch.Generator().manual_seed(1))
    kw = dict(restarts=2, steps=5, k=8, depth=3)
    both = recover_deep_decoder(None, op, y, rng=torch.Generator().manual_seed(7), **kw)
    rng = torch.Generator().manual_seed(7)
    for b in range(2):
        one = recover_deep_decoder(None, op, y[b : b + 1], rng=rng, **kw)
        assert torch.allclose(one.restart_losses[0], both.restart_losses[b], rtol=1e-4)
        assert torch.allclose(one.images[0], both.images[b], atol=1e-5)


# -------------------------------------------------------------------------- mGAN
def test_mgan_settings_and_head():
    assert MGAN_SETTINGS["dcgan"] == {"cut": 1, "n_codes": 10, "steps": 5000, "lr": 3e-2}
    assert MGAN_SETTINGS["began"] == {"cut": 2, "n_codes": 20, "steps": 3000, "lr": 1e-3}
    assert MGAN_SETTINGS["vae"] == {"cut": 1, "n_codes": 20, "steps": 3000, "lr": 5e-3}
    for g in (build("began64", ch=4).eval(), build("vae64", widths=(8, 4, 4, 4, 4)).eval(),
              build("dcgan", ngf=4).eval()):
        z = g.sample_latents(2, 0, generator=torch.Generator().manual_seed(0))
        feats = g.features(z, cut=0)
        for c in g.valid_cuts:
            assert torch.equal(g.head(z[0], c), feats[c][0])


def test_mgan_render_one_hot_alpha_is_the_generator():
    """With alpha_1 = 1, alpha_n>1 = 0 (and BEGAN's skip = h0(z_1)) the mix is G(z_1)."""
    g = build("began64", ch=4).eval()
    z = g.sample_latents(2, 0, generator=torch.Generator().manual_seed(0))[0]  # (2, 64)
    zc = torch.stack([z, z.flip(0)], dim=1)  # (P=2, N=2, 64)
    alpha = torch.zeros(2, 2, 4)
    alpha[:, 0] = 1
    skip = g.features((z,), cut=0)[2][1]
    assert torch.allclose(mgan_render(g, zc, alpha, skip, cut=2), g(z, cut=0), atol=1e-6)


def test_mgan_recovers_generator_sample(tiny_dcgan):
    x, op, y = sample_problem(tiny_dcgan)
    res = recover_mgan(tiny_dcgan, op, y, restarts=1, steps=200, x_true=x)
    tr = res.trace[:, 0, 0]
    assert float(tr[-1]) < 0.01 * float(tr[0])
    assert (tr[50:].diff() < 1e-3).all()  # Adam at lr 3e-2 may wiggle, not climb
    assert float(res.psnr) > 22, res.psnr  # flat mean image: ~20 dB
    assert res.info["num_params"] == 10 * (100 + 64)


def test_mgan_batched_equals_one_at_a_time(tiny_dcgan):
    rng = torch.Generator().manual_seed(3)
    with torch.no_grad():
        x = tiny_dcgan(tiny_dcgan.sample_latents(2, 0, generator=rng), cut=0).clamp(0, 1)
    op = make_operator("cs", (3, 64, 64), m=300, generator=rng)
    y = op.measure(x, generator=rng)
    kw = dict(restarts=2, steps=5, n_codes=3)
    both = recover_mgan(tiny_dcgan, op, y, rng=torch.Generator().manual_seed(5), **kw)
    rng = torch.Generator().manual_seed(5)
    for b in range(2):
        one = recover_mgan(tiny_dcgan, op, y[b : b + 1], rng=rng, **kw)
        assert torch.allclose(one.restart_losses[0], both.restart_losses[b], rtol=1e-4)
        assert torch.allclose(one.images[0], both.images[b], atol=1e-5)


# ------------------------------------------------------------------------- IAGAN
def test_iagan_recovers_sample_and_leaves_generator_untouched(tiny_dcgan):
    x, op, y = sample_problem(tiny_dcgan)
    before = {k: v.clone() for k, v in tiny_dcgan.state_dict().items()}
    flags = [p.requires_grad for p in tiny_dcgan.parameters()]
    res = recover_iagan(tiny_dcgan, op, y, restarts=2, steps=80, steps2=10, x_true=x)
    assert all(torch.equal(before[k], v) for k, v in tiny_dcgan.state_dict().items())
    assert flags == [p.requires_grad for p in tiny_dcgan.parameters()]
    assert not tiny_dcgan.training
    tr = res.trace[:, 0]
    assert (tr[-1] < 0.01 * tr[0]).all()
    assert (tr[-1] < tr[-11]).all()  # stage 2 (weights too) lowers the loss further
    assert float(res.psnr) > 35, res.psnr


def test_iagan_restarts_are_independent(tiny_dcgan):
    """Restart 2 alone equals restart 2 of a 3-restart run: no weights carried over. With
    one weight copy per problem in a loop, step for step to the bit (same shapes in
    stage 1); under vmap, over 3 copies or 1, to rounding amplified by Adam on the weights."""
    x, op, y = sample_problem(tiny_dcgan, m=300)
    z0 = tiny_dcgan.sample_latents(3, 0, generator=torch.Generator().manual_seed(9))[0]
    z0 = z0.unsqueeze(0)  # (B=1, R=3, 100, 1, 1)
    kw = dict(steps=5, steps2=5, model_lr=1e-3, lane_width=3)  # stage 1: same shapes
    loop = dict(kw, per_problem="loop")
    three = recover_iagan(tiny_dcgan, op, y, restarts=3, init_latents=z0, **loop)
    alone = recover_iagan(tiny_dcgan, op, y, restarts=1, init_latents=z0[:, 2:], **loop)
    assert torch.equal(three.trace[:-1, 0, 2], alone.trace[:-1, 0, 0])
    # the last entry is the loss of all restarts' outputs in one operator call (3 rows or 1)
    assert torch.allclose(three.trace[-1, 0, 2], alone.trace[-1, 0, 0], rtol=1e-5)
    vmapped = recover_iagan(tiny_dcgan, op, y, restarts=3, init_latents=z0, **kw)
    # the vmapped stage 2 runs other kernels than the per-problem loop; their rounding,
    # amplified by 5 Adam steps on the weights, differs by up to ~1% here (2-core CPU)
    assert torch.allclose(vmapped.trace[: 5 + 1], three.trace[: 5 + 1], rtol=1e-5)
    assert torch.allclose(vmapped.trace, three.trace, rtol=2e-2)
    # two copies of the image at once, both stages per 4 problems without lanes
    chunked = recover_iagan(tiny_dcgan, op, y.expand(2, -1).contiguous(), restarts=3,
                            init_latents=z0.expand(2, -1, -1, -1, -1), steps=5, steps2=5,
                            model_lr=1e-3, chunk_size=4)
    assert chunked.info["lane_width"] is None
    assert torch.allclose(chunked.trace[:, 1], three.trace[:, 0], rtol=2e-2)


@pytest.mark.parametrize("per_problem", ["vmap", "loop"])
def test_iagan_stage2_foreach_adam_keeps_the_bits(tiny_dcgan, per_problem, monkeypatch):
    """Stage 2's Adam runs with foreach=True for speed; its records must be those of the
    per-tensor loop, bit for bit (the store holds records computed before the change)."""
    import gs.baselines.iagan as iagan_module

    rng = torch.Generator().manual_seed(5)
    with torch.no_grad():
        x = tiny_dcgan(tiny_dcgan.sample_latents(1, 0, generator=rng), cut=0).clamp(0, 1)
    op = make_operator("cs", (3, 64, 64), m=200, generator=rng)
    y = op.measure(x, generator=rng)
    kw = dict(restarts=2, steps=2, steps2=4, image_seeds=[9], per_problem=per_problem)
    fast = recover_iagan(tiny_dcgan, op, y, **kw)
    plain = torch.optim.Adam

    class PerTensorAdam(plain):
        def __init__(self, params, **options):
            super().__init__(params, **{**options, "foreach": False})

    monkeypatch.setattr(iagan_module.torch.optim, "Adam", PerTensorAdam)
    slow = recover_iagan(tiny_dcgan, op, y, **kw)
    assert torch.equal(fast.images, slow.images)
    assert torch.equal(fast.trace, slow.trace)


# ---------------------------------------------------- batching (three baselines)
@pytest.mark.parametrize("method", ["mgan", "iagan", "deep_decoder"])
@pytest.mark.parametrize("width", [4, "auto"], ids=["lanes-of-4", "cpu-lanes"])
def test_baseline_image_is_bit_identical_whatever_shares_its_batch(tiny_dcgan, method, width):
    """With a seed per image, an image recovered alone, or with others before or after it,
    gives the same bits: lanes of 4 problems cut across images, the CPU's hold 10 images
    (mGANprior's calls, IAGAN's first stage, Deep Decoder's operator; IAGAN's second stage
    and Deep Decoder's networks run image by image). In one call for all ten images,
    without lanes, the bits differ."""
    fn, lanes, extra = {
        "mgan": (recover_mgan, MGAN_CPU_LANES["dcgan"], {"n_codes": 3}),
        "iagan": (recover_iagan, IAGAN_CPU_LANES["dcgan"], {"steps2": 2}),
        "deep_decoder": (lambda _g, *a, **k: recover_deep_decoder(None, *a, **k), DD_CPU_LANES,
                         {"k": 8, "depth": 3}),
    }[method]
    rng = torch.Generator().manual_seed(3)
    with torch.no_grad():
        x = tiny_dcgan(tiny_dcgan.sample_latents(10, 0, generator=rng), cut=0).clamp(0, 1)
    op = make_operator("cs", (3, 64, 64), m=300, generator=rng)
    y = op.measure(x, generator=rng)
    seeds = list(range(11, 21))
    kw = dict(restarts=3, steps=3, lane_width=width, **extra)
    every = fn(tiny_dcgan, op, y, image_seeds=seeds, **kw)
    assert every.info["lane_width"] == (4 if width == 4 else 3 * lanes)
    rows_tried = ([0], [7], [9, 3], [4, 5, 6, 7, 8])
    for rows in rows_tried:
        part = fn(tiny_dcgan, op, y[rows], image_seeds=[seeds[r] for r in rows], **kw)
        for k, r in enumerate(rows):
            assert torch.equal(part.images[k], every.images[r]), (rows, r)
            assert torch.equal(part.restart_losses[k], every.restart_losses[r]), (rows, r)
            assert torch.equal(part.trace[:, k], every.trace[:, r]), (rows, r)
    if width == 4:  # the lanes are what makes it hold: one call for all differs
        one_call = fn(tiny_dcgan, op, y, image_seeds=seeds, **{**kw, "lane_width": None})
        parts = [fn(tiny_dcgan, op, y[rows], image_seeds=[seeds[r] for r in rows],
                    **{**kw, "lane_width": None}) for rows in rows_tried]
        assert not all(torch.equal(p.images[k], one_call.images[r])
                       for rows, p in zip(rows_tried, parts, strict=True)
                       for k, r in enumerate(rows))
    with pytest.raises(ValueError, match="image_seeds has 2 seeds for 10 images"):
        fn(tiny_dcgan, op, y, image_seeds=seeds[:2], **kw)
    if method == "iagan" and width == 4:
        with pytest.raises(ValueError, match=r"chunk_size \(3\) and lane_width \(4\) exclude"):
            fn(tiny_dcgan, op, y, chunk_size=3, **kw)


# -------------------------------------------------------------------- bookkeeping
def test_optimised_parameters_table_is_the_papers():
    df = optimised_parameters_table()
    expected = {
        "Surgery": [8192, 40960, 32768],
        "No surgery": [100, 64, 512],
        "mGAN": [6120, 12032, 51200],
        "IAGAN": [3576804, 2149824, 42035075],
        "DD": [8407, 41210, 41210],
    }
    assert list(df.columns) == ["DCGAN", "BEGAN", "VAE"]
    for method, row in expected.items():
        assert df.loc[method].tolist() == row


def test_bad_measurements_raise():
    op = make_operator("cs", (3, 8, 8), m=20, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="y must have shape"):
        recover_lasso_dct(None, op, torch.zeros(1, 21))
    with pytest.raises(ValueError, match="non-finite"):
        recover_deep_decoder(None, op, torch.full((1, 20), float("nan")), k=4, depth=2)
    with pytest.raises(ValueError, match="restarts"):
        recover_deep_decoder(None, op, torch.zeros(1, 20), restarts=0, k=4, depth=2)
