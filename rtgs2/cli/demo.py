"""``rtgs2 demo``: a SynthRooms room rendered with its labels (:func:`rtgs2.demo.run_demo`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class Demo:
    """Build a SynthRooms room, render a walk through it (RGB, depth, labels) into OUT as PNGs and a GIF, print the FPS."""

    out: Path = Path("outputs/demo")
    """Output folder."""
    num_views: int = 24
    """Views on the orbit."""
    width: int = 320
    """Image width, pixels."""
    height: int = 240
    """Image height, pixels."""
    seed: int = 0
    """Seed of the built-in scene."""

    def main(self) -> None:
        from rtgs2.demo import run_demo

        run_demo(self.out, num_views=self.num_views, width=self.width, height=self.height, seed=self.seed)
