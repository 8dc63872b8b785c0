"""The SynthRooms label set: 17 classes (label value = index), 255 = ignore."""

from __future__ import annotations

import numpy as np

from rtgs2.data.views import LabelMap

CLASS_NAMES: tuple[str, ...] = (
    "wall",
    "floor",
    "ceiling",
    "door",
    "window",
    "table",
    "chair",
    "sofa",
    "bed",
    "cabinet",
    "shelf",
    "lamp",
    "picture",
    "rug",
    "plant",
    "monitor",
    "clutter",
)
CLASS_ID: dict[str, int] = {n: i for i, n in enumerate(CLASS_NAMES)}

# Display colours only (never used to render RGB): distinct, NYU/ScanNet-like hues.
_COLORS = [
    (174, 199, 232), (152, 223, 138), (31, 119, 180), (255, 187, 120), (188, 189, 34),
    (140, 86, 75), (255, 152, 150), (214, 39, 40), (197, 176, 213), (148, 103, 189),
    (196, 156, 148), (23, 190, 207), (247, 182, 210), (219, 219, 141), (44, 160, 44),
    (112, 128, 144), (227, 119, 194),
]  # fmt: skip


def synthrooms_label_map() -> LabelMap:
    """The label map of every SynthRooms data set (raw id = label value)."""
    return LabelMap(list(CLASS_NAMES), np.array(_COLORS, dtype=np.uint8), {i: i for i in range(len(CLASS_NAMES))})
