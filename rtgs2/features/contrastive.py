"""PointInfoNCE (PointContrast, Xie et al. 2020; RT-GS2 Eq. 5): the same Gaussian seen in two
views (two independently augmented samples) is a positive pair, every other sampled
Gaussian of the other view a negative."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def matched_rows(ids_a: Tensor, ids_b: Tensor) -> tuple[Tensor, Tensor]:
    """Rows of the Gaussians present in both samples: ``ids_a[ra] == ids_b[rb]``; negative ids
    (points an augmentation added, ``rtgs2.data.transforms.FLOATER_ID``) match nothing.

    Args:
        ids_a: [Na] int64 scene ids of sample A's points (unique but for negative ones).
        ids_b: [Nb] int64 scene ids of sample B's points (unique but for negative ones).
    Returns:
        ra, rb: [M] int64 rows into A and B, ordered by id.
    """
    order_b = torch.argsort(ids_b)
    sorted_b = ids_b[order_b]
    pos = torch.searchsorted(sorted_b, ids_a).clamp_max(max(len(sorted_b) - 1, 0))
    hit = (sorted_b[pos] == ids_a) & (ids_a >= 0) if len(sorted_b) else torch.zeros_like(ids_a, dtype=torch.bool)
    ra = torch.nonzero(hit).squeeze(1)
    rb = order_b[pos[ra]]
    keep = torch.argsort(ids_a[ra])
    return ra[keep], rb[keep]


def point_info_nce(
    feat_a: Tensor,  # [M, D] L2-normalised features of the matched Gaussians in view A
    feat_b: Tensor,  # [M, D] the same Gaussians (same rows) in view B
    temperature: float = 0.07,
    exclude: Tensor | None = None,  # [M, M] bool: negatives left out of row i's denominator
) -> tuple[Tensor, Tensor]:  # loss [], top-1 retrieval accuracy []
    """Cross-entropy over the [M, M] similarity matrix, row i's positive at column i:
    L = -1/M sum_i log( exp(a_i.b_i / t) / sum_{j not excluded} exp(a_i.b_j / t) ).

    ``exclude`` drops likely false negatives (e.g. Gaussians next to the anchor, which lie on
    the same surface); the diagonal is never dropped. Also returns the fraction of rows whose
    most similar (not excluded) column is the positive (top-1 correspondence retrieval; chance
    is 1/M without exclusions).
    """
    if feat_a.shape != feat_b.shape or feat_a.ndim != 2:
        raise ValueError(f"feat_a and feat_b must have the same [M, D] shape, got {list(feat_a.shape)} and {list(feat_b.shape)}")
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    logits = feat_a @ feat_b.T / temperature
    if exclude is not None:
        if exclude.shape != logits.shape:
            raise ValueError(f"exclude must be [M, M] = {list(logits.shape)}, got {list(exclude.shape)}")
        exclude = exclude & ~torch.eye(len(logits), dtype=torch.bool, device=logits.device)
        logits = logits.masked_fill(exclude, float("-inf"))
    target = torch.arange(len(feat_a), device=feat_a.device)
    loss = F.cross_entropy(logits, target)
    with torch.no_grad():
        acc = (logits.argmax(1) == target).float().mean()
    return loss, acc


def segment_info_nce(
    feat_a: Tensor,  # [M, D] features of the matched Gaussians in view A
    feat_b: Tensor,  # [M, D] the same Gaussians (same rows) in view B
    segment: Tensor,  # [M] int64 segment of each matched Gaussian (an unsupervised over-segmentation)
    temperature: float = 0.07,
    min_points: int = 8,
) -> tuple[Tensor, Tensor]:  # loss [], top-1 segment retrieval accuracy []
    """Segment-level InfoNCE (after SegContrast, Nunes et al. 2022): the mean feature of a
    segment's matched Gaussians in view A should find the same segment's mean in view B among
    all segments of the pair. Every member gets the same gradient direction, so features grow
    constant over a segment (the over-segmentation rarely spans two objects). Segments with
    fewer than ``min_points`` matched Gaussians are left out; with fewer than two segments the
    loss is 0 (nothing to contrast)."""
    _, inverse, counts = torch.unique(segment, return_inverse=True, return_counts=True)
    keep = counts >= min_points
    if int(keep.sum()) < 2:
        zero = feat_a.sum() * 0
        return zero, zero.detach()
    rows = keep[inverse]
    remap = torch.cumsum(keep.long(), 0) - 1
    idx = remap[inverse[rows]]
    s = int(keep.sum())

    def means(feat: Tensor) -> Tensor:
        out = torch.zeros(s, feat.shape[1], dtype=feat.dtype, device=feat.device).index_add_(0, idx, feat[rows])
        return F.normalize(out, dim=1)

    return point_info_nce(means(feat_a), means(feat_b), temperature)


def near_pairs(xyz: Tensor, radius: float) -> Tensor:
    """[M, M] bool: pairs of points closer than ``radius`` (the same units as ``xyz`` [M, 3])."""
    return torch.cdist(xyz, xyz) < radius
