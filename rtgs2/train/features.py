"""``rtgs2 train features``: contrastive pre-training of the Gaussian feature network.

Each step draws view pairs of the training scenes, builds two independently augmented
samples per pair (the Gaussians each view sees), runs the network over all samples in one
batch and applies PointInfoNCE on sampled correspondences (plus, with ``context_weight`` > 0,
a regression of each Gaussian's geometric context from its features). One process, or several under
``torchrun`` (gloo on the CPU, nccl on CUDA): each rank takes its share of the step's pairs
and DDP averages the gradients. Every random draw of step ``s`` is seeded by (seed, s, rank),
so a run resumed from a checkpoint retraces the uninterrupted one. Rank 0 writes checkpoints,
``metrics.csv``, ``curves.png`` and finally ``weights.pt`` with its card.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from rtgs2.data.views import SceneViews
from rtgs2.features.context import CONTEXT_NAMES, metric_columns
from rtgs2.features.contrastive import matched_rows, near_pairs, point_info_nce, segment_info_nce
from rtgs2.features.inputs import GaussianArrays
from rtgs2.features.io import card_path, load_feature_net, save_feature_net
from rtgs2.features.ptv3 import VARIANTS
from rtgs2.train.card import config_flags, launcher
from rtgs2.train.config import FeatureTrainConfig, identity_config, warmup_of
from rtgs2.train.feature_pairs import PairScene, augmentation, draw_pairs, load_pair_scene, pair_samples, sample_scale
from rtgs2.utils.checkpoint import CheckpointStore
from rtgs2.utils.distributed import DistInfo, init_distributed, shutdown_distributed
from rtgs2.utils.errors import ConfigError, UserError
from rtgs2.utils.git import git_commit
from rtgs2.utils.machine import machine_description
from rtgs2.utils.io import atomic_write_text, file_sha256
from rtgs2.utils.lock import OutputLock, check_output_folder
from rtgs2.utils.metrics_log import MetricsLog
from rtgs2.utils.progress import ProgressReport
from rtgs2.utils.seed import derive_seed

MARKER = "train_features.json"  # marks a folder as a feature-training output
COLUMNS = ("step", "loss", "accuracy", "context_loss", "lr", "seconds", "eval_loss", "eval_accuracy", "eval_context_loss")
CONTEXT_HEAD_SEED = 7  # key of the context head's initialisation (derive_seed(cfg.seed, this))
CONTEXT_STD_FLOOR = 1e-6  # a context column constant over the training scenes is not divided by ~0


def training_scenes(data: Path, finished_only: bool = False) -> tuple[list[SceneViews], list[SceneViews]]:
    """(train, held-out) scenes of a data set: a SynthRooms folder's train and test scenes
    (``finished_only``: those of a partial build that are finished); any other folder's scenes
    with a 3DGS file serve both (held-out pairs are then drawn from the same scenes, which the
    card says)."""
    from rtgs2.data.readers.synthrooms import is_synthrooms, open_synthrooms

    if is_synthrooms(data):
        ds = open_synthrooms(data, finished_only=finished_only)
        if not ds.train:
            raise UserError(f"{data}: no finished train scene yet")
        return ds.train, ds.test or ds.train
    from rtgs2.data.open import open_dataset

    scenes = [s for s in open_dataset(data).scenes if s.gaussians is not None]
    if not scenes:
        raise UserError(f"{data}: no scene has a 3DGS .ply to train features on")
    return scenes, scenes


def _batch(samples: list[GaussianArrays]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Concatenate samples: coord [N, 3], inputs [N, 10], offset [B]."""
    coord = torch.from_numpy(np.concatenate([s.xyz for s in samples]).astype(np.float32))
    inputs = torch.from_numpy(np.concatenate([s.inputs() for s in samples]))
    offset = torch.cumsum(torch.tensor([len(s.ids) for s in samples]), 0)
    return coord, inputs, offset


