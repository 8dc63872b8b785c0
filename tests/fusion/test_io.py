"""Fusion weights round trip, mismatch errors, and ImageNet backbone weights loaded by name."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from rtgs2.fusion.io import (
    fusion_weights_path, load_backbone_weights, load_fusion, load_fusion_weights, load_pruned_weights, read_fusion_card,
    save_fusion,
)  # fmt: skip
from rtgs2.fusion.vdvi import VDVINet, build_fusion, vdvi_paper
from rtgs2.utils.errors import CheckpointError, CheckpointMismatchError, Rtgs2Error

K = 4


def test_save_load_round_trip_gives_identical_outputs(tmp_path: Path) -> None:
    torch.manual_seed(0)
    names = ["wall", "floor", "chair", "table"]
    model = build_fusion("small", "both", num_classes=K, depth_head=True, class_names=names)
    path = tmp_path / "fusion.pt"
    save_fusion(model, path)
    assert [p.name for p in tmp_path.iterdir()] == ["fusion.pt"]  # no temporary left behind
    loaded = load_fusion(path)
    assert not loaded.training  # ready for inference, as load_feature_net's networks are
    assert loaded.config == model.config
    assert loaded.class_names == names
    image, features = torch.rand(1, 3, 24, 40), torch.randn(1, 32, 6, 10)  # Z at a quarter of the image's size
    with torch.no_grad():
        a = model.eval().forward_with_embedding(image, features)
        b = loaded.eval().forward_with_embedding(image, features)
    for x, y in zip(a[:3], b[:3]):  # logits, embedding, depth
        assert torch.equal(x, y)
    # loading into a fresh model of the same variant gives the same weights
    fresh = build_fusion("small", "both", num_classes=K, depth_head=True)
    load_fusion_weights(fresh, path)
    assert all(torch.equal(v, loaded.state_dict()[k]) for k, v in fresh.state_dict().items())


def test_loading_another_variant_names_the_mismatch(tmp_path: Path) -> None:
    path = tmp_path / "fusion.pt"
    save_fusion(build_fusion("small", "image", num_classes=K), path)
    with pytest.raises(CheckpointMismatchError, match="inputs: file has 'image', this model 'both'"):
        load_fusion_weights(build_fusion("small", "both", num_classes=K), path)
    with pytest.raises(CheckpointMismatchError, match="num_classes: file has 4, this model 7"):
        load_fusion_weights(build_fusion("small", "image", num_classes=7), path)
    with pytest.raises(CheckpointMismatchError, match="feature_dim: file has 32, expected 16"):
        load_fusion(path, expect={"feature_dim": 16})


def test_weights_that_do_not_fit_name_the_keys(tmp_path: Path) -> None:
    path = tmp_path / "fusion.pt"
    model = build_fusion("small", "image", num_classes=K)
    save_fusion(model, path)
    payload = torch.load(path, weights_only=True)
    payload["state_dict"]["decode_head.classifier.weight"] = torch.zeros(9, 64)
    del payload["state_dict"]["vd.bn1.bias"]
    torch.save(payload, path)
    expected = r"missing 1 \(vd\.bn1\.bias\).*decode_head\.classifier\.weight \[9, 64\] vs \[4, 64\]"
    with pytest.raises(CheckpointMismatchError, match=expected):
        load_fusion(path)


def test_a_small_model_starts_a_fast_one_with_its_first_blocks(tmp_path: Path) -> None:
    torch.manual_seed(0)
    small = build_fusion("small", "both", num_classes=K)
    path = tmp_path / "small.pt"
    save_fusion(small, path)
    fast = build_fusion("fast", "both", num_classes=K)
    dropped = load_pruned_weights(fast, path)
    assert dropped == ["vd.layer3.1", "vd.layer3.2", "vi.block.0.0"]
    kept = small.state_dict()
    assert all(torch.equal(v, kept[k]) for k, v in fast.state_dict().items())
    # the left-out blocks are residual: with them zeroed (each adds nothing), small == fast
    with torch.no_grad():
        for name in dropped:
            block = small.get_submodule(name)
            last = [block.bn2] if hasattr(block, "bn2") else [block.attention.output.dense, block.mlp.dense2]
            for m in last:
                m.weight.zero_()
                m.bias.zero_()
    image, features = torch.rand(1, 3, 32, 48), torch.randn(1, 32, 8, 12)
    with torch.no_grad():
        torch.testing.assert_close(fast.eval()(image, features), small.eval()(image, features))


@pytest.mark.parametrize(
    "saved, target, message",
    [
        (("small", "image", {}), ("fast", "both", {}), "inputs: file has 'image', this model 'both'"),
        (("small", "image", {}), ("fast", "image", {"num_classes": 5}), "num_classes: file has 4, this model 5"),
        (("small", "both", {}), ("fast", "both", {"vi_widths": (32, 64, 120, 256)}), "another shape"),  # not a pruning
        (("fast", "both", {}), ("small", "both", {}), r"missing .*vd\.layer3\.1"),  # fewer blocks than the model
        (("small", "both", {"depth_head": True}), ("fast", "both", {}), "depth_head: file has True, this model False"),
    ],
)
def test_pruned_loading_refuses_what_does_not_fit(saved, target, message, tmp_path: Path) -> None:
    path = tmp_path / "saved.pt"
    save_fusion(build_fusion(saved[0], saved[1], **{"num_classes": K, **saved[2]}), path)
    with pytest.raises(CheckpointMismatchError, match=message):
        load_pruned_weights(build_fusion(target[0], target[1], **{"num_classes": K, **target[2]}), path)


def test_unreadable_files_raise_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="fusion weights .*nope.pt not found"):
        load_fusion(tmp_path / "nope.pt")
    damaged = tmp_path / "damaged.pt"
    damaged.write_bytes(b"not a torch file")
    with pytest.raises(CheckpointError, match="not a readable fusion weights file"):
        load_fusion(damaged)
    bare = tmp_path / "bare.pt"
    torch.save({"stem.0.weight": torch.zeros(1)}, bare)
    with pytest.raises(CheckpointError, match="bare state dict.*--backbone-weights"):
        load_fusion(bare)


def test_the_card_beside_a_model_is_read_or_refused(tmp_path: Path) -> None:
    model = tmp_path / "fusion.pt"
    assert read_fusion_card(model) == {}  # no card: nothing recorded
    model.with_suffix(".json").write_text('{"feature_weights_sha256": "ab"}')
    assert read_fusion_card(model) == {"feature_weights_sha256": "ab"}
    model.with_suffix(".json").write_text("{not json")
    with pytest.raises(Rtgs2Error, match="fusion.json: not a readable fusion model card"):
        read_fusion_card(model)
    model.with_suffix(".json").write_text("[1, 2]")
    with pytest.raises(Rtgs2Error, match="fusion.json: not a fusion model card"):
        read_fusion_card(model)


def test_missing_weights_say_what_to_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("rtgs2.fusion.io.SHIPPED", tmp_path / "shipped.pt")
    with pytest.raises(FileNotFoundError, match="no shipped fusion weights at .*shipped.pt: pass a fusion model with --weights"):
        fusion_weights_path(None)
    with pytest.raises(FileNotFoundError, match="no fusion weights at .*mine.pt"):
        fusion_weights_path(tmp_path / "mine.pt")
    (tmp_path / "shipped.pt").write_bytes(b"x")
    assert fusion_weights_path(None) == tmp_path / "shipped.pt"


# Key names and shapes as the real files have them (timm convnext_tiny; transformers
# nvidia/mit-b0, whose patch embedding reads RGB), written out here rather than derived from
# the model, so that a renamed parameter fails this test.
TIMM_CONVNEXT_TINY = {
    "stem.0.weight": [96, 3, 4, 4],
    "stem.1.bias": [96],
    "stages.0.blocks.2.conv_dw.weight": [96, 1, 7, 7],
    "stages.0.blocks.0.gamma": [96],
    "stages.1.downsample.0.weight": [96],
    "stages.1.downsample.1.weight": [192, 96, 2, 2],
    "stages.2.blocks.8.norm.weight": [384],
    "stages.3.blocks.2.mlp.fc1.weight": [3072, 768],
    "stages.3.blocks.2.mlp.fc2.bias": [768],
}
TIMM_RESNET = {  # a resnet18d-like file: deep stem, basic blocks, stride-2 blocks with a projection
    "conv1.0.weight": [32, 3, 3, 3],
    "conv1.1.running_var": [32],
    "bn1.weight": [64],
    "layer1.0.conv1.weight": [64, 64, 3, 3],
    "layer1.0.bn2.bias": [64],
    "layer2.0.downsample.0.weight": [128, 64, 1, 1],
    "layer2.0.downsample.1.running_mean": [128],
    "layer3.2.conv2.weight": [256, 256, 3, 3],
    "layer4.0.bn1.num_batches_tracked": [],
}
HF_MIT_B0 = {
    "encoder.patch_embeddings.0.proj.weight": [32, 3, 7, 7],
    "encoder.patch_embeddings.1.layer_norm.weight": [64],
    "encoder.block.0.0.attention.self.sr.weight": [32, 32, 8, 8],
    "encoder.block.0.1.attention.self.layer_norm.bias": [32],
    "encoder.block.1.1.attention.self.query.weight": [64, 64],
    "encoder.block.2.0.mlp.dwconv.dwconv.weight": [640, 1, 3, 3],
    "encoder.block.3.1.attention.output.dense.weight": [256, 256],
    "encoder.block.3.0.mlp.dense1.weight": [1024, 256],
    "encoder.block.1.0.layer_norm_2.bias": [64],
    "encoder.layer_norm.3.weight": [256],
}


def full_state_dict(model, prefix: str, theirs: str) -> dict[str, torch.Tensor]:
    """Random tensors for every parameter of one encoder, under the other library's names."""
    g = torch.Generator().manual_seed(0)
    return {
        theirs + k[len(prefix) :]: torch.randn(v.shape, generator=g)
        for k, v in model.state_dict().items()
        if k.startswith(prefix)
    }


