"""Late fusion: a training step of the joined model is the two single-input models' steps, the join
keeps each source's outputs, and `rtgs2 train join` writes the file and its card or refuses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from rtgs2 import cli
from rtgs2.fusion.io import load_fusion, read_fusion_file, save_fusion
from rtgs2.fusion.late import join_late, join_late_files
from rtgs2.fusion.loss_config import FusionLossConfig
from rtgs2.fusion.losses import FusionLoss
from rtgs2.fusion.vdvi import VDVINet, build_fusion, upsample_logits
from rtgs2.train.config import FusionTrainConfig
from rtgs2.train.fusion import _optimizer, clip_gradients
from rtgs2.utils.errors import CheckpointMismatchError, ConfigError

K, D = 4, 8
NAMES = ["wall", "floor", "chair", "table"]


def _pair(**size) -> tuple[VDVINet, VDVINet]:
    torch.manual_seed(0)
    image = build_fusion("small", "image", num_classes=K, feature_dim=D, class_names=NAMES, **size)
    features = build_fusion("small", "features", num_classes=K, feature_dim=D, class_names=NAMES, **size)
    return image, features


def _batch(B: int = 2, H: int = 32, W: int = 48) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    image, features = torch.rand(B, 3, H, W, generator=g), torch.randn(B, D, H // 4, W // 4, generator=g)
    return image, features, torch.randint(0, K, (B, H, W), generator=g)


def test_the_joined_model_keeps_each_sources_outputs() -> None:
    image_model, z_model = _pair()
    late = join_late(image_model.eval(), z_model.eval())
    assert late.config["fusion"] == "late" and late.config["size"] == "small" and late.class_names == NAMES
    image, features, _ = _batch()
    with torch.no_grad():
        out = late.forward_with_embedding(image, features)
        torch.testing.assert_close(out.branches[0].logits, image_model(image, None), rtol=0, atol=0)
        torch.testing.assert_close(out.branches[1].logits, z_model(None, features), rtol=0, atol=0)
        # the product of the experts at stride 4, upsampled: what the per-frame path's coarse logits give
        coarse, h, w = late.coarse_logits(image, features)
        expected = [m.coarse_logits(*inputs)[0].log_softmax(1) for m, inputs in ((image_model, (image, None)), (z_model, (None, features)))]
        torch.testing.assert_close(coarse, (expected[0] + expected[1]) / 2)
        torch.testing.assert_close(late(image, features), upsample_logits(coarse, h, w), rtol=0, atol=0)
    assert (h, w) == (32, 48) and coarse.shape == (2, K, 8, 16)  # the width padded to 64


def test_a_late_training_step_is_the_two_single_input_models_steps() -> None:
    """Per-head losses, gradients clipped per branch, AdamW per parameter: one step of the joined
    model moves each branch exactly as a step of its source model on the same batch does."""
    image_model, z_model = _pair(decoder_dropout=0.0)  # no dropout: the same forward in both runs
    late = join_late(image_model, z_model).train()
    image_model.train(), z_model.train()
    cfg = FusionTrainConfig(grad_clip=1e-3)  # so small that every step is clipped
    loss_fn = FusionLoss(FusionLossConfig(), K, late.embedding_dim)
    image, features, labels = _batch()
    for model, inputs in ((late, (image, features)), (image_model, (image, None)), (z_model, (None, features))):
        optimizer = _optimizer(model, cfg)
        loss = loss_fn(model.forward_with_embedding(*inputs), labels)["total"]
        optimizer.zero_grad()
        loss.backward()
        clip_gradients(model, cfg.grad_clip)
        optimizer.step()
    stepped = join_late(image_model, z_model).state_dict()
    for name, value in late.state_dict().items():
        torch.testing.assert_close(value, stepped[name], rtol=1e-5, atol=1e-7, msg=name)
    # while a clip over all of the model's parameters at once would have moved them otherwise
    assert cfg.grad_clip > 0 and len(late.parameter_groups()) == 2


def test_the_late_loss_is_the_sum_of_its_heads_losses() -> None:
    late = join_late(*_pair())
    image, features, labels = _batch()
    loss_fn = FusionLoss(FusionLossConfig(), K, late.embedding_dim)
    with torch.no_grad():
        out = late.train().forward_with_embedding(image, features)
        terms = loss_fn(out, labels)
        parts = [loss_fn(b, labels) for b in out.branches]
    assert set(terms) == {"ce", "ceco", "total"}
    for k in terms:
        torch.testing.assert_close(terms[k], parts[0][k] + parts[1][k])


def test_models_that_cannot_be_branches_of_one_network_are_refused() -> None:
    image_model, z_model = _pair()
    with pytest.raises(CheckpointMismatchError, match="the image model has inputs='features', not 'image'"):
        join_late(z_model, z_model)
    other = build_fusion("small", "features", num_classes=K + 1, feature_dim=D)
    with pytest.raises(CheckpointMismatchError, match="num_classes: image model 4, Z model 5"):
        join_late(image_model, other)
    wider = build_fusion("small", "features", num_classes=K, feature_dim=D, class_names=NAMES, decoder_dim=32)
    with pytest.raises(CheckpointMismatchError, match="decoder: image model 64 wide, Z model 32"):
        join_late(image_model, wider)


def test_config_round_trip_and_files_from_before_late_fusion_are_mid(tmp_path: Path) -> None:
    late = join_late(*_pair())
    save_fusion(late, tmp_path / "late.pt")
    loaded = load_fusion(tmp_path / "late.pt")
    assert loaded.config == late.config and loaded.fusion == "late"
    image, features, _ = _batch()
    with torch.no_grad():
        assert torch.equal(loaded(image, features), late.eval()(image, features))
    old = tmp_path / "old.pt"  # a file written before the option: its config has no "fusion"
    mid = build_fusion("small", "both", num_classes=K, feature_dim=D)
    config = mid.config
    del config["fusion"]
    torch.save({"format": "rtgs2-fusion-1", "config": json.dumps(config), "state_dict": mid.state_dict()}, old)
    assert read_fusion_file(old)[0]["fusion"] == "mid" and load_fusion(old).fuse is not None


def test_the_training_config_refuses_late_fusion_where_it_cannot_apply() -> None:
    assert FusionTrainConfig(fusion="late").fusion == "late"
    with pytest.raises(ConfigError, match="fusion 'late' \\(an image head and a Z head\\) needs inputs 'both', not 'image'"):
        FusionTrainConfig(fusion="late", inputs="image")
    for flag in ({"depth_weight": 0.5}, {"feature_dropout": 0.3}):
        with pytest.raises(ConfigError, match="takes no depth head and no Z dropout"):
            FusionTrainConfig(fusion="late", **flag)


def test_train_join_writes_the_weights_and_a_card_of_both_sources(tmp_path: Path, capsys) -> None:
    image_model, z_model = _pair()
    save_fusion(image_model, tmp_path / "image.pt")
    save_fusion(z_model, tmp_path / "z.pt")
    stats = {"mean": [0.0] * D, "std": [1.0] * D, "scenes": 2, "gaussians": 10}
    (tmp_path / "z.json").write_text(json.dumps({"data": "rooms", "train_scenes": ["a", "b"], "feature_weights": "f.pt",
                                                 "feature_weights_sha256": "ab" * 32, "feature_stats": stats}))  # fmt: skip
    (tmp_path / "image.json").write_text(json.dumps({"data": "rooms", "train_scenes": ["a"]}))
    out = tmp_path / "new" / "late.pt"  # its folder made
    cli.entrypoint(["train", "join", "--image", str(tmp_path / "image.pt"), "--features", str(tmp_path / "z.pt"), "--out", str(out)])
    assert f"late-fusion weights: {out}" in capsys.readouterr().out
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["feature_stats"] == stats and card["feature_weights_sha256"] == "ab" * 32 and card["train_scenes"] == ["a", "b"]
    assert card["joined"]["image"]["card"]["train_scenes"] == ["a"] and len(card["joined"]["features"]["sha256"]) == 64
    assert "different scenes" in card["note"] and card["model"].endswith("late fusion (joined)")
    assert load_fusion(out).fusion == "late"
    before = out.read_bytes()
    with pytest.raises(SystemExit) as exit_info:  # nothing a user wrote is overwritten
        cli.entrypoint(["train", "join", "--image", str(tmp_path / "image.pt"), "--features", str(tmp_path / "z.pt"), "--out", str(out)])
    assert exit_info.value.code == 2 and "exists: choose another --out" in capsys.readouterr().err
    assert out.read_bytes() == before
    with pytest.raises(CheckpointMismatchError, match="inputs='features', not 'image'"):
        join_late_files(tmp_path / "z.pt", tmp_path / "z.pt", tmp_path / "bad.pt")
    assert not (tmp_path / "bad.pt").exists()
