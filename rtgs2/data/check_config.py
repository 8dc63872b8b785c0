"""How much ``rtgs2 data check`` reads (a plain dataclass: no torch, the CLI's ``--help`` reads it)."""

from __future__ import annotations

from dataclasses import dataclass

from rtgs2.utils.errors import check_numbers, check_positive


@dataclass(frozen=True)
class DataCheckConfig:
    """How much of each scene the data check reads."""

    frame_stride: int = 1
    """Keep every n-th frame of each scene."""
    num_pairs: int = 4
    """View pairs per scene in the pose check."""
    max_label_frames: int = 50
    """Frames per scene read for the label histogram (evenly spaced)."""

    def __post_init__(self) -> None:
        check_numbers(self)
        check_positive(self, "frame_stride", "num_pairs", "max_label_frames")
