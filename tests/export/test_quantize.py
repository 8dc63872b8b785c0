"""int8 fusion networks (``rtgs2.export.quantize``) and the coarse-logits export they start from.

One small random model (small/both, 4 classes, seeded) is exported once with coarse logits at 48x64
(10-30 s on the 2-core CPU) and quantized once (about 5 s). Its inputs are synthetic views shaped like
rendered rooms: a few rectangles over the whole frame, each of one colour and one feature prototype
(Z of unit vectors at a quarter of the size, as rendered). Views of the donut, mostly empty
background where a random model's logits nearly tie, agreed on only 54 % of the arg-maxes.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

from rtgs2 import cli  # noqa: E402
from rtgs2.export.onnx import OnnxExport, export_fusion_onnx  # noqa: E402
from rtgs2.export.quantize import QuantizeReport, quantize_fusion_onnx  # noqa: E402
from rtgs2.fusion.io import save_fusion  # noqa: E402
from rtgs2.fusion.onnx_runtime import OnnxFusion, onnx_config, run_onnx  # noqa: E402
from rtgs2.fusion.vdvi import VDVINet, build_fusion  # noqa: E402
from rtgs2.utils.errors import ConfigError, UserError  # noqa: E402
from tests.cli.test_errors import one_line_error  # noqa: E402

H, W, D = 48, 64, 32
HC, WC = 16, 16  # coarse logits: a quarter of 48x64 (12x16), padded to a multiple of 8
CLASSES = ["wall", "floor", "chair", "table"]
# Coarse export against torch: worst |onnx - torch| 4.0e-7 on these inputs (this 2-core CPU,
# onnxruntime 1.30, opset 18); 1e-5 leaves room for other CPUs' kernels.
COARSE_ATOL = 1e-5
# int8 against float over the image's 12x16 part of the coarse logits of the 4 check views,
# percentile calibration on 8 others (this CPU, onnxruntime 1.30): arg-max agreement 0.932, max
# |diff| 0.105, mean |diff| 0.0097 (the logits' std: 0.10); with three other pairs of seeds 0.93-0.95,
# 0.05-0.15 and 0.007-0.015. A random model's logits lie close together; a trained model's agree on
# 98-99 % (rtgs2.export.quantize).
MIN_INT8_AGREEMENT = 0.88
MAX_INT8_DIFF = 0.25
MAX_INT8_MEAN_DIFF = 0.025


def room_like_views(n: int, seed: int) -> list[dict[str, np.ndarray]]:
    """``n`` feeds {image [1, 3, H, W] in [0, 1], features [1, D, H / 4, W / 4] unit vectors}:
    five random rectangles on a background, each a colour (shaded left to right, with noise) and
    a feature prototype (with noise)."""
    rng = np.random.default_rng(seed)
    feeds = []
    for _ in range(n):
        regions = np.zeros((H, W), np.int64)
        for k in range(1, 6):
            y, x = rng.integers(0, H - 8), rng.integers(0, W - 8)
            regions[y : y + rng.integers(8, H // 2), x : x + rng.integers(8, W // 2)] = k
        colours = rng.uniform(0.1, 0.9, (6, 3))
        shade = np.linspace(0.85, 1.0, W)[None, :, None]
        image = np.clip(colours[regions] * shade + rng.normal(0, 0.02, (H, W, 3)), 0, 1)
        z = rng.normal(size=(6, D))[regions[::4, ::4]] + rng.normal(0, 0.3, (H // 4, W // 4, D))
        z /= np.linalg.norm(z, axis=-1, keepdims=True)
        feeds.append({
            "image": np.ascontiguousarray(image.transpose(2, 0, 1)[None], np.float32),
            "features": np.ascontiguousarray(z.transpose(2, 0, 1)[None], np.float32),
        })  # fmt: skip
    return feeds


CALIBRATION = room_like_views(8, seed=1)
CHECK = room_like_views(4, seed=2)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[VDVINet, Path, OnnxExport]:
    """The model, its coarse float export and the export's report."""
    tmp = tmp_path_factory.mktemp("int8")
    torch.manual_seed(0)
    model = build_fusion("small", "both", num_classes=len(CLASSES), class_names=CLASSES).eval()
    save_fusion(model, tmp / "model.pt")
    report = export_fusion_onnx(tmp / "model.pt", tmp / "float.onnx", height=H, width=W, threads=1, coarse=True)
    return model, tmp / "float.onnx", report


