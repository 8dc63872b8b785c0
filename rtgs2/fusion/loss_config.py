"""Which loss terms train the fusion network (a plain dataclass: no torch, so the training's
config and the CLI can take their defaults from it)."""

from __future__ import annotations

from dataclasses import dataclass

from rtgs2.utils.errors import ConfigError


@dataclass(frozen=True)
class FusionLossConfig:
    """Which loss terms train the fusion network, and their weights."""

    label_smoothing: float = 0.1
    """label smoothing of the cross-entropy (fraction of the target mass spread over all classes,
    0-1; the paper's LSR); 0 switches it off."""
    ceco_weight: float = 0.4
    """weight lambda of the CeCo term; 0 switches it off."""
    ceco_temperature: float = 0.1
    """temperature of CeCo's logits (cosines between class centres and ETF vertices)."""
    depth_weight: float = 0.0
    """weight of the depth head's L1 loss in metres; 0 switches it off (needs depth_head=True)."""
    distill_weight: float = 0.0
    """weight of the distillation term (a teacher model's per-pixel class distribution, KL); 0 switches it off."""
    distill_temperature: float = 1.0
    """temperature of both models' softmax in the distillation term."""
    ignore_index: int = 255
    """label of pixels that carry no label."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ConfigError(self, "label_smoothing", f"must be in [0, 1), got {self.label_smoothing}")
        for name in ("ceco_weight", "depth_weight", "distill_weight"):
            if getattr(self, name) < 0:
                raise ConfigError(self, name, f"must be >= 0, got {getattr(self, name)}")
        for name in ("ceco_temperature", "distill_temperature"):
            if getattr(self, name) <= 0:
                raise ConfigError(self, name, f"must be > 0, got {getattr(self, name)}")