@pytest.fixture(scope="module")
def paper() -> VDVINet:
    return vdvi_paper(inputs="both", num_classes=K)  # Z has 32 channels where mit-b0 reads RGB


def test_backbone_names_exist_with_the_libraries_shapes(paper: VDVINet) -> None:
    own = paper.state_dict()
    for key, shape in TIMM_CONVNEXT_TINY.items():
        assert list(own["vd." + key].shape) == shape, key
    for key, shape in HF_MIT_B0.items():
        if key == "encoder.patch_embeddings.0.proj.weight":
            shape = [32, 32, 3, 3]  # D = 32 input channels instead of 3; Z at stride 4 needs no 7x7 patchify
        assert list(own["vi." + key.removeprefix("encoder.")].shape) == shape, key


def test_backbone_weights_load_by_name(paper: VDVINet, tmp_path: Path) -> None:
    model = paper
    convnext = full_state_dict(model, "vd.", "")
    convnext["head.fc.weight"] = torch.zeros(1000, 768)
    mit = full_state_dict(model, "vi.", "segformer.encoder.")
    mit["segformer.encoder.patch_embeddings.0.proj.weight"] = torch.zeros(32, 3, 7, 7)
    mit["decode_head.classifier.weight"] = torch.zeros(150, 256, 1, 1)
    assert {"stem.0.weight", *TIMM_CONVNEXT_TINY} <= convnext.keys()
    assert {"segformer." + k for k in HF_MIT_B0} <= mit.keys()
    path = tmp_path / "imagenet.pth"
    torch.save({"state_dict": {**convnext, **mit}, "epoch": 300}, path)  # a wrapped training checkpoint

    before = {k: v.clone() for k, v in model.state_dict().items()}
    report = load_backbone_weights(model, path)
    own = model.state_dict()
    assert report.missing == ["vi.patch_embeddings.0.proj.weight"]
    assert sorted(report.skipped) == [
        "decode_head.classifier.weight: not an encoder parameter",
        "head.fc.weight: not an encoder parameter",
        "segformer.encoder.patch_embeddings.0.proj.weight: shape [32, 3, 7, 7], this model's [32, 32, 3, 3]",
    ]
    assert len(report.loaded) == len(convnext) - 1 + len(mit) - 2
    assert torch.equal(own["vd.stages.2.blocks.8.conv_dw.weight"], convnext["stages.2.blocks.8.conv_dw.weight"])
    assert torch.equal(own["vi.block.3.1.mlp.dense2.weight"], mit["segformer.encoder.block.3.1.mlp.dense2.weight"])
    # the decoder and psi are not backbone parameters and stay as they were
    assert all(torch.equal(own[k], before[k]) for k in own if k.startswith(("decode_head.", "fuse.")))
    assert torch.equal(own["vi.patch_embeddings.0.proj.weight"], before["vi.patch_embeddings.0.proj.weight"])