@pytest.fixture(scope="module")
def quantized(exported) -> QuantizeReport:
    _, path, _ = exported
    return quantize_fusion_onnx(path, path.with_name("int8.onnx"), CALIBRATION, check=CHECK, source="room-like views", threads=1)


def test_coarse_export_gives_torch_coarse_logits(exported):
    model, path, report = exported
    assert report.output_name == "coarse_logits" and report.output == ["batch", len(CLASSES), HC, WC]
    assert report.max_abs_diff < COARSE_ATOL
    network = OnnxFusion(path, threads=1)
    assert network.coarse and (network.height, network.width) == (H, W) and network.kind == "float"
    for feed in CHECK[:2]:
        image, z = torch.from_numpy(feed["image"]), torch.from_numpy(feed["features"])
        with torch.inference_mode():
            expected, height, width = model.coarse_logits(image, z)
            full = model(image, z)
        got, got_h, got_w = network.coarse_logits(image, z)
        assert (got_h, got_w) == (height, width) == (H, W)
        torch.testing.assert_close(got, expected, rtol=0, atol=COARSE_ATOL)
        torch.testing.assert_close(network(image, z), full, rtol=0, atol=COARSE_ATOL)  # upsampled as forward does
    batch = {n: np.concatenate([f[n] for f in CHECK[:2]]) for n in ("image", "features")}  # the dynamic batch
    with torch.inference_mode():
        expected = model.coarse_logits(torch.from_numpy(batch["image"]), torch.from_numpy(batch["features"]))[0]
    np.testing.assert_allclose(run_onnx(path, batch["image"], batch["features"]), expected.numpy(), rtol=0, atol=COARSE_ATOL)


def test_onnx_fusion_reuses_its_input_buffers_not_its_outputs(exported):
    _, path, _ = exported
    network = OnnxFusion(path, threads=1)
    frames = [{n: torch.from_numpy(f[n]) for n in ("image", "features")} for f in CHECK[:2]]
    first = network.coarse_logits(frames[0]["image"], frames[0]["features"])[0]
    kept = first.clone()
    # the second frame as Segmenter passes it: NCHW views of channels-last tensors
    image, z = (frames[1][n].permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2) for n in ("image", "features"))
    second = network.coarse_logits(image, z)[0]
    assert torch.equal(first, kept)  # the second frame left the first one's logits as they were
    expected = run_onnx(network.session, CHECK[1]["image"], CHECK[1]["features"])  # same session: same kernels
    assert torch.equal(second, torch.from_numpy(expected))


def test_coarse_file_says_which_output_it_has(exported):
    model, path, _ = exported
    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert props["rtgs2.output"].startswith(f"coarse_logits [batch, {len(CLASSES)}, {HC}, {WC}] float32 (VDVINet.coarse_logits")
    assert json.loads(props["rtgs2.image_size"]) == [H, W] and onnx_config(path) == model.config


