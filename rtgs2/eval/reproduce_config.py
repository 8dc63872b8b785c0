"""Presets of ``rtgs2 reproduce`` (plain dataclasses, no torch: the CLI builds ``--help`` from them)."""

from __future__ import annotations

from dataclasses import dataclass, field

from rtgs2.train.config import FeatureTrainConfig, FusionTrainConfig


@dataclass(frozen=True)
class ReproducePreset:
    """What ``rtgs2 reproduce`` builds, trains and scores, and about how long each step takes on
    2 CPU cores (minutes; for the ETA only)."""

    data: str
    """SynthRooms preset of the data set (``rtgs2 synth --preset``)."""
    features: FeatureTrainConfig | None
    """Pre-training of the feature network (None: the base chain's feature weights as they are;
    needs ``base``)."""
    fusion: FusionTrainConfig
    """Training of each fusion variant (its ``inputs`` is set per variant)."""
    finetune_steps: int
    """Fine-tuning steps of the full model on each test scene (the fine-tuned row)."""
    fps_frames: int = 50
    """Frames timed per scene for the FPS column."""
    figure_views: int = 3
    """Views per scene in the evaluation's figures."""
    minutes: dict[str, float] = field(default_factory=dict)
    """Estimated minutes per step on 2 CPU cores, by step name (for the ETA)."""
    base: str | None = None
    """A preset whose chain this one continues (None: every model starts new). Its whole chain
    runs first (``<out>/../<base>``, the step ``base``; a finished one is reused), then this
    preset's feature training starts from its feature weights and each fusion variant from its
    model of the same inputs (unless ``fusion_from_base`` is off), on this preset's data."""
    fusion_from_base: bool = True
    """With ``base``: each fusion variant starts from the base's model of the same inputs (off:
    from scratch, on the base's features or this preset's)."""
    extra_seeds: tuple[int, ...] = ()
    """Seeds of further builds of ``data`` (``extra_scenes`` rooms each, one of them a test room
    that is left out) whose train rooms join the data set's (``rtgs2 synth-join``: prefixes x_,
    y_, ...): more training rooms, the same test rooms."""
    extra_scenes: int = 32
    """Rooms per further build (``rtgs2 synth --seed S --num-scenes N --test-fraction 0``)."""
    late_fusion: bool = False
    """Also join the image-only and Z-only models into a late-fusion full model (step
    ``fusion-late``, ``rtgs2 train join``: what a late-fusion training of the same recipe learns),
    scored as the full row, the mid-fusion model beside it as "full, mid fusion"."""


PRESETS: dict[str, ReproducePreset] = {
    # The paper-style table on SynthRooms v1 with the budgets of the issues (features ~4 h, each
    # fusion variant ~3 h) on all 40 train rooms. The shipped models had shorter runs on part of
    # the build (their cards say so). Features at temperature 1.0, not the paper's 0.07: on v1 the
    # linear probe rises with it (0.07: 22.0 mIoU, 0.5: 26.8, 1.0: 28.0; raw inputs 20.5) and
    # falls with more steps at 0.07 (18.2 after 3000 more); benchmarks/RESULTS.md, 2026-12-04.
    "v1": ReproducePreset(
        data="v1",
        features=FeatureTrainConfig(steps=5000, warmup_steps=200, temperature=1.0, checkpoint_every=50, eval_every=500),
        # the recipe of the shipped v1 model (a ConvNeXt Enc_VD, the heavier augmentation)
        fusion=FusionTrainConfig(steps=5000, lr=3e-4, vd_block="convnext", zoom_min=0.75, zoom_max=1.5, cutout=0.25,
                                 checkpoint_every=100, eval_every=500),  # fmt: skip
        finetune_steps=300,
        minutes={"data": 100, "features": 210, "fusion-both": 170, "fusion-image": 120, "fusion-features": 140,
                 "eval": 90},  # fmt: skip
    ),
    # The whole pipeline in minutes: tests and a check that every step runs (numbers meaningless).
    "mini": ReproducePreset(
        data="mini",
        features=FeatureTrainConfig(steps=3, warmup_steps=1, pairs_per_step=1, max_points=3000, subsample_grid=0.04,
                                    num_correspondences=256, overlap_min=0.2, overlap_max=0.9, eval_pairs=2,
                                    checkpoint_every=3, eval_every=0),  # fmt: skip
        fusion=FusionTrainConfig(steps=3, warmup_steps=1, batch_size=2, crop_height=96, crop_width=128,
                                 checkpoint_every=3, eval_every=0, val_scenes=1),  # fmt: skip
        finetune_steps=2,
        fps_frames=2,
        figure_views=1,
        minutes={"data": 1, "features": 0.5, "fusion-both": 0.5, "fusion-image": 0.5, "fusion-features": 0.5,
                 "eval": 1},  # fmt: skip
    ),
}

