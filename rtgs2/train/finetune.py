"""``rtgs2 finetune``: continue training saved fusion weights on one scene's training views.

The scene's held-out views (index % 8 == 0) are scored before the first step and after the
last; both go on the card of ``last.pt``. They are the report, so no ``best`` is chosen by them.
The loop, checkpoints and resume are those of :func:`rtgs2.train.fusion.run_training`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from rtgs2.data.views import SceneViews
from rtgs2.features.io import resolve_feature_weights
from rtgs2.fusion.io import read_fusion_card, read_fusion_file
from rtgs2.train.config import FINETUNE, FusionTrainConfig
from rtgs2.train.fusion import FusionRun, run_training
from rtgs2.utils.errors import ConfigError, UserError

# A gentler schedule than training from scratch: the weights are already good.


def finetune(
    scene_dir: str | Path,
    weights: str | Path,
    steps: int,
    out: str | Path,
    *,
    cfg: FusionTrainConfig = FINETUNE,
    feature_weights: str | Path | None = None,
    progress: bool = True,
) -> Path:
    """Fine-tune the fusion model at ``weights`` for ``steps`` steps on the scene folder
    ``scene_dir`` (any format ``rtgs2.data.open_dataset`` reads, with a 3DGS .ply and labels);
    returns ``out/last.pt``. The model's size, inputs and depth head come from ``weights``
    (``cfg``'s are replaced); ``feature_weights`` (default: those the model's card names, else the
    shipped ones) give Z unless the model reads the image only. Rerunning the same command resumes.

    Raises:
        FileNotFoundError: missing weights or feature weights.
        ValueError: steps not positive, not exactly one scene, no held-out views, or classes that
            differ from the model's.
    """
    from rtgs2.data.open import open_dataset

    _check_steps(steps)
    scene_dir, weights = Path(scene_dir), Path(weights)
    config, _ = read_fusion_file(weights)
    features = None if config["inputs"] == "image" else _model_features(weights, feature_weights)
    opened = open_dataset(scene_dir)
    if len(opened.scenes) != 1:
        raise UserError(f"{scene_dir}: finetune takes one scene folder; this holds {len(opened.scenes)} scenes")
    scene = opened.scenes[0]
    names = opened.label_map.names if opened.label_map is not None else []
    if len(names) != config["num_classes"]:
        raise UserError(
            f"{scene_dir}: the scene's label set has {len(names)} classes, the model at {weights} predicts "
            f"{config['num_classes']}"
        )
    if not scene.indices("test"):
        raise UserError(f"{scene_dir}: the scene has no held-out views (index % 8 == 0) to score the fine-tuning on")
    flags = f" --feature-weights {features}" if features is not None else ""
    flags += "".join(f" --{k.replace('_', '-')} {getattr(cfg, k)}" for k in ("lr", "batch_size", "seed")
                     if getattr(cfg, k) != getattr(FINETUNE, k))  # fmt: skip
    reproduce = f"finetune --scene {scene_dir} --weights {weights} --steps {steps} --out OUT{flags}"
    return finetune_views(scene, names, weights, steps, out, cfg=cfg, data=scene_dir, feature_weights=features,
                          progress=progress, reproduce=reproduce)  # fmt: skip


def finetune_views(
    scene: SceneViews,
    class_names: Sequence[str],
    weights: str | Path,
    steps: int,
    out: str | Path,
    *,
    cfg: FusionTrainConfig = FINETUNE,
    data: Path,
    feature_weights: Path | None,
    progress: bool = True,
    reproduce: str = "",
) -> Path:
    """:func:`finetune` on views already read: ``scene`` (its 3DGS ``.ply`` in ``gaussians``, its
    labels' value k meaning ``class_names[k]``, the model's k-th class), from ``weights`` for
    ``steps`` steps; ``feature_weights`` give Z (None for an image-only model), ``data`` names
    the source on the card and ``reproduce`` the command that reruns it. Returns ``out/last.pt``."""
    _check_steps(steps)
    config, _ = read_fusion_file(weights)
    # a short fine-tune warms up over at most a tenth of its steps (not the preset's fixed count)
    warmup = min(cfg.warmup_steps, steps // 10)
    # the network comes from the file; a depth head it lacks cannot be trained
    depth_weight = cfg.depth_weight if config["depth_head"] else 0.0
    cfg = replace(
        cfg, steps=steps, warmup_steps=warmup, size=config["size"], inputs=config["inputs"],
        fusion=config["fusion"], depth_weight=depth_weight,
    )  # fmt: skip
    run = FusionRun(
        kind="finetune", data=data, train=[scene], val=[scene], class_names=list(class_names),
        feature_weights=feature_weights, init_weights=Path(weights), eval_at_start=True, keep_best=False,
        reproduce=reproduce,
    )  # fmt: skip
    return run_training(run, out, cfg, progress).last


def _model_features(weights: Path, given: str | Path | None) -> Path:
    """The feature weights the fusion model at ``weights`` was trained on (named by its card),
    not necessarily today's default; ``given`` when set (refused if its hash is not the card's)."""
    card = read_fusion_card(weights)
    return resolve_feature_weights(
        given, recorded=card.get("feature_weights"), sha256=card.get("feature_weights_sha256"),
        needed_by=f"fusion model {weights}",
    )  # fmt: skip


def _check_steps(steps: int) -> None:
    if not isinstance(steps, int) or isinstance(steps, bool) or steps <= 0:
        raise ConfigError(None, "steps", f"must be a positive integer, got {steps!r}")
