"""Options of ``rtgs2 eval`` (a plain dataclass, no torch: the CLI builds its ``--help`` from it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Union

from rtgs2.pipeline.view_defaults import is_network_scale
from rtgs2.utils.errors import check


@dataclass(frozen=True)
class EvalConfig:
    """What ``rtgs2 eval`` scores and how (the models, data and output are arguments of its own)."""

    views: Literal["test", "all"] = "test"
    """Views scored in each scene: the held-out ones (every 8th, as the paper) or all."""
    scenes: str = "auto"
    """Scenes scored: auto (the folder's test scenes when it names them, as SynthRooms does, else all), all,
    a scene split the folder names, or one scene's name."""
    average: Literal["pixels", "images"] = "pixels"
    """mIoU/mAcc/oAcc from one confusion matrix over all pixels (the paper's), or the mean over images (GSNeRF's)."""
    finetune_steps: int = 0
    """Also fine-tune the first model on each scene's training views for this many steps and score it (0 = no)."""
    lift: bool = False
    """Also lift the first model's labels of each scene's training views onto the Gaussians and score them: rendered
    in the scored views (row "lifted (3D labels)"), and on SynthRooms on the Gaussians against the room's surfaces."""
    fps_frames: int = 50
    """Frames timed per scene for the FPS column (median after the warm-up)."""
    fps_warmup: int = 3
    """Untimed frames before the FPS is measured (numba compilation, allocator warm-up)."""
    figure_views: int = 3
    """Views per scene drawn in figures/<scene>.png (0 = no figures)."""
    seed: int = 0
    """Seed of the fine-tuning's batches and augmentations."""
    num_threads: int = 0
    """torch CPU threads (0 = leave as is); the FPS column states the number used."""
    compile_network: bool = False
    """Run the torch rows' network compiled by torch.compile, as rtgs2 segment does (labels, and the FPS column)."""
    precision: Literal["auto", "float32", "bfloat16"] = "float32"
    """The compiled network's arithmetic (with --compile-network): float32, bfloat16 (weights frozen in the graph;
    labels differ slightly from float32's) or auto (bfloat16 on a CPU with AMX or AVX512-BF16)."""
    image_fallback: bool = True
    """Where a model's card names an image-only fallback and a scene's features are out of the distribution it was
    trained on (rtgs2.fusion.shift), score the fallback in its row, as rtgs2 segment labels with it (the row's network
    says so); --no-image-fallback scores the model asked for everywhere."""
    network_scale: Union[Literal["auto"], int] = "auto"
    """The network reads each view at 1/s of its size, as rtgs2 segment does: auto (views of 640x480 and more at
    about 320x240, the models' training views) or an integer (1 = whole; an ONNX row reads its file's size, the
    fine-tuned row the views whole, as it was fine-tuned)."""

    def __post_init__(self) -> None:
        check(self, isinstance(self.fps_frames, int) and self.fps_frames >= 1, "fps_frames", "a positive integer")
        for name in ("finetune_steps", "fps_warmup", "figure_views", "seed", "num_threads"):
            v = getattr(self, name)
            check(self, isinstance(v, int) and v >= 0, name, "a non-negative integer")
        check(self, is_network_scale(self.network_scale), "network_scale", "'auto' or a positive integer")
        check(self, self.compile_network or self.precision != "bfloat16", "precision", "float32 or auto without compile_network (bfloat16 runs compiled)")
