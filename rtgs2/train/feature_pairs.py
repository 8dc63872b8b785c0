"""View pairs for contrastive pre-training: which Gaussians each camera sees, which pairs of
views overlap enough (IoU of their visible sets in [overlap_min, overlap_max]), the two
independently augmented samples of a pair and, for the auxiliary objective, each scene's
geometric context."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rtgs2.data.transforms import ColourJitter, Compose, OpacityJitter, RandomRotateZ, RandomScale, RandomSubset
from rtgs2.data.transforms import AddFloaters, RandomDrop, VoxelSubsample
from rtgs2.data.visibility import visible_gaussians
from rtgs2.data.views import SceneViews
from rtgs2.features.context import CONTEXT_NAMES, geometric_context
from rtgs2.features.inputs import GaussianArrays, gaussian_arrays
from rtgs2.features.segments import segment_gaussians
from rtgs2.scene.ply import read_ply
from rtgs2.train.config import FeatureTrainConfig
from rtgs2.utils.errors import UserError

def overlapping_pairs(visible: list[np.ndarray], num_gaussians: int, low: float, high: float) -> np.ndarray:
    """[P, 2] int view index pairs (i < j) whose visible sets have IoU in [low, high]."""
    if not visible:
        return np.zeros((0, 2), np.int64)
    member = np.zeros((len(visible), num_gaussians), dtype=np.float32)
    for i, ids in enumerate(visible):
        member[i, ids] = 1
    inter = member @ member.T
    sizes = member.sum(1)
    iou = inter / np.maximum(sizes[:, None] + sizes[None, :] - inter, 1)
    i, j = np.nonzero(np.triu((iou >= low) & (iou <= high), k=1))
    return np.stack([i, j], 1).astype(np.int64)


@dataclass
class PairScene:
    """One scene ready for pair sampling: its Gaussians (network frame), per-view visible ids,
    the overlapping pairs (may be empty) and, when the objective uses them, an unsupervised
    over-segmentation ([N] int64 segment per Gaussian) and the geometric context of the
    un-augmented scene ([N, C] float32, columns ``rtgs2.features.context.CONTEXT_NAMES``)."""

    name: str
    arrays: GaussianArrays
    visible: list[np.ndarray]
    pairs: np.ndarray
    segments: np.ndarray | None = None
    context: np.ndarray | None = None


def load_pair_scene(views: SceneViews, cfg: FeatureTrainConfig, cache_dir: Path | None = None) -> PairScene:
    """Read a scene's ``.ply``, find what each view sees (cached as ``<cache_dir>/<name>.npz``
    keyed by the file's size and mtime) and its overlapping pairs; with ``cfg.context_weight`` > 0
    also its geometric context (cached as ``<cache_dir>/<name>.context.npz``, same key).

    Raises:
        ValueError: the scene has no 3DGS file.
    """
    if views.gaussians is None or not Path(views.gaussians).is_file():
        raise UserError(f"scene {views.name!r} has no 3DGS .ply to train features on")
    ply = Path(views.gaussians)
    scene = read_ply(ply)
    stamp = np.array([ply.stat().st_size, ply.stat().st_mtime_ns, len(views)], dtype=np.int64)
    cached = cache_dir / f"{views.name}.npz" if cache_dir is not None else None
    visible = None
    if cached is not None and cached.is_file():
        with np.load(cached) as z:
            if np.array_equal(z["stamp"], stamp):
                visible = np.split(z["ids"], z["bounds"][1:-1])
    if visible is None:
        visible = [visible_gaussians(scene, views, v) for v in range(len(views))]
        if cached is not None:
            from rtgs2.utils.io import atomic_open

            bounds = np.concatenate([[0], np.cumsum([len(v) for v in visible])])
            with atomic_open(cached, "wb") as f:
                np.savez(f, stamp=stamp, ids=np.concatenate(visible), bounds=bounds)
    pairs = overlapping_pairs(visible, scene.num_gaussians, cfg.overlap_min, cfg.overlap_max)
    segments = segment_gaussians(scene, scale=cfg.segment_scale) if cfg.segment_weight > 0 else None
    arrays = gaussian_arrays(scene)
    context = None
    if cfg.context_weight > 0:
        context = scene_context(arrays, stamp, cache_dir / f"{views.name}.context.npz" if cache_dir is not None else None)
    return PairScene(views.name, arrays, visible, pairs, segments, context)


def scene_context(arrays: GaussianArrays, stamp: np.ndarray, cached: Path | None = None) -> np.ndarray:
    """[N, C] geometric context of a scene's un-augmented Gaussians (``CONTEXT_NAMES``), read from
    ``cached`` when that file holds the same ``stamp`` and columns, else computed (and written there)."""
    names = np.array(CONTEXT_NAMES)
    if cached is not None and cached.is_file():
        with np.load(cached) as z:
            if np.array_equal(z["stamp"], stamp) and np.array_equal(z["names"], names):
                return z["context"]
    context = geometric_context(arrays.xyz, arrays.colour)
    if cached is not None:
        from rtgs2.utils.io import atomic_open

        with atomic_open(cached, "wb") as f:
            np.savez(f, stamp=stamp, names=names, context=context)
    return context


def sample_scale(
    sample: GaussianArrays,  # an augmented sample of scene
    scene: GaussianArrays,  # the un-augmented scene (rows = sample.ids)
) -> float:
    """The factor by which the augmentation scaled ``sample`` (``RandomScale``, the one transform
    that changes log-scales: it adds log(factor) to all of them; median against rounding; floaters,
    with no row in ``scene``, left out)."""
    real = sample.ids >= 0
    return float(np.exp(np.median(sample.log_scales[real] - scene.log_scales[sample.ids[real]])))


def augmentation(cfg: FeatureTrainConfig) -> Compose:
    """The per-sample augmentations of the paper's pre-training, from the config."""
    return Compose([
        VoxelSubsample(cfg.subsample_grid),
        RandomDrop(cfg.drop_max),
        RandomSubset(cfg.max_points),
        AddFloaters(cfg.floaters),
        RandomRotateZ(cfg.rotate_degrees),
        RandomScale(cfg.scale_min, cfg.scale_max),
        ColourJitter(cfg.colour_jitter, cfg.colour_jitter),
        OpacityJitter(cfg.opacity_jitter),
    ])  # fmt: skip


def pair_samples(
    scene: PairScene, pair: tuple[int, int], augment: Compose, rng: np.random.Generator
) -> tuple[GaussianArrays, GaussianArrays]:
    """The two views' visible Gaussians, each augmented independently (ids kept for matching)."""
    a = augment(scene.arrays.subset(scene.visible[pair[0]]), rng)
    b = augment(scene.arrays.subset(scene.visible[pair[1]]), rng)
    return a, b


def draw_pairs(scenes: list[PairScene], count: int, rng: np.random.Generator) -> list[tuple[int, tuple[int, int]]]:
    """``count`` (scene index, view pair) draws: a scene uniformly among those with pairs, then
    one of its pairs uniformly."""
    usable = [i for i, s in enumerate(scenes) if len(s.pairs)]
    if not usable:
        raise UserError("no scene has a pair of views whose visible Gaussians overlap in the asked IoU range")
    out = []
    for _ in range(count):
        s = usable[int(rng.integers(len(usable)))]
        p = scenes[s].pairs[int(rng.integers(len(scenes[s].pairs)))]
        out.append((s, (int(p[0]), int(p[1]))))
    return out
