"""Losses of the fusion network: cross-entropy with label smoothing, CeCo, and the depth head's L1.

CeCo (Zhong et al., CVPR 2023, "Understanding Imbalanced Semantic Segmentation Through Neural
Collapse") pulls the class centres of the decoder's embedding towards the vertices of a simplex
equiangular tight frame (ETF): within a batch, each labelled class's mean embedding is
classified by a fixed ETF classifier and scored by cross-entropy. Rare classes get as much say
as common ones (one centre each), which is the point for imbalanced indoor labels.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from rtgs2.fusion.loss_config import FusionLossConfig
from rtgs2.fusion.vdvi import FusionOutput


def check_labels(labels: Tensor, num_classes: int, ignore_index: int) -> Tensor:  # [B, H, W] -> int64
    """``labels`` as int64, or ValueError naming the ids outside 0..K-1 (other than ``ignore_index``)."""
    if labels.is_floating_point() or labels.dtype == torch.bool:
        raise ValueError(f"labels must be an integer tensor (uint8 or int64), got {labels.dtype}")
    labels = labels.long()
    bad = (labels != ignore_index) & ((labels < 0) | (labels >= num_classes))
    if bad.any():
        ids = torch.unique(labels[bad])[:8].tolist()
        raise ValueError(
            f"labels hold ids {ids} outside 0..{num_classes - 1} (and not the ignore id {ignore_index}): "
            "the label map and the model's num_classes disagree"
        )
    return labels


def segmentation_ce(
    logits: Tensor,  # [B, K, H, W]
    labels: Tensor,  # [B, H, W] int64, ignore_index where unlabelled
    label_smoothing: float = 0.1,
    ignore_index: int = 255,
) -> Tensor:  # [] mean over labelled pixels
    """Cross-entropy with label smoothing: per labelled pixel (1 - eps) * -log p_y + eps * mean_k
    -log p_k, averaged over labelled pixels; 0 (with a gradient) when no pixel is labelled."""
    if not (labels != ignore_index).any():
        return logits.sum() * 0.0  # torch would return NaN (0 / 0) for an all-ignored crop
    return F.cross_entropy(logits, labels, ignore_index=ignore_index, label_smoothing=label_smoothing)


def simplex_etf(num_classes: int, dim: int, seed: int = 0) -> Tensor:  # [K, E]
    """K unit vectors in R^E with pairwise cosine -1/(K-1), i.e. maximally apart: the rows of
    sqrt(K/(K-1)) (I - 11^T/K) U^T for a random U [E, K] with orthonormal columns (fixed by
    ``seed``)."""
    if num_classes < 2:
        raise ValueError(f"a simplex ETF needs at least 2 classes, got {num_classes}")
    if dim < num_classes:
        raise ValueError(
            f"a simplex ETF of {num_classes} classes needs an embedding of >= {num_classes} channels, got {dim}"
        )
    generator = torch.Generator().manual_seed(seed)
    u, _ = torch.linalg.qr(torch.randn(dim, num_classes, generator=generator, dtype=torch.float64))
    centred = torch.eye(num_classes, dtype=torch.float64) - 1.0 / num_classes
    return (math.sqrt(num_classes / (num_classes - 1)) * centred @ u.T).float()


def class_centres(
    embedding: Tensor,  # [B, E, h, w]
    labels: Tensor,  # [B, h, w] int64
    num_classes: int,
    ignore_index: int = 255,
) -> tuple[Tensor, Tensor]:  # [K', E] centres, [K'] their class ids (classes present in labels)
    """Mean embedding of each class over the batch's labelled pixels."""
    E = embedding.shape[1]
    flat = embedding.permute(0, 2, 3, 1).reshape(-1, E)
    ids = labels.reshape(-1)
    keep = ids != ignore_index
    flat, ids = flat[keep], ids[keep]
    sums = flat.new_zeros(num_classes, E).index_add_(0, ids, flat)
    counts = torch.bincount(ids, minlength=num_classes)
    present = torch.nonzero(counts).squeeze(1)
    return sums[present] / counts[present].unsqueeze(1).to(flat.dtype), present


def ceco_loss(
    embedding: Tensor,  # [B, E, h, w] decoder embedding
    labels: Tensor,  # [B, H, W] int64 at the input resolution
    etf: Tensor,  # [K, E] from simplex_etf
    temperature: float = 0.1,
    ignore_index: int = 255,
) -> Tensor:  # []
    """CeCo: cross-entropy of each present class's centre, classified by the fixed ETF.

    Labels are brought to the embedding's size by nearest sampling. Centres are L2-normalised
    and scored by cosine / ``temperature``: the ETF's vertices are unit vectors, and unnormalised
    centres would let the loss fall by growing the embedding's norm instead of its direction.
    0 (with a gradient) when no pixel is labelled.
    """
    small = F.interpolate(labels[:, None].float(), size=embedding.shape[-2:], mode="nearest")[:, 0].long()
    centres, present = class_centres(embedding, small, etf.shape[0], ignore_index)
    if present.numel() == 0:
        return embedding.sum() * 0.0
    logits = F.normalize(centres, dim=1) @ etf.T / temperature  # [K', K]
    return F.cross_entropy(logits, present)


