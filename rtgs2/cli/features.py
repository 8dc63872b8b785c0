"""``rtgs2 features`` (per-Gaussian features of a scene) and ``rtgs2 train features``
(contrastive pre-training of the feature network)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, ClassVar, Optional

import tyro

from rtgs2.cli.common import FrameArg, FrameOptions, subcommands
from rtgs2.cli.fusion import TrainFusion, TrainJoin
from rtgs2.train.config import FeatureTrainConfig  # a plain dataclass: no torch


@dataclass
class Features:
    """Compute view-independent features for every Gaussian of a 3DGS .ply (once per scene) and
    write the scene back with f_vi_0..f_vi_{D-1} added (the rest of the file unchanged)."""

    scene: Path
    """Input 3DGS .ply (INRIA layout, any trainer)."""
    out: Path
    """Output .ply (must not be the input; an existing .ply is replaced, anything else refused)."""
    weights: Optional[Path] = None
    """Feature-network weights (default: the shipped SynthRooms model)."""
    frame: FrameArg = FrameOptions()
    preview: Optional[Path] = None
    """Also write a PNG of the features' principal components rendered from 4 views."""

    def main(self) -> None:
        from rtgs2.features.cli_run import run_features

        run_features(self.scene, self.out, self.weights, self.frame.metres_per_unit, self.frame.up, self.preview)


@dataclass
class TrainFeatures:
    """Pre-train the feature network (PointContrast InfoNCE on view pairs) on a data set's 3DGS
    scenes; a rerun of the same command resumes. Runs under torchrun for DDP."""

    data: Path
    """Data set folder (SynthRooms: train scenes train, test scenes give held-out pairs)."""
    out: Path
    """Output folder: checkpoints, metrics.csv, curves.png, weights.pt and its card."""
    config: Annotated[FeatureTrainConfig, tyro.conf.arg(name="")] = FeatureTrainConfig()
    max_scenes: int = 0
    """Use only the first N training scenes (0 = all)."""
    finished_only: bool = False
    """SynthRooms build still in progress: train on its finished scenes (listed in the card)."""
    init_weights: Path | None = None
    """Start from these feature weights (same --size; e.g. the shipped ones) instead of a random
    initialisation: continues an earlier pre-training. Recorded in the card."""

    def main(self) -> None:
        from rtgs2.train.features import train_features

        weights = train_features(
            self.data, self.out, self.config, max_scenes=self.max_scenes, finished_only=self.finished_only,
            init_weights=self.init_weights,
        )  # fmt: skip
        print(f"feature weights: {weights}")


TRAIN_COMMANDS: dict[str, type] = {"features": TrainFeatures, "fusion": TrainFusion, "join": TrainJoin}
TrainCommand = subcommands(TRAIN_COMMANDS)


@dataclass
class Train:
    """Train a network: `features` (contrastive pre-training) or `fusion` (semantic, on rendered views); `join` an image-only and a Z-only fusion model into a late-fusion one."""

    command: tyro.conf.OmitSubcommandPrefixes[TrainCommand]  # type: ignore[valid-type]
    """The network to train."""
    commands: ClassVar[dict[str, type]] = TRAIN_COMMANDS

    def main(self) -> None:
        self.command.main()
