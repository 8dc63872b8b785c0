"""ONNX files with rtgs2's metadata but no network (a constant output of the right shape), for the
checks that read only a file's metadata and shapes: written in milliseconds, where an export takes
seconds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from rtgs2.export.onnx import input_names
from rtgs2.fusion.onnx_runtime import COARSE_OUTPUT, METADATA_PREFIX, OUTPUT

ONNX_IR_VERSION = 10  # onnxruntime 1.30 reads IR versions up to 11; onnx 1.23 writes newer by default


def coarse_size(height: int, width: int) -> tuple[int, int]:
    """h, w of ``VDVINet.coarse_logits`` for an image of height x width: a quarter, padded to a multiple of 8."""
    quarter_h, quarter_w = -(-height // 4), -(-width // 4)
    return -(-quarter_h // 8) * 8, -(-quarter_w // 8) * 8


def write_fake_fusion_onnx(
    path: Path, config: dict[str, Any], *, height: int, width: int, coarse: bool = True, weights_sha256: str = "0" * 64
) -> Path:
    """A file that ``OnnxFusion`` opens as an export of a model of ``config`` at height x width
    (coarse or full-resolution logits, all zero), recording ``weights_sha256`` as its source."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    f = config.get("feature_stride", 1)
    shapes = {"image": [1, 3, height, width], "features": [1, config["feature_dim"], -(-height // f), -(-width // f)]}
    output = COARSE_OUTPUT if coarse else OUTPUT
    out_shape = [1, config["num_classes"], *(coarse_size(height, width) if coarse else (height, width))]
    constant = helper.make_node("Constant", [], [output], value=numpy_helper.from_array(np.zeros(out_shape, np.float32)))
    graph = helper.make_graph(
        [constant], "fake",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, shapes[n]) for n in input_names(config)],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, out_shape)],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=ONNX_IR_VERSION)
    metadata = {
        "config": json.dumps(config, sort_keys=True),
        "class_names": json.dumps(config.get("class_names")),
        "image_size": json.dumps([height, width]),
        "weights_sha256": weights_sha256,
    }
    for key, value in metadata.items():
        model.metadata_props.add(key=METADATA_PREFIX + key, value=value)
    onnx.save(model, str(path))
    return path