def depth_l1(prediction: Tensor, target: Tensor) -> Tensor:  # [B, 1, H, W], [B, H, W] metres -> []
    """Mean absolute depth error over pixels with a valid (finite, positive) target."""
    valid = torch.isfinite(target) & (target > 0)
    if not valid.any():
        return prediction.sum() * 0.0
    return (prediction[:, 0][valid] - target[valid]).abs().mean()


def distillation_kl(
    student: Tensor,  # [B, K, H, W] logits
    teacher: Tensor,  # [B, K, H, W] logits of the model taught from
    labels: Tensor,  # [B, H, W] int64
    temperature: float = 1.0,
    ignore_index: int = 255,
) -> Tensor:  # []
    """Knowledge distillation (Hinton et al., 2015): T^2 KL(softmax(teacher / T) || softmax(student / T))
    per pixel, the mean over the labelled pixels (padding carries no label, and no teacher). The T^2
    keeps the gradient's scale independent of T. 0 (with a gradient) when no pixel is labelled."""
    keep = labels != ignore_index
    if not keep.any():
        return student.sum() * 0.0
    log_p = F.log_softmax(student / temperature, dim=1)
    log_q = F.log_softmax(teacher.detach() / temperature, dim=1)
    kl = (log_q.exp() * (log_q - log_p)).sum(1)  # [B, H, W]
    return temperature**2 * kl[keep].mean()


class FusionLoss(nn.Module):
    """The training loss: cross-entropy + ceco_weight * CeCo + depth_weight * L1 depth
    + distill_weight * the distillation KL to a teacher's logits.

    Args:
        config: weights and switches.
        num_classes: K.
        embedding_dim: E of the model's embedding (``VDVINet.embedding_dim``); CeCo needs E >= K.
    """

    def __init__(self, config: FusionLossConfig, num_classes: int, embedding_dim: int):
        super().__init__()
        self.config = config
        self.num_classes = num_classes
        etf = simplex_etf(num_classes, embedding_dim) if config.ceco_weight > 0 else torch.empty(0, embedding_dim)
        self.register_buffer("etf", etf, persistent=False)

    def forward(
        self,
        output: FusionOutput,  # of VDVINet.forward_with_embedding
        labels: Tensor,  # [B, H, W] uint8 or int64, ignore_index where unlabelled
        depth: Tensor | None = None,  # [B, H, W] metres; needed when depth_weight > 0
        teacher: Tensor | None = None,  # [B, K, H, W] a teacher's logits; needed when distill_weight > 0
    ) -> dict[str, Tensor]:  # "total" and each active term, each []
        """The total loss and its terms (for logging). A late-fusion output's loss is the sum of
        its heads' (``output.branches``: each head learns as its single-input model would)."""
        if output.branches:
            parts = [self(branch, labels, depth, teacher) for branch in output.branches]
            return {k: sum(p[k] for p in parts) for k in parts[0]}
        cfg = self.config
        B, K, H, W = output.logits.shape
        if K != self.num_classes:
            raise ValueError(f"the model predicts {K} classes but the loss was built for {self.num_classes}")
        if labels.shape != (B, H, W):
            raise ValueError(f"labels must be [B, H, W] = {[B, H, W]} like the logits; got {list(labels.shape)}")
        labels = check_labels(labels, K, cfg.ignore_index)
        terms = {"ce": segmentation_ce(output.logits, labels, cfg.label_smoothing, cfg.ignore_index)}
        total = terms["ce"]
        if cfg.ceco_weight > 0:
            terms["ceco"] = ceco_loss(output.embedding, labels, self.etf, cfg.ceco_temperature, cfg.ignore_index)
            total = total + cfg.ceco_weight * terms["ceco"]
        if cfg.depth_weight > 0:
            if output.depth is None:
                raise ValueError("depth_weight > 0 needs a model built with depth_head=True")
            if depth is None or depth.shape != (B, H, W):
                got = None if depth is None else list(depth.shape)
                raise ValueError(f"depth_weight > 0 needs a depth target [B, H, W] = {[B, H, W]}; got {got}")
            terms["depth"] = depth_l1(output.depth, depth)
            total = total + cfg.depth_weight * terms["depth"]
        if cfg.distill_weight > 0:
            if teacher is None or teacher.shape != output.logits.shape:
                got = None if teacher is None else list(teacher.shape)
                raise ValueError(f"distill_weight > 0 needs a teacher's logits [B, K, H, W] = {[B, K, H, W]}; got {got}")
            terms["distill"] = distillation_kl(output.logits, teacher, labels, cfg.distill_temperature, cfg.ignore_index)
            total = total + cfg.distill_weight * terms["distill"]
        terms["total"] = total
        return terms
