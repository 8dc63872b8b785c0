"""Evaluation metrics. Image metrics are defined once, in ``rtgs2.recon.losses``, and re-exported."""

from rtgs2.recon.losses import psnr, ssim, ssim_map

__all__ = ["psnr", "ssim", "ssim_map"]
