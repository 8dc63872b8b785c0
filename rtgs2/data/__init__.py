"""Data sets: SynthRooms, real-data readers, label maps, view sets and splits."""

from rtgs2.data.open import Dataset, open_dataset
from rtgs2.data.views import IGNORE_LABEL, LabelMap, LazyFrames, SceneViews, every_nth_split

__all__ = ["IGNORE_LABEL", "Dataset", "LabelMap", "LazyFrames", "SceneViews", "every_nth_split", "open_dataset"]
