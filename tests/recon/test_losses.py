import math

import pytest
import torch
from skimage.metrics import structural_similarity

from rtgs2.recon.losses import photometric_loss, psnr, ssim, ssim_map

# Worst |ours - skimage| seen over these seeds: 2e-16 in float64, 8e-8 in float32 (2-core x86 CPU).
SSIM_ATOL_F64 = 1e-10
SSIM_ATOL_F32 = 1e-6


def _pair(seed: int, h: int = 37, w: int = 53, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    a = torch.rand(h, w, 3, generator=g, dtype=dtype)
    b = (a + 0.2 * torch.randn(h, w, 3, generator=g, dtype=dtype)).clamp(0, 1)
    return a, b


@pytest.mark.parametrize("seed", range(4))
def test_ssim_matches_skimage(seed):
    a, b = _pair(seed)
    ref = structural_similarity(
        a.numpy(), b.numpy(), channel_axis=-1, gaussian_weights=True, sigma=1.5,
        use_sample_covariance=False, data_range=1.0,
    )  # fmt: skip
    assert abs(float(ssim(a, b, padding="valid")) - ref) < SSIM_ATOL_F64
    assert abs(float(ssim(a.float(), b.float(), padding="valid")) - ref) < SSIM_ATOL_F32


def test_ssim_zero_padding_agrees_inside_and_differs_at_border():
    a, b = _pair(7)
    full = ssim_map(a, b, padding="zero")
    valid = ssim_map(a, b, padding="valid")
    assert full.shape[-2:] == a.shape[:2] and valid.shape[-2:] == (a.shape[0] - 10, a.shape[1] - 10)
    torch.testing.assert_close(full[..., 5:-5, 5:-5], valid, rtol=0, atol=1e-12)
    assert not torch.allclose(full[..., :5, :], torch.ones_like(full[..., :5, :]))


def test_ssim_properties():
    a, b = _pair(3)
    assert float(ssim(a, a)) == pytest.approx(1.0, abs=1e-12)
    assert float(ssim(a, b)) < 0.95
    assert float(ssim(a, b)) == pytest.approx(float(ssim(b, a)), abs=1e-12)
    batched = ssim(torch.stack([a, b]), torch.stack([b, a]))
    assert float(batched) == pytest.approx(float(ssim(a, b)), abs=1e-12)


def test_ssim_bad_input():
    a, b = _pair(0)
    with pytest.raises(ValueError, match="same shape"):
        ssim(a, b[:-1])
    with pytest.raises(ValueError, match="padding"):
        ssim(a, b, padding="reflect")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least 11"):
        ssim(a[:8, :8], b[:8, :8], padding="valid")


def test_psnr_known_value():
    a = torch.zeros(4, 5, 3)
    b = torch.full((4, 5, 3), 0.1)
    assert float(psnr(a, b)) == pytest.approx(20.0, abs=1e-4)  # mse 0.01 -> 20 dB
    assert math.isinf(float(psnr(a, a)))


def test_photometric_loss_value_and_gradient():
    a, b = _pair(1, dtype=torch.float32)
    assert float(photometric_loss(a, a)) == pytest.approx(0.0, abs=1e-6)
    expected = 0.8 * float((a - b).abs().mean()) + 0.2 * (1 - float(ssim(a, b)))
    assert float(photometric_loss(a, b)) == pytest.approx(expected, rel=1e-6)
    x = b.clone().requires_grad_()
    photometric_loss(x, a).backward()
    assert x.grad is not None and bool(torch.isfinite(x.grad).all()) and float(x.grad.abs().sum()) > 0
