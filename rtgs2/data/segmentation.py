"""Scoring label images against ground truth: a confusion matrix and mIoU / mAcc / oAcc from it.
Defined beside the labels they score so that training (validation) and evaluation share one
definition; ``rtgs2.eval.metrics`` re-exports them."""

from __future__ import annotations

import numpy as np

from rtgs2.data.views import IGNORE_LABEL


def confusion_matrix(pred: np.ndarray, target: np.ndarray, num_classes: int, ignore: int = IGNORE_LABEL) -> np.ndarray:
    """[K, K] int64 counts, rows = true class, columns = predicted; ``ignore`` targets skipped.

    Raises:
        ValueError: shapes differ, or a kept target or prediction lies outside 0..K-1.
    """
    pred, target = np.asarray(pred).ravel(), np.asarray(target).ravel()
    if pred.shape != target.shape:
        raise ValueError(f"pred and target must have the same size, got {pred.size} and {target.size}")
    keep = target != ignore
    p, t = pred[keep].astype(np.int64), target[keep].astype(np.int64)
    if len(t) and (t.min() < 0 or t.max() >= num_classes or p.min() < 0 or p.max() >= num_classes):
        raise ValueError(f"labels must lie in 0..{num_classes - 1} (or be {ignore} in the target)")
    return np.bincount(t * num_classes + p, minlength=num_classes**2).reshape(num_classes, num_classes)


def confusion_with_unlabelled(pred: np.ndarray, target: np.ndarray, num_classes: int) -> np.ndarray:
    """[K+1, K+1] counts as :func:`confusion_matrix`, where a prediction of IGNORE_LABEL (a pixel
    left unlabelled) falls in column K, which no class owns: it counts as wrong, never skipped."""
    pred = np.asarray(pred)
    return confusion_matrix(np.where(pred == IGNORE_LABEL, num_classes, pred), target, num_classes + 1)


def segmentation_metrics(confusion: np.ndarray) -> dict:
    """mIoU, mean class accuracy and overall accuracy (fractions in [0, 1]) from a [K, K]
    confusion matrix (rows true, columns predicted). Classes absent from the ground truth are
    left out of the means (their IoU and accuracy are NaN in ``per_class``)."""
    c = np.asarray(confusion, dtype=np.float64)
    tp = np.diag(c)
    gt, pr = c.sum(1), c.sum(0)
    present = gt > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(present, tp / (gt + pr - tp), np.nan)
        acc = np.where(present, tp / gt, np.nan)
    return {
        "miou": float(np.nanmean(iou)) if present.any() else float("nan"),
        "macc": float(np.nanmean(acc)) if present.any() else float("nan"),
        "oacc": float(tp.sum() / c.sum()) if c.sum() > 0 else float("nan"),
        "per_class": {"iou": iou.tolist(), "acc": acc.tolist()},
    }
