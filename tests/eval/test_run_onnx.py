"""``rtgs2 eval --onnx``: an ONNX file of one of the models scored as a row of its own (run by
onnxruntime), and the files it refuses before scoring (another image size, another model's).

A small random image-only model over the SynthRooms classes (no features to extract), exported
once with coarse logits at the mini set's 160x120 (5-20 s on the 2-core CPU)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from rtgs2.data.readers.synthrooms import CLASS_NAMES  # noqa: E402
from rtgs2.eval.config import EvalConfig  # noqa: E402
from rtgs2.eval.run import evaluate  # noqa: E402
from rtgs2.export.onnx import export_fusion_onnx  # noqa: E402
from rtgs2.fusion import build_fusion, save_fusion  # noqa: E402
from rtgs2.fusion.io import read_fusion_file  # noqa: E402
from rtgs2.utils.errors import ConfigError, UserError  # noqa: E402
from rtgs2.utils.io import file_sha256  # noqa: E402
from tests.export.fakes import write_fake_fusion_onnx  # noqa: E402

BARE = EvalConfig(fps_frames=1, fps_warmup=0, figure_views=0)
H, W = 120, 160  # the mini set's views


@pytest.fixture(scope="module")
def model_and_onnx(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("onnx_eval")
    torch.manual_seed(0)
    save_fusion(build_fusion("small", "image", num_classes=len(CLASS_NAMES), class_names=list(CLASS_NAMES)), folder / "image.pt")
    export_fusion_onnx(folder / "image.pt", folder / "image.onnx", height=H, width=W, threads=1, coarse=True)
    return folder / "image.pt", folder / "image.onnx"


def test_an_onnx_file_is_a_row_beside_its_model(synthrooms_mini, model_and_onnx, tmp_path):
    weights, onnx = model_and_onnx
    results = evaluate(synthrooms_mini, tmp_path / "out", [weights], onnx=[onnx], config=BARE, progress=False)
    rows = results["rows"]
    assert list(rows) == ["image only", "image only (float ONNX)"]
    assert rows["image only (float ONNX)"]["onnx"] == str(onnx) and rows["image only"]["onnx"] is None
    assert rows["image only (float ONNX)"]["weights"] == str(weights)
    assert (rows["image only"]["network"], rows["image only (float ONNX)"]["network"]) == ("torch", "onnx float")
    for score in ("miou", "macc", "oacc"):  # the float file labels as torch does (tests/pipeline/test_segmenter_onnx.py)
        assert rows["image only (float ONNX)"][score] == pytest.approx(rows["image only"][score], abs=1e-3)
    assert "| image only (float ONNX) |" in (tmp_path / "out" / "results.md").read_text()


def test_files_that_do_not_fit_are_refused_before_scoring(synthrooms_mini, model_and_onnx, tmp_path):
    weights, _ = model_and_onnx
    config, _ = read_fusion_file(weights)
    small = write_fake_fusion_onnx(tmp_path / "small.onnx", config, height=48, width=64, weights_sha256=file_sha256(weights))
    with pytest.raises(UserError, match=rf"scene 'test_000' of .* has {W}x{H} views, the ONNX file .*small.onnx takes 64x48: export it at the data's size \(rtgs2 export onnx --width {W} --height {H}\)"):
        evaluate(synthrooms_mini, tmp_path / "a", [weights], onnx=[small], config=BARE, progress=False)
    other = write_fake_fusion_onnx(tmp_path / "other.onnx", config, height=H, width=W)  # of no model given
    with pytest.raises(UserError, match="the ONNX file .*other.onnx was exported from none of the fusion models given with --weights"):
        evaluate(synthrooms_mini, tmp_path / "b", [weights], onnx=[other], config=BARE, progress=False)
    full = write_fake_fusion_onnx(tmp_path / "full.onnx", config, height=H, width=W, coarse=False, weights_sha256=file_sha256(weights))
    with pytest.raises(UserError, match="full.onnx outputs full-resolution logits"):
        evaluate(synthrooms_mini, tmp_path / "c", [weights], onnx=[full], config=BARE, progress=False)
    with pytest.raises(ConfigError, match="names must name each model given with weights, then each onnx file, in order: got 1 for 2"):
        evaluate(synthrooms_mini, tmp_path / "d", [weights], names=["mine"], onnx=[small], config=BARE, progress=False)
    assert not any((tmp_path / n).exists() for n in "abcd")


def test_the_torch_rows_run_compiled_in_the_precision_asked_and_the_onnx_row_as_it_is(
    synthrooms_mini, model_and_onnx, tmp_path, monkeypatch
):
    from rtgs2.fusion import compiled

    monkeypatch.setattr(compiled.torch, "compile", lambda fn, **_k: fn)  # the wiring, not inductor (tests/fusion)
    weights, onnx = model_and_onnx
    config = EvalConfig(fps_frames=1, fps_warmup=0, figure_views=0, compile_network=True, precision="bfloat16")
    rows = evaluate(synthrooms_mini, tmp_path / "out", [weights], onnx=[onnx], config=config, progress=False)["rows"]
    assert (rows["image only"]["network"], rows["image only (float ONNX)"]["network"]) == (
        "torch compiled bfloat16", "onnx float"
    )
    with pytest.raises(ConfigError, match="precision must be float32 or auto without compile_network"):
        EvalConfig(precision="bfloat16")
