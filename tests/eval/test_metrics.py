import importlib.util
import re

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio

from rtgs2.eval import metrics
from rtgs2.recon import losses


def test_metrics_reexport_the_one_ssim_and_psnr():
    assert metrics.ssim is losses.ssim and metrics.psnr is losses.psnr
    g = torch.Generator().manual_seed(0)
    a = torch.rand(20, 20, 3, generator=g)
    assert float(metrics.ssim(a, a)) > 0.999999
    assert float(metrics.ssim(a, torch.rand(20, 20, 3, generator=g))) < 0.5


def test_psnr_matches_skimage():
    g = torch.Generator().manual_seed(1)
    a = torch.rand(23, 31, 3, generator=g, dtype=torch.float64)
    b = (a + 0.1 * torch.randn(23, 31, 3, generator=g, dtype=torch.float64)).clamp(0, 1)
    ref = peak_signal_noise_ratio(a.numpy(), b.numpy(), data_range=1.0)
    assert float(metrics.psnr(a, b)) == pytest.approx(ref, abs=1e-10)  # float64: agrees to ~1e-14


def _direct_image_scores(pred: np.ndarray, gt: np.ndarray) -> tuple[float, float, float]:
    """mIoU, mAcc, oAcc of one image from the label sets themselves, over the classes in gt."""
    keep = gt != 255
    p, t = pred[keep], gt[keep]
    classes = np.unique(t)
    iou = [np.sum((p == k) & (t == k)) / np.sum((p == k) | (t == k)) for k in classes]
    acc = [np.sum((p == k) & (t == k)) / np.sum(t == k) for k in classes]
    return float(np.mean(iou)), float(np.mean(acc)), float(np.mean(p == t))


def test_per_image_metrics_average_each_image_over_its_own_classes():
    gts = [
        np.array([[0, 0, 1], [1, 2, 2]]),
        np.array([[0, 0, 0], [2, 2, 255]]),  # class 1 absent from this image's ground truth
        np.array([[1, 1, 1], [1, 0, 2]]),
    ]
    preds = [np.array([[0, 1, 1], [1, 2, 0]]), np.array([[0, 1, 0], [2, 2, 1]]), np.array([[1, 1, 0], [1, 0, 2]])]
    confusions = [metrics.confusion_matrix(p, t, 3) for p, t in zip(preds, gts)]
    direct = np.array([_direct_image_scores(p, t) for p, t in zip(preds, gts)]).mean(0)
    m = metrics.per_image_segmentation_metrics(confusions)
    assert (m["miou"], m["macc"], m["oacc"]) == pytest.approx(tuple(direct), abs=1e-12)
    assert m["images"] == 3
    # The per-image mean is a different number from the accumulated one on these images.
    assert abs(m["miou"] - metrics.segmentation_metrics(sum(confusions))["miou"]) > 0.01
    empty = metrics.confusion_matrix(preds[0], np.full((2, 3), 255), 3)
    assert metrics.per_image_segmentation_metrics(confusions + [empty]) == m  # unlabelled image left out


def test_lpips_unavailable_is_reported_with_a_reason(tmp_path, monkeypatch):
    monkeypatch.setenv("RTGS2_CACHE", str(tmp_path / "cache"))
    ok, reason = metrics.lpips_available()
    assert not ok and ("'lpips' package" in reason or "alexnet-owt" in reason)
    a = torch.rand(16, 16, 3)
    with pytest.raises(RuntimeError, match="LPIPS unavailable: " + re.escape(reason)):
        metrics.lpips(a, a)


def test_lpips_weights_are_looked_for_in_the_rtgs2_cache_only(tmp_path, monkeypatch):
    monkeypatch.setenv("RTGS2_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: object() if name == "lpips" else None)
    ok, reason = metrics.lpips_available("vgg")
    assert not ok and "vgg16-397923af.pth" in reason and str(tmp_path / "cache" / "lpips") in reason
    weights = tmp_path / "cache" / "lpips" / "vgg16-397923af.pth"
    weights.parent.mkdir(parents=True)
    weights.touch()
    assert metrics.lpips_available("vgg") == (True, str(weights))
    with pytest.raises(ValueError, match="net"):
        metrics.lpips_available("squeeze")
