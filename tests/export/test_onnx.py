"""``rtgs2 export onnx``: the exported fusion network, run by onnxruntime, gives PyTorch's logits.

Three small random models (seeded), one per inputs variant, exported once per module (each
export takes 10-40 s on the 2-core CPU): small/both through the library with a dynamic batch,
small/image through the CLI, small/features with the batch fixed at 1. The size, 36x52, is not a
multiple of 8 at stride 4, so the traced graph holds the model's padding.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from rtgs2 import cli
from rtgs2.export import DEFAULT_OPSET, MAX_OPSET, MIN_OPSET
from rtgs2.export.onnx import OnnxExport, export_fusion_onnx
from rtgs2.fusion.io import save_fusion
from rtgs2.fusion.onnx_runtime import OnnxFusion, onnx_config, onnx_session, run_onnx
from rtgs2.fusion.vdvi import VDVINet, build_fusion
from rtgs2.utils.errors import Rtgs2Error
from tests.cli.test_errors import one_line_error
from tests.export.fakes import ONNX_IR_VERSION

H, W = 36, 52
HZ, WZ = 9, 13  # Z at a quarter of the image's size, rounded up (VDVISize.feature_stride)
CLASSES = ["wall", "floor", "chair", "table", "lamp"]
# Worst |onnx - torch| measured on the logits: 4.7e-7 (this 2-core CPU, onnxruntime 1.30, opset
# 18, all three variants, batches 1 and 3); 1e-4 leaves room for other CPUs' kernels.
ATOL = 1e-4
# Arg-max classes may differ only where two logits are within ATOL of each other.
MIN_AGREEMENT = 0.999


def _model(inputs: str, seed: int) -> VDVINet:
    torch.manual_seed(seed)
    return build_fusion("small", inputs, num_classes=len(CLASSES), class_names=CLASSES).eval()


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[VDVINet, Path, OnnxExport | str]]:
    """inputs variant -> (model, its .onnx, the library's report or the CLI's printout)."""
    tmp = tmp_path_factory.mktemp("onnx")
    out: dict[str, tuple[VDVINet, Path, OnnxExport | str]] = {}
    for i, inputs in enumerate(("both", "image", "features")):
        model = _model(inputs, seed=i)
        save_fusion(model, tmp / f"{inputs}.pt")
        path = tmp / f"{inputs}.onnx"
        if inputs == "image":
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed):
                cli.entrypoint(["export", "onnx", "--weights", str(tmp / "image.pt"), "--out", str(path),
                                "--height", str(H), "--width", str(W)])  # fmt: skip
            out[inputs] = (model, path, printed.getvalue())
        else:
            report = export_fusion_onnx(tmp / f"{inputs}.pt", path, height=H, width=W, dynamic=inputs == "both", threads=1)
            out[inputs] = (model, path, report)
    return out


def _inputs(model: VDVINet, batch: int, seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(batch, 3, H, W, generator=g)
    features = torch.nn.functional.normalize(torch.randn(batch, model.feature_dim, HZ, WZ, generator=g), dim=1)
    return {"image": image, "features": features}


@pytest.mark.parametrize("inputs, batches", [("both", (1, 3)), ("image", (1, 3)), ("features", (1,))])
def test_onnxruntime_gives_torch_logits(exported, inputs, batches):
    model, path, _ = exported[inputs]
    session = onnx_session(path, threads=1)
    for batch in batches:
        x = _inputs(model, batch, seed=batch)
        with torch.inference_mode():
            expected = model(x["image"], x["features"]).numpy()
        got = run_onnx(session, x["image"].numpy(), x["features"].numpy())
        assert got.shape == (batch, len(CLASSES), H, W) and got.dtype == np.float32
        np.testing.assert_allclose(got, expected, rtol=0, atol=ATOL)
        assert (got.argmax(1) == expected.argmax(1)).mean() > MIN_AGREEMENT


def test_files_have_only_the_inputs_the_model_reads(exported):
    shapes = {
        inputs: [(i.name, i.shape) for i in onnx_session(path).get_inputs()] for inputs, (_, path, _) in exported.items()
    }
    assert shapes == {
        "both": [("image", ["batch", 3, H, W]), ("features", ["batch", 32, HZ, WZ])],
        "image": [("image", ["batch", 3, H, W])],
        "features": [("features", [1, 32, HZ, WZ])],
    }


def test_library_reports_what_it_wrote_and_measured(exported):
    model, path, report = exported["both"]
    assert report.path == path and report.opset == DEFAULT_OPSET and report.config == model.config
    assert report.inputs == {"image": ["batch", 3, H, W], "features": ["batch", 32, HZ, WZ]}
    assert report.output == ["batch", len(CLASSES), H, W]
    assert report.max_abs_diff < ATOL and report.argmax_agreement > MIN_AGREEMENT
    assert onnx.load(str(path)).opset_import[0].version == DEFAULT_OPSET


def test_metadata_names_the_classes(exported):
    for model, path, _ in exported.values():
        assert onnx_config(path) == model.config and onnx_config(path)["class_names"] == CLASSES
        props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
        assert props["rtgs2.class_names"] == '["wall", "floor", "chair", "table", "lamp"]'
        assert len(props["rtgs2.weights_sha256"]) == 64 and "float32" in props["rtgs2.inputs"]


def test_cli_prints_the_file_its_inputs_and_the_difference(exported):
    _, path, printed = exported["image"]
    lines = printed.splitlines()
    assert lines[0] == f"{path}: ONNX opset {DEFAULT_OPSET}, fusion small/image, 5 classes"
    assert f"  input  image [batch, 3, {H}, {W}] float32" in lines and "  classes: wall, floor, chair, table, lamp" in lines
    diff = next(line for line in lines if "max |onnx - torch|" in line)
    assert float(diff.split("|onnx - torch|")[1].split()[0]) < ATOL and "(arg-max agreement 100.00%)" in diff


def test_a_size_the_file_does_not_take_is_refused(exported):
    model, path, _ = exported["both"]
    x = _inputs(model, 1, seed=0)
    with pytest.raises(ValueError, match=rf"image must be \[batch, 3, {H}, {W}\] .*--height --width\); got \[1, 3, {H}, 48\]"):
        run_onnx(path, x["image"][..., :48], x["features"][..., :12])
    with pytest.raises(ValueError, match=r"reads features \[batch, 32, 9, 13\]; got None"):
        run_onnx(path, x["image"])
    fixed = exported["features"][1]
    with pytest.raises(ValueError, match=r"features must be \[1, 32, 9, 13\]"):
        run_onnx(fixed, None, torch.cat([x["features"]] * 2))


@pytest.mark.parametrize(
    "args, named",
    [
        (["--opset", str(MIN_OPSET - 1)], f"--opset must be between {MIN_OPSET} and {MAX_OPSET}"),
        (["--opset", str(MAX_OPSET + 1)], f"--opset must be between {MIN_OPSET} and {MAX_OPSET}"),
        (["--height", "0"], "--height must be a positive number of pixels; got 0"),
        (["--out", "{tmp}"], "--out must be a .onnx file; {tmp} is a folder"),
        (["--out", "{tmp}/fusion.pt"], "--out must end in .onnx; got {tmp}/fusion.pt"),
        (["--out", "{tmp}/w.pt/f.onnx"], "--out must be in a folder; {tmp}/w.pt is a file"),
        (["--weights", "{tmp}/missing.pt"], "no fusion weights at {tmp}/missing.pt"),
    ],
)
def test_bad_input_is_one_line_naming_it(args, named, tmp_path, capsys):
    (tmp_path / "w.pt").write_bytes(b"checked after the arguments")
    base = {"--weights": "{tmp}/w.pt", "--out": "{tmp}/f.onnx"}
    for flag, value in zip(args[::2], args[1::2]):
        base[flag] = value
    argv = ["export", "onnx", *[a.format(tmp=tmp_path) for kv in base.items() for a in kv]]
    line = one_line_error(argv, capsys)
    assert line.startswith("rtgs2 export onnx: ") and named.format(tmp=tmp_path) in line, line
    assert not (tmp_path / "f.onnx").exists()


def test_default_weights_missing_is_one_line(tmp_path, capsys, monkeypatch):
    """Without --weights the shipped model is exported; where it is not shipped, say so."""
    monkeypatch.setattr("rtgs2.fusion.io.SHIPPED", tmp_path / "shipped.pt")
    line = one_line_error(["export", "onnx", "--out", str(tmp_path / "f.onnx")], capsys)
    assert line == f"rtgs2 export onnx: no shipped fusion weights at {tmp_path / 'shipped.pt'}: pass a fusion model with --weights (rtgs2 train fusion writes one)"


def test_a_missing_or_foreign_file_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="ONNX file .*none.onnx not found"):
        run_onnx(tmp_path / "none.onnx", np.zeros((1, 3, H, W), np.float32))
    (tmp_path / "junk.onnx").write_bytes(b"not a protobuf")
    with pytest.raises(Rtgs2Error, match="junk.onnx is not an ONNX file onnxruntime can run"):
        onnx_session(tmp_path / "junk.onnx")
    plain = tmp_path / "plain.onnx"  # runs, but rtgs2 did not write it
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("Identity", ["image"], ["logits"])], "plain",
        [onnx.helper.make_tensor_value_info("image", onnx.TensorProto.FLOAT, [1, 3, H, W])],
        [onnx.helper.make_tensor_value_info("logits", onnx.TensorProto.FLOAT, [1, 3, H, W])],
    )  # fmt: skip
    opset = [onnx.helper.make_opsetid("", DEFAULT_OPSET)]
    onnx.save(onnx.helper.make_model(graph, opset_imports=opset, ir_version=ONNX_IR_VERSION), str(plain))
    for open_file in (OnnxFusion, onnx_config):  # the message names the file: eval may be given several
        with pytest.raises(Rtgs2Error) as refused:
            open_file(plain)
        assert str(refused.value) == f"{plain} was not written by rtgs2 export onnx (no rtgs2.config in its metadata)"


def test_a_users_onnx_file_is_not_overwritten(tmp_path, capsys):
    (tmp_path / "w.pt").write_bytes(b"checked after the output")
    mine = tmp_path / "mine.onnx"
    mine.write_bytes(b"someone else's model")
    line = one_line_error(["export", "onnx", "--weights", str(tmp_path / "w.pt"), "--out", str(mine)], capsys)
    assert line == f"rtgs2 export onnx: {mine} exists and is not an rtgs2 export: choose a new file (it is left as it is)"
    assert mine.read_bytes() == b"someone else's model"


def test_a_late_fusion_model_exports_with_its_two_heads(tmp_path):
    torch.manual_seed(5)
    model = build_fusion("small", "both", fusion="late", num_classes=len(CLASSES), class_names=CLASSES).eval()
    save_fusion(model, tmp_path / "late.pt")
    report = export_fusion_onnx(tmp_path / "late.pt", tmp_path / "late.onnx", height=H, width=W, dynamic=False, threads=1)
    assert report.config["fusion"] == "late" and report.max_abs_diff < ATOL
    x = _inputs(model, 1, seed=7)
    with torch.inference_mode():
        expected = model(x["image"], x["features"]).numpy()
    got = run_onnx(tmp_path / "late.onnx", x["image"].numpy(), x["features"].numpy())
    np.testing.assert_allclose(got, expected, rtol=0, atol=ATOL)
