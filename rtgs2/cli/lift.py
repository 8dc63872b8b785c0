"""``rtgs2 lift``: labels on the Gaussians of a 3DGS .ply (:func:`rtgs2.pipeline.lift.lift_scene`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Optional

import tyro

from rtgs2.cli.common import FrameArg, FrameOptions
from rtgs2.pipeline.view_defaults import LIFT_VIEWS, VIEW_HEIGHT, VIEW_WIDTH  # plain constants: no torch


@dataclass
class Lift:
    """Label every Gaussian of a 3DGS .ply: segment many views with a fusion model and let each
    labelled pixel vote for its class with each Gaussian's blending weight there. Writes OUT, the
    .ply with `label` (uchar, 255 = never seen) and `label_confidence` (winning share of the votes)
    added, and a copy coloured by class for any 3DGS viewer. Views come from a cameras.json or
    automatic rings (inside a room-sized scene, turned z-up by --up, else around it)."""

    scene: Path
    """3DGS .ply (INRIA layout, any trainer); features are extracted once and cached when it has no f_vi_*."""
    out: Path
    """Output .ply: the input with label and label_confidence added (new, or an earlier lift output)."""
    cameras: Optional[Path] = None
    """INRIA cameras.json giving the views (default: automatic rings)."""
    views: Annotated[Optional[int], tyro.conf.arg(help=f"Views on the automatic rings (default {LIFT_VIEWS}; not with --cameras).")] = None
    width: int = VIEW_WIDTH
    """Image width of the automatic views, pixels."""
    height: int = VIEW_HEIGHT
    """Image height of the automatic views, pixels."""
    weights: Optional[Path] = None
    """Fusion weights (default: the shipped SynthRooms model)."""
    feature_weights: Optional[Path] = None
    """Feature-network weights for scenes without f_vi_* (default: those on the fusion model's card, else the shipped ones)."""
    frame: FrameArg = FrameOptions()
    """The scene's units and up axis (features and automatic cameras use them; the choice is printed)."""
    colored: Optional[Path] = None
    """The copy coloured by class (default: OUT's name with _colored, beside it)."""

    def main(self) -> None:
        from rtgs2.pipeline.lift import lift_scene

        res = lift_scene(
            self.scene, self.out, cameras=self.cameras, views=self.views, width=self.width, height=self.height,
            weights=self.weights, feature_weights=self.feature_weights, colored=self.colored,
            metres_per_unit=self.frame.metres_per_unit, up=self.frame.up,
        )  # fmt: skip
        print(f"frame: {res.frame.note}")
        if res.coverage is not None:
            print(res.coverage.describe())
        print(res.describe())
