"""Data sets: SynthRooms, real-data readers, label maps, view sets and splits."""

from rtgs2.data.views import IGNORE_LABEL, LabelMap, LazyFrames, SceneViews, every_nth_split


def open_dataset(*args, **kwargs):
    """Open a data set folder; see :func:`rtgs2.data.open.open_dataset` (imported lazily)."""
    from rtgs2.data.open import open_dataset as _open

    return _open(*args, **kwargs)


__all__ = ["IGNORE_LABEL", "LabelMap", "LazyFrames", "SceneViews", "every_nth_split", "open_dataset"]
