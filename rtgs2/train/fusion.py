"""``rtgs2 train fusion``: semantic training of the VDVI fusion network on rendered views.

Each step draws ``batch_size`` training views (mixing scenes), renders Î and Z at their
cameras, augments them and applies the fusion loss (cross-entropy with label smoothing, CeCo,
optionally the depth head's L1 and the KL to a teacher model's logits on the same views) under AdamW with a linear warm-up and a poly decay. Every
``eval_every`` steps the mIoU on the held-out views of the first ``val_scenes`` training scenes
picks the ``best`` weights. One process, or several under ``torchrun`` (gloo on the CPU, nccl on
CUDA): each rank takes its share of the step's views and DDP averages the gradients. Every
random draw of step ``s`` is seeded by (seed, s, rank), so a run resumed from a checkpoint
retraces the uninterrupted one bit for bit. Rank 0 writes checkpoints, ``metrics.csv``,
``curves.png``, ``last.pt`` and ``best.pt`` (``rtgs2.fusion.save_fusion``), each with a JSON card.

:func:`run_training` is the loop itself; :mod:`rtgs2.train.finetune` runs it on one scene.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn as nn

from rtgs2.data.views import IGNORE_LABEL, SceneViews
from rtgs2.data.segmentation import confusion_matrix, segmentation_metrics
from rtgs2.features.cache import FeatureCache
from rtgs2.features.io import SHIPPED as SHIPPED_FEATURES
from rtgs2.features.io import resolve_feature_weights
from rtgs2.fusion.io import load_backbone_weights, load_fusion, load_pruned_weights, read_fusion_file, save_fusion
from rtgs2.fusion.losses import FusionLoss
from rtgs2.fusion.shift import FeatureStats, feature_stats
from rtgs2.fusion.vdvi import (
    SHARED_STEM_STRIDES,
    FusionOutput,
    VDVINet,
    build_fusion,
    inference_model,
    strides_share_parameters,
)
from rtgs2.train.card import config_flags, launcher
from rtgs2.train.config import FusionTrainConfig, identity_config, warmup_of
from rtgs2.train.fusion_data import (
    FusionScene, augmentation, collate, draw_batch, load_fusion_scene, render_sample, training_batch, training_pool,
)  # fmt: skip
from rtgs2.utils.checkpoint import CheckpointStore
from rtgs2.utils.distributed import DistInfo, init_distributed, shutdown_distributed
from rtgs2.utils.errors import CheckpointMismatchError, ConfigError, MissingFileError, UserError
from rtgs2.utils.git import git_commit
from rtgs2.utils.machine import machine_description
from rtgs2.utils.io import atomic_write_text, file_sha256
from rtgs2.utils.lock import OutputLock, check_output_folder
from rtgs2.utils.metrics_log import MetricsLog
from rtgs2.utils.progress import ProgressReport
from rtgs2.utils.seed import derive_seed

MARKER = "train_fusion.json"  # marks a folder as a fusion-training (or fine-tuning) output
COLUMNS = ("step", "loss", "ce", "ceco", "depth", "distill", "accuracy", "lr", "seconds", "val_miou", "val_macc", "val_oacc")
LOSS_WINDOW = 10  # steps averaged for the train loss a card reports


@dataclass
class FusionRun:
    """What a run learns from and where it starts: :func:`train_fusion` and fine-tuning differ only here."""

    kind: str
    """"train fusion" or "finetune" (progress label and identity)."""
    data: Path
    train: list[SceneViews]
    """Scenes whose training views (index % 8 != 0) train."""
    val: list[SceneViews]
    """Scenes (among ``train``) whose held-out views (index % 8 == 0) validate."""
    class_names: list[str]
    feature_weights: Path | None
    """Feature-network weights giving Z (None: the model reads the image only)."""
    init_weights: Path | None = None
    """Fusion weights to continue from (None: a new model)."""
    eval_at_start: bool = False
    """Validate before the first step too (logged as step 0)."""
    keep_best: bool = True
    """Keep ``best.pt`` (by validation mIoU); off where the validation views are also the report."""
    reproduce: str = ""
    """The arguments of the rtgs2 command that reruns this training (the card adds the launcher)."""


class TrainedFusion(NamedTuple):
    """Where a run's weights are (each with a ``.json`` card beside it)."""

    last: Path
    best: Path | None  # None when the run keeps no best


