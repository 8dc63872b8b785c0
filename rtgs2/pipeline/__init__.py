"""From a scene and trained networks to labelled views: ``Segmenter`` (a scene + its features + a
fusion net -> labels per camera), ``segment_scene`` behind ``rtgs2 segment``, and labels on the
Gaussians themselves, ``lift_scene`` behind ``rtgs2 lift``.

Names are imported on first use, so that importing ``rtgs2.pipeline`` loads no torch.
"""

from rtgs2.utils.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "SegmentedView": "rtgs2.pipeline.segmenter",
    "Segmenter": "rtgs2.pipeline.segmenter",
    "SegmentResult": "rtgs2.pipeline.segment",
    "segment_scene": "rtgs2.pipeline.segment",
    "LiftResult": "rtgs2.pipeline.lift",
    "lift_scene": "rtgs2.pipeline.lift",
})
