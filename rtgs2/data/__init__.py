"""Data sets: ``open_dataset`` and its readers (SynthRooms, Replica, ScanNet, ...; one interface,
:class:`~rtgs2.data.readers.base.SceneReader`), label maps, view sets and splits."""

from rtgs2.data.open import OpenedDataset, open_dataset
from rtgs2.data.views import IGNORE_LABEL, LabelMap, LazyFrames, SceneViews, every_nth_split

__all__ = ["IGNORE_LABEL", "LabelMap", "LazyFrames", "OpenedDataset", "SceneViews", "every_nth_split", "open_dataset"]
