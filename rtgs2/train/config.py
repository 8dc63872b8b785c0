"""Training configs (plain dataclasses, no torch: the CLI builds its ``--help`` from them)."""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, fields
from typing import Literal, Optional

from rtgs2.fusion.loss_config import FusionLossConfig
from rtgs2.utils.errors import ConfigError, check, check_non_negative, check_numbers, check_positive


def warmup_of(cfg) -> int:
    """The warm-up steps a training of ``cfg`` uses: ``cfg.warmup_steps``, or a tenth of the
    steps when that is not below ``cfg.steps`` (else the learning rate never reaches its peak)."""
    return cfg.warmup_steps if cfg.warmup_steps < cfg.steps else cfg.steps // 10


def _warn_long_warmup(cfg) -> None:
    if cfg.warmup_steps >= cfg.steps:
        warnings.warn(
            f"--warmup-steps {cfg.warmup_steps} is not below --steps {cfg.steps}: warming up over {warmup_of(cfg)} steps instead",
            stacklevel=3,
        )


@dataclass(frozen=True)
class FeatureTrainConfig:
    """Contrastive pre-training of the Gaussian feature network (PointContrast / PointInfoNCE)."""

    size: Literal["small", "paper"] = "small"
    """Network size (rtgs2.features.ptv3.VARIANTS)."""
    steps: int = 6000
    """Optimisation steps."""
    pairs_per_step: int = 2
    """View pairs per step, over all processes (each pair is two samples)."""
    optimizer: Literal["adam", "adamw"] = "adam"
    """Optimiser (paper: Adam)."""
    lr: float = 1e-3
    """Peak learning rate (paper: 1e-3)."""
    weight_decay: float = 1e-5
    """Weight decay (paper: 1e-5)."""
    schedule: Literal["cosine", "constant"] = "cosine"
    """Learning-rate schedule after the warm-up: cosine decay to 1% of the peak, or constant."""
    warmup_steps: int = 200
    """Linear warm-up steps."""
    grad_clip: float = 1.0
    """Gradient-norm clip (paper: 1.0); 0 = none."""
    temperature: float = 0.07
    """InfoNCE temperature (paper: 0.07)."""
    negative_radius: float = 0.0
    """Leave out of an anchor's negatives the Gaussians whose centres lie closer than this to it,
    metres in the scene (0 = the paper's: every other sampled Gaussian is a negative). Gaussians
    inside one network voxel share its context, so pushing them apart teaches only their raw inputs."""
    segment_weight: float = 0.0
    """Weight of a segment-level InfoNCE added to the point-level one (0 = the paper's, point
    level only): mean features of the segments of an unsupervised over-segmentation of the scene
    (colour and normal boundaries) are matched across the two views, pulling each segment's
    features together."""
    segment_scale: float = 2.0
    """Felzenszwalb scale of that over-segmentation (larger: fewer, larger segments)."""
    context_weight: float = 0.0
    """Weight of an auxiliary regression added to the InfoNCE (0 = the paper's objective, off): a
    linear head on each Gaussian's features predicts its hand-made geometric context (local shape
    at 16 and 64 neighbours, normal, mean colour, height above the floor, distance to the nearest
    wall: rtgs2.features.context), standardised over the training scenes; smooth-L1 loss."""
    num_correspondences: int = 4096
    """Matched Gaussians sampled per pair (the similarity matrix is this square)."""
    overlap_min: float = 0.3
    """Least IoU of the two views' visible-Gaussian sets for a pair."""
    overlap_max: float = 0.8
    """Most IoU of a pair (near-identical views teach little)."""
    max_points: int = 24_000
    """Gaussians kept per sample after voxel subsampling (bounds a step's cost)."""
    subsample_grid: float = 0.02
    """Voxel edge of the random subsampling of each sample, metres."""
    rotate_degrees: float = 180.0
    """Random rotation about z, +- degrees."""
    scale_min: float = 0.6
    """Least random scale factor."""
    scale_max: float = 1.2
    """Largest random scale factor."""
    colour_jitter: float = 0.2
    """Brightness and contrast jitter, fraction."""
    opacity_jitter: float = 0.3
    """Std-dev of the noise on opacity logits."""
    drop_max: float = 0.0
    """Density augmentation: each sample loses a random share of its Gaussians, uniform in
    [0, drop_max] (0 = off; fits of real captures are sparser than SynthRooms')."""
    floaters: float = 0.0
    """Floater augmentation: this many times the sample's Gaussians are added as floaters (random
    Gaussians in the air, matched to nothing; 0 = off)."""
    seed: int = 0
    """Seed of the weights' initialisation, the pairs and the augmentations."""
    num_threads: int = 0
    """torch CPU threads (0 = leave as is)."""
    checkpoint_every: int = 100
    """Steps between checkpoints."""
    eval_every: int = 250
    """Steps between evaluations of retrieval accuracy on held-out pairs (0 = only at the end)."""
    eval_pairs: int = 24
    """Held-out view pairs per evaluation (fixed, seeded)."""

    def __post_init__(self) -> None:
        check_numbers(self)
        check_positive(self, "steps", "pairs_per_step", "num_correspondences", "max_points", "checkpoint_every", "eval_pairs")
        check_non_negative(self, "warmup_steps", "seed", "num_threads", "eval_every", "weight_decay", "grad_clip",
                           "negative_radius", "segment_weight", "context_weight")  # fmt: skip
        check_positive(self, "lr", "temperature", "subsample_grid", "segment_scale")
        _warn_long_warmup(self)
        if not 0 <= self.overlap_min < self.overlap_max <= 1:
            raise ConfigError(self, "overlap_min", f"< overlap_max must lie in [0, 1], got {self.overlap_min}, {self.overlap_max}",
                              also=("overlap_max",))  # fmt: skip
        if not 0 < self.scale_min <= self.scale_max:
            raise ConfigError(self, "scale_min", f"must be positive and <= scale_max, got {self.scale_min}, {self.scale_max}",
                              also=("scale_max",))  # fmt: skip
        check(self, self.size in ("small", "paper"), "size", "'small' or 'paper'")
        check(self, 0 <= self.drop_max < 1, "drop_max", "in [0, 1)")
        check(self, 0 <= self.floaters <= 1, "floaters", "in [0, 1]")


