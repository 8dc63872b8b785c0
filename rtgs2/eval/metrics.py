"""Evaluation metrics, each defined once and re-exported here: image metrics in
``rtgs2.recon.losses``, segmentation metrics (from a confusion matrix) in ``rtgs2.data.segmentation``."""

from __future__ import annotations

from rtgs2.data.segmentation import confusion_matrix, segmentation_metrics
from rtgs2.recon.losses import psnr, ssim, ssim_map

__all__ = ["confusion_matrix", "psnr", "segmentation_metrics", "ssim", "ssim_map"]