class ContextHead(nn.Module):
    """Training-only linear head: a Gaussian's features [n, D] -> its standardised geometric
    context [n, C] (``rtgs2.features.context``). Holds the standardisation (per-column mean and
    std over the training scenes, buffers) so a checkpoint restores the whole auxiliary objective.
    Never part of the shipped feature weights. Statistics rather than fixed constants: the columns'
    spreads differ by orders of magnitude (extents of centimetres, heights of metres, ratios in
    [0, 1]) and vary between data sets; at unit variance each column weighs the same in the loss."""

    def __init__(
        self,
        dim: int,
        mean: np.ndarray,  # [C] per-column mean of the training scenes' context
        std: np.ndarray,  # [C] per-column std (metres for the metric columns)
        names: tuple[str, ...] = CONTEXT_NAMES,
    ):
        super().__init__()
        self.linear = nn.Linear(dim, len(names))
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(np.maximum(std, CONTEXT_STD_FLOOR), dtype=torch.float32))
        self.register_buffer("metric", torch.from_numpy(metric_columns(names)))

    def forward(self, feat: torch.Tensor) -> torch.Tensor:  # [n, D] -> [n, C]
        return self.linear(feat)

    def target(
        self,
        context: np.ndarray,  # [n, C] context of the un-augmented scene, rows of the sample
        scale: float,  # the sample's scale-augmentation factor
    ) -> torch.Tensor:  # [n, C] standardised, on the head's device
        """What the head should predict for a sample: its metric columns (lengths) scaled as the
        sample was, then standardised. Rotation about z and translation change no column; the
        colours are the scene's, not the jittered ones the network saw: the network should learn
        the true context, not the augmentation."""
        c = torch.from_numpy(np.asarray(context, dtype=np.float32)).to(self.mean.device)
        c = torch.where(self.metric, c * scale, c)
        return (c - self.mean) / self.std

    def loss(self, feat: torch.Tensor, context: np.ndarray, scale: float) -> torch.Tensor:  # [n, D] -> []
        """Smooth-L1 (quadratic within one std, linear beyond: floaters' outlying context does not
        dominate) between the prediction for every row of a sample (not only its matched rows)
        and :meth:`target`, mean over rows and columns."""
        return F.smooth_l1_loss(self(feat), self.target(context, scale), beta=1.0)


def context_head(scenes: list[PairScene], cfg: FeatureTrainConfig, dim: int) -> ContextHead:
    """The seeded context head of a run, standardised with the statistics of ``scenes``' context
    (all their Gaussians, un-augmented; the same on every rank)."""
    n = sum(len(s.context) for s in scenes)
    mean = sum(s.context.sum(axis=0, dtype=np.float64) for s in scenes) / n  # two passes, one scene at a time
    std = np.sqrt(sum(((s.context - mean) ** 2).sum(axis=0) for s in scenes) / n)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(cfg.seed, CONTEXT_HEAD_SEED))
        return ContextHead(dim, mean, std)


@dataclass
class PairLoss:
    """One batch of view pairs: the loss to minimise and what the log reports of it."""

    loss: torch.Tensor  # [] mean over pairs of InfoNCE (+ segment term) (+ context_weight * context term)
    accuracy: float  # mean top-1 point retrieval accuracy
    context: float | None = None  # mean context term before its weight (None: off)


def pair_loss(
    model: nn.Module,
    pairs: list[tuple[GaussianArrays, GaussianArrays]],
    cfg: FeatureTrainConfig,
    rng: np.random.Generator,
    scenes: list[PairScene] | None = None,
    head: ContextHead | None = None,
) -> tuple[torch.Tensor, float]:
    """Mean loss over ``pairs`` (one forward pass over all their samples) and the mean top-1
    point retrieval accuracy: :func:`pair_objective`'s loss and accuracy."""
    out = pair_objective(model, pairs, cfg, rng, scenes, head)
    return out.loss, out.accuracy


