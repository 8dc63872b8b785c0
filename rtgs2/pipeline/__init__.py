"""From a scene and trained networks to labelled views: ``Segmenter``, and ``segment_scene``
behind ``rtgs2 segment`` (DESIGN §3 ``pipeline/``)."""
