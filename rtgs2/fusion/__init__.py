"""The VDVI fusion network (image + feature image -> semantic logits), its losses and weights.

Names are imported on first use, so that importing ``rtgs2.fusion`` loads no torch.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "INPUTS": "rtgs2.fusion.vdvi",
    "VARIANTS": "rtgs2.fusion.vdvi",
    "FusionOutput": "rtgs2.fusion.vdvi",
    "VDVINet": "rtgs2.fusion.vdvi",
    "build_fusion": "rtgs2.fusion.vdvi",
    "FusionLoss": "rtgs2.fusion.losses",
    "FusionLossConfig": "rtgs2.fusion.losses",
    "BackboneLoadReport": "rtgs2.fusion.io",
    "load_backbone_weights": "rtgs2.fusion.io",
    "load_fusion": "rtgs2.fusion.io",
    "load_fusion_weights": "rtgs2.fusion.io",
    "save_fusion": "rtgs2.fusion.io",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'rtgs2.fusion' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)


def __dir__() -> list[str]:
    return __all__
