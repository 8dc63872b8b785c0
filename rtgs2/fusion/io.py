"""Fusion weights on disk, and ImageNet backbone weights a user already has.

A fusion file is one torch file ``{"format", "config", "state_dict"}`` whose ``config`` is the
JSON text of ``VDVINet.config`` (size, inputs, num_classes, feature_dim, depth_head, class
names), so ``load_fusion`` rebuilds the model without being told its variant. Written
atomically; read with ``weights_only=True`` (no code runs on load). Beside it, a JSON card
(written by training) names, among others, the feature weights the model was trained with
(``feature_weights``, ``feature_weights_sha256``): :func:`read_fusion_card` reads it, and
``rtgs2.features.io.resolve_feature_weights`` turns those values into the file to use.

``load_backbone_weights`` maps a timm ``convnext_tiny`` state dict onto Enc_VD and a
transformers SegFormer (mit-b0) state dict onto Enc_VI by parameter name; nothing is fetched.
``load_pruned_weights`` starts a model with fewer blocks per stage from a saved larger one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from rtgs2.fusion.vdvi import SHARED_STEM_STRIDES, VARIANTS, VDVINet, strides_share_parameters
from rtgs2.utils.errors import CheckpointError, CheckpointMismatchError, MissingFileError, Rtgs2Error
from rtgs2.utils.io import atomic_open, refuse_folder

FORMAT = "rtgs2-fusion-1"
# config fields that decide the parameters' names and shapes (class names do not)
ARCHITECTURE = ("size", "inputs", "fusion", "num_classes", "feature_dim", "depth_head")
WEIGHTS_DIR = Path(__file__).parent / "weights"
SHIPPED = WEIGHTS_DIR / "vdvi_small_late_synthrooms_v3x3.pt"  # the default model of segment, eval and the demo


def fusion_weights_path(weights: str | Path | None) -> Path:
    """``weights``, else the shipped fusion model; FileNotFoundError when that file is missing
    (callers check it before slow work such as building a scene)."""
    path = Path(weights) if weights is not None else SHIPPED
    refuse_folder(path, "fusion weights")
    if not path.is_file():
        if weights is None:
            raise MissingFileError(
                f"no shipped fusion weights at {path}: pass a fusion model with --weights (rtgs2 train fusion writes one)"
            )
        raise MissingFileError(f"no fusion weights at {path}")
    return path


def read_fusion_card(fusion_weights: str | Path) -> dict:
    """The JSON card beside a fusion weights file ({} when there is none); Rtgs2Error when unreadable."""
    card_file = Path(fusion_weights).with_suffix(".json")
    if not card_file.is_file():
        return {}
    try:
        card = json.loads(card_file.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise Rtgs2Error(f"{card_file}: not a readable fusion model card ({e})") from None
    if not isinstance(card, dict):
        raise Rtgs2Error(f"{card_file}: not a fusion model card (expected a JSON object)")
    return card


def save_fusion(model: VDVINet, path: str | Path) -> None:
    """Write ``model``'s weights and config to ``path`` (atomically)."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    payload = {"format": FORMAT, "config": json.dumps(model.config, sort_keys=True), "state_dict": state}
    with atomic_open(path, "wb") as f:
        torch.save(payload, f)


def read_fusion_file(path: str | Path) -> tuple[dict, dict[str, Tensor]]:
    """The config and state dict of a file written by ``save_fusion``."""
    path = Path(path)
    refuse_folder(path, "fusion weights")
    if not path.is_file():
        raise MissingFileError(f"fusion weights {path} not found")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for a damaged or foreign file
        # only the type: torch's message advises weights_only=False, unsafe for a file from elsewhere
        raise CheckpointError(f"{path} is not a readable fusion weights file ({type(e).__name__})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        hint = (
            " (it looks like a bare state dict: for ImageNet encoder weights use --backbone-weights)"
            if isinstance(payload, dict) and payload and all(isinstance(v, Tensor) for v in payload.values())
            else ""
        )
        raise CheckpointError(f"{path} is not an rtgs2 fusion weights file (written by save_fusion){hint}")
    try:
        config = json.loads(payload["config"])
        state = payload["state_dict"]
    except (KeyError, TypeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path}: damaged fusion weights file ({e})") from e
    if config.get("size") not in VARIANTS:
        raise CheckpointError(f"{path}: unknown fusion size {config.get('size')!r} (known: {', '.join(VARIANTS)})")
    # files from before VDVISize.feature_stride read Z at the image's resolution; those from
    # before VDVISize.vd_block have a ConvNeXt Enc_VD
    config.setdefault("feature_stride", 1)
    config.setdefault("vd_block", "convnext")
    config.setdefault("fusion", "mid")  # and those from before late fusion are psi's
    return config, state


