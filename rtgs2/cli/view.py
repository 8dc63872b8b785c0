"""``rtgs2 view``: an interactive web viewer of a 3DGS .ply (:func:`rtgs2.viewer.server.view`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from rtgs2.cli.common import FrameArg, FrameOptions


@dataclass
class View:
    """Serve a web viewer of a 3DGS .ply (viser): move the camera in the browser to see RGB, the
    label overlay, feature PCA or depth, with the FPS in the panel. Frames are rendered smaller
    while the camera moves and at full size once it is still. Without a fusion model (shipped or
    --weights) the labels mode is off and the rest still works. Ctrl-C stops."""

    scene: Path
    """3DGS .ply (INRIA layout, any trainer; frame: --up, --metres-per-unit); features are extracted once and cached
    when it has no f_vi_*."""
    weights: Optional[Path] = None
    """Fusion weights for the labels mode (default: the shipped SynthRooms model, if installed)."""
    feature_weights: Optional[Path] = None
    """Feature-network weights for scenes without f_vi_* (default: those on the fusion model's card, else the shipped ones)."""
    frame: FrameArg = FrameOptions()
    """The scene's units and up axis (features and automatic cameras use them; the choice is printed)."""
    port: int = 8080
    """Port to listen on; one in use is an error."""
    host: str = "0.0.0.0"
    """Address to listen on (127.0.0.1: this machine only)."""
    max_height: int = 480
    """Rows of a full-size frame at most, pixels (smaller renders faster on a CPU)."""

    def main(self) -> None:
        from rtgs2.viewer.server import view

        view(
            self.scene, self.weights, feature_weights=self.feature_weights, host=self.host, port=self.port,
            max_height=self.max_height, metres_per_unit=self.frame.metres_per_unit, up=self.frame.up,
        )  # fmt: skip