def pair_objective(
    model: nn.Module,
    pairs: list[tuple[GaussianArrays, GaussianArrays]],
    cfg: FeatureTrainConfig,
    rng: np.random.Generator,
    scenes: list[PairScene] | None = None,
    head: ContextHead | None = None,
) -> PairLoss:
    """Mean contrastive loss over ``pairs`` (one forward pass over all their samples), the mean
    top-1 point retrieval accuracy and the context term. ``scenes`` (each pair's scene) are needed
    by ``cfg.negative_radius`` > 0 (scene positions), ``cfg.segment_weight`` > 0 (segments) and
    ``cfg.context_weight`` > 0 (context, and ``head``: :func:`context_head`)."""
    if (cfg.negative_radius > 0 or cfg.segment_weight > 0 or cfg.context_weight > 0) and (
        scenes is None or len(scenes) != len(pairs)
    ):
        raise ValueError("negative_radius, segment_weight or context_weight > 0 needs each pair's scene")
    if cfg.context_weight > 0 and (head is None or any(s.context is None for s in scenes)):
        raise ValueError("context_weight > 0 needs a context head and each pair's scene with its context")
    samples = [s for p in pairs for s in p]
    device = next(model.parameters()).device
    coord, inputs, offset = (t.to(device) for t in _batch(samples))
    feat = model(coord, inputs, offset)
    starts = [0] + offset.tolist()  # row ranges of the samples (host ints)
    losses, accs, contexts = [], [], []
    for k, (a, b) in enumerate(pairs):
        fa = feat[starts[2 * k] : starts[2 * k + 1]]
        fb = feat[starts[2 * k + 1] : starts[2 * k + 2]]
        ra, rb = matched_rows(torch.from_numpy(a.ids), torch.from_numpy(b.ids))
        if len(ra) < 2:
            raise UserError("a view pair kept fewer than 2 common Gaussians after augmentation; lower subsampling")
        extra = 0.0
        if cfg.segment_weight > 0:
            segment = torch.from_numpy(scenes[k].segments[a.ids[ra.numpy()]]).to(device)
            extra = cfg.segment_weight * segment_info_nce(fa[ra], fb[rb], segment, cfg.temperature)[0]
        if cfg.context_weight > 0:
            scene = scenes[k]
            context = sum(_context_loss(head, f, s, scene) for f, s in ((fa, a), (fb, b))) / 2
            contexts.append(float(context.detach()))
            extra = extra + cfg.context_weight * context
        if len(ra) > cfg.num_correspondences:
            pick = torch.from_numpy(np.sort(rng.choice(len(ra), cfg.num_correspondences, replace=False)))
            ra, rb = ra[pick], rb[pick]
        exclude = None
        if cfg.negative_radius > 0:
            xyz = torch.from_numpy(scenes[k].arrays.xyz[a.ids[ra.numpy()]])
            exclude = near_pairs(xyz, cfg.negative_radius).to(device)
        loss, acc = point_info_nce(fa[ra], fb[rb], cfg.temperature, exclude)
        losses.append(loss + extra)
        accs.append(float(acc))
    return PairLoss(torch.stack(losses).mean(), float(np.mean(accs)), float(np.mean(contexts)) if contexts else None)


def _context_loss(head, feats: torch.Tensor, sample: GaussianArrays, scene: PairScene) -> torch.Tensor:
    """The context head's loss on a sample's points that are Gaussians of the scene (not floaters)."""
    real = sample.ids >= 0
    rows = torch.from_numpy(np.flatnonzero(real)).to(feats.device)
    return head.loss(feats[rows], scene.context[sample.ids[real]], sample_scale(sample, scene.arrays))


def lr_at(cfg: FeatureTrainConfig, step: int) -> float:
    """Learning rate of 1-based ``step``: linear warm-up, then cosine to 1% of the peak (or constant)."""
    warmup = warmup_of(cfg)
    if warmup and step <= warmup:
        return cfg.lr * step / warmup
    if cfg.schedule == "constant":
        return cfg.lr
    t = (step - warmup) / max(cfg.steps - warmup, 1)
    return cfg.lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(t, 1.0))))


