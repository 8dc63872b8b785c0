"""Export of trained networks for other runtimes: the fusion network to ONNX, run with
onnxruntime (:mod:`rtgs2.export.onnx`).

The opset bounds live here, without torch, because ``rtgs2 export onnx --help`` shows them.
"""

from __future__ import annotations

MIN_OPSET = 18  # torch's dynamo exporter (torchlib) writes opset 18 ops; lower ones need a conversion that may fail
MAX_OPSET = 23  # the newest opset torch 2.13's exporter knows
DEFAULT_OPSET = 18  # the oldest supported: runs on the widest range of runtimes (onnxruntime >= 1.14)
