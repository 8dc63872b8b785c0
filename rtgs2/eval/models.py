"""The models ``rtgs2 eval`` scores, one row each, and how their classes meet the data's: matched
by name (case, ``_`` and ``-`` aside); data classes a model does not know are not scored."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rtgs2.data.views import IGNORE_LABEL
from rtgs2.fusion.io import fusion_weights_path, read_fusion_file
from rtgs2.utils.errors import ConfigError, Rtgs2Error, UserError

ROW_NAMES = {"both": "full", "image": "image only", "features": "Z only"}  # the paper's rows, by model inputs
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

    @property
    def num_classes(self) -> int:
        return self.config["num_classes"]


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


def load_models(weights: Sequence[str | Path], names: Sequence[str], data_names: list[str], finetune: bool) -> list[Model]:
    """The rows' models (default: the shipped one), their classes matched with ``data_names``;
    ``finetune``: a fine-tuned row will follow (its name is taken)."""
    paths = [fusion_weights_path(w) for w in weights] if weights else [fusion_weights_path(None)]
    if names and len(names) != len(paths):
        raise ConfigError(None, "names", f"must name each model given with weights, in order: got {len(names)} for {len(paths)}")
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
    rows = [m.name for m in models] + ([FINETUNED] if finetune else [])
    dup = sorted({r for r in rows if rows.count(r) > 1})
    if dup:
        raise UserError(f"several rows would be named {dup}: name each model with --names (one per --weights, in order)")
    return models
