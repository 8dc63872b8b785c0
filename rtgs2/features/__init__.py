"""Stage features: view-independent per-Gaussian features from a PTv3-style point backbone.

Names are imported on first use (the CLI reads configs without loading torch).
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "extract_features": "rtgs2.features.extract",
    "load_feature_net": "rtgs2.features.io",
    "save_feature_net": "rtgs2.features.io",
    "VARIANTS": "rtgs2.features.ptv3",
    "GaussianFeatureNet": "rtgs2.features.ptv3",
    "PTv3Config": "rtgs2.features.ptv3",
    "SceneFrame": "rtgs2.features.inputs",
    "choose_frame": "rtgs2.features.inputs",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'rtgs2.features' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)


def __dir__() -> list[str]:
    return __all__