def test_resnet_enc_vd_loads_timm_resnet_names(tmp_path: Path) -> None:
    model = build_fusion("small", "image", num_classes=K, vd_widths=(64, 128, 256, 512))
    own = model.state_dict()
    for key, shape in TIMM_RESNET.items():
        assert list(own["vd." + key].shape) == shape, key
    resnet = full_state_dict(model, "vd.", "")
    resnet = {k: v.float() for k, v in resnet.items() if v.dtype.is_floating_point}
    resnet["conv1.6.weight"] = torch.zeros(64, 32, 3, 3)  # resnet18d's third stem conv: this stem has two
    resnet["fc.weight"] = torch.zeros(1000, 512)
    path = tmp_path / "resnet.pth"
    torch.save(resnet, path)
    report = load_backbone_weights(model, path)
    assert sorted(report.skipped) == ["conv1.6.weight: this model (inputs='image') has no vd.conv1.6.weight",
                                      "fc.weight: not an encoder parameter"]  # fmt: skip
    assert torch.equal(model.state_dict()["vd.layer3.2.conv2.weight"], resnet["layer3.2.conv2.weight"])
    assert torch.equal(model.state_dict()["vd.layer2.0.downsample.1.running_mean"], resnet["layer2.0.downsample.1.running_mean"])


def test_backbone_weights_that_match_nothing_raise(tmp_path: Path) -> None:
    model = build_fusion("small", "features", num_classes=K)
    path = tmp_path / "convnext.pth"
    torch.save({"stem.0.weight": torch.zeros(96, 3, 4, 4)}, path)  # an image encoder; this model has none
    with pytest.raises(Rtgs2Error, match="no tensor matches this model's encoders"):
        load_backbone_weights(model, path)
    with pytest.raises(FileNotFoundError, match="backbone weights .* not found"):
        load_backbone_weights(model, tmp_path / "missing.pth")
