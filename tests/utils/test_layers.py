"""The layers both networks share: stochastic depth drops whole rows, and the networks built on
the shared layers still load every shipped weights file strictly (same parameter names)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import rtgs2
from rtgs2.utils.layers import DropPath, Mlp

WEIGHTS = Path(rtgs2.__file__).parent


def test_drop_path_drops_whole_rows_in_training_only() -> None:
    torch.manual_seed(0)
    x = torch.ones(64, 3, 5)
    drop = DropPath(0.5).train()
    y = drop(x)
    per_row = y.flatten(1)
    assert all(len(set(row.tolist())) == 1 for row in per_row)  # a row is kept (x2) or dropped (0) whole
    assert set(per_row[:, 0].tolist()) == {0.0, 2.0}
    assert torch.equal(drop.eval()(x), x) and torch.equal(DropPath(0.0).train()(x), x)


def test_mlp_keeps_timm_names() -> None:
    assert list(Mlp(4, 8).state_dict()) == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]


@pytest.mark.parametrize("path", sorted((WEIGHTS / "fusion" / "weights").glob("*.pt")), ids=lambda p: p.name)
def test_shipped_fusion_weights_load_strictly(path: Path) -> None:
    from rtgs2.fusion.io import read_fusion_file
    from rtgs2.fusion.vdvi import VARIANTS

    config, state = read_fusion_file(path)  # fills in what files from before a config field lack
    model = VARIANTS[config.pop("size")](**config)
    model.load_state_dict(state, strict=True)


@pytest.mark.parametrize("path", sorted((WEIGHTS / "features" / "weights").glob("*.pt")), ids=lambda p: p.name)
def test_shipped_feature_weights_load_strictly(path: Path) -> None:
    from rtgs2.features.ptv3 import GaussianFeatureNet, PTv3Config

    blob = torch.load(path, map_location="cpu", weights_only=True)
    GaussianFeatureNet(PTv3Config.from_json(blob["config"])).load_state_dict(blob["state_dict"], strict=True)


def test_inference_copy_leaves_the_callers_model_alone():
    import torch

    from rtgs2.utils.layers import inference_copy

    model = torch.nn.Linear(2, 2).train()
    ready = inference_copy(model, "cpu")
    assert ready is not model and not ready.training and model.training  # a training model is copied
    model.eval()
    assert inference_copy(model, "cpu") is model  # already there and in eval mode: no copy
