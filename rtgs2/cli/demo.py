"""``rtgs2 demo``: segment an unseen SynthRooms room and score it (:func:`rtgs2.demo.run_demo`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Optional

from rtgs2.demo_config import DEMO_DATA_SEED, DEMO_VIEWS  # plain constants: no torch


@dataclass
class Demo:
    """Build a SynthRooms room no model has seen (as the v2 rooms: fitted 3DGS; about 2 min on 2 cores,
    once, then cached), segment a loop of its views with the fusion model, write demo.gif, contact_sheet.png
    and metrics.json into OUT and print mIoU, pixel accuracy and FPS."""

    out: Path = Path("outputs/demo")
    """Output folder (new, empty, or an earlier demo output)."""
    weights: Optional[Path] = None
    """Fusion weights (default: the shipped SynthRooms model)."""
    feature_weights: Optional[Path] = None
    """Feature-network weights (default: those on the fusion model's card, else the shipped ones)."""
    num_views: int = DEMO_VIEWS
    """Views segmented, evenly spaced along the room's 64-view loop."""
    seed: int = DEMO_DATA_SEED
    """Data set seed of the room (the shipped models were trained on rooms of seeds 0-2, which are refused: any other
    gives a room none of them has seen)."""

    compile_network: bool = True
    """Run the fusion network compiled by torch.compile (~30 % faster; ~1 min to compile on a fresh machine, seconds
    once cached; eager where compiling fails)."""
    precision: Literal["auto", "float32", "bfloat16"] = "auto"
    """The compiled network's arithmetic (as rtgs2 segment's --precision): float32, bfloat16, or auto (bfloat16 on a
    CPU with AMX or AVX512-BF16, else float32)."""

    def main(self) -> None:
        from rtgs2.demo import run_demo

        run_demo(
            self.out, self.weights, feature_weights=self.feature_weights, num_views=self.num_views, seed=self.seed,
            compile_network=self.compile_network, precision=self.precision,
        )  # fmt: skip