def test_int8_coarse_logits_follow_the_float_ones(exported, quantized):
    _, path, _ = exported
    assert quantized.check_views == len(CHECK)
    assert quantized.argmax_agreement >= MIN_INT8_AGREEMENT and quantized.max_abs_diff <= MAX_INT8_DIFF
    floats, ints = OnnxFusion(path, threads=1), OnnxFusion(quantized.path, threads=1)
    diffs = [
        (ints.coarse_logits(*(torch.from_numpy(f[n]) for n in ("image", "features")))[0]
         - floats.coarse_logits(*(torch.from_numpy(f[n]) for n in ("image", "features")))[0]).abs()
        for f in CHECK
    ]  # fmt: skip
    assert float(torch.cat(diffs)[..., : H // 4, : W // 4].mean()) <= MAX_INT8_MEAN_DIFF


def test_int8_file_keeps_the_metadata_and_says_how_it_was_quantized(exported, quantized):
    _, path, _ = exported
    floats = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    ints = {p.key: p.value for p in onnx.load(str(quantized.path)).metadata_props}
    described = json.loads(ints.pop("rtgs2.quantization"))
    assert ints == floats  # config, classes, inputs, output, image size, source weights
    assert described["format"] == "QDQ" and described["weights"].startswith("int8, per output channel")
    assert described["activations"].startswith("uint8")
    assert described["calibration"] == {"method": "percentile", "views": len(CALIBRATION), "source": "room-like views"}
    assert len(described["float_sha256"]) == 64 and described == quantized.quantization
    node_types = {n.op_type for n in onnx.load(str(quantized.path)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= node_types
    network = OnnxFusion(quantized.path)
    assert network.kind == "int8" and network.quantization == described and network.coarse


def test_quantization_is_deterministic(exported, quantized, tmp_path):
    _, path, _ = exported
    again = quantize_fusion_onnx(path, tmp_path / "again.onnx", CALIBRATION, source="room-like views")
    assert again.path.read_bytes() == quantized.path.read_bytes()


def test_quantizing_leaves_the_float_files_folder_as_it_was(exported, tmp_path):
    _, path, _ = exported
    folder = tmp_path / "mine"
    folder.mkdir()
    source = folder / "float.onnx"
    source.write_bytes(path.read_bytes())
    (folder / "float-inferred.onnx").write_text("a user's file")  # onnxruntime's scratch name beside its input
    quantize_fusion_onnx(source, tmp_path / "int8.onnx", CALIBRATION[:2], source="room-like views")
    assert sorted(p.name for p in folder.iterdir()) == ["float-inferred.onnx", "float.onnx"]
    assert (folder / "float-inferred.onnx").read_text() == "a user's file"


def test_a_failing_histogram_falls_back_to_minmax(exported, tmp_path, monkeypatch):
    """Percentile's histogram fails on a tensor of nearly constant values (seen with the shipped
    model on random Z): numpy's ValueError, replayed here."""
    import onnxruntime.quantization as ortq

    real = ortq.quantize_static
    methods = []

    def fail_histograms(*args, calibrate_method, **kwargs):
        methods.append(calibrate_method.name)
        if calibrate_method != ortq.CalibrationMethod.MinMax:
            raise ValueError("Too many bins for data range. Cannot create 2048 finite-sized bins.")
        return real(*args, calibrate_method=calibrate_method, **kwargs)

    monkeypatch.setattr(ortq, "quantize_static", fail_histograms)
    _, path, _ = exported
    with pytest.warns(UserWarning, match="percentile calibration failed .*Too many bins.*; calibrating with minmax"):
        report = quantize_fusion_onnx(path, tmp_path / "int8.onnx", CALIBRATION[:2])
    assert methods == ["Percentile", "MinMax"]
    calibration = report.quantization["calibration"]
    assert calibration["method"] == "minmax" and calibration["requested"] == "percentile" and "bins" in calibration["note"]


def test_bad_files_and_inputs_are_refused(exported, quantized, tmp_path):
    _, path, _ = exported
    with pytest.raises(UserError, match="int8.onnx is quantized already: give the float file"):
        quantize_fusion_onnx(quantized.path, tmp_path / "twice.onnx", CALIBRATION)
    mine = tmp_path / "mine.onnx"
    mine.write_bytes(b"someone else's model")
    with pytest.raises(UserError, match="mine.onnx exists and is not an rtgs2 export: choose a new file"):
        quantize_fusion_onnx(path, mine, CALIBRATION)
    assert mine.read_bytes() == b"someone else's model"
    with pytest.raises(ConfigError, match="out must not be the file it is made from"):
        quantize_fusion_onnx(path, path, CALIBRATION)
    with pytest.raises(UserError, match="at least one calibration view"):
        quantize_fusion_onnx(path, tmp_path / "q.onnx", [])
    small = [{"image": f["image"][..., :32], "features": f["features"][..., :8]} for f in CALIBRATION[:1]]
    with pytest.raises(UserError, match=rf"calibration inputs must hold image \[1, 3, {H}, {W}\]; got \[1, 3, {H}, 32\]"):
        quantize_fusion_onnx(path, tmp_path / "q.onnx", small)
    with pytest.raises(ConfigError, match="calibration_method must be one of minmax, entropy, percentile"):
        quantize_fusion_onnx(path, tmp_path / "q.onnx", CALIBRATION, method="kl")
    assert not (tmp_path / "q.onnx").exists()


@pytest.mark.parametrize(
    "args, named",
    [
        (["--int8"], "--calibration-data is needed with --int8"),
        (["--calibration-data", "{tmp}"], "--calibration-data calibrates an int8 file: add --int8"),
        (["--calibration-views", "4"], "--calibration-views calibrates an int8 file: add --int8"),
        (["--calibration-method", "minmax"], "--calibration-method calibrates an int8 file: add --int8"),
        (["--int8", "--calibration-data", "{tmp}", "--calibration-views", "0"], "--calibration-views must be a positive number of views; got 0"),
        (["--int8", "--calibration-data", "{tmp}/none"], "--calibration-data must be a data set folder; {tmp}/none is not one"),
    ],
)
def test_cli_int8_options_are_one_line_errors(args, named, exported, tmp_path, capsys):
    _, path, _ = exported
    argv = ["export", "onnx", "--weights", str(path.with_name("model.pt")), "--out", str(tmp_path / "f.onnx")]
    line = one_line_error(argv + [a.format(tmp=tmp_path) for a in args], capsys)
    assert line.startswith("rtgs2 export onnx: ") and named.format(tmp=tmp_path) in line, line
    assert not (tmp_path / "f.onnx").exists()


def test_cli_int8_calibrates_on_a_data_sets_train_views(synthrooms_mini, tmp_path):
    """End to end on the mini SynthRooms set: an image-only model (no features to extract), its
    views resized to the file's 48x64."""
    torch.manual_seed(1)
    save_fusion(build_fusion("small", "image", num_classes=len(CLASSES), class_names=CLASSES), tmp_path / "image.pt")
    out = tmp_path / "image_int8.onnx"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        cli.entrypoint([
            "export", "onnx", "--weights", str(tmp_path / "image.pt"), "--out", str(out), "--height", str(H),
            "--width", str(W), "--coarse", "--int8", "--calibration-data", str(synthrooms_mini), "--calibration-views", "2",
        ])  # fmt: skip
    lines = printed.getvalue().splitlines()
    assert lines[0] == f"{out}: ONNX opset 18, fusion small/image, 4 classes, int8"
    assert f"  output coarse_logits [batch, 4, {HC}, {WC}] float32" in lines
    calibrated = next(line for line in lines if line.startswith("  int8: calibrated"))
    assert calibrated.startswith(f"  int8: calibrated (percentile) on 2 views of 2 train scenes of {synthrooms_mini}")
    assert "(train_000, train_001), seed 0" in calibrated
    assert any(line.startswith("  max |int8 - float|") and "on 8 other views" in line for line in lines)
    network = OnnxFusion(out)
    assert network.kind == "int8" and network.quantization["calibration"]["views"] == 2


def test_the_calibration_methods_are_one_list() -> None:
    import typing

    from rtgs2.cli.export import ExportOnnx
    from rtgs2.export import CALIBRATION_METHODS
    from rtgs2.export.quantize import Calibration

    cli_methods = typing.get_args(typing.get_type_hints(ExportOnnx)["calibration_method"])
    assert typing.get_args(Calibration) == cli_methods == CALIBRATION_METHODS


def test_calibration_views_are_seeded_and_apart_from_the_check_views(synthrooms_mini, tmp_path):
    from rtgs2.export.quantize import dataset_feeds

    torch.manual_seed(1)
    save_fusion(build_fusion("small", "image", num_classes=len(CLASSES), class_names=CLASSES), tmp_path / "image.pt")

    def feeds(seed: int) -> tuple[list, list]:
        calibration, check, _ = dataset_feeds(synthrooms_mini, tmp_path / "image.pt", 2, height=H, width=W, seed=seed,
                                              extra_views=2)  # fmt: skip
        return [f["image"] for f in calibration], [f["image"] for f in check]

    (a, a_check), (b, _), (c, _) = feeds(0), feeds(0), feeds(1)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))  # the same seed, the same views
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))  # another seed, other views
    assert not any(np.array_equal(x, y) for x in a for y in a_check)  # calibration and check views differ