class _WithEmbedding(nn.Module):
    """Calls ``forward_with_embedding`` through ``forward``, so that DDP's hooks see the call."""

    def __init__(self, model: VDVINet):
        super().__init__()
        self.model = model

    def forward(self, image: torch.Tensor, features: torch.Tensor | None) -> FusionOutput:
        return self.model.forward_with_embedding(image, features)


def clip_gradients(model: VDVINet, max_norm: float) -> None:
    """Clip the gradient norm to ``max_norm`` (0: not at all) over each of the model's parameter
    groups: a late-fusion model's two branches apart, so that each learns as its single-input
    model would (``VDVINet.parameter_groups``)."""
    for group in model.parameter_groups() if max_norm > 0 else ():
        nn.utils.clip_grad_norm_(group, max_norm)


def lr_at(cfg: FusionTrainConfig, step: int) -> float:
    """Learning rate of 1-based ``step``: linear warm-up to ``cfg.lr``, then the poly decay
    lr * (1 - t) ** power, t the fraction of post-warm-up steps already taken (the last step
    still learns)."""
    warmup = warmup_of(cfg)
    if warmup and step <= warmup:
        return cfg.lr * step / warmup
    t = (step - 1 - warmup) / max(cfg.steps - warmup, 1)
    return cfg.lr * (1.0 - t) ** cfg.poly_power


def validate(model: VDVINet, scenes: list[FusionScene], device: torch.device) -> dict:
    """Segmentation metrics (``rtgs2.data.segmentation.segmentation_metrics``: miou, macc, oacc,
    per_class) over the held-out views of ``scenes``, each at its full size, no augmentation."""
    K = model.num_classes
    confusion = np.zeros((K, K), dtype=np.int64)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for scene in scenes:
            for view in scene.held_out_views:
                batch = collate([render_sample(scene, view)], device, model.feature_stride)
                pred = model(batch.image, batch.features).argmax(1)[..., : batch.labels.shape[1], : batch.labels.shape[2]]
                confusion += confusion_matrix(pred.cpu().numpy(), batch.labels.cpu().numpy(), K)
    model.train(was_training)
    return segmentation_metrics(confusion)


def training_scenes(data: Path, finished_only: bool = False) -> tuple[list[SceneViews], list[str]]:
    """The training scenes of a data set and its class names: a SynthRooms folder's train
    scenes (never its test scenes; with ``finished_only``, those of a build in progress that
    are finished); any other folder's ``train`` scenes when it names a split, else all its
    scenes that have a 3DGS file and labels."""
    from rtgs2.data.readers.synthrooms import is_synthrooms, open_synthrooms

    if is_synthrooms(data):
        ds = open_synthrooms(data, finished_only=finished_only)
        return ds.train, ds.label_map.names
    from rtgs2.data.open import open_dataset

    opened = open_dataset(data)
    if opened.label_map is None:
        raise UserError(f"{data}: the data set has no labels to train the fusion network on")
    named = set(opened.scene_split.get("train", []))
    scenes = [
        s for s in opened.scenes if (not named or s.name in named) and s.gaussians is not None and s.labels is not None
    ]
    if not scenes:
        raise UserError(f"{data}: no training scene has both a 3DGS .ply and label images")
    return scenes, opened.label_map.names


def train_fusion(
    data: str | Path,
    out: str | Path,
    cfg: FusionTrainConfig = FusionTrainConfig(),
    *,
    feature_weights: str | Path | None = None,
    progress: bool = True,
    max_scenes: int = 0,
    finished_only: bool = False,
    init_weights: str | Path | None = None,
) -> Path:
    """Train the fusion network on the training scenes of ``data``; returns ``out/best.pt``
    (``out/last.pt`` is beside it). ``init_weights``: a saved fusion model of ``cfg``'s size and
    inputs to continue from (e.g. on a new data set) instead of a new one, or of a larger size
    with the same widths, whose first blocks per stage start a ``cfg.size`` model (``small`` ->
    ``fast``: ``rtgs2.fusion.io.load_pruned_weights``).

    Rerunning the same command resumes from the newest checkpoint in ``out/checkpoints``; a
    finished run returns at once. ``feature_weights`` (default: the shipped weights) give Z
    unless ``cfg.inputs`` is ``image``. ``max_scenes`` > 0 uses only the first training scenes;
    ``finished_only`` trains on the finished scenes of a SynthRooms build still in progress (the
    card lists the scenes; on the finished build ``max_scenes`` picks the same ones).

    Raises:
        FileNotFoundError: the feature weights are missing (checked before anything else).
        ValueError: bad data (no scene with Gaussians and labels) or output folder (a file, or a
            folder holding other things), before any training.
        CheckpointMismatchError: ``out`` holds a run of another data set or config, or
            ``init_weights`` another architecture than ``cfg``'s.
    """
    data = Path(data)
    # an image-only model reads no features; else the given ones or the shipped ones
    weights = None if cfg.inputs == "image" else resolve_feature_weights(feature_weights)
    train, names = training_scenes(data, finished_only)
    init = None if init_weights is None else _check_init_weights(Path(init_weights), cfg, names)
    if cfg.distill_weights is not None:
        _check_teacher(Path(cfg.distill_weights), cfg, names)
    if max_scenes:
        train = train[:max_scenes]
    flags = f" --feature-weights {weights}" if weights is not None and weights != SHIPPED_FEATURES else ""
    flags += f" --max-scenes {len(train)}" if max_scenes or finished_only else ""
    flags += f" --init-weights {init}" if init is not None else ""
    run = FusionRun(
        kind="train fusion", data=data, train=train, val=train[: cfg.val_scenes], class_names=list(names),
        feature_weights=weights, init_weights=init, eval_at_start=init is not None,
        reproduce=f"train fusion --data {data} --out OUT{flags} " + config_flags(cfg),
    )  # fmt: skip
    return run_training(run, out, cfg, progress).best


