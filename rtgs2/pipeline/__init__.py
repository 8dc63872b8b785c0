"""From a scene and trained networks to labelled views: ``Segmenter`` (DESIGN §3 ``pipeline/``)."""
