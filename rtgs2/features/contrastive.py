"""PointInfoNCE (PointContrast, Xie et al. 2020; RT-GS2 Eq. 5): the same Gaussian seen in two
views (two independently augmented samples) is a positive pair, every other sampled
Gaussian of the other view a negative."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def matched_rows(ids_a: Tensor, ids_b: Tensor) -> tuple[Tensor, Tensor]:
    """Rows of the Gaussians present in both samples: ``ids_a[ra] == ids_b[rb]``.

    Args:
        ids_a: [Na] int64 scene ids of sample A's points (unique).
        ids_b: [Nb] int64 scene ids of sample B's points (unique).
    Returns:
        ra, rb: [M] int64 rows into A and B, ordered by id.
    """
    order_b = torch.argsort(ids_b)
    sorted_b = ids_b[order_b]
    pos = torch.searchsorted(sorted_b, ids_a).clamp_max(max(len(sorted_b) - 1, 0))
    hit = sorted_b[pos] == ids_a if len(sorted_b) else torch.zeros_like(ids_a, dtype=torch.bool)
    ra = torch.nonzero(hit).squeeze(1)
    rb = order_b[pos[ra]]
    keep = torch.argsort(ids_a[ra])
    return ra[keep], rb[keep]


def point_info_nce(
    feat_a: Tensor,  # [M, D] L2-normalised features of the matched Gaussians in view A
    feat_b: Tensor,  # [M, D] the same Gaussians (same rows) in view B
    temperature: float = 0.07,
) -> tuple[Tensor, Tensor]:  # loss [], top-1 retrieval accuracy []
    """Cross-entropy over the [M, M] similarity matrix, row i's positive at column i:
    L = -1/M sum_i log( exp(a_i.b_i / t) / sum_j exp(a_i.b_j / t) ).

    Also returns the fraction of rows whose most similar column is the positive (top-1
    correspondence retrieval; chance is 1/M).
    """
    if feat_a.shape != feat_b.shape or feat_a.ndim != 2:
        raise ValueError(f"feat_a and feat_b must have the same [M, D] shape, got {list(feat_a.shape)} and {list(feat_b.shape)}")
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    logits = feat_a @ feat_b.T / temperature
    target = torch.arange(len(feat_a), device=feat_a.device)
    loss = F.cross_entropy(logits, target)
    with torch.no_grad():
        acc = (logits.argmax(1) == target).float().mean()
    return loss, acc