def _check_init_weights(path: Path, cfg: FusionTrainConfig, class_names: list[str]) -> Path:
    """``path``, refused before any training when missing or another model than the run's (size,
    inputs, Enc_VD blocks, classes, a depth head the run needs) or when backbone weights are given too."""
    if not path.is_file():
        raise MissingFileError(f"init weights {path} not found")
    config, _ = read_fusion_file(path)
    classes = config.get("num_classes") != len(class_names) or config.get("class_names") not in (None, list(class_names))
    diff = [f"classes: file has {config.get('class_names') or config.get('num_classes')}, the data {list(class_names)}"] if classes else []
    if config.get("size") != cfg.size and cfg.backbone_weights is None and not diff:  # a larger model's weights start a pruned one
        load_pruned_weights(_new_model(cfg, class_names), path)  # raises naming what does not fit
        return path
    diff += [f"{k}: file has {config.get(k)!r}, --{k} is {getattr(cfg, k)!r}" for k in ("size", "inputs") if config.get(k) != getattr(cfg, k)]
    if config["fusion"] != cfg.fusion:
        diff.append(f"fusion: file has {config['fusion']!r}, --fusion is {cfg.fusion!r}")
    if cfg.vd_block is not None and cfg.vd_block != config.get("vd_block"):
        diff.append(f"vd_block: file has {config.get('vd_block')!r}, --vd-block is {cfg.vd_block!r}")
    stride = config["feature_stride"]
    if cfg.feature_stride is not None and not strides_share_parameters(cfg.feature_stride, stride):
        diff.append(f"feature_stride: file has {stride}, --feature-stride is {cfg.feature_stride} "
                    f"(only {' and '.join(map(str, sorted(SHARED_STEM_STRIDES)))} share their parameters)")  # fmt: skip
    if cfg.depth_weight > 0 and not config.get("depth_head"):
        diff.append("depth head: the file has none, --depth-weight needs one")
    if cfg.backbone_weights is not None:
        diff.append("--backbone-weights: the encoder's weights come from the init weights")
    if diff:
        raise CheckpointMismatchError(f"init weights {path} are another model: " + "; ".join(diff))
    return path


def _check_teacher(path: Path, cfg: FusionTrainConfig, class_names: list[str]) -> None:
    """Refuse, before any training, a distillation teacher that is missing or cannot read the
    run's inputs or predict its classes."""
    if not path.is_file():
        raise MissingFileError(f"distillation weights {path} not found")
    teacher, _ = read_fusion_file(path)
    student = _new_model(cfg, class_names).config
    diff = [f"{k}: file has {teacher.get(k)!r}, the trained model {student[k]!r}"
            for k in ("num_classes", "feature_dim", "feature_stride") if teacher.get(k) != student[k]]  # fmt: skip
    if teacher.get("class_names") not in (None, list(class_names)):
        diff.append(f"classes: file has {teacher.get('class_names')}, the data {list(class_names)}")
    if teacher.get("inputs") != "image" and cfg.inputs == "image":
        diff.append(f"inputs: the teacher reads Z ({teacher.get('inputs')!r}), an image-only training renders none")
    if diff:
        raise CheckpointMismatchError(f"distillation weights {path} cannot teach this model: " + "; ".join(diff))


