"""``rtgs2 train fusion`` (semantic training of the VDVI fusion network) and ``rtgs2 finetune``
(continue a saved fusion model on one scene)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Optional

import tyro

from rtgs2.train.config import FINETUNE, FusionTrainConfig  # plain dataclasses: no torch
from rtgs2.utils.errors import ConfigError


@dataclass
class TrainFusion:
    """Train the fusion network on views rendered from a data set's 3DGS scenes (image and
    feature image) against its labels; a rerun of the same command resumes. Runs under
    torchrun for DDP."""

    data: Path
    """Data set folder (SynthRooms: its train scenes; held-out views of the first --val-scenes validate)."""
    out: Path
    """Output folder: feature cache, checkpoints, metrics.csv, curves.png, last.pt and best.pt with cards."""
    config: Annotated[FusionTrainConfig, tyro.conf.arg(name="")] = FusionTrainConfig()
    feature_weights: Optional[Path] = None
    """Feature-network weights giving Z (default: the shipped ones; not needed with --inputs image)."""
    max_scenes: int = 0
    """Use only the first N training scenes (0 = all)."""
    finished_only: bool = False
    """SynthRooms build still in progress: train on its finished scenes (listed in the card)."""
    init_weights: Optional[Path] = None
    """A trained fusion model (of --size and --inputs) to continue from, e.g. on a new data set (default: a new one)."""

    def main(self) -> None:
        from rtgs2.train.fusion import train_fusion

        best = train_fusion(
            self.data, self.out, self.config, feature_weights=self.feature_weights, max_scenes=self.max_scenes,
            finished_only=self.finished_only, init_weights=self.init_weights,
        )  # fmt: skip
        print(f"fusion weights: {best} (best validation mIoU), {best.with_name('last.pt')} (last step)")


@dataclass
class TrainJoin:
    """Join an image-only and a Z-only fusion model into one late-fusion model (``--fusion late``):
    Enc_VD and its head from the first, Enc_VI and its head from the second; what a late-fusion
    training of the same recipe learns, without training (each head learns on its own there)."""

    image: Path
    """Image-only fusion weights (rtgs2 train fusion --inputs image)."""
    features: Path
    """Z-only fusion weights (rtgs2 train fusion --inputs features), of the same classes and Z."""
    out: Path
    """The joined weights file (.pt; its card beside it); refused when it exists."""

    def main(self) -> None:
        from rtgs2.fusion.late import join_late_files

        out = join_late_files(self.image, self.features, self.out)
        print(f"late-fusion weights: {out} (card: {out.with_suffix('.json')})")


@dataclass
class Finetune:
    """Fine-tune saved fusion weights on one scene's training views (its labels); its held-out
    views are scored before and after (on the card). A rerun of the same command resumes."""

    scene: Path
    """Scene folder (any format the data readers know, with a 3DGS .ply and label images)."""
    weights: Path
    """Fusion weights to start from (written by rtgs2 train fusion)."""
    steps: int
    """Fine-tuning steps."""
    out: Path
    """Output folder: checkpoints, metrics.csv, curves.png, last.pt and its card."""
    feature_weights: Optional[Path] = None
    """Feature-network weights giving Z (default: the shipped ones; not needed by an image-only model)."""
    lr: float = FINETUNE.lr
    """Peak AdamW learning rate."""
    batch_size: int = FINETUNE.batch_size
    """Views per step."""
    seed: int = FINETUNE.seed
    """Seed of the batches and augmentations."""
    num_threads: int = FINETUNE.num_threads
    """torch CPU threads (0 = leave as is)."""

    def main(self) -> None:
        from dataclasses import replace

        from rtgs2.train.finetune import finetune

        try:
            cfg = replace(FINETUNE, lr=self.lr, batch_size=self.batch_size, seed=self.seed, num_threads=self.num_threads)
        except ConfigError as e:  # the field is this command's flag of the same name
            raise ConfigError(self, e.field, e.detail) from None
        last = finetune(self.scene, self.weights, self.steps, self.out, cfg=cfg, feature_weights=self.feature_weights)
        print(f"fine-tuned fusion weights: {last} (card: {last.with_suffix('.json')})")
