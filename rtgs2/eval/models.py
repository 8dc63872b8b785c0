"""The models ``rtgs2 eval`` scores, one row each, and how their classes meet the data's: matched
by name (case, ``_`` and ``-`` aside); data classes a model does not know are not scored. An ONNX
file of one of the models (``rtgs2 export onnx --coarse``, float or int8) is a row of its own, run
by onnxruntime, with the classes and feature weights of the model it was exported from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from rtgs2.data.views import IGNORE_LABEL
from rtgs2.fusion.io import fusion_weights_path, read_fusion_file
from rtgs2.utils.errors import ConfigError, Rtgs2Error, UserError

ROW_NAMES = {"both": "full", "image": "image only", "features": "Z only"}  # the paper's rows, by model inputs
ONNX_ROW = "{row} ({kind} ONNX)"  # an ONNX file's row: its model's row name and the file's kind (float, int8)
FINETUNED = "fine-tuned"


@dataclass
class Model:
    """A model to score (one row) and how its classes meet the data's."""

    name: str
    weights: Path
    config: dict  # VDVINet.config: size, inputs, num_classes, class_names, ...
    lut: np.ndarray  # [256] uint8: data class -> the model's class (IGNORE_LABEL: unknown to it)
    ignored: list[str]  # data classes the model does not know: not scored
    absent: list[str]  # model classes the data does not have
    onnx: Path | None = None  # an ONNX file of the model at ``weights``: the row runs it (onnxruntime)
    onnx_size: tuple[int, int] | None = None  # H, W the ONNX file takes (fixed when exporting)

    @property
    def num_classes(self) -> int:
        return self.config["num_classes"]


def _onnx_rows(files: Sequence[str | Path], models: Sequence[Model], names: Sequence[str]) -> list[Model]:
    """A row per ONNX file: the model of ``models`` it was exported from (by the SHA-256 of its
    weights), run from the file; named ``names[i]``, else ``ONNX_ROW``."""
    if not files:
        return []
    from rtgs2.fusion.onnx_runtime import OnnxFusion
    from rtgs2.utils.io import file_sha256

    by_sha = {file_sha256(m.weights): m for m in models}
    rows = []
    for i, file in enumerate(files):
        network = OnnxFusion(file)  # reads the file's metadata (and refuses a missing or foreign file)
        source = by_sha.get(network.weights_sha256 or "")
        if source is None:
            raise UserError(
                f"the ONNX file {file} was exported from none of the fusion models given with --weights "
                f"({', '.join(str(m.weights) for m in models)}): add the weights it was exported from"
            )
        network.require_coarse()  # now, not when its row's turn comes
        name = names[i] if names else ONNX_ROW.format(row=source.name, kind=network.kind)
        rows.append(replace(source, name=name, onnx=Path(file), onnx_size=(network.height, network.width)))
    return rows


def _norm(name: str) -> str:
    """A class name compared across label sets: lower case, ``_`` and ``-`` as spaces."""
    return " ".join(name.lower().replace("_", " ").replace("-", " ").split())


def match_classes(model_names: Sequence[str], data_names: Sequence[str]) -> tuple[np.ndarray, list[str], list[str]]:
    """Classes matched by name: a [256] uint8 table from data class k to the model's class of the
    same name (IGNORE_LABEL where the model has none), the data classes the model does not know,
    and the model classes the data does not have."""
    index = {_norm(n): k for k, n in enumerate(model_names)}
    lut = np.full(IGNORE_LABEL + 1, IGNORE_LABEL, dtype=np.uint8)
    ignored = []
    for k, name in enumerate(data_names):
        if _norm(name) in index:
            lut[k] = index[_norm(name)]
        else:
            ignored.append(name)
    known = {_norm(n) for n in data_names}
    return lut, ignored, [n for n in model_names if _norm(n) not in known]


def load_models(
    weights: Sequence[str | Path],
    names: Sequence[str],
    data_names: list[str],
    finetune: bool,
    onnx: Sequence[str | Path] = (),
) -> list[Model]:
    """The rows' models (default: the shipped one), their classes matched with ``data_names``, then
    a row per ONNX file in ``onnx`` (each of one of those models, found by the SHA-256 of the
    weights it records); ``finetune``: a fine-tuned row will follow (its name is taken)."""
    paths = [fusion_weights_path(w) for w in weights] if weights else [fusion_weights_path(None)]
    if names and len(names) != len(paths) + len(onnx):
        raise ConfigError(
            None, "names", f"must name each model given with weights, then each onnx file, in order: got {len(names)} "
            f"for {len(paths) + len(onnx)}"
        )  # fmt: skip
    models = []
    for i, path in enumerate(paths):
        config, _ = read_fusion_file(path)
        classes = config.get("class_names")
        if not classes:
            raise Rtgs2Error(f"fusion model {path} has no class names to match the data's classes by")
        lut, ignored, absent = match_classes(classes, data_names)
        if len(ignored) == len(data_names):
            raise Rtgs2Error(
                f"fusion model {path} shares no class name with the data's label set (data: "
                f"{', '.join(data_names[:8])}{', ...' if len(data_names) > 8 else ''}; model: {', '.join(classes[:8])}"
                f"{', ...' if len(classes) > 8 else ''}); choose the data's label set with --label-set"
            )
        name = names[i] if names else ROW_NAMES[config["inputs"]]
        models.append(Model(name, path, config, lut, ignored, absent))
    models += _onnx_rows(onnx, models, names[len(paths) :] if names else ())
    rows = [m.name for m in models] + ([FINETUNED] if finetune else [])
    dup = sorted({r for r in rows if rows.count(r) > 1})
    if dup:
        raise UserError(f"several rows would be named {dup}: name each model with --names (one per --weights, in order)")
    return models