def _teacher_logits(teacher: VDVINet, image: torch.Tensor, features: torch.Tensor | None) -> torch.Tensor:
    """The teacher's logits [B, K, H, W] for the batch (no gradient), from the inputs it reads."""
    with torch.no_grad():
        return teacher(image if teacher.vd is not None else None, features if teacher.vi is not None else None)


def run_training(run: FusionRun, out: str | Path, cfg: FusionTrainConfig, progress: bool = True) -> TrainedFusion:
    """The training loop (module doc) on ``run``, writing into ``out``."""
    git_commit()  # the code that starts the run is the one its cards name (git_commit keeps the first answer)
    out = Path(out)
    dist = init_distributed("cuda" if torch.cuda.is_available() else "cpu")
    try:
        if dist.is_main:
            _check_output(out)
        lock = OutputLock(out, f"rtgs2 {run.kind} --out {out}") if dist.is_main else contextlib.nullcontext()
        with lock:
            return _train(run, out, cfg, dist, progress and dist.is_main)
    finally:
        shutdown_distributed()


def _check_output(out: Path) -> None:
    check_output_folder(out, MARKER, "a fusion-training output")


def _devices(dist: DistInfo) -> tuple[torch.device, torch.device]:
    """(model device, render device): this rank's GPU when there is one, and the GPU for
    rendering too when gsplat can render there (else the numba renderer, on the CPU)."""
    from rtgs2.render.api import default_device

    if not torch.cuda.is_available():
        return torch.device("cpu"), torch.device("cpu")
    gpu = torch.device("cuda", dist.local_rank)
    return gpu, gpu if default_device().type == "cuda" else torch.device("cpu")


def _model(run: FusionRun, cfg: FusionTrainConfig, progress: bool) -> VDVINet:
    """A new model (seeded), the one saved at ``run.init_weights``, or, where that file is of a
    larger size, a new model of ``cfg.size`` started from its weights (``load_pruned_weights``)."""
    if run.init_weights is not None:
        if read_fusion_file(run.init_weights)[0]["size"] == cfg.size:  # (at --feature-stride, where given)
            return load_fusion(run.init_weights, feature_stride=cfg.feature_stride).train()  # loaded in eval mode
        model = _new_model(cfg, run.class_names)
        dropped = load_pruned_weights(model, run.init_weights)
        if progress:
            print(f"init weights {run.init_weights}: a {cfg.size} model from them, left out: {', '.join(dropped)}")
        return model
    model = _new_model(cfg, run.class_names)
    if cfg.backbone_weights:
        report = load_backbone_weights(model, cfg.backbone_weights)
        if progress:
            print(f"backbone weights {cfg.backbone_weights}: {report.summary()}")
    return model


def _new_model(cfg: FusionTrainConfig, class_names: list[str]) -> VDVINet:
    """A new model of ``cfg``'s size, inputs, Enc_VD blocks and resolution of Z, initialised from
    ``cfg.seed``."""
    torch.manual_seed(cfg.seed)
    size = {k: getattr(cfg, k) for k in ("vd_block", "feature_stride") if getattr(cfg, k) is not None}
    return build_fusion(
        cfg.size, cfg.inputs, num_classes=len(class_names), fusion=cfg.fusion, depth_head=cfg.depth_head,
        class_names=class_names, **size,
    )  # fmt: skip


