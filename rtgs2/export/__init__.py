"""Export of trained networks for other runtimes: the fusion network to ONNX (:mod:`rtgs2.export.onnx`;
:mod:`rtgs2.fusion.onnx_runtime` runs such a file with onnxruntime), and such a file quantized to int8
(:mod:`rtgs2.export.quantize`).

The opset bounds and calibration defaults live here, without torch, because ``rtgs2 export onnx
--help`` shows them.
"""

from __future__ import annotations

from typing import Final

MIN_OPSET = 18  # torch's dynamo exporter (torchlib) writes opset 18 ops; lower ones need a conversion that may fail
MAX_OPSET = 23  # the newest opset torch 2.13's exporter knows
DEFAULT_OPSET = 18  # the oldest supported: runs on the widest range of runtimes (onnxruntime >= 1.14)

# int8 (rtgs2.export.quantize; here for ``rtgs2 export onnx --help``)
CALIBRATION_METHODS = ("minmax", "entropy", "percentile")  # onnxruntime's MinMax, Entropy, Percentile
DEFAULT_CALIBRATION: Final = "percentile"  # the most agreeing with the float model (rtgs2.export.quantize's doc)
CALIBRATION_VIEWS = 16  # rendered views calibrating the activations' ranges (the first experiment's, issue 28)