@dataclass(frozen=True)
class FusionTrainConfig:
    """Semantic training of the VDVI fusion network on rendered views (image Î + feature image Z)."""

    size: Literal["small", "paper", "fast"] = "small"
    """Network size (rtgs2.fusion.VARIANTS); ``fast`` starts from ``small`` weights by ``--init-weights``."""
    vd_block: Optional[Literal["convnext", "resnet"]] = None
    """Enc_VD's blocks (default: the size's; small: resnet, paper: convnext)."""
    feature_stride: Optional[int] = None
    """Resolution of Z the network reads, relative to the image's (VDVISize.feature_stride: 1, 4
    or 8; default: the size's, 4; with --init-weights, the file's). 4 and 8 share their
    parameters: a model of either starts the other."""
    inputs: Literal["both", "image", "features"] = "both"
    """What the network sees: both (the full model), image (Î only) or features (Z only)."""
    fusion: Literal["mid", "late"] = "mid"
    """How the full model joins Î and Z: mid (psi at stages 2-4, the paper's) or late (an image
    head and a Z head, each trained with its own loss, their log-probabilities averaged; on
    unseen SynthRooms rooms 60.5 % mIoU against mid's 54.3 at the same budget)."""
    steps: int = 8000
    """Optimisation steps."""
    batch_size: int = 4
    """Views per step, over all processes."""
    crop_height: int = 240
    """Height of the training crops, pixels (smaller views are padded with ignored pixels)."""
    crop_width: int = 320
    """Width of the training crops, pixels."""
    lr: float = 3e-3
    """Peak AdamW learning rate. From scratch, 3e-4 left the ConvNeXt's blocks near identity (layer
    scale starts at 1e-6): image only on one v2 room, 300 steps, held-out mIoU 12.7 % at 3e-4,
    32.8 % at 1e-3, 41.7 % at 3e-3 (benchmarks/image_recipe.py, RESULTS.md 2026-12-05). With this
    rate, the light augmentation and the ResNet Enc_VD, image only on all 32 v2 train rooms
    reached 70.3 % validation mIoU in 3000 steps (the ConvNeXt at 2e-3 with the heavier
    augmentation: 37.3 %)."""
    weight_decay: float = 0.01
    """AdamW weight decay."""
    poly_power: float = 1.0
    """Power of the poly decay after the warm-up: lr * (1 - progress) ** power."""
    warmup_steps: int = 200
    """Linear warm-up steps."""
    grad_clip: float = 1.0
    """Gradient-norm clip; 0 = none."""
    label_smoothing: float = FusionLossConfig.label_smoothing
    """Label smoothing of the cross-entropy (fraction of the target mass spread over all classes, 0-1)."""
    ceco_weight: float = FusionLossConfig.ceco_weight
    """Weight of the CeCo term (class centres pulled to a simplex ETF); 0 = off."""
    depth_weight: float = FusionLossConfig.depth_weight
    """Weight of the L1 loss (metres) of a depth head, which the network gets when this is > 0
    (supervised by the Gaussians' rendered depth); 0 = no depth head."""
    colour_jitter: float = 0.3
    """Brightness, contrast and saturation jitter of Î, fraction (0 = off)."""
    flip: float = 0.5
    """Probability of a horizontal flip of Î, Z and labels together."""
    zoom_min: float = 0.9
    """Least zoom factor applied to a view before cropping."""
    zoom_max: float = 1.2
    """Largest zoom factor applied to a view before cropping (0.75-1.5 with cutout 0.25 fitted
    image only far slower: 4 v2 rooms, 600 steps, 37.5 % held-out mIoU at lr 2e-3 against 55.9 %
    with 0.9-1.2 and no cutout at 3e-3; RESULTS.md 2026-12-05)."""
    hue_rotation: float = 0.0
    """Largest rotation of Î's hue about the grey axis, degrees (0 = off; at most 180)."""
    cutout: float = 0.0
    """Side of a square zeroed in Î and Z (labels kept), fraction of the crop's shorter side (0 = off)."""
    feature_dropout: float = 0.0
    """Probability that a view's whole Z is zeroed (modality dropout; full model only): the
    network also learns to segment from Î alone, for scenes whose Z differs from training's."""
    seed: int = 0
    """Seed of the weights' initialisation, the batches and the augmentations."""
    num_threads: int = 0
    """torch CPU threads (0 = leave as is)."""
    checkpoint_every: int = 100
    """Steps between checkpoints."""
    eval_every: int = 250
    """Steps between validations (mIoU on held-out views; 0 = only at the end)."""
    val_scenes: int = 4
    """Training scenes whose held-out views (every 8th) form the validation set (0 = none)."""
    backbone_weights: Optional[str] = None
    """ImageNet encoder weights to start from (timm convnext_tiny and/or SegFormer mit-b0 state dict)."""
    distill_weights: Optional[str] = None
    """A trained fusion model (the same classes and Z) whose logits the network also learns, on
    the same views (knowledge distillation): e.g. the small model teaching a fast one."""
    distill_weight: float = 1.0
    """Weight of the distillation term (with --distill-weights)."""
    distill_temperature: float = 1.0
    """Temperature of the distillation term's softmax."""

    def __post_init__(self) -> None:
        check_numbers(self)
        check_positive(self, "steps", "batch_size", "crop_height", "crop_width", "checkpoint_every")
        check_non_negative(self, "warmup_steps", "seed", "num_threads", "eval_every", "val_scenes", "weight_decay", "grad_clip",
                           "ceco_weight", "depth_weight", "distill_weight")  # fmt: skip
        check_positive(self, "lr", "poly_power", "distill_temperature")
        for f in ("crop_height", "crop_width"):  # a Z-only network's logits come on its stride-4 grid
            if getattr(self, f) % 4:
                raise ConfigError(self, f, f"must be a multiple of 4, got {getattr(self, f)}")
        for f in ("label_smoothing", "colour_jitter", "cutout", "feature_dropout"):
            if not 0 <= getattr(self, f) < 1:
                raise ConfigError(self, f, f"must lie in [0, 1), got {getattr(self, f)}")
        _warn_long_warmup(self)
        check(self, 0 <= self.hue_rotation <= 180, "hue_rotation", "in [0, 180] degrees")
        if not 0 <= self.flip <= 1:
            raise ConfigError(self, "flip", f"must lie in [0, 1], got {self.flip}")
        if not 0 < self.zoom_min <= self.zoom_max:
            raise ConfigError(self, "zoom_min", f"must be positive and <= zoom_max, got {self.zoom_min}, {self.zoom_max}",
                              also=("zoom_max",))  # fmt: skip
        check(self, self.size in ("small", "paper", "fast"), "size", "'small', 'paper' or 'fast'")
        check(self, self.inputs in ("both", "image", "features"), "inputs", "'both', 'image' or 'features'")
        check(self, self.vd_block in (None, "convnext", "resnet"), "vd_block", "'convnext' or 'resnet'")
        check(self, self.feature_stride in (None, 1, 4, 8), "feature_stride", "1, 4 or 8 (VDVISize's FEATURE_STRIDES)")
        check(self, self.fusion in ("mid", "late"), "fusion", "'mid' or 'late'")
        if self.fusion == "late" and self.inputs != "both":
            raise ConfigError(self, "fusion", f"'late' (an image head and a Z head) needs inputs 'both', not {self.inputs!r}",
                              also=("inputs",))  # fmt: skip
        if self.fusion == "late" and (self.depth_weight > 0 or self.feature_dropout > 0):
            raise ConfigError(self, "fusion", "'late' (an image head and a Z head) takes no depth head and no Z dropout",
                              also=("depth_weight", "feature_dropout"))  # fmt: skip
        if self.feature_dropout > 0 and self.inputs != "both":
            raise ConfigError(self, "feature_dropout", f"drops Z beside the image: only for inputs 'both', not {self.inputs!r}",
                              also=("inputs",))  # fmt: skip

    @property
    def depth_head(self) -> bool:
        """Whether the network predicts depth (it does when its loss has a weight)."""
        return self.depth_weight > 0

    def loss(self) -> FusionLossConfig:
        """The loss terms these fields ask for."""
        distill = self.distill_weight if self.distill_weights else 0.0
        return FusionLossConfig(self.label_smoothing, self.ceco_weight, depth_weight=self.depth_weight,
                                distill_weight=distill, distill_temperature=self.distill_temperature)  # fmt: skip