def _optimizer(model: nn.Module, cfg: FusionTrainConfig) -> torch.optim.AdamW:
    """AdamW; norms and biases (1-D parameters) get no weight decay: shrinking them only
    rescales the features they feed, as in SegFormer's and ConvNeXt's recipes."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.ndim > 1], "weight_decay": cfg.weight_decay},
        {"params": [p for p in params if p.ndim <= 1], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=cfg.lr)


def _train(run: FusionRun, out: Path, cfg: FusionTrainConfig, dist: DistInfo, progress: bool) -> TrainedFusion:
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    if cfg.batch_size % dist.world_size:
        raise ConfigError(cfg, "batch_size", f"{cfg.batch_size} must be a multiple of the {dist.world_size} processes")
    identity = {
        "kind": f"rtgs2.{run.kind.replace(' ', '_')}",
        "data": str(run.data.resolve()),
        "train_scenes": [v.name for v in run.train],
        "val_scenes": [v.name for v in run.val],
        "feature_weights": file_sha256(run.feature_weights) if run.feature_weights else None,
        "init_weights": file_sha256(run.init_weights) if run.init_weights else None,
        "config": identity_config(cfg),
    }
    if cfg.distill_weights:  # the teacher's bytes, not only its path
        identity["distill_weights"] = file_sha256(cfg.distill_weights)
    last, best = out / "last.pt", out / "best.pt"
    hint = f"delete {out} (or choose another --out) to start afresh"
    store = CheckpointStore(out / "checkpoints", identity, fresh_hint=hint)
    if dist.is_main:
        atomic_write_text(out / MARKER, json.dumps({"format": "rtgs2-train-fusion-1", "identity": identity}, indent=1))
    if dist.distributed:
        torch.distributed.barrier()  # rank 0 has checked and claimed ``out`` before any rank writes there
    saved = store.load_latest()
    result = TrainedFusion(last, best if run.keep_best else None)
    if saved is not None and saved[0] >= cfg.steps and last.is_file():
        if progress:
            print(f"{run.kind}: already finished ({cfg.steps} steps); weights: {result.best or last}")
        return result

    device, render_device = _devices(dist)
    cache = FeatureCache(out / "features", run.feature_weights) if run.feature_weights is not None else None
    scenes = [load_fusion_scene(v, cache, render_device) for v in run.train]
    val_names = [v.name for v in run.val]
    val = [s for s in scenes if s.name in val_names and s.held_out_views]
    model = _model(run, cfg, progress).to(device)
    loss_fn = FusionLoss(cfg.loss(), model.num_classes, model.embedding_dim).to(device)
    teacher = inference_model(load_fusion(cfg.distill_weights), device) if cfg.distill_weights else None
    optimizer = _optimizer(model, cfg)
    start, elapsed, best_miou, best_step = 0, 0.0, -1.0, 0
    if saved is not None:
        start, state = saved
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        elapsed, best_miou, best_step = float(state["seconds"]), float(state["best_miou"]), int(state["best_step"])
    wrapped = _WithEmbedding(model)
    net = nn.parallel.DistributedDataParallel(wrapped) if dist.distributed else wrapped
    log = MetricsLog(out / "metrics.csv", COLUMNS)
    if dist.is_main:
        log.truncate_after(start if start else -1)  # a fresh start also drops a killed run's step-0 row
    pool = training_pool(scenes)
    augment = augmentation(cfg)
    per_rank = cfg.batch_size // dist.world_size
    # what the model's Z looked like in training: Segmenter compares a scene's features with it
    stats = feature_stats([s.gaussians.features.cpu() for s in scenes]) if cache is not None and dist.is_main else None
    card = _Carder(run, cfg, identity, log, stats)
    fields = "loss {loss:.3f}  acc {acc:.3f}  val mIoU {val}"
    with ProgressReport(run.kind, cfg.steps, start=start, fields=fields, enabled=progress) as bar:
        bar.update(start, val="-")
        t0 = time.monotonic() - elapsed
        if start == 0 and run.eval_at_start and val and dist.is_main:
            metrics = validate(model, val, device)
            log.append(step=0, **_val_columns(metrics), seconds=time.monotonic() - t0)
            bar.update(0, val=f"{100 * metrics['miou']:.1f}%")
        model.train()
        metrics = None
        for step in range(start + 1, cfg.steps + 1):
            draws = draw_batch(pool, cfg.batch_size, np.random.default_rng(derive_seed(cfg.seed, step)))
            rank_seed = derive_seed(cfg.seed, step, dist.rank + 1)
            torch.manual_seed(rank_seed)  # dropout and drop-path
            batch = training_batch(
                scenes, draws[dist.rank * per_rank : (dist.rank + 1) * per_rank], augment,
                np.random.default_rng(rank_seed), device, model.feature_stride,
            )  # fmt: skip
            lr = lr_at(cfg, step)
            for g in optimizer.param_groups:
                g["lr"] = lr
            output = net(batch.image, batch.features)
            target = _teacher_logits(teacher, batch.image, batch.features) if teacher is not None else None
            terms = loss_fn(output, batch.labels, batch.depth, target)
            optimizer.zero_grad(set_to_none=True)
            terms["total"].backward()
            clip_gradients(model, cfg.grad_clip)
            optimizer.step()
            loss = float(terms["total"].detach())
            if not math.isfinite(loss):
                raise FloatingPointError(f"step {step}: the loss is not finite; the last checkpoint is intact")
            row = {k: float(terms[k].detach()) for k in ("ce", "ceco", "depth", "distill") if k in terms}
            row.update(step=step, loss=loss, accuracy=_accuracy(output.logits, batch.labels), lr=lr)
            row["seconds"] = time.monotonic() - t0
            bar.update(step, loss=loss, acc=row["accuracy"])
            if not dist.is_main:
                continue
            if val and (step == cfg.steps or (cfg.eval_every and step % cfg.eval_every == 0)):
                metrics = validate(model, val, device)
                row.update(_val_columns(metrics))
                bar.update(step, val=f"{100 * metrics['miou']:.1f}%")
                if run.keep_best and metrics["miou"] > best_miou:
                    best_miou, best_step = metrics["miou"], step
                    card.save(model, best, step, row["seconds"], metrics)
            log.append(**row)
            if step % cfg.checkpoint_every == 0 or step == cfg.steps:
                state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "seconds": row["seconds"],
                         "best_miou": best_miou, "best_step": best_step}  # fmt: skip
                store.save(step, state)
    if dist.is_main:
        log.plot(out / "curves.png", [("loss", "ce", "ceco", "distill"), ("accuracy", "val_miou")], run.kind)
        seconds = float(log.rows()[-1]["seconds"])
        card.save(model, last, cfg.steps, seconds, metrics)
        if run.keep_best and not val:  # nothing to choose by: the best is the last
            card.save(model, best, cfg.steps, seconds, None)
    return result


def _accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of labelled pixels whose argmax class is right (NaN when none is labelled)."""
    keep = labels != IGNORE_LABEL
    if not keep.any():
        return float("nan")
    return float((logits.detach().argmax(1) == labels)[keep].float().mean())


