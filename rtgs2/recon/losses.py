"""Image metrics and the 3DGS photometric loss: SSIM (written once, here), PSNR, L1 + D-SSIM.

SSIM follows Wang et al. 2004 as the 3DGS code computes it: an 11×11 Gaussian window with
sigma 1.5, C1 = (0.01·L)², C2 = (0.03·L)², population (not sample) covariances. Two border
treatments are offered:

- ``"zero"``  zero-padded "same" convolution, the map averaged over every pixel (the 3DGS
  trainer's ``utils/loss_utils.py::ssim``, so its loss and its reported SSIM numbers);
- ``"valid"`` only pixels whose whole window lies inside the image (scikit-image's
  ``structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False)``,
  which filters with reflection and then crops the 5-pixel border before averaging).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

SSIM_WINDOW = 11  # window side, pixels (Wang et al. 2004; 3DGS)
SSIM_SIGMA = 1.5  # Gaussian window std-dev, pixels
SSIM_K1, SSIM_K2 = 0.01, 0.03  # stabilisers: C1 = (K1·L)^2, C2 = (K2·L)^2 for data range L
DSSIM_WEIGHT = 0.2  # lambda in (1 - lambda)·L1 + lambda·(1 - SSIM) (3DGS paper, §7)

Padding = Literal["zero", "valid"]


def _gaussian_window(dtype: torch.dtype, device: torch.device) -> Tensor:
    """[SSIM_WINDOW] normalised 1D Gaussian taps."""
    x = torch.arange(SSIM_WINDOW, dtype=torch.float64) - (SSIM_WINDOW - 1) / 2
    g = torch.exp(-(x**2) / (2 * SSIM_SIGMA**2))
    return (g / g.sum()).to(dtype=dtype, device=device)


def _as_bchw(img: Tensor, name: str) -> Tensor:
    if img.ndim == 3:
        img = img.unsqueeze(0)
    if img.ndim != 4:
        raise ValueError(f"{name} must have shape [H, W, C] or [B, H, W, C], got {list(img.shape)}")
    return img.permute(0, 3, 1, 2)


def ssim_map(
    img1: Tensor,  # [H, W, C] or [B, H, W, C]
    img2: Tensor,  # same shape as img1
    *,
    data_range: float = 1.0,
    padding: Padding = "zero",
) -> Tensor:  # [B, C, H', W'] (H' = H for "zero", H - 10 for "valid")
    """Per-pixel, per-channel SSIM. Differentiable. See the module docstring for ``padding``."""
    if img1.shape != img2.shape:
        raise ValueError(f"ssim: images must have the same shape, got {list(img1.shape)} and {list(img2.shape)}")
    if padding not in ("zero", "valid"):
        raise ValueError(f"ssim: padding must be 'zero' or 'valid', got {padding!r}")
    x, y = _as_bchw(img1, "img1"), _as_bchw(img2, "img2")
    c = x.shape[1]
    if padding == "valid" and min(x.shape[2:]) < SSIM_WINDOW:
        raise ValueError(f"ssim: 'valid' padding needs images of at least {SSIM_WINDOW} px, got {list(x.shape[2:])}")
    g = _gaussian_window(x.dtype, x.device)
    pad = SSIM_WINDOW // 2 if padding == "zero" else 0
    # Separable window, one group per channel: two 1D passes instead of an 11x11 kernel.
    wx = g.view(1, 1, 1, -1).expand(c, 1, 1, SSIM_WINDOW)
    wy = g.view(1, 1, -1, 1).expand(c, 1, SSIM_WINDOW, 1)

    def blur(t: Tensor) -> Tensor:
        t = F.conv2d(t, wx, padding=(0, pad), groups=c)
        return F.conv2d(t, wy, padding=(pad, 0), groups=c)

    mu1, mu2 = blur(x), blur(y)
    s11 = blur(x * x) - mu1 * mu1
    s22 = blur(y * y) - mu2 * mu2
    s12 = blur(x * y) - mu1 * mu2
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    return ((2 * mu1 * mu2 + c1) * (2 * s12 + c2)) / ((mu1 * mu1 + mu2 * mu2 + c1) * (s11 + s22 + c2))


def ssim(
    img1: Tensor,  # [H, W, C] or [B, H, W, C], values in [0, data_range]
    img2: Tensor,  # same shape as img1
    *,
    data_range: float = 1.0,
    padding: Padding = "zero",
) -> Tensor:  # [] mean SSIM
    """Mean structural similarity of two images (1 = identical). Differentiable."""
    return ssim_map(img1, img2, data_range=data_range, padding=padding).mean()


def psnr(
    img1: Tensor,  # [..., H, W, C]
    img2: Tensor,  # same shape as img1
    *,
    data_range: float = 1.0,
) -> Tensor:  # [] decibels
    """Peak signal-to-noise ratio over all values, dB (inf for identical images)."""
    if img1.shape != img2.shape:
        raise ValueError(f"psnr: images must have the same shape, got {list(img1.shape)} and {list(img2.shape)}")
    mse = torch.mean((img1 - img2) ** 2)
    return 10 * torch.log10(data_range**2 / mse) if float(mse) > 0 else torch.tensor(math.inf)


def photometric_loss(
    pred: Tensor,  # [H, W, 3] rendered RGB
    target: Tensor,  # [H, W, 3] ground truth RGB in [0, 1]
    dssim_weight: float = DSSIM_WEIGHT,
) -> Tensor:  # []
    """The 3DGS loss (1 - λ)·L1 + λ·(1 - SSIM), SSIM zero-padded as the 3DGS trainer does."""
    l1 = (pred - target).abs().mean()
    return (1 - dssim_weight) * l1 + dssim_weight * (1 - ssim(pred, target, padding="zero"))