FINETUNE = FusionTrainConfig(lr=5e-3, warmup_steps=10, checkpoint_every=50, eval_every=0)
"""Fine-tuning a trained fusion model on one scene (``rtgs2 finetune``, the eval's fine-tuned row):
a short warm-up, no validation pass, and a peak rate above the training's (3e-3): the short schedule
decays it linearly to zero. Held-out mIoU after 300 steps from the shipped v3 model, by peak rate: v3
test_001 82.4 % at 1e-3, 84.4 at 2e-3, 85.7 at 3e-3, 86.0 at 5e-3, 85.3 at 1e-2; test_006 81.7
at 1e-3, 83.3 at 3e-3, 83.9 at 5e-3 (benchmarks/RESULTS.md 2026-12-06; on v2, 1e-4 and 3e-4 were
far below 1e-3)."""


# Config fields that do not change the trained weights (a resume may change them).
RESUMABLE_CHANGES = ("checkpoint_every", "eval_every", "num_threads")
# Options added after runs existed: at their defaults (the recipe before them) they stay out of a
# run's identity (its checkpoints, reproduce's record of its steps), so such a run still resumes
# and a finished chain is not trained again.
LATER_OPTIONS: dict[type, tuple[str, ...]] = {
    FeatureTrainConfig: ("negative_radius", "segment_weight", "segment_scale", "context_weight", "drop_max", "floaters"),
    FusionTrainConfig: (
        "feature_dropout", "hue_rotation", "distill_weights", "distill_weight", "distill_temperature", "feature_stride",
        "fusion",
    ),  # fmt: skip
}


def identity_fields(config: dict, cls: type) -> dict:
    """``config`` (a ``cls`` as a dict) without the later options of ``cls`` at their defaults."""
    defaults = {f.name: f.default for f in fields(cls)}
    return {k: v for k, v in config.items() if not (k in LATER_OPTIONS[cls] and v == defaults.get(k))}


def identity_config(cfg: FeatureTrainConfig | FusionTrainConfig) -> dict:
    """The config fields that make a training's weights what they are (its checkpoint identity):
    all but the resumable ones and the later options at their defaults."""
    return identity_fields({k: v for k, v in asdict(cfg).items() if k not in RESUMABLE_CHANGES}, type(cfg))
