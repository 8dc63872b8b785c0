"""The VDVI fusion network (image + feature image -> semantic logits), its losses and weights.

Names are imported on first use, so that importing ``rtgs2.fusion`` loads no torch.
"""

from rtgs2.utils.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "INPUTS": "rtgs2.fusion.vdvi",
    "VARIANTS": "rtgs2.fusion.vdvi",
    "FusionOutput": "rtgs2.fusion.vdvi",
    "VDVINet": "rtgs2.fusion.vdvi",
    "build_fusion": "rtgs2.fusion.vdvi",
    "FusionLoss": "rtgs2.fusion.losses",
    "FusionLossConfig": "rtgs2.fusion.loss_config",
    "BackboneLoadReport": "rtgs2.fusion.io",
    "load_backbone_weights": "rtgs2.fusion.io",
    "load_fusion": "rtgs2.fusion.io",
    "load_fusion_weights": "rtgs2.fusion.io",
    "load_pruned_weights": "rtgs2.fusion.io",
    "save_fusion": "rtgs2.fusion.io",
})
