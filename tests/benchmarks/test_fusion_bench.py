"""The fusion benchmark (benchmarks/fusion.py): its child times one tiny configuration."""

from benchmarks.fusion import _case


def test_model_case_reports_a_positive_median():
    spec = {"kind": "model", "size": "small", "inputs": "both", "res": "64x48", "mode": "eager", "frames": 2, "warmup": 1, "threads": 1, "device": "cpu", "feature_stride": 4}
    r = _case(spec)
    assert r["median_ms"] > 0 and r["params_m"] > 0


def test_onnxruntime_case_runs_the_exported_model():
    spec = {"kind": "model", "size": "small", "inputs": "image", "res": "64x48", "mode": "onnxruntime", "frames": 2, "warmup": 1, "threads": 1, "device": "cpu", "feature_stride": 4}
    r = _case(spec)
    assert r["median_ms"] > 0 and "max abs diff to torch" in r["note"]
