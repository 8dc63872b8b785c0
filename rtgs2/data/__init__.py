"""Data sets: ``open_dataset`` and its readers (SynthRooms, Replica, ScanNet, ...; one interface,
:class:`~rtgs2.data.readers.base.SceneReader`), label maps, view sets and splits.

Names are imported on first use, so that the CLI can read this package's plain configs without loading torch.
"""

from rtgs2.utils.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "IGNORE_LABEL": "rtgs2.data.views",
    "LabelMap": "rtgs2.data.views",
    "LazyFrames": "rtgs2.data.views",
    "OpenedDataset": "rtgs2.data.open",
    "SceneViews": "rtgs2.data.views",
    "every_nth_split": "rtgs2.data.views",
    "open_dataset": "rtgs2.data.open",
})  # fmt: skip
