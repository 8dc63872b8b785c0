"""The VDVI network: every size x input variant runs, trains and checks its inputs; the variants
take size overrides and refuse bad sizes naming the field."""

from __future__ import annotations

import dataclasses
import json
from typing import get_args, get_type_hints

import pytest
import torch
import torch.nn as nn

from rtgs2.fusion.vdvi import (
    FUSIONS,
    INPUTS,
    SIZES,
    SMALL,
    VARIANTS,
    MixTransformerEncoder,
    VDVINet,
    build_fusion,
    vdvi_paper,
    vdvi_small,
)
from rtgs2.train.config import FusionTrainConfig

K, D = 5, 32


def make_inputs(B: int = 2, H: int = 29, W: int = 45, D: int = D, stride: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    """An image [B, 3, H, W] and Z [B, D, ceil(H / stride), ceil(W / stride)] (the variants read Z at stride 4)."""
    g = torch.Generator().manual_seed(0)
    return torch.rand(B, 3, H, W, generator=g), torch.randn(B, D, -(-H // stride), -(-W // stride), generator=g)


@pytest.mark.parametrize("inputs", INPUTS)
@pytest.mark.parametrize("size", sorted(VARIANTS))
def test_variant_shapes_and_gradients(size: str, inputs: str) -> None:
    torch.manual_seed(0)
    model = build_fusion(size, inputs, num_classes=K, depth_head=True).train()
    image, features = make_inputs()  # odd H != W: padded to 32 x 64 inside, cropped back
    out = model.forward_with_embedding(image, features)
    size = (29, 45) if inputs != "features" else (32, 48)  # Z alone: 4 x Z's size (8 x 12)
    assert out.logits.shape == (2, K, *size)
    assert out.embedding.shape == (2, model.embedding_dim, 8, 12)  # ceil(29 / 4), ceil(45 / 4)
    assert out.depth.shape == (2, 1, *size) and out.branches == ()
    tensors = (out.logits, out.embedding, out.depth)
    for t in tensors:
        assert torch.isfinite(t).all()
    g = torch.Generator().manual_seed(1)
    loss = sum((t * torch.randn(t.shape, generator=g)).sum() for t in tensors)
    loss.backward()
    no_grad = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not no_grad, f"parameters without a finite gradient: {no_grad[:5]}"
    zero = [n for n, p in model.named_parameters() if p.grad.abs().max() == 0]
    assert not zero, f"parameters with an all-zero gradient: {zero[:5]}"


@pytest.mark.parametrize("size", sorted(VARIANTS))
def test_late_fusion_averages_its_two_heads_log_probabilities_and_trains_both(size: str) -> None:
    torch.manual_seed(0)
    model = build_fusion(size, "both", fusion="late", num_classes=K).train()
    assert model.fuse is None and model.image_head is not None and model.config["fusion"] == "late"
    image, features = make_inputs()
    out = model.forward_with_embedding(image, features)
    assert out.logits.shape == (2, K, 29, 45) and out.depth is None and len(out.branches) == 2
    image_branch, z_branch = out.branches
    for branch in out.branches:
        assert branch.logits.shape == (2, K, 29, 45) and branch.embedding.shape == (2, model.embedding_dim, 8, 12)
    # the mean of the heads' log-probabilities (taken at stride 4, then upsampled): the same arg-max almost everywhere
    expected = (image_branch.logits.log_softmax(1) + z_branch.logits.log_softmax(1)) / 2
    assert (out.logits.argmax(1) == expected.argmax(1)).float().mean() > 0.95
    # the image head reads the image alone, the Z head Z alone: nothing of one input reaches the other head
    with torch.no_grad():
        other = model.eval().forward_with_embedding(image, features.flip(-1))
        again = model.forward_with_embedding(image, features)
    torch.testing.assert_close(other.branches[0].logits, again.branches[0].logits)
    assert not torch.allclose(other.branches[1].logits, again.branches[1].logits)
    model.train()
    g = torch.Generator().manual_seed(1)
    loss = sum((b.logits * torch.randn(b.logits.shape, generator=g)).sum() + b.embedding.sum() for b in out.branches)
    loss.backward()
    no_grad = [n for n, p in model.named_parameters() if p.grad is None or p.grad.abs().max() == 0]
    assert not no_grad, f"parameters without a gradient: {no_grad[:5]}"
    groups = model.parameter_groups()  # each branch's parameters, clipped apart, cover the model once
    assert len(groups) == 2 and sum(len(g) for g in groups) == len(list(model.parameters()))
    assert {id(p) for g in groups for p in g} == {id(p) for p in model.parameters()}


def test_late_fusion_is_only_for_both_inputs_and_has_no_depth_head() -> None:
    assert FUSIONS == ("mid", "late")
    for inputs in ("image", "features"):
        with pytest.raises(ValueError, match=f"fusion='late' joins the image's and Z's heads: only for inputs='both', not '{inputs}'"):
            build_fusion("small", inputs, fusion="late", num_classes=K)
    with pytest.raises(ValueError, match="fusion='late' has no depth head"):
        build_fusion("small", "both", fusion="late", num_classes=K, depth_head=True)
    with pytest.raises(ValueError, match="fusion must be one of mid, late; got 'early'"):
        build_fusion("small", "both", fusion="early", num_classes=K)
    assert len(build_fusion("small", "both", num_classes=K).parameter_groups()) == 1  # mid: clipped as one


def test_inputs_switch_builds_only_the_needed_encoders() -> None:
    image_only = build_fusion("small", "image", num_classes=K).eval()  # BatchNorm: a 1 x 1 map at stride 32
    features_only = build_fusion("small", "features", num_classes=K)
    both = build_fusion("small", "both", num_classes=K)
    assert image_only.vi is None and image_only.fuse is None and image_only.vd is not None
    assert features_only.vd is None and features_only.fuse is None and features_only.vi is not None
    assert both.vd is not None and both.vi is not None and len(both.fuse) == 3
    image, features = make_inputs(B=1, H=32, W=32)
    # each single-input model runs without the input it does not read
    assert image_only(image, None).shape == (1, K, 32, 32)
    assert features_only(None, features).shape == (1, K, 32, 32)


def test_output_depends_on_the_inputs_each_variant_reads() -> None:
    torch.manual_seed(0)
    image, features = make_inputs(B=1, H=32, W=48)
    other_image, other_features = make_inputs(B=1, H=32, W=48)
    other_image, other_features = other_image.flip(-1), other_features.flip(-1)
    reads = {"both": (True, True), "image": (True, False), "features": (False, True)}
    for inputs, (image_matters, features_matter) in reads.items():
        model = build_fusion("small", inputs, num_classes=K).eval()
        with torch.no_grad():
            base = model(image, features)
            assert (not torch.equal(base, model(other_image, features))) == image_matters, inputs
            assert (not torch.equal(base, model(image, other_features))) == features_matter, inputs


def test_padding_does_not_leak_into_the_crop_size() -> None:
    model = build_fusion("small", "both", num_classes=K).eval()
    for H, W in [(1, 1), (32, 32), (33, 31), (240, 320)]:
        image, features = make_inputs(B=1, H=H, W=W)
        with torch.no_grad():
            assert model(image, features).shape == (1, K, H, W)


def test_bad_inputs_raise_a_clear_value_error() -> None:
    model = build_fusion("small", "both", num_classes=K)
    image, features = make_inputs(B=1, H=32, W=32)
    with pytest.raises(ValueError, match=r"needs features \[B, 32, H / 4, W / 4\]; got None"):
        model(image, None)
    with pytest.raises(ValueError, match="needs image"):
        model(None, features)
    with pytest.raises(ValueError, match=r"features must be \[B, 32, H / 4, W / 4\]; got \[1, 16, 8, 8\]"):
        model(image, features[:, :16])
    with pytest.raises(ValueError, match=r"image must be \[B, 3, H, W\]; got \[3, 32, 32\]"):
        model(image[0], features)
    with pytest.raises(ValueError, match=r"differ in batch or size: features must be \[1, 32, 8, 8\]"):
        model(image, features[..., :4])
    with pytest.raises(ValueError, match="differ in batch or size"):  # Z at the image's size: the old contract
        model(image, torch.randn(1, D, 32, 32))
    with pytest.raises(ValueError, match="must be a float tensor"):
        model((image * 255).to(torch.uint8), features)
    with pytest.raises(ValueError, match="inputs must be one of both, image, features"):
        build_fusion("small", "rgb", num_classes=K)
    with pytest.raises(ValueError, match="unknown fusion size 'tiny'"):
        build_fusion("tiny", num_classes=K)
    with pytest.raises(ValueError, match="2 class names for num_classes=5"):
        build_fusion("small", num_classes=K, class_names=["a", "b"])


def test_drop_path_is_random_in_training_only() -> None:
    torch.manual_seed(0)
    model = build_fusion("small", "both", num_classes=K, drop_path_rate=0.5)
    image, features = make_inputs(B=4, H=32, W=32)
    model.decode_head.dropout.p = 0.0  # isolate stochastic depth
    with torch.no_grad():
        model.train()
        assert not torch.equal(model(image, features), model(image, features))
        model.eval()
        assert torch.equal(model(image, features), model(image, features))


def test_paper_encoders_match_convnext_tiny_and_mit_b0() -> None:
    """Parameter counts of timm's convnext_tiny without its head (28,589,128 - 770,536) and of
    transformers' mit-b0 encoder (SegFormer-B0 on ADE20K, 3,752,694, minus its 433,302-parameter
    decode head): a different block layout would not land on these numbers."""
    model = vdvi_paper(inputs="image", num_classes=K)
    assert sum(p.numel() for p in model.vd.parameters()) == 27_818_592
    mit_b0 = MixTransformerEncoder(3, (2, 2, 2, 2), (32, 64, 160, 256), (1, 2, 5, 8), (8, 4, 2, 1), 4, (7, 3, 3, 3))
    assert sum(p.numel() for p in mit_b0.parameters()) == 3_319_392


def test_renderer_layout_inputs_give_the_same_logits() -> None:
    """The renderer gives [H, W, C] images; permuted, they are channels-last views, which the
    model reads without a copy and must treat exactly as contiguous NCHW tensors."""
    model = build_fusion("small", "both", num_classes=K).eval()
    image, features = make_inputs(B=1, H=32, W=40)
    image_hwc, features_hwc = image[0].permute(1, 2, 0).contiguous(), features[0].permute(1, 2, 0).contiguous()
    with torch.no_grad():
        expected = model(image, features)
        got = model(image_hwc.permute(2, 0, 1)[None], features_hwc.permute(2, 0, 1)[None])
    assert torch.equal(got, expected)  # both are made channels-last before the first conv


def test_variant_functions_take_size_fields_and_the_config_rebuilds_them() -> None:
    """Like ``ptv3_small(**overrides)``: size fields override the variant's, the rest go to VDVINet."""
    assert vdvi_small(decoder_dim=64, num_classes=K).config == vdvi_small(num_classes=K).config  # the default
    model = vdvi_small(decoder_dim=96, vd_depths=[1, 1, 1, 1], num_classes=K)  # a list, as JSON gives it back
    assert model.embedding_dim == 96 and model.size.vd_depths == (1, 1, 1, 1) and model.size.name == "small"
    config = json.loads(json.dumps(model.config))
    assert config["decoder_dim"] == 96 and "vi_widths" not in config  # only what differs from the variant
    rebuilt = VARIANTS[config.pop("size")](**config)
    assert rebuilt.config == model.config
    assert rebuilt.state_dict().keys() == model.state_dict().keys()
    assert all(rebuilt.state_dict()[k].shape == v.shape for k, v in model.state_dict().items())
    assert build_fusion("small", num_classes=K, fusion_key_dim=8).size.fusion_key_dim == 8


def test_variants_are_named_once() -> None:
    assert list(VARIANTS) == list(SIZES)
    # the training config lists the names again, without torch, for the CLI's --help
    assert set(get_args(get_type_hints(FusionTrainConfig)["size"])) == set(VARIANTS)
    for name, make in VARIANTS.items():
        assert SIZES[name].name == name and make(num_classes=K).config["size"] == name


@pytest.mark.parametrize(
    "field, value",
    [
        ("decoder_dim", 0),
        ("vd_depths", (1, 1, 3)),
        ("vi_heads", (1, 2, 0, 8)),
        ("vi_widths", (32, 64, 161, 256)),
        ("vi_widths", (32, 63, 160, 256)),
        ("vi_patch_sizes", (6, 3, 3, 3)),
        ("vi_mlp_ratio", 1.5),
        ("decoder_dropout", 1.0),
        ("feature_stride", 2),
        ("feature_stride", 16),
        ("vd_block", "vit"),
        ("vd_depths", (1, 0, 3, 1)),  # a ResNet stage starts with its downsampling block
    ],
)
def test_a_bad_size_value_raises_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=rf"^VDVISize\.{field}\b"):
        vdvi_small(num_classes=K, **{field: value})


def test_a_size_of_no_variant_is_refused() -> None:
    with pytest.raises(ValueError, match="VDVISize.name must be one of paper, small, fast; got 'tiny'"):
        VDVINet(dataclasses.replace(SMALL, name="tiny"), num_classes=K)
    with pytest.raises(TypeError):  # the name is the variant's, not an override
        vdvi_small(num_classes=K, name="paper")


@pytest.mark.parametrize("inputs", ["both", "features"])
def test_z_at_a_quarter_or_at_full_resolution(inputs: str, tmp_path) -> None:
    """The variants read Z at ceil(H / 4) x ceil(W / 4) through a stride-1 stem; feature_stride=1
    rebuilds the models from before the option (Z at the image's size, MiT's stride-4 stem), and
    their saved configs, which lack the field, load as such."""
    from rtgs2.fusion.io import FORMAT, load_fusion

    torch.manual_seed(0)
    quarter = build_fusion("small", inputs, num_classes=K).eval()
    full = build_fusion("small", inputs, num_classes=K, feature_stride=1).eval()
    assert quarter.config["feature_stride"] == 4 and full.config["feature_stride"] == 1
    stem, old_stem = quarter.vi.patch_embeddings[0].proj, full.vi.patch_embeddings[0].proj
    assert stem.stride == (1, 1) and stem.kernel_size == (3, 3)
    assert old_stem.stride == (4, 4) and old_stem.kernel_size == (7, 7)
    image, z = make_inputs(B=1, H=33, W=45)  # Z 9 x 12
    _, z_full = make_inputs(B=1, H=33, W=45, stride=1)
    image = image if inputs == "both" else None
    with torch.no_grad():
        # Z alone gives logits at 4 x its size (the caller crops); with the image, the image's size
        assert quarter(image, z).shape[-2:] == ((33, 45) if image is not None else (36, 48))
        expected = full(image, z_full)
        assert expected.shape[-2:] == (33, 45)
    config = dict(full.config)
    del config["feature_stride"]  # as files from before the option hold it
    path = tmp_path / "old.pt"
    torch.save({"format": FORMAT, "config": json.dumps(config), "state_dict": full.state_dict()}, path)
    loaded = load_fusion(path)
    assert loaded.feature_stride == 1
    with torch.no_grad():
        assert torch.equal(loaded(image, z_full), expected)


def test_the_enc_vd_block_types_and_files_from_before_the_option(tmp_path) -> None:
    """small's Enc_VD is a ResNet (BatchNorm; running statistics move in training only), paper's
    a ConvNeXt; either builds for either size, and a saved config without ``vd_block`` (the
    files from before the option) loads as a ConvNeXt."""
    from rtgs2.fusion.io import FORMAT, load_fusion
    from rtgs2.fusion.vdvi import ConvNeXtEncoder, ResNetEncoder

    torch.manual_seed(0)
    resnet = build_fusion("small", "image", num_classes=K)
    convnext = build_fusion("small", "image", num_classes=K, vd_block="convnext")
    assert isinstance(resnet.vd, ResNetEncoder) and isinstance(convnext.vd, ConvNeXtEncoder)
    assert isinstance(build_fusion("paper", "image", num_classes=K).vd, ConvNeXtEncoder)
    assert resnet.config["vd_block"] == "resnet" and convnext.config["vd_block"] == "convnext"
    image, _ = make_inputs(B=2, H=64, W=96)
    stats = resnet.vd.bn1.running_mean.clone()
    resnet.eval()
    with torch.no_grad():
        resnet(image)
    assert torch.equal(resnet.vd.bn1.running_mean, stats)
    resnet.train()
    resnet(image).sum().backward()
    assert not torch.equal(resnet.vd.bn1.running_mean, stats)
    assert resnet.vd.layer4[0].conv1.weight.grad.abs().sum() > 0
    config = dict(convnext.config)
    del config["vd_block"]
    path = tmp_path / "old.pt"
    torch.save({"format": FORMAT, "config": json.dumps(config), "state_dict": convnext.state_dict()}, path)
    loaded = load_fusion(path)
    assert isinstance(loaded.vd, ConvNeXtEncoder)
    with torch.no_grad():
        assert torch.equal(loaded(image), convnext.eval()(image))


def test_inference_model_folds_batchnorms_to_the_same_logits() -> None:
    from rtgs2.fusion.vdvi import inference_model

    torch.manual_seed(0)
    model = build_fusion("small", "both", num_classes=K).train()
    image, z = make_inputs(B=2, H=64, W=96)
    with torch.no_grad():
        for _ in range(3):  # running statistics away from their initial (0, 1)
            model(image * 3 + 1, z)
    model.eval()
    fast = inference_model(model)
    assert fast is not model and not any(isinstance(m, nn.BatchNorm2d) for m in fast.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())  # the caller's model is untouched
    with torch.no_grad():
        expected = model(image, z)
        torch.testing.assert_close(fast(image, z), expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("inputs", ["both", "features"])
def test_z_at_stride_8_is_z_at_stride_4_repeated(inputs: str, tmp_path) -> None:
    """feature_stride=8: Z at ceil(H / 8) x ceil(W / 8), each value repeated 2 x 2 onto the stride-4
    grid before the stem; the parameters are stride 4's, so a stride-4 model's weights give, on
    a Z that is constant over 8 x 8 blocks, the stride-4 model's logits exactly."""
    from rtgs2.fusion.vdvi import SHARED_STEM_STRIDES

    assert SHARED_STEM_STRIDES == {4, 8}
    torch.manual_seed(0)
    quarter = build_fusion("small", inputs, num_classes=K).eval()
    eighth = build_fusion("small", inputs, num_classes=K, feature_stride=8).eval()
    eighth.load_state_dict(quarter.state_dict())  # strict: the same names and shapes
    assert eighth.config["feature_stride"] == 8
    image, _ = make_inputs(B=1, H=64, W=96)
    image = image if inputs == "both" else None
    z8 = torch.randn(1, quarter.feature_dim, 8, 12)
    z4 = z8.repeat_interleave(2, -2).repeat_interleave(2, -1)
    with torch.no_grad():
        got, expected = eighth(image, z8), quarter(image, z4)
    assert got.shape == expected.shape == (1, K, 64, 96)
    assert torch.allclose(got, expected, atol=1e-5), float((got - expected).abs().max())
    # odd sizes: Z rounded up at 1/8, the logits at the image's size (Z alone: 8 x Z's)
    image, _ = make_inputs(B=1, H=33, W=45)
    z8 = torch.randn(1, quarter.feature_dim, 5, 6)
    with torch.no_grad():
        assert eighth(image if inputs == "both" else None, z8).shape[-2:] == ((33, 45) if inputs == "both" else (40, 48))
    if inputs == "both":
        with pytest.raises(ValueError, match=r"features must be \[1, 32, 5, 6\]"):
            eighth(torch.rand(1, 3, 33, 45), torch.randn(1, 32, 9, 12))  # Z at stride 4 where 8 is read
    # a saved stride-4 model loads to read Z at stride 8 (its weights as they are), not at stride 1
    from rtgs2.fusion.io import load_fusion, save_fusion
    from rtgs2.utils.errors import CheckpointMismatchError

    save_fusion(quarter, tmp_path / "quarter.pt")
    loaded = load_fusion(tmp_path / "quarter.pt", feature_stride=8)
    assert loaded.feature_stride == 8
    assert all(torch.equal(v, quarter.state_dict()[k]) for k, v in loaded.state_dict().items())
    assert load_fusion(tmp_path / "quarter.pt").feature_stride == 4
    with pytest.raises(CheckpointMismatchError, match="reads Z at stride 4: its weights cannot read it at 1"):
        load_fusion(tmp_path / "quarter.pt", feature_stride=1)
