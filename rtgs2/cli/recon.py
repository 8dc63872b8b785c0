"""``rtgs2 recon``: fit a 3DGS to a data set's training views (:func:`rtgs2.data.reconstruct.run_recon`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal, Optional

import tyro

from rtgs2.recon.config import ReconConfig  # a plain dataclass: no torch, no renderer


@dataclass
class Recon:
    """Fit a 3DGS reconstruction to the posed training views of a data set (INRIA-layout
    output, checkpoints, resume): OUT/point_cloud/iteration_N/point_cloud.ply, OUT/cameras.json."""

    data: Path
    """Data set folder (any format open_dataset reads; one scene or several)."""
    out: Path
    """Output folder (one sub-folder per scene when the data set has several)."""
    config: Annotated[ReconConfig, tyro.conf.arg(name="")] = ReconConfig()
    scene: Optional[str] = None
    """Only this scene (default: all)."""
    init: Literal["auto", "sfm", "depth"] = "auto"
    """Initial points: the reader's SfM points, back-projected depth, or auto (SfM if present)."""
    max_init_points: int = 100_000
    """Most initial points drawn from the depth maps."""

    def main(self) -> None:
        from rtgs2.data.reconstruct import run_recon

        outs = run_recon(self.data, self.out, self.config, scene=self.scene, init=self.init, max_init_points=self.max_init_points)
        print("reconstructions written: " + ", ".join(map(str, outs)))