def evaluate(
    model: nn.Module, scenes: list[PairScene], cfg: FeatureTrainConfig, head: ContextHead | None = None
) -> tuple[float, float, float | None]:
    """Mean loss, top-1 retrieval accuracy and context term (None: off) on ``cfg.eval_pairs``
    fixed held-out pairs (the same pairs and augmentations at every evaluation)."""
    rng = np.random.default_rng(derive_seed(cfg.seed, 999_999))
    augment = augmentation(cfg)
    was_training = model.training
    model.eval()
    losses, accs, contexts = [], [], []
    with torch.no_grad():
        for s, pair in draw_pairs(scenes, cfg.eval_pairs, rng):
            sample = pair_samples(scenes[s], pair, augment, rng)
            out = pair_objective(model, [sample], cfg, rng, [scenes[s]], head)
            losses.append(float(out.loss))
            accs.append(out.accuracy)
            contexts.append(out.context)
    model.train(was_training)
    context = float(np.mean(contexts)) if cfg.context_weight > 0 else None
    return float(np.mean(losses)), float(np.mean(accs)), context


def _check_output(out: Path) -> None:
    check_output_folder(out, MARKER, "a feature-training output")


def train_features(
    data: str | Path,
    out: str | Path,
    cfg: FeatureTrainConfig = FeatureTrainConfig(),
    *,
    progress: bool = True,
    max_scenes: int = 0,
    finished_only: bool = False,
    init_weights: str | Path | None = None,
) -> Path:
    """Pre-train the feature network on the scenes of ``data``; returns ``out/weights.pt``.

    ``init_weights`` (a feature-network file of the same size) starts the run from those weights
    instead of a seeded random initialisation: a longer or wider pre-training continues an
    earlier one. The identity holds its SHA-256 and the card names it.

    Rerunning the same command resumes from the newest checkpoint in ``out/checkpoints``; a
    finished run returns at once. ``max_scenes`` > 0 uses only the first training scenes;
    ``finished_only`` trains on the finished scenes of a SynthRooms build still in progress (the
    identity lists them, so a later rerun with more scenes is refused, not mixed).

    Raises:
        ValueError: bad data (no scene with Gaussians, no overlapping view pairs) or output
            folder (a file, or a folder holding other things), or ``init_weights`` of another
            network size, before any training.
        CheckpointMismatchError: ``out`` holds a run of another data set or config.
    """
    git_commit()  # the code that starts the run is the one its card names (git_commit keeps the first answer)
    data, out = Path(data), Path(out)
    dist = init_distributed("cuda" if torch.cuda.is_available() else "cpu")
    try:
        if dist.is_main:
            _check_output(out)
        with OutputLock(out, f"rtgs2 train features --data {data}") if dist.is_main else _NoLock():
            init = Path(init_weights) if init_weights is not None else None
            return _train(data, out, cfg, dist, progress and dist.is_main, max_scenes, finished_only, init)
    finally:
        shutdown_distributed()


class _NoLock:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None


def _initial_model(cfg: FeatureTrainConfig, init: Path | None) -> nn.Module:
    """A seeded new network of ``cfg.size``, or the one saved at ``init`` (which must be of that size)."""
    torch.manual_seed(cfg.seed)
    model = VARIANTS[cfg.size]()
    if init is None:
        return model
    start = load_feature_net(init)
    if start.cfg != model.cfg:
        raise UserError(f"--init-weights {init} hold a network of another config than --size {cfg.size}")
    return start.train()