def _val_columns(metrics: dict) -> dict:
    return {"val_miou": metrics["miou"], "val_macc": metrics["macc"], "val_oacc": metrics["oacc"]}


class _Carder:
    """Writes weights with their JSON card: what they were trained on, how, and how well."""

    def __init__(self, run: FusionRun, cfg: FusionTrainConfig, identity: dict, log: MetricsLog, stats: FeatureStats | None):
        self.run, self.cfg, self.identity, self.log, self.stats = run, cfg, identity, log, stats

    def save(self, model: VDVINet, path: Path, step: int, seconds: float, metrics: dict | None) -> None:
        save_fusion(model, path)
        atomic_write_text(path.with_suffix(".json"), json.dumps(self.card(step, seconds, metrics), indent=1) + "\n")

    def card(self, step: int, seconds: float, metrics: dict | None) -> dict:
        run, cfg = self.run, self.cfg
        rows = [r for r in self.log.rows() if 0 < int(r["step"]) <= step and r["loss"]]
        before = [r for r in self.log.rows() if int(r["step"]) == 0 and r["val_miou"]]
        losses = [float(r["loss"]) for r in rows[-LOSS_WINDOW:]]
        return {
            "model": f"rtgs2.fusion.vdvi {cfg.size}, inputs={cfg.inputs}" + (", late fusion" if cfg.fusion == "late" else ""),
            "data": str(Path(run.data).resolve()),
            "train_scenes": self.identity["train_scenes"],
            "val": {"scenes": self.identity["val_scenes"], "views": "held out (index % 8 == 0)"},
            "feature_weights": str(run.feature_weights) if run.feature_weights else None,
            "feature_weights_sha256": self.identity["feature_weights"],
            "init_weights": str(run.init_weights) if run.init_weights else None,
            "feature_stats": self.stats.to_json() if self.stats is not None else None,
            "config": asdict(cfg),
            "steps": step,
            "wall_time_s": seconds,
            "commit": git_commit(),
            "machine": machine_description(),
            "metrics": {
                "train_loss": float(np.mean(losses)) if losses else None,
                "val": _named(metrics, run.class_names) if metrics else None,
                "val_before": {k: float(before[0][f"val_{k}"]) for k in ("miou", "macc", "oacc")} if before else None,
            },
            "reproduce": f"{launcher(_world_size())} {run.reproduce}",
        }


def _world_size() -> int:
    return torch.distributed.get_world_size() if torch.distributed.is_initialized() else 1


def _named(metrics: dict, names: list[str]) -> dict:
    """``metrics`` with per-class IoU keyed by class name (classes absent from the views left out)."""
    iou = {n: v for n, v in zip(names, metrics["per_class"]["iou"]) if not math.isnan(v)}
    return {"miou": metrics["miou"], "macc": metrics["macc"], "oacc": metrics["oacc"], "iou": iou}