def load_fusion(
    path: str | Path, *, expect: Mapping[str, Any] | None = None, feature_stride: int | None = None
) -> VDVINet:
    """The model saved at ``path``, on the CPU in eval mode (as ``load_feature_net``'s): code
    that trains it further calls ``.train()``.

    Args:
        expect: config values the caller needs, e.g. ``{"inputs": "both", "feature_dim": 32}``;
            a file that differs raises CheckpointMismatchError naming each field.
        feature_stride: build it to read Z at this resolution instead of the file's (one whose
            network has the same parameters: ``SHARED_STEM_STRIDES``); None: the file's.
    """
    config, state = read_fusion_file(path)
    if expect:
        diff = [f"{k}: file has {config.get(k)!r}, expected {v!r}" for k, v in expect.items() if config.get(k) != v]
        if diff:
            raise CheckpointMismatchError(f"{path} holds another fusion model: " + "; ".join(diff))
    if feature_stride is not None:
        if not strides_share_parameters(feature_stride, config["feature_stride"]):
            raise CheckpointMismatchError(
                f"{path} reads Z at stride {config['feature_stride']}: its weights cannot read it at {feature_stride} "
                f"(only strides {' and '.join(map(str, sorted(SHARED_STEM_STRIDES)))} share their parameters)"
            )
        config["feature_stride"] = feature_stride
    # the variant's builder takes the rest of the config: inputs, classes, and any size fields
    # that differ from the variant's (a model built with overrides records them)
    model = VARIANTS[config["size"]](**{k: v for k, v in config.items() if k != "size"})
    _load_state(model, state, path)
    return model.eval()


def load_fusion_weights(model: VDVINet, path: str | Path) -> None:
    """Load the weights saved at ``path`` into ``model``, which must be the same variant."""
    config, state = read_fusion_file(path)
    mine = model.config
    diff = [
        f"{k}: file has {config.get(k)!r}, this model {mine[k]!r}" for k in ARCHITECTURE if config.get(k) != mine[k]
    ]
    if diff:
        raise CheckpointMismatchError(f"{path} holds another fusion model: " + "; ".join(diff))
    _load_state(model, state, path)


# a block of an encoder stage: timm resnet ``layerI.J``, timm convnext ``stages.I.blocks.J``, SegFormer ``block.I.J``
_BLOCK = re.compile(r"^(vd\.layer\d+\.\d+|vd\.stages\.\d+\.blocks\.\d+|vi\.block\.\d+\.\d+)\.")
# config fields a pruned model shares with the model it starts from (the size and depths may differ)
PRUNE_SHARED = ("inputs", "fusion", "num_classes", "feature_dim", "depth_head", "feature_stride", "vd_block")


def load_pruned_weights(model: VDVINet, path: str | Path) -> list[str]:
    """Start ``model`` from a saved model of the same widths and more blocks per stage (a
    ``small`` model's weights in a ``fast`` one): every tensor of ``model`` is set from the file's
    tensor of the same name, so each stage keeps the file's first blocks; the blocks the model
    lacks are left out. Returns the left-out blocks' names (``vd.layer3.1``, ...).

    Raises:
        CheckpointMismatchError: the file differs in inputs, classes, feature width or stride,
            Enc_VD blocks or depth head, lacks a tensor of ``model`` or holds one of another
            shape, or holds tensors other than whole blocks that ``model`` lacks.
    """
    config, state = read_fusion_file(path)
    mine = model.config
    diff = [f"{k}: file has {config.get(k)!r}, this model {mine[k]!r}" for k in PRUNE_SHARED if config.get(k) != mine[k]]
    if diff:
        raise CheckpointMismatchError(f"{path} cannot start this {mine['size']} model: " + "; ".join(diff))
    own = model.state_dict()
    if not_blocks := sorted(k for k in state.keys() - own.keys() if not _BLOCK.match(k)):
        raise CheckpointMismatchError(
            f"{path} cannot start this {mine['size']} model: it holds {len(not_blocks)} tensors outside the encoders' "
            f"blocks that the model lacks ({', '.join(not_blocks[:4])})"
        )
    dropped = sorted({_BLOCK.match(k).group(1) for k in state.keys() - own.keys()})
    _load_state(model, {k: v for k, v in state.items() if k in own}, path)
    return dropped


def _load_state(model: VDVINet, state: Mapping[str, Tensor], path: str | Path) -> None:
    """``load_state_dict`` with a message naming the first missing, extra or mis-shaped keys."""
    own = model.state_dict()
    problems = []
    if missing := sorted(own.keys() - state.keys()):
        problems.append(f"missing {len(missing)} ({', '.join(missing[:4])})")
    if extra := sorted(state.keys() - own.keys()):
        problems.append(f"unexpected {len(extra)} ({', '.join(extra[:4])})")
    shapes = [
        f"{k} {list(state[k].shape)} vs {list(own[k].shape)}"
        for k in sorted(own.keys() & state.keys())
        if state[k].shape != own[k].shape
    ]
    if shapes:
        problems.append(f"{len(shapes)} of another shape (file vs model: {', '.join(shapes[:4])})")
    if problems:
        raise CheckpointMismatchError(f"{path}: the weights do not fit the model: " + "; ".join(problems))
    model.load_state_dict(state)