def _train(
    data: Path,
    out: Path,
    cfg: FeatureTrainConfig,
    dist: DistInfo,
    progress: bool,
    max_scenes: int,
    finished_only: bool,
    init: Path | None,
) -> Path:
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    model = _initial_model(cfg, init)  # before the data: a wrong file fails at once
    train_views, held_views = training_scenes(data, finished_only)
    if max_scenes:
        train_views = train_views[:max_scenes]
    if cfg.pairs_per_step % dist.world_size:
        raise ConfigError(cfg, "pairs_per_step", f"{cfg.pairs_per_step} must be a multiple of the {dist.world_size} processes")
    identity = {
        "kind": "rtgs2.train.features",
        "data": str(data.resolve()),
        "train_scenes": [v.name for v in train_views],
        "config": identity_config(cfg),
        "init_weights": file_sha256(init) if init is not None else None,
    }
    weights = out / "weights.pt"
    store = CheckpointStore(out / "checkpoints", identity, fresh_hint=f"delete {out} (or choose another --out) to start afresh")
    if dist.is_main:
        atomic_write_text(out / MARKER, json.dumps({"format": "rtgs2-train-features-1", "identity": identity}, indent=1))
    saved = store.load_latest()
    if saved is not None and saved[0] >= cfg.steps and weights.is_file():
        if progress:
            print(f"train features: already finished ({cfg.steps} steps); weights: {weights}")
        return weights

    cache = out / "visibility"
    scenes = [load_pair_scene(v, cfg, cache) for v in train_views]
    held = [load_pair_scene(v, cfg, cache) for v in held_views]
    device = torch.device("cuda", dist.local_rank) if torch.cuda.is_available() else torch.device("cpu")
    model = model.to(device)
    # The auxiliary context head trains with the network (same optimiser, clip and checkpoints)
    # but is not shipped: the feature weights are the network alone.
    head = context_head(scenes, cfg, model.cfg.out_channels).to(device) if cfg.context_weight > 0 else None
    params = list(model.parameters()) + (list(head.parameters()) if head is not None else [])
    opt_cls = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
    optimizer = opt_cls(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    start, elapsed = 0, 0.0
    if saved is not None:
        start, state = saved
        model.load_state_dict(state["model"])
        if head is not None:  # the identity holds context_weight: a checkpoint of this run has the head
            head.load_state_dict(state["context_head"])
        optimizer.load_state_dict(state["optimizer"])  # its state follows the parameters' device
        elapsed = float(state["seconds"])
    net = nn.parallel.DistributedDataParallel(model) if dist.distributed else model
    log = MetricsLog(out / "metrics.csv", COLUMNS)
    if dist.is_main:
        log.truncate_after(start)
    augment = augmentation(cfg)
    per_rank = cfg.pairs_per_step // dist.world_size
    fields = "loss {loss:.3f}  acc {acc:.3f}  held-out acc {eval_acc}" + ("  context {ctx:.3f}" if head is not None else "")
    with ProgressReport("train features", cfg.steps, start=start, fields=fields, enabled=progress) as bar:
        bar.update(start, eval_acc="-")
        t0 = time.monotonic() - elapsed
        net.train()
        for step in range(start + 1, cfg.steps + 1):
            rng = np.random.default_rng(derive_seed(cfg.seed, step))
            draws = draw_pairs(scenes, cfg.pairs_per_step, rng)[dist.rank * per_rank : (dist.rank + 1) * per_rank]
            rank_rng = np.random.default_rng(derive_seed(cfg.seed, step, dist.rank + 1))
            torch.manual_seed(derive_seed(cfg.seed, step, dist.rank + 1))
            pairs = [pair_samples(scenes[s], pair, augment, rank_rng) for s, pair in draws]
            for g in optimizer.param_groups:
                g["lr"] = lr_at(cfg, step)
            objective = pair_objective(net, pairs, cfg, rank_rng, [scenes[s] for s, _ in draws], head)
            loss, acc = objective.loss, objective.accuracy
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if head is not None and dist.distributed:
                _average_gradients(head, dist.world_size)  # DDP averages only the network's
            if cfg.grad_clip > 0:
                nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            optimizer.step()
            loss_value = float(loss.detach())
            if not math.isfinite(loss_value):
                raise FloatingPointError(f"step {step}: the loss is not finite; the last checkpoint is intact")
            row = {"step": step, "loss": loss_value, "accuracy": acc, "context_loss": objective.context, "lr": lr_at(cfg, step),
                   "seconds": time.monotonic() - t0}  # fmt: skip
            if step == cfg.steps or (cfg.eval_every and step % cfg.eval_every == 0):
                row["eval_loss"], row["eval_accuracy"], row["eval_context_loss"] = evaluate(model, held, cfg, head)
                bar.update(step, eval_acc=f"{row['eval_accuracy']:.3f}")
            bar.update(step, loss=row["loss"], acc=acc, **({"ctx": objective.context} if head is not None else {}))
            if dist.is_main:
                log.append(**row)
                if step % cfg.checkpoint_every == 0 or step == cfg.steps:
                    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "seconds": row["seconds"]}
                    if head is not None:
                        state["context_head"] = head.state_dict()
                    store.save(step, state)
    if dist.is_main:
        panels = [("loss", "eval_loss"), ("accuracy", "eval_accuracy")] + ([("context_loss", "eval_context_loss")] if head is not None else [])
        log.plot(out / "curves.png", panels, "contrastive pre-training")
        card = training_card(data, cfg, identity, log, [v.name for v in held_views], dist.world_size, init)
        save_feature_net(model, weights, card)
    return weights