# The same chain on SynthRooms v2 (rooms that look like real ones), on its 32 train rooms, sized
# for 2 cores: features with the geometric-context target beside the contrastive loss (the
# probe on v1 rooms is the reason for temperature 1.0); each fusion variant 3000 steps with the
# recipe the image-only sweeps chose (FusionTrainConfig's defaults: a ResNet Enc_VD, lr 3e-3,
# light augmentation; benchmarks/image_recipe.py). Step minutes are estimates;
# the trainings' own cards record what they took.
PRESETS["v2"] = ReproducePreset(
    data="v2",
    features=FeatureTrainConfig(steps=1500, warmup_steps=100, temperature=1.0, context_weight=1.0, checkpoint_every=50,
                                eval_every=250),  # fmt: skip
    fusion=FusionTrainConfig(steps=3000, checkpoint_every=100, eval_every=250),
    finetune_steps=300,
    minutes={"data": 90, "features": 60, "fusion-both": 60, "fusion-image": 35, "fusion-features": 50, "eval": 70},
)

# The shipped models: the v2 chain continued on SynthRooms v3 (v2's rooms, every odd scene fitted
# from flat opaque discs, as users' captures are: RESULTS.md, 2026-12-05 20:30 UTC): features
# 400 steps at half v2's learning rate, each fusion variant 800 steps at lr 1e-3 (the recipe of
# the shipped v3 cards). Less compute than a new chain, and the v2 models' training is kept. The
# fine-tuned row: 600 steps per room (90.2 % mIoU at FINETUNE's lr 5e-3; 300 steps: 89.0; RESULTS.md 2026-12-06).
PRESETS["v3"] = ReproducePreset(
    data="v3",
    base="v2",
    features=FeatureTrainConfig(steps=400, lr=5e-4, warmup_steps=20, temperature=1.0, context_weight=1.0,
                                checkpoint_every=50, eval_every=250),  # fmt: skip
    fusion=FusionTrainConfig(steps=800, lr=1e-3, warmup_steps=40, checkpoint_every=100, eval_every=200),
    finetune_steps=600,
    minutes={"data": 90, "features": 15, "fusion-both": 15, "fusion-image": 8, "fusion-features": 15, "eval": 85},
)

# The shipped default model (vdvi_small_late_synthrooms_v3x3.pt): v3's chain, then each fusion
# variant from scratch on 94 v3-style train rooms (v3's 32 and 31 each of two more builds, seeds
# 1 and 2; `rtgs2 synth-join`) with v3's features, 4000 steps each at the default recipe, and the
# image-only and Z-only models joined as the late-fusion full model. On the 8 v3 test rooms: full
# (late) 60.5, image only 48.1, Z only 54.5, full with psi's mid fusion 54.3 (v3's 800 steps on
# 32 rooms: 52.1 / 41.3 / 49.3); RESULTS.md 2026-12-06. Fine-tuned row as v3's.
PRESETS["v3x3"] = ReproducePreset(
    data="v3",
    extra_seeds=(1, 2),
    base="v3",
    features=None,
    fusion=FusionTrainConfig(steps=4000, checkpoint_every=100, eval_every=500),
    fusion_from_base=False,
    finetune_steps=600,
    late_fusion=True,
    minutes={"data": 70, "features": 0, "fusion-both": 55, "fusion-image": 25, "fusion-features": 55, "fusion-late": 0, "eval": 100},
)