# ------------------------------------------------------------------------- backbone weights

# name prefixes of a user's file -> of this model (timm's ConvNeXt; transformers' SegFormer encoder)
_BACKBONE_PREFIXES = {
    "stem.": "vd.stem.", "stages.": "vd.stages.",  # timm convnext_*
    "conv1.": "vd.conv1.", "bn1.": "vd.bn1.", **{f"layer{i}.": f"vd.layer{i}." for i in range(1, 5)},  # timm resnet*
    "encoder.": "vi.",  # transformers SegFormer
}  # fmt: skip
# wrappers: DDP, SegformerForSemanticSegmentation
_STRIP = ("module.", "segformer.")


@dataclass
class BackboneLoadReport:
    """What ``load_backbone_weights`` did."""

    loaded: list[str] = field(default_factory=list)
    """this model's parameters that were set from the file."""
    missing: list[str] = field(default_factory=list)
    """this model's encoder parameters the file did not set."""
    skipped: list[str] = field(default_factory=list)
    """'file key: reason' for each tensor of the file that was not used."""

    def summary(self) -> str:
        return f"loaded {len(self.loaded)} encoder tensors, {len(self.missing)} missing, {len(self.skipped)} skipped"


def _read_state_dict(path: Path) -> dict[str, Tensor]:
    refuse_folder(path, "backbone weights")
    if not path.is_file():
        raise MissingFileError(f"backbone weights {path} not found")
    if path.suffix == ".safetensors":
        try:
            from safetensors.torch import load_file
        except ImportError as e:
            raise Rtgs2Error(
                f"{path}: reading .safetensors needs the safetensors package (pip install safetensors)"
            ) from e
        return load_file(str(path))
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for a damaged or foreign file
        raise Rtgs2Error(f"{path} is not a readable torch state dict ({type(e).__name__})") from None
    # training checkpoints wrap the state dict
    while isinstance(obj, dict) and not any(isinstance(v, Tensor) for v in obj.values()):
        inner = next((obj[k] for k in ("state_dict", "model", "module") if isinstance(obj.get(k), dict)), None)
        if inner is None:
            break
        obj = inner
    if not isinstance(obj, dict):
        raise Rtgs2Error(f"{path} holds a {type(obj).__name__}, not a state dict")
    return {k: v for k, v in obj.items() if isinstance(v, Tensor)}


def _model_key(key: str) -> str | None:
    for prefix in _STRIP:
        key = key.removeprefix(prefix)
    for theirs, ours in _BACKBONE_PREFIXES.items():
        if key.startswith(theirs):
            return ours + key[len(theirs) :]
    return None


def load_backbone_weights(model: VDVINet, path: str | Path) -> BackboneLoadReport:
    """Set the encoders' parameters from an ImageNet state dict, matched by name and shape.

    Reads a timm ``convnext_tiny`` state dict (``stem.*``, ``stages.*``; or a timm ``resnet*``
    one, ``conv1.*``, ``layer1.*``, ..., for a ResNet Enc_VD) for Enc_VD and a
    transformers ``SegformerModel`` / ``SegformerForSemanticSegmentation`` mit-b0 state dict
    (``[segformer.]encoder.*``) for Enc_VI, as a torch file (or ``.safetensors`` when that
    package is installed); both may be in one file. Tensors of another shape (a narrower size,
    Enc_VI's stem over D channels instead of RGB) and heads are skipped and reported.
    Raises Rtgs2Error when nothing matches.
    """
    path = Path(path)
    state = _read_state_dict(path)
    own = model.state_dict()
    report = BackboneLoadReport()
    with torch.no_grad():
        for key, value in state.items():
            ours = _model_key(key)
            if ours is None:
                report.skipped.append(f"{key}: not an encoder parameter")
            elif ours not in own:
                report.skipped.append(f"{key}: this model (inputs={model.inputs!r}) has no {ours}")
            elif own[ours].shape != value.shape:
                report.skipped.append(f"{key}: shape {list(value.shape)}, this model's {list(own[ours].shape)}")
            else:
                own[ours].copy_(value)
                report.loaded.append(ours)
    if not report.loaded:
        raise Rtgs2Error(
            f"{path}: no tensor matches this model's encoders by name and shape; expected timm convnext_tiny "
            "names (stem.0.weight, stages.0.blocks.0.conv_dw.weight, ...) or transformers SegFormer mit-b0 names "
            f"(encoder.block.0.0.attention.self.query.weight, ...); first keys: {', '.join(list(state)[:3])}"
        )
    loaded = set(report.loaded)
    report.missing = [k for k in own if k.startswith(("vd.", "vi.")) and k not in loaded]
    return report
