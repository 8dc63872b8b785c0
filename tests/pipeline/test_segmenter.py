"""Segmenter: where the per-Gaussian features come from (the file, extraction, the cache), which
feature weights it accepts, and the unlabelled pixels."""

from __future__ import annotations

import json

import pytest
import torch

from rtgs2.features.io import SHIPPED as SHIPPED_FEATURES
from rtgs2.pipeline import segmenter as segmenter_module
from rtgs2.pipeline.segmenter import MIN_ALPHA, UNLABELLED, FrameRate, Segmenter, measure_fps
from rtgs2.scene import write_ply
from rtgs2.utils.errors import Rtgs2Error, UserError
from tests.pipeline.conftest import CLASSES, donut_camera

def test_features_of_the_wrong_size_are_extracted_once_then_cached(tmp_path, small_donut, fusion_file):
    ply = tmp_path / "scene.ply"
    write_ply(small_donut.with_features(torch.randn(small_donut.num_gaussians, 5)), ply)  # f_vi_0..4: not the model's 32
    cache = tmp_path / "cache"
    with pytest.warns(UserWarning, match="they have 5 channels, the fusion model reads 32"):
        first = Segmenter.from_files(ply, fusion_file("both"), feature_cache=cache)
    assert first.scene.features.shape == (small_donut.num_gaussians, 32)
    (entry,) = cache.glob("*.npz")
    written = entry.stat().st_mtime_ns

    with pytest.warns(UserWarning):
        second = Segmenter.from_files(ply, fusion_file("both"), feature_cache=cache)
    assert torch.equal(second.scene.features, first.scene.features)
    assert list(cache.glob("*.npz")) == [entry] and entry.stat().st_mtime_ns == written  # read, not rewritten


def test_features_are_extracted_and_cached_in_the_frame_given(tmp_path, small_donut, fusion_file, monkeypatch):
    frames = []  # the frame of each extraction

    def record(scene, net, *, frame):
        frames.append(frame)
        return torch.zeros(scene.num_gaussians, 32)  # the model's width; the values do not matter here

    monkeypatch.setattr("rtgs2.features.extract.extract_features", record)
    ply = tmp_path / "scene.ply"
    write_ply(small_donut, ply)
    cache = tmp_path / "cache"
    seg = Segmenter.from_files(ply, fusion_file("both"), feature_cache=cache, metres_per_unit=0.01, up="-y")
    assert [(f.metres_per_unit, f.up) for f in frames] == [(0.01, "-y")] and seg.frame == frames[0]
    assert seg.frame.note == "0.01 m per unit (given), up -y"
    Segmenter.from_files(ply, fusion_file("both"), feature_cache=cache)  # the automatic frame: another entry
    assert len(frames) == 2 and frames[1].note.startswith("scene extent") and len(list(cache.glob("*.npz"))) == 2
    Segmenter.from_files(ply, fusion_file("both"), feature_cache=cache, metres_per_unit=0.01, up="-y")
    assert len(frames) == 2  # read from the cache


def test_image_only_model_ignores_features(small_donut, fusion_file, monkeypatch):
    def no_extraction(*_, **__):
        raise AssertionError("an image-only model must not extract features")

    monkeypatch.setattr("rtgs2.features.extract.extract_features", no_extraction)
    scene = small_donut.with_features(torch.randn(small_donut.num_gaussians, 5))
    seg = Segmenter.from_files(scene, fusion_file("image"))
    assert seg.scene.features is None  # nothing to blend per pixel
    view = seg.segment(donut_camera())
    assert view.labels.shape == (48, 64) and view.labels.dtype == torch.uint8


