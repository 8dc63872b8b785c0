"""Training configs (plain dataclasses, no torch: the CLI builds its ``--help`` from them)."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Literal


def _check_fields(cfg) -> None:
    """Types and finiteness of every int / float field of a config dataclass."""
    name = type(cfg).__name__
    for f in fields(cfg):
        v = getattr(cfg, f.name)
        if f.type == "int" and (not isinstance(v, int) or isinstance(v, bool)):
            raise ValueError(f"{name}.{f.name} must be an integer, got {v!r}")
        if f.type == "float" and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)):
            raise ValueError(f"{name}.{f.name} must be a finite number, got {v!r}")


@dataclass(frozen=True)
class FeatureTrainConfig:
    """Contrastive pre-training of the Gaussian feature network (PointContrast / PointInfoNCE)."""

    size: Literal["small", "paper"] = "small"
    """Network size (rtgs2.features.ptv3.VARIANTS)."""
    steps: int = 6000
    """Optimisation steps."""
    pairs_per_step: int = 2
    """View pairs per step, over all processes (each pair is two samples)."""
    optimizer: Literal["adam", "adamw"] = "adam"
    """Optimiser (paper: Adam)."""
    lr: float = 1e-3
    """Peak learning rate (paper: 1e-3)."""
    weight_decay: float = 1e-5
    """Weight decay (paper: 1e-5)."""
    schedule: Literal["cosine", "constant"] = "cosine"
    """Learning-rate schedule after the warm-up: cosine decay to 1% of the peak, or constant."""
    warmup_steps: int = 200
    """Linear warm-up steps."""
    grad_clip: float = 1.0
    """Gradient-norm clip (paper: 1.0); 0 = none."""
    temperature: float = 0.07
    """InfoNCE temperature (paper: 0.07)."""
    num_correspondences: int = 4096
    """Matched Gaussians sampled per pair (the similarity matrix is this square)."""
    overlap_min: float = 0.3
    """Least IoU of the two views' visible-Gaussian sets for a pair."""
    overlap_max: float = 0.8
    """Most IoU of a pair (near-identical views teach little)."""
    max_points: int = 24_000
    """Gaussians kept per sample after voxel subsampling (bounds a step's cost)."""
    subsample_grid: float = 0.02
    """Voxel edge of the random subsampling of each sample, metres."""
    rotate_degrees: float = 180.0
    """Random rotation about z, +- degrees."""
    scale_min: float = 0.6
    """Least random scale factor."""
    scale_max: float = 1.2
    """Largest random scale factor."""
    colour_jitter: float = 0.2
    """Brightness and contrast jitter, fraction."""
    opacity_jitter: float = 0.3
    """Std-dev of the noise on opacity logits."""
    seed: int = 0
    """Seed of the weights' initialisation, the pairs and the augmentations."""
    num_threads: int = 0
    """torch CPU threads (0 = leave as is)."""
    checkpoint_every: int = 100
    """Steps between checkpoints."""
    eval_every: int = 250
    """Steps between evaluations of retrieval accuracy on held-out pairs (0 = only at the end)."""
    eval_pairs: int = 24
    """Held-out view pairs per evaluation (fixed, seeded)."""

    def __post_init__(self) -> None:
        _check_fields(self)
        for name in ("steps", "pairs_per_step", "num_correspondences", "max_points", "checkpoint_every", "eval_pairs"):
            if getattr(self, name) <= 0:
                raise ValueError(f"FeatureTrainConfig.{name} must be positive, got {getattr(self, name)}")
        for name in ("warmup_steps", "seed", "num_threads", "eval_every", "weight_decay", "grad_clip"):
            if getattr(self, name) < 0:
                raise ValueError(f"FeatureTrainConfig.{name} must be non-negative, got {getattr(self, name)}")
        for name in ("lr", "temperature", "subsample_grid"):
            if getattr(self, name) <= 0:
                raise ValueError(f"FeatureTrainConfig.{name} must be positive, got {getattr(self, name)}")
        if not 0 <= self.overlap_min < self.overlap_max <= 1:
            raise ValueError(f"FeatureTrainConfig.overlap_min < overlap_max must lie in [0, 1], got {self.overlap_min}, {self.overlap_max}")
        if not 0 < self.scale_min <= self.scale_max:
            raise ValueError(f"FeatureTrainConfig.scale_min must be positive and <= scale_max, got {self.scale_min}, {self.scale_max}")
        if self.size not in ("small", "paper"):
            raise ValueError(f"FeatureTrainConfig.size must be 'small' or 'paper', got {self.size!r}")
