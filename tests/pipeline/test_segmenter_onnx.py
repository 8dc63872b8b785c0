"""Segmenter running its fusion network from an ONNX file (``from_files(..., onnx=)``,
``rtgs2 segment --onnx``): the float file labels as the torch model does, and files that do not fit
(another size, other weights, full-resolution logits) are refused in one line.

The small random model of ``fusion_file("both")`` is exported once with coarse logits at the donut
camera's 64x48 (10-30 s on the 2-core CPU); the scene is the small donut with random unit features.
"""

from __future__ import annotations

import json
import math

import pytest
import torch

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from rtgs2 import cli  # noqa: E402
from rtgs2.export.onnx import export_fusion_onnx  # noqa: E402
from rtgs2.fusion.io import read_fusion_file, save_fusion  # noqa: E402
from rtgs2.fusion.vdvi import build_fusion  # noqa: E402
from rtgs2.pipeline.segmenter import MIN_ALPHA, Segmenter  # noqa: E402
from rtgs2.scene import Camera, write_ply  # noqa: E402
from rtgs2.utils.errors import UserError  # noqa: E402
from rtgs2.utils.io import file_sha256  # noqa: E402
from tests.cli.test_errors import one_line_error  # noqa: E402
from tests.export.fakes import write_fake_fusion_onnx  # noqa: E402
from tests.pipeline.conftest import CLASSES, donut_camera  # noqa: E402

H, W = 48, 64  # donut_camera()'s
# Float ONNX against torch on these views: max |confidence difference| 1.0e-6, max |logits difference|
# 3.7e-7, identical labels (this 2-core CPU, onnxruntime 1.30); a label may flip only where two
# logits nearly tie.
CONFIDENCE_ATOL = 1e-5
MIN_LABEL_AGREEMENT = 0.999


@pytest.fixture(scope="module")
def coarse_onnx(fusion_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("onnx") / "both_coarse.onnx"
    export_fusion_onnx(fusion_file("both"), out, height=H, width=W, threads=1, coarse=True)
    return out


@pytest.fixture(scope="module")
def featured_donut(small_donut):
    g = torch.Generator().manual_seed(0)
    return small_donut.with_features(torch.nn.functional.normalize(torch.randn(small_donut.num_gaussians, 32, generator=g), dim=1))


def test_a_float_onnx_file_labels_as_the_torch_model(featured_donut, fusion_file, coarse_onnx):
    torch_seg = Segmenter.from_files(featured_donut, fusion_file("both"))
    onnx_seg = Segmenter.from_files(featured_donut, fusion_file("both"), onnx=coarse_onnx, onnx_threads=1)
    assert (torch_seg.network, onnx_seg.network) == ("torch", "onnx float") and onnx_seg.image_size == (H, W)
    for yaw in (0.0, 2.0, 4.0):  # radians around the donut, 30 degrees above it as donut_camera()
        eye = (0.35 * math.cos(yaw), 0.35 * math.sin(yaw), 0.25)
        cam = Camera.look_at(eye, (0.0, 0.0, 0.04), fov_x_deg=60.0, width=W, height=H)
        expected, got = torch_seg.segment(cam), onnx_seg.segment(cam)
        covered = expected.alpha >= MIN_ALPHA
        assert bool(covered.any())
        assert float((got.labels == expected.labels).float().mean()) >= MIN_LABEL_AGREEMENT
        torch.testing.assert_close(got.confidence, expected.confidence, rtol=0, atol=CONFIDENCE_ATOL)
        rendered = onnx_seg.render(cam)
        torch.testing.assert_close(onnx_seg.logits(rendered), torch_seg.logits(rendered), rtol=0, atol=CONFIDENCE_ATOL)


def test_a_camera_of_another_size_is_refused(featured_donut, fusion_file, coarse_onnx):
    seg = Segmenter.from_files(featured_donut, fusion_file("both"), onnx=coarse_onnx)
    with pytest.raises(UserError, match=rf"a camera is 80x60 pixels, the ONNX file .*both_coarse.onnx takes {W}x{H}: export it at this size \(rtgs2 export onnx --width 80 --height 60\)"):
        seg.segment(donut_camera(80, 60))
    with pytest.raises(UserError, match="a camera is 80x60 pixels"):
        seg.logits(seg.render(donut_camera(80, 60)))


def test_a_file_of_other_weights_is_refused(featured_donut, fusion_file, coarse_onnx, tmp_path):
    torch.manual_seed(1)
    save_fusion(build_fusion("small", "both", num_classes=len(CLASSES), class_names=CLASSES), tmp_path / "same.pt")
    with pytest.raises(UserError, match=r"the ONNX file .*both_coarse.onnx was not exported from the fusion weights .*same.pt \(the same config, other weights\): give the weights"):
        Segmenter.from_files(featured_donut, tmp_path / "same.pt", onnx=coarse_onnx)
    save_fusion(build_fusion("small", "both", num_classes=5, class_names=[*CLASSES, "lamp"]), tmp_path / "five.pt")
    with pytest.raises(UserError, match=r"\(num_classes 4, not 5; class_names .*\)"):
        Segmenter.from_files(featured_donut, tmp_path / "five.pt", onnx=coarse_onnx)


def test_a_file_of_full_resolution_logits_is_refused(featured_donut, fusion_file, tmp_path):
    config, _ = read_fusion_file(fusion_file("both"))
    full = write_fake_fusion_onnx(
        tmp_path / "full.onnx", config, height=H, width=W, coarse=False, weights_sha256=file_sha256(fusion_file("both"))
    )
    with pytest.raises(UserError, match="full.onnx outputs full-resolution logits; the per-frame path reads coarse ones: export it with rtgs2 export onnx --coarse"):
        Segmenter.from_files(featured_donut, fusion_file("both"), onnx=full)


def test_segment_cli_runs_the_onnx_file(featured_donut, fusion_file, coarse_onnx, tmp_path, capsys):
    ply = tmp_path / "donut.ply"
    write_ply(featured_donut, ply)  # its own f_vi_*: the model has no card naming others, nothing to extract
    out = tmp_path / "out"
    common = ["segment", "--scene", str(ply), "--weights", str(fusion_file("both")), "--onnx", str(coarse_onnx), "--views", "2"]
    cli.entrypoint(common + ["--out", str(out), "--width", str(W), "--height", str(H)])
    summary = json.loads((out / "segment.json").read_text())
    assert summary["finished"] and summary["network"] == "onnx float" and summary["onnx"] == str(coarse_onnx.resolve())
    line = one_line_error(common + ["--out", str(tmp_path / "other"), "--width", "80", "--height", "60"], capsys)
    assert line.startswith("rtgs2 segment: a camera is 80x60 pixels, the ONNX file"), line
    assert not (tmp_path / "other").exists()  # refused before anything is written