def test_pixels_less_covered_than_half_are_unlabelled(small_donut, fusion_file):
    seg = Segmenter.from_files(small_donut, fusion_file("image"))
    view = seg.segment(donut_camera())
    covered = view.alpha >= MIN_ALPHA
    assert covered.any() and (~covered).any()  # the donut and the empty space around it
    assert bool((view.labels[~covered] == UNLABELLED).all())
    assert int(view.labels[covered].max()) < len(CLASSES)
    assert float(view.confidence.min()) >= 1 / len(CLASSES) - 1e-6 and float(view.confidence.max()) <= 1
    rate = measure_fps(seg, [donut_camera()], frames=2, warmup=0)
    assert rate.frames == 2 and rate.fps > 0 and (rate.width, rate.height) == (64, 48)


def test_timing_without_frames_says_what_it_got():
    with pytest.raises(ValueError, match=r"^FrameRate.of needs .*; got 2 total, 1 render, 2 network$"):
        FrameRate.of([1.0, 2.0], [1.0], [1.0, 1.0], donut_camera())
    with pytest.raises(ValueError, match=r"^measure_fps needs .*; got 0 cameras, 5 frames$"):
        measure_fps(None, [], frames=5)


def test_feature_weights_other_than_the_cards_are_refused(tmp_path, small_donut, fusion_file):
    weights = tmp_path / "model.pt"
    weights.write_bytes(fusion_file("both").read_bytes())
    weights.with_suffix(".json").write_text(json.dumps({"feature_weights_sha256": "0" * 64}))
    other = tmp_path / "other_features.pt"
    other.write_bytes(b"not the weights the model was trained with")
    with pytest.raises(Rtgs2Error, match="not the ones fusion model .* was trained with"):
        Segmenter.from_files(small_donut, weights, feature_weights=other)


def test_missing_shipped_weights_say_what_to_pass(tmp_path, small_donut, monkeypatch):
    monkeypatch.setattr("rtgs2.fusion.io.SHIPPED", tmp_path / "vdvi.pt")
    with pytest.raises(FileNotFoundError, match="no shipped fusion weights at .*vdvi.pt: pass a fusion model with --weights"):
        Segmenter.from_files(small_donut)
    with pytest.raises(FileNotFoundError, match="no fusion weights at .*mine.pt"):
        Segmenter.from_files(small_donut, tmp_path / "mine.pt")


def test_file_features_are_used_only_when_no_weights_are_named(tmp_path, small_donut, fusion_file):
    """A .ply's own f_vi_* carry no record of the weights that made them: once the model's card
    names its feature weights, the file's features are replaced by extracted ones."""
    ply = tmp_path / "scene.ply"
    own = torch.nn.functional.normalize(torch.randn(small_donut.num_gaussians, 32), dim=1)
    write_ply(small_donut.with_features(own), ply)
    plain = Segmenter.from_files(ply, fusion_file("both"), feature_cache=tmp_path / "c")  # no card: the file's
    assert torch.allclose(plain.scene.features, own, atol=1e-6)

    carded = tmp_path / "model.pt"
    carded.write_bytes(fusion_file("both").read_bytes())
    sha = segmenter_module.file_sha256(SHIPPED_FEATURES)
    carded.with_suffix(".json").write_text(json.dumps({"feature_weights_sha256": sha}))
    with pytest.warns(UserWarning, match="the scene's own f_vi_\\* features are not used"):  # said, not silent
        named = Segmenter.from_files(ply, carded, feature_cache=tmp_path / "c")
    assert not torch.allclose(named.scene.features, own, atol=1e-3)
    assert len(list((tmp_path / "c").glob("*.npz"))) == 1
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "broken.pt").write_bytes(fusion_file("both").read_bytes())
    with pytest.raises(Rtgs2Error, match="broken.json: not a readable fusion model card"):
        Segmenter.from_files(ply, tmp_path / "broken.pt", feature_cache=tmp_path / "c")



