"""Stage features: view-independent per-Gaussian features from a PTv3-style point backbone.

Names are imported on first use (the CLI reads configs without loading torch).
"""

from rtgs2.utils.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "extract_features": "rtgs2.features.extract",
    "load_feature_net": "rtgs2.features.io",
    "save_feature_net": "rtgs2.features.io",
    "VARIANTS": "rtgs2.features.ptv3",
    "GaussianFeatureNet": "rtgs2.features.ptv3",
    "PTv3Config": "rtgs2.features.ptv3",
    "SceneFrame": "rtgs2.features.inputs",
    "choose_frame": "rtgs2.features.inputs",
})