def training_card(
    data: Path,
    cfg: FeatureTrainConfig,
    identity: dict,
    log: MetricsLog,
    held: list[str],
    world_size: int,
    init: Path | None = None,
) -> dict:
    """The JSON card of trained weights: what they were trained on, how, and how well. Its command
    names the number of train scenes: on a complete data set it picks the same ones as a run on a
    partial build (train scenes are built in order). A run started from ``init`` weights names
    them, with their own card's steps, wall time and command (the whole chain reproduces)."""
    scenes = f" --max-scenes {len(identity['train_scenes'])}"
    if init is not None:
        scenes += f" --init-weights {init}"
    rows = log.rows()
    last = rows[-1] if rows else {}
    evals = [r for r in rows if r.get("eval_accuracy")]
    return {
        "model": f"rtgs2.features.ptv3 {cfg.size}",
        "data": str(Path(data).resolve()),
        "train_scenes": identity["train_scenes"],
        "held_out_scenes": held,
        "config": asdict(cfg),
        "steps": cfg.steps,
        "wall_time_s": float(last.get("seconds") or 0.0),
        "commit": git_commit(),
        "machine": machine_description(),
        "metrics": {
            "final_train_loss": float(last.get("loss") or "nan"),
            "held_out_retrieval_top1": float(evals[-1]["eval_accuracy"]) if evals else None,
            "held_out_loss": float(evals[-1]["eval_loss"]) if evals else None,
            "held_out_context_loss": float(evals[-1]["eval_context_loss"]) if evals and evals[-1].get("eval_context_loss") else None,
            "chance_top1": 1.0 / cfg.num_correspondences,
        },
        "reproduce": f"{launcher(world_size)} train features --data {data} --out OUT {config_flags(cfg)}{scenes}".replace("  ", " "),
        "init_weights": _init_summary(init, identity["init_weights"]) if init is not None else None,
    }


def _average_gradients(module: nn.Module, world_size: int) -> None:
    """Average ``module``'s gradients over the processes (what DDP does for the module it wraps)."""
    for p in module.parameters():
        if p.grad is not None:
            torch.distributed.all_reduce(p.grad)
            p.grad /= world_size


def _init_summary(init: Path, sha256: str) -> dict:
    """What a run started from: the file, its SHA-256 (the identity's), and what its own card says of it."""
    card = json.loads(card_path(init).read_text()) if card_path(init).is_file() else {}
    keep = ("train_scenes", "steps", "wall_time_s", "commit", "reproduce")
    return {"path": str(init), "sha256": sha256, **{k: card[k] for k in keep if k in card}}
