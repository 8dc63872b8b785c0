"""Training data of the fusion network: views rendered on the fly from each scene's Gaussians.

Z is rendered at the image's size so that the augmentations move it with the image and the labels,
then averaged down to the network's resolution of Z when the batch is stacked (``collate``).

Per scene, the feature network runs once over all Gaussians; its output F [N, D] is cached in
the run's folder (:class:`~rtgs2.features.cache.FeatureCache`, ``<out>/features/<scene>.npz``,
keyed by a SHA-256 of the scene's ``.ply`` and of the feature weights, so a changed file
rebuilds it). Each sample is one rendering pass at a data set camera, giving Î (RGB), Z (the
D-channel feature image) and depth; the labels are the data set's label image of that view.
Training uses the views that are not held out (index % 8 != 0); validation the held-out views
of the first training scenes, never the data set's test scenes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from rtgs2.data.transforms import Compose
from rtgs2.data.view_transforms import (
    Cutout,
    DropFeatures,
    HorizontalFlip,
    HueRotation,
    PhotometricJitter,
    RandomZoomCrop,
    ViewSample,
)
from rtgs2.data.views import SceneViews
from rtgs2.features.cache import FeatureCache
from rtgs2.render import PER_FRAME, average_features, render
from rtgs2.scene import GaussianScene, read_ply
from rtgs2.train.config import FusionTrainConfig
from rtgs2.utils.errors import UserError


@dataclass
class FusionScene:
    """One scene ready to render training samples."""

    views: SceneViews
    gaussians: GaussianScene  # on the render device, with its features F [N, D] when the model reads Z
    train_views: list[int]  # indices of views that are not held out
    held_out_views: list[int]  # index % 8 == 0

    @property
    def name(self) -> str:
        return self.views.name


def load_fusion_scene(views: SceneViews, cache: FeatureCache | None, device: torch.device) -> FusionScene:
    """Read a scene's Gaussians (and its features through ``cache``; None = no features).

    Raises:
        ValueError: the scene has no 3DGS file or no label images.
    """
    if views.gaussians is None or not Path(views.gaussians).is_file():
        raise UserError(f"scene {views.name!r} has no 3DGS .ply to render training views from")
    if views.labels is None:
        raise UserError(f"scene {views.name!r} has no label images to train the fusion network on")
    scene = read_ply(views.gaussians)
    feats = cache.features(views.name, Path(views.gaussians), scene) if cache is not None else None
    # a .ply with f_vi_* would otherwise render those features for an image-only model
    scene = scene.with_features(feats).to(device)
    return FusionScene(views, scene, views.indices("train"), views.indices("test"))


def render_sample(scene: FusionScene, view: int) -> ViewSample:
    """Render view ``view`` of ``scene`` at its camera (on the scene's device) with its labels.
    Labels of another size than the camera's are resampled to it (nearest)."""
    cam = scene.views.cameras[view]
    out = render(scene.gaussians, cam, settings=PER_FRAME)  # as the per-frame path renders
    labels = torch.as_tensor(scene.views.labels[view]).to(device=out.rgb.device, dtype=torch.uint8)
    if labels.shape != (cam.height, cam.width):
        labels = F.interpolate(labels[None, None].float(), size=(cam.height, cam.width), mode="nearest")[0, 0]
        labels = labels.to(torch.uint8)
    return ViewSample(out.rgb, out.features, labels, out.depth)


def augmentation(cfg: FusionTrainConfig) -> Compose:
    """The training augmentations the config asks for, in order: zoom + crop, flip, colour, hue,
    cutout, feature dropout."""
    ts = [RandomZoomCrop(cfg.crop_height, cfg.crop_width, cfg.zoom_min, cfg.zoom_max), HorizontalFlip(cfg.flip)]
    if cfg.colour_jitter > 0:
        ts.append(PhotometricJitter(cfg.colour_jitter))
    if cfg.hue_rotation > 0:
        ts.append(HueRotation(cfg.hue_rotation))
    if cfg.cutout > 0:
        ts.append(Cutout(cfg.cutout))
    if cfg.feature_dropout > 0:  # last: a recipe without it draws the same numbers as before it
        ts.append(DropFeatures(cfg.feature_dropout))
    return Compose(ts)


def training_pool(scenes: Sequence[FusionScene]) -> list[tuple[int, int]]:
    """(scene index, view index) of every training view of every scene."""
    return [(s, v) for s, scene in enumerate(scenes) for v in scene.train_views]


def draw_batch(pool: Sequence[tuple[int, int]], count: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """``count`` distinct views drawn uniformly from ``pool`` (so a batch mixes scenes)."""
    if not pool:
        raise UserError("no training views: every scene's views are held out")
    picks = rng.choice(len(pool), count, replace=count > len(pool))
    return [pool[i] for i in picks]


@dataclass
class Batch:
    """Samples stacked for the network."""

    image: Tensor  # [B, 3, H, W] in [0, 1]
    features: Tensor | None  # [B, D, H, W]
    labels: Tensor  # [B, H, W] int64, IGNORE_LABEL where unlabelled
    depth: Tensor  # [B, H, W] metres


def collate(samples: Sequence[ViewSample], device: torch.device, feature_stride: int = 1) -> Batch:
    """Stack same-sized samples into a batch on ``device``; the feature images (rendered and
    augmented at the image's size) averaged over ``feature_stride``-pixel blocks, the
    resolution the network reads Z at (``VDVINet.feature_stride``)."""
    image = torch.stack([s.image for s in samples]).permute(0, 3, 1, 2)
    feats = None
    if samples[0].features is not None:
        feats = average_features(torch.stack([s.features for s in samples]), feature_stride)
        feats = feats.permute(0, 3, 1, 2).to(device)
    labels = torch.stack([s.labels for s in samples]).long()
    depth = torch.stack([s.depth for s in samples])
    return Batch(image.to(device), feats, labels.to(device), depth.to(device))


def training_batch(
    scenes: Sequence[FusionScene],
    draws: Sequence[tuple[int, int]],
    augment: Compose,
    rng: np.random.Generator,
    device: torch.device,
    feature_stride: int = 1,
) -> Batch:
    """Render, augment and stack the drawn views (one ``rng`` for all draws, in order)."""
    return collate([augment(render_sample(scenes[s], v), rng) for s, v in draws], device, feature_stride)