def test_the_cards_feature_weights_are_found_among_the_shipped_ones_by_hash(tmp_path, monkeypatch):
    """A fusion model trained on earlier shipped features (not today's default) gets them, by
    the hash its card records; a card without one leaves the default."""
    import rtgs2.features.io as feature_io
    from rtgs2.pipeline.segmenter import model_feature_weights

    shipped = tmp_path / "weights"
    shipped.mkdir()
    (shipped / "today.pt").write_bytes(b"today's default feature weights")
    (shipped / "earlier.pt").write_bytes(b"the features the model was trained on")
    monkeypatch.setattr(feature_io, "WEIGHTS_DIR", shipped)
    monkeypatch.setattr(feature_io, "SHIPPED", shipped / "today.pt")
    model = tmp_path / "model.pt"
    sha = segmenter_module.file_sha256(shipped / "earlier.pt")
    model.with_suffix(".json").write_text(json.dumps({"feature_weights": "elsewhere/f.pt", "feature_weights_sha256": sha}))
    assert model_feature_weights(model, None) == shipped / "earlier.pt"
    model.with_suffix(".json").write_text(json.dumps({"feature_weights_sha256": "0" * 64}))
    with pytest.raises(Rtgs2Error, match="not the ones fusion model .*model.pt was trained with"):
        model_feature_weights(model, None)
    model.with_suffix(".json").write_text(json.dumps({}))
    assert model_feature_weights(model, None) == shipped / "today.pt"


def test_the_per_frame_kernel_is_the_default_and_the_exact_render_agrees(small_donut, fusion_file, monkeypatch):
    from dataclasses import replace

    from rtgs2.render import PER_FRAME
    from rtgs2.render import numba_backend

    calls = []
    real = numba_backend._render_frame
    monkeypatch.setattr(numba_backend, "_render_frame", lambda *a: calls.append(1) or real(*a))
    scene = small_donut.with_features(torch.nn.functional.normalize(torch.randn(small_donut.num_gaussians, 32), dim=1))
    fast = Segmenter.from_files(scene, fusion_file("both")).segment(donut_camera())
    assert calls == [1]
    exact = Segmenter.from_files(scene, fusion_file("both"), render_settings=replace(PER_FRAME, frame_kernel=False))
    slow = exact.segment(donut_camera())
    assert calls == [1]  # the exact kernel: not the per-frame one
    assert float((fast.rgb - slow.rgb).abs().max()) <= 1 / 255
    assert float((fast.labels == slow.labels).float().mean()) > 0.99


def test_labels_are_the_arg_max_of_the_logits(small_donut, fusion_file):
    seg = Segmenter.from_files(small_donut, fusion_file("image"))
    cam = donut_camera()
    view, logits = seg.segment(cam), seg.logits(seg.render(cam))
    assert logits.shape == (len(CLASSES), 48, 64)
    top2 = logits.topk(2, dim=0).values
    clear = (view.alpha >= MIN_ALPHA) & ((top2[0] - top2[1]) > 1e-4)
    assert bool(clear.any()) and bool((view.labels[clear] == logits.argmax(0)[clear].to(torch.uint8)).all())


def test_the_compiled_network_labels_as_the_eager_one(small_donut, fusion_file):
    cam = donut_camera()
    eager = Segmenter.from_files(small_donut, fusion_file("image"))
    fast = Segmenter.from_files(small_donut, fusion_file("image"), compile_network=True)
    a, b = eager.segment(cam), fast.segment(cam)
    if fast._coarse_logits.fallback is not None:  # no C++ compiler here: the fallback has its own test
        pytest.skip(f"torch.compile cannot compile here: {fast._coarse_logits.fallback}")
    assert (eager.network, fast.network) == ("torch", "torch compiled")
    assert float((a.labels == b.labels).float().mean()) > 0.999
    assert float((a.confidence - b.confidence).abs().max()) < 1e-4


