"""Evaluation metrics. Image metrics are defined in ``rtgs2.recon.losses`` and segmentation metrics
(from a confusion matrix) in ``rtgs2.data.segmentation``, each once, and re-exported here; this
module adds per-image averaging of the segmentation metrics and LPIPS when its weights are on disk.

Two ways to average segmentation scores over a set of views:

- ``segmentation_metrics(sum of confusions)``: one confusion matrix accumulated over all pixels
  (the default; what the RT-GS2 tables report);
- ``per_image_segmentation_metrics(confusions)``: each image scored alone, then the mean over
  images (as GSNeRF reports), so small images or rare classes weigh as much as large ones.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from rtgs2.data.segmentation import confusion_matrix, confusion_with_unlabelled, segmentation_metrics
from rtgs2.recon.losses import psnr, ssim, ssim_map
from rtgs2.utils.cache import cache_root

__all__ = [
    "confusion_matrix",
    "confusion_with_unlabelled",
    "lpips",
    "lpips_available",
    "per_image_segmentation_metrics",
    "psnr",
    "segmentation_metrics",
    "ssim",
    "ssim_map",
]

# ImageNet backbones of the `lpips` package, by the file names torchvision gives them. The
# package ships only its small linear heads; the backbone must be on disk in rtgs2's cache
# (nothing is downloaded: the model is built with a random backbone and loaded from that file).
LPIPS_BACKBONES = {"alex": "alexnet-owt-7be5be79.pth", "vgg": "vgg16-397923af.pth"}


def per_image_segmentation_metrics(confusions: Sequence[np.ndarray]) -> dict:
    """Mean over images of each image's mIoU, mAcc and oAcc (fractions in [0, 1]).

    Args:
        confusions: one [K, K] confusion matrix per image (rows true, columns predicted), e.g.
            from ``confusion_matrix``. Each image's means run over the classes present in its
            own ground truth; images with no labelled pixel are left out.
    Returns:
        ``{"miou", "macc", "oacc"}`` (NaN when no image has a labelled pixel) and ``"images"``,
        the number of images averaged.
    """
    scores = [segmentation_metrics(c) for c in confusions if np.asarray(c).sum() > 0]
    out = {k: float(np.mean([s[k] for s in scores])) if scores else float("nan") for k in ("miou", "macc", "oacc")}
    return {**out, "images": len(scores)}


def lpips_weights_dir() -> Path:
    """Where the LPIPS backbone file is looked for: ``<$RTGS2_CACHE or ~/.cache/rtgs2>/lpips``."""
    return cache_root() / "lpips"


def lpips_available(net: str = "alex") -> tuple[bool, str]:
    """Whether ``lpips`` can run offline with backbone ``net`` ("alex" or "vgg").

    Returns:
        (True, path of the backbone weights) or (False, the reason: what is missing and where
        it was looked for).
    """
    if net not in LPIPS_BACKBONES:
        raise ValueError(f"net must be one of {sorted(LPIPS_BACKBONES)}, got {net!r}")
    if importlib.util.find_spec("lpips") is None:
        return False, "the 'lpips' package is not installed (pip install lpips)"
    path = lpips_weights_dir() / LPIPS_BACKBONES[net]
    if not path.is_file():
        return False, f"no {net} backbone weights {path.name} in {path.parent}"
    return True, str(path)


@cache
def _lpips_model(net: str, weights: str) -> torch.nn.Module:
    import lpips as lpips_package

    model = lpips_package.LPIPS(net=net, pnet_rand=True, verbose=False).eval()  # random backbone: no download
    # The package's backbone holds torchvision's conv layers in their order, sliced: fill them in that order.
    saved = [t for k, t in torch.load(weights, map_location="cpu", weights_only=True).items() if k.startswith("features.")]
    own = list(model.net.parameters())
    if len(saved) != len(own) or any(a.shape != b.shape for a, b in zip(saved, own)):
        raise RuntimeError(f"LPIPS unavailable: {weights} does not hold the {net} backbone's layers")
    with torch.no_grad():
        for param, value in zip(own, saved):
            param.copy_(value)
    return model


def lpips(
    img1: Tensor,  # [H, W, 3] or [B, H, W, 3], values in [0, 1]
    img2: Tensor,  # same shape as img1
    *,
    net: str = "alex",
) -> Tensor:  # [] mean LPIPS distance (0 = identical)
    """Learned perceptual distance (Zhang et al. 2018, v0.1 heads) with backbone ``net``.

    Raises:
        RuntimeError: the ``lpips`` package or the backbone weights are missing (the message says
            which, and where they were looked for); no value is ever made up.
        ValueError: the images differ in shape or are not RGB.
    """
    ok, where = lpips_available(net)
    if not ok:
        raise RuntimeError(f"LPIPS unavailable: {where}")
    if img1.shape != img2.shape or img1.shape[-1] != 3:
        raise ValueError(f"lpips: images must be RGB of the same shape, got {list(img1.shape)} and {list(img2.shape)}")
    model = _lpips_model(net, where).to(img1.device)
    x, y = (t.reshape(-1, *t.shape[-3:]).permute(0, 3, 1, 2).float() for t in (img1, img2))
    with torch.no_grad():
        return model(x, y, normalize=True).mean()  # normalize: inputs in [0, 1], not [-1, 1]
