"""From a scene and trained networks to labelled views: ``Segmenter``, ``segment_scene`` behind
``rtgs2 segment``, and labels on the Gaussians themselves, ``lift_scene`` behind ``rtgs2 lift``
(DESIGN §3 ``pipeline/``)."""
