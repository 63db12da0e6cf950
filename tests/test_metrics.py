import numpy as np
import pytest
import torch

from gs.metrics import mse, psnr, ssim


def test_psnr_formula_and_clamping(rng):
    x = torch.rand(3, 3, 7, 5, generator=rng)
    x_hat = x + 0.05 * torch.randn(x.shape, generator=rng)
    expected = 10 * torch.log10(1.0 / (x_hat.clamp(0, 1) - x).pow(2).flatten(1).mean(1))
    torch.testing.assert_close(psnr(x_hat, x), expected)
    assert psnr(x_hat, x).shape == (3,)
    # clamping only helps when x is in [0, 1]
    assert (psnr(x_hat, x) >= psnr(x_hat, x, clamp=False) - 1e-5).all()
    assert torch.isinf(psnr(x, x)).all()


def test_psnr_constant_offset():
    x = torch.full((1, 3, 4, 4), 0.5)
    assert float(psnr(x + 0.1, x)) == pytest.approx(20.0, abs=1e-4)
    assert float(mse(x + 0.1, x)) == pytest.approx(0.01, abs=1e-6)


@pytest.mark.parametrize("shape", [(2, 3, 23, 17), (1, 3, 11, 11), (2, 1, 16, 20)])
def test_ssim_matches_skimage(rng, shape):
    skimage_metrics = pytest.importorskip("skimage.metrics")
    x = torch.rand(shape, generator=rng, dtype=torch.float64)
    x_hat = (x + 0.2 * torch.randn(shape, generator=rng, dtype=torch.float64)).clamp(0, 1)
    ours = ssim(x_hat, x)
    ref = [
        skimage_metrics.structural_similarity(
            x_hat[i].numpy(),
            x[i].numpy(),
            channel_axis=0,
            data_range=1,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
        )
        for i in range(shape[0])
    ]
    np.testing.assert_allclose(ours.numpy(), ref, rtol=1e-10, atol=1e-12)


def test_ssim_identity_and_device(device, rng):
    x = torch.rand(2, 3, 12, 12, generator=rng).to(device)
    torch.testing.assert_close(ssim(x, x), torch.ones(2, device=device))


def test_metric_shape_errors():
    with pytest.raises(ValueError, match="same shape"):
        psnr(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 5))
    with pytest.raises(ValueError, match="at least 11x11"):
        ssim(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8))
