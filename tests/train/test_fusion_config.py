import pytest

from rtgs2.fusion.loss_config import FusionLossConfig
from rtgs2.train.config import FINETUNE, FusionTrainConfig


def test_the_loss_defaults_are_the_loss_configs():
    assert FusionTrainConfig().loss() == FusionLossConfig()
    assert FINETUNE.loss() == FusionLossConfig()


def test_a_depth_weight_gives_the_network_a_depth_head():
    assert not FusionTrainConfig().depth_head
    cfg = FusionTrainConfig(depth_weight=0.5, ceco_weight=0.0, label_smoothing=0.2)
    assert cfg.depth_head
    assert cfg.loss() == FusionLossConfig(label_smoothing=0.2, ceco_weight=0.0, depth_weight=0.5)


def test_negative_loss_weights_are_refused_by_name():
    for name in ("ceco_weight", "depth_weight"):
        with pytest.raises(ValueError, match=f"{name} must be non-negative"):
            FusionTrainConfig(**{name: -0.1})
