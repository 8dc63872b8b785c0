"""The fusion benchmark (benchmarks/fusion.py): its child times one tiny configuration."""

import pytest
import torch

from benchmarks.fusion import _case


def test_model_case_reports_a_positive_median():
    spec = {"kind": "model", "size": "small", "inputs": "both", "res": "64x48", "mode": "eager", "frames": 2, "warmup": 1, "threads": 1, "device": "cpu", "feature_stride": 4}
    r = _case(spec)
    assert r["median_ms"] > 0 and r["params_m"] > 0


def test_onnxruntime_case_runs_the_exported_model():
    spec = {"kind": "model", "size": "small", "inputs": "image", "res": "64x48", "mode": "onnxruntime", "frames": 2, "warmup": 1, "threads": 1, "device": "cpu", "feature_stride": 4}
    r = _case(spec)
    assert r["median_ms"] > 0 and "max abs diff to torch" in r["note"]


def test_scene_case_times_both_blend_kernels_with_their_stages():
    base = {"kind": "scene", "res": "64x48", "room_gaussians": 3000, "mode": "eager", "frames": 2, "warmup": 1,
            "threads": 1, "device": "cpu", "feature_stride": 4, "data": None, "feature_weights": None}  # fmt: skip
    rows = {blend: _case(base | {"blend": blend}) for blend in ("frame", "exact")}
    for blend, r in rows.items():
        assert r["total_ms"] >= r["render_ms"] > 0, blend
    # renders without gradients keep the scene's prepared rows: no "prepare" per frame
    assert set(rows["exact"]["render_stages"]) == {"project", "sort", "gather", "bin", "blend"}
    assert set(rows["frame"]["render_stages"]) == {"project", "sort", "gather", "bin", "pack", "blend"}
    fast = _case(base | {"blend": "frame", "scene_size": "fast"})  # --scene-size: the fast variant end to end
    assert fast["total_ms"] >= fast["fusion_ms"] > 0
    with pytest.raises(ValueError, match="unknown fusion size 'tiny'"):
        _case(base | {"blend": "frame", "scene_size": "tiny"})


def test_scene_case_runs_the_int8_network():
    """The end-to-end int8 row: the same random model exported with coarse logits, quantized on
    views of the scene and run by onnxruntime (timings only checked to be positive)."""
    spec = {"kind": "scene", "res": "64x48", "room_gaussians": 3000, "mode": "int8", "blend": "frame", "frames": 2,
            "warmup": 1, "threads": 1, "device": "cpu", "feature_stride": 4, "data": None, "feature_weights": None}  # fmt: skip
    r = _case(spec)
    assert r["total_ms"] >= r["fusion_ms"] > 0 and r["argmax_ms"] > 0


def test_scene_case_takes_another_fit_of_the_room(synthrooms_mini, tmp_path):
    """--gaussians: the data set's test room and cameras, the Gaussians of another file."""
    from rtgs2.data.readers.synthrooms import open_synthrooms
    from rtgs2.scene import read_ply, write_ply

    own = read_ply(open_synthrooms(synthrooms_mini).test[0].gaussians)
    other = own.subset(torch.arange(0, own.num_gaussians, 2))  # half of them: a different file
    write_ply(other, tmp_path / "point_cloud.ply")
    spec = {"kind": "scene", "res": "64x48", "mode": "eager", "blend": "frame", "frames": 1, "warmup": 1, "threads": 1,
            "device": "cpu", "feature_stride": 4, "data": str(synthrooms_mini), "feature_weights": None}  # fmt: skip
    assert _case(spec)["gaussians"] == own.num_gaussians
    assert _case(spec | {"gaussians": str(tmp_path)})["gaussians"] == other.num_gaussians  # a folder holding it
    name = open_synthrooms(synthrooms_mini).test[0].name
    assert _case(spec | {"scene": name})["scene"] == name  # --scene: that test room
    with pytest.raises(ValueError, match="no finished test scene train_000"):
        _case(spec | {"scene": "train_000"})
    halved = _case(spec | {"network_scale": "2"})  # the network reads the view at half its size
    assert halved["network_scale"] == 2 and halved["total_ms"] > 0 and _case(spec)["network_scale"] == 1
    with pytest.raises(ValueError, match="int8 rows read views whole"):
        _case(spec | {"network_scale": "2", "mode": "int8"})
    assert _case(spec | {"mode": "int8", "res": "640x480"})["network_scale"] == 1  # auto: an ONNX file reads the view whole
