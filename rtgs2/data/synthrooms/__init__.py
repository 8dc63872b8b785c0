"""SynthRooms: procedural labelled indoor scenes with exact ground truth and a 3DGS per scene.

``build_synthrooms(out, preset)`` builds a data set (layout in :mod:`.dataset`),
``open_synthrooms(root)`` opens one as train / test lists of :class:`rtgs2.data.SceneViews`,
``is_synthrooms(path)`` tells whether a folder is one.
"""

from rtgs2.data.synthrooms.classes import CLASS_NAMES, synthrooms_label_map
from rtgs2.data.synthrooms.config import PRESETS, SynthConfig, default_root
from rtgs2.data.synthrooms.dataset import SynthRooms, is_synthrooms, open_synthrooms

__all__ = [
    "CLASS_NAMES",
    "PRESETS",
    "SynthConfig",
    "SynthRooms",
    "build_synthrooms",
    "default_root",
    "is_synthrooms",
    "open_synthrooms",
    "synthrooms_label_map",
]


def __getattr__(name: str):
    if name == "build_synthrooms":  # lazily: building needs numba, reading does not
        from rtgs2.data.synthrooms.build import build_synthrooms

        return build_synthrooms
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