def test_bfloat16_is_for_the_compiled_network_and_says_so(small_donut, fusion_file, monkeypatch, tmp_path):
    from rtgs2.fusion import compiled

    with pytest.raises(UserError, match="precision bfloat16 runs the compiled torch network: not with --no-compile-network or --onnx"):
        Segmenter.from_files(small_donut, fusion_file("image"), precision="bfloat16")
    # said before the scene is read (features may take minutes): a missing scene is not reached
    with pytest.raises(UserError, match="unknown network precision 'half'"):
        Segmenter.from_files(tmp_path / "missing.ply", fusion_file("image"), compile_network=True, precision="half")
    # the wiring: the ahead-of-time package (built in tests/fusion/test_compiled.py) replaced by what it packages,
    # the eager call under bfloat16 autocast
    monkeypatch.setattr(compiled, "aot_bfloat16_call", lambda model, inputs, has_image, folder: compiled._Bfloat16Coarse(
        model, has_image, len(inputs) > int(has_image)))  # fmt: skip
    cam = donut_camera()
    eager = Segmenter.from_files(small_donut, fusion_file("image"))
    bf16 = Segmenter.from_files(small_donut, fusion_file("image"), compile_network=True, precision="bfloat16")
    a, b = eager.segment(cam), bf16.segment(cam)
    assert bf16.network == "torch compiled bfloat16" and b.confidence.dtype == torch.float32
    assert float((a.labels == b.labels).float().mean()) > 0.95
    assert 0 < float((a.confidence - b.confidence).abs().max()) < 0.1  # bfloat16 ran, and stayed close


def test_auto_network_scale_keeps_the_network_view_at_least_the_training_view():
    from rtgs2.pipeline.view_defaults import TRAINING_VIEW, auto_network_scale

    assert TRAINING_VIEW == (240, 320)
    assert [auto_network_scale(h, w) for h, w in [(240, 320), (120, 160), (479, 640), (480, 640), (720, 1280), (968, 1296)]] == [1, 1, 1, 2, 2, 4]


def test_a_large_view_is_read_at_a_fraction_of_its_size_and_labelled_at_its_own(small_donut, fusion_file, monkeypatch):
    """network_scale 2: the network reads Î averaged over 2 x 2 pixels and Z rendered at twice its
    stride; the labels come at the view's size from the logits upsampled x8 (those of logits())."""
    from rtgs2.render import PER_FRAME, render

    scene = small_donut.with_features(torch.nn.functional.normalize(torch.randn(small_donut.num_gaussians, 32), dim=1))
    cam = donut_camera(128, 96)
    seg = Segmenter.from_files(scene, fusion_file("both"), network_scale=2)
    seen = []
    real = seg._coarse_logits
    monkeypatch.setattr(seg, "_coarse_logits", lambda image, feats: seen.append((image, feats)) or real(image, feats))
    view = seg.segment(cam)
    image, feats = seen[0]
    assert view.labels.shape == (96, 128) and image.shape == (1, 3, 48, 64) and feats.shape == (1, 32, 12, 16)
    out = render(scene, cam, feature_stride=8, settings=PER_FRAME)
    assert torch.allclose(image[0], torch.nn.functional.avg_pool2d(out.rgb.permute(2, 0, 1), 2), atol=1e-6)
    assert torch.allclose(feats[0], out.features.permute(2, 0, 1), atol=1e-5)
    logits = seg.logits(seg.render(cam))
    assert logits.shape == (len(CLASSES), 96, 128)
    top2 = logits.topk(2, dim=0).values
    clear = (view.alpha >= MIN_ALPHA) & ((top2[0] - top2[1]) > 1e-4)
    assert bool(clear.any()) and bool((view.labels[clear] == logits.argmax(0)[clear].to(torch.uint8)).all())
    auto = Segmenter.from_files(scene, fusion_file("both"))  # "auto": 1 below 640x480, 2 at it
    assert auto.scale_for(96, 128) == 1 and auto.scale_for(480, 640) == 2
    assert Segmenter.from_files(scene, fusion_file("both"), network_scale=1).scale_for(480, 640) == 1
    for bad in (0, 1.5, "half", True):
        with pytest.raises(UserError, match=r"network_scale \(--network-scale\) must be"):
            Segmenter.from_files(scene, fusion_file("both"), network_scale=bad)
