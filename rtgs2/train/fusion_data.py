"""Training data of the fusion network: views rendered on the fly from each scene's Gaussians.

Per scene, the feature network runs once over all Gaussians; its output F [N, D] is cached in
the run's folder (``<cache>/<scene>.npz``, keyed by a SHA-256 of the scene's ``.ply`` and of
the feature weights, so a changed file rebuilds it). Each sample is one rendering pass at a
data set camera, giving Î (RGB), Z (the D-channel feature image) and depth; the labels are
the data set's label image of that view. Training uses the views that are not held out
(index % 8 != 0); validation the held-out views of the first training scenes, never the data
set's test scenes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from rtgs2.data.transforms import Compose
from rtgs2.data.view_transforms import Cutout, HorizontalFlip, PhotometricJitter, RandomZoomCrop, ViewSample
from rtgs2.data.views import SceneViews
from rtgs2.features.inputs import SceneFrame
from rtgs2.render import render
from rtgs2.scene import GaussianScene, read_ply
from rtgs2.train.config import FusionTrainConfig
from rtgs2.utils.errors import Rtgs2Error
from rtgs2.utils.io import atomic_open, file_sha256


def read_fusion_card(fusion_weights: Path) -> dict:
    """The JSON card beside a fusion weights file ({} when there is none); Rtgs2Error when unreadable."""
    card_file = fusion_weights.with_suffix(".json")
    if not card_file.is_file():
        return {}
    try:
        card = json.loads(card_file.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise Rtgs2Error(f"{card_file}: not a readable fusion model card ({e})") from None
    if not isinstance(card, dict):
        raise Rtgs2Error(f"{card_file}: not a fusion model card (expected a JSON object)")
    return card


def model_feature_weights(fusion_weights: Path, given: str | Path | None) -> Path:
    """The feature weights to extract Z's features with: ``given``; else, when the fusion
    model's card records their hash, the file its card names or the shipped file with that hash
    (a model may have been trained on earlier shipped features than today's default, and the
    card's path may be relative to another folder); else the file the card names, else the
    default shipped ones. Refused when the file's hash is not the card's."""
    from rtgs2.features.io import SHIPPED, shipped_with_sha256

    card = read_fusion_card(fusion_weights)
    expected = card.get("feature_weights_sha256")
    named = Path(card["feature_weights"]) if card.get("feature_weights") else None
    if given is not None:
        path = Path(given)
    elif expected:
        if named is not None and named.is_file() and file_sha256(named) == expected:
            return named
        found = shipped_with_sha256(expected)
        if found is not None:
            return found
        path = SHIPPED  # no shipped file has the card's hash: refused below, saying what to pass
    else:
        path = named if named is not None and named.is_file() else SHIPPED
    if not path.is_file():
        raise FileNotFoundError(f"feature weights {path} not found (--feature-weights)")
    if expected and file_sha256(path) != expected:
        raise Rtgs2Error(
            f"feature weights {path} are not the ones fusion model {fusion_weights} was trained with "
            f"(its card records sha256 {expected[:12]}...): pass those with --feature-weights"
        )
    return path


def feature_weights_path(inputs: str, given: str | Path | None) -> Path | None:
    """The feature weights a model with ``inputs`` needs (None for ``image``): ``given``, or
    the shipped ones. Raises FileNotFoundError (one line saying what to do) when absent."""
    if inputs == "image":
        return None
    from rtgs2.features.io import SHIPPED

    path = Path(given) if given is not None else SHIPPED
    if path.is_file():
        return path
    if given is None:
        raise FileNotFoundError(
            f"the shipped feature weights are not in this install ({SHIPPED}); train them (rtgs2 train features) "
            f"and pass --feature-weights, or train with --inputs image"
        )
    raise FileNotFoundError(f"feature weights {path} not found (--feature-weights)")


class FeatureCache:
    """Per-Gaussian features of scenes, computed once by the network at ``weights`` and kept in
    ``folder`` as ``<scene>.npz`` (``fingerprint``, ``features`` [N, D] float32)."""

    def __init__(self, folder: Path, weights: Path):
        self.folder, self.weights = Path(folder), Path(weights)
        self._net = None  # loaded on the first miss

    def features(
        self, name: str, ply: Path, scene: GaussianScene, frame: SceneFrame | None = None
    ) -> Tensor:  # [N, D] float32, CPU
        """The features of ``scene`` (read from ``ply``) in ``frame`` (default: the automatic
        choice): the cached ones when their fingerprint matches the current ``ply`` and weights,
        else extracted and cached. The fingerprint does not cover the frame: callers passing one
        put it in ``name``."""
        fingerprint = file_sha256(ply, self.weights)
        path = self.folder / f"{name}.npz"
        if path.is_file():
            with np.load(path) as z:
                if str(z["fingerprint"]) == fingerprint and len(z["features"]) == scene.num_gaussians:
                    return torch.from_numpy(z["features"])
        from rtgs2.features.extract import extract_features
        from rtgs2.features.io import load_feature_net

        if self._net is None:
            self._net = load_feature_net(self.weights)
        feats = extract_features(scene, self._net, frame=frame).float().contiguous()
        with atomic_open(path, "wb") as f:
            np.savez(f, fingerprint=np.array(fingerprint), features=feats.numpy())
        return feats


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
        raise ValueError(f"scene {views.name!r} has no 3DGS .ply to render training views from")
    if views.labels is None:
        raise ValueError(f"scene {views.name!r} has no label images to train the fusion network on")
    scene = read_ply(views.gaussians)
    feats = cache.features(views.name, Path(views.gaussians), scene) if cache is not None else None
    # a .ply with f_vi_* would otherwise render those features for an image-only model
    scene = scene.with_features(feats).to(device)
    return FusionScene(views, scene, views.indices("train"), views.indices("test"))


def render_sample(scene: FusionScene, view: int) -> ViewSample:
    """Render view ``view`` of ``scene`` at its camera (on the scene's device) with its labels.
    Labels of another size than the camera's are resampled to it (nearest)."""
    cam = scene.views.cameras[view]
    out = render(scene.gaussians, cam)
    labels = torch.as_tensor(scene.views.labels[view]).to(device=out.rgb.device, dtype=torch.uint8)
    if labels.shape != (cam.height, cam.width):
        labels = F.interpolate(labels[None, None].float(), size=(cam.height, cam.width), mode="nearest")[0, 0]
        labels = labels.to(torch.uint8)
    return ViewSample(out.rgb, out.features, labels, out.depth)


def augmentation(cfg: FusionTrainConfig) -> Compose:
    """The training augmentations the config asks for, in order: zoom + crop, flip, colour, cutout."""
    ts = [RandomZoomCrop(cfg.crop_height, cfg.crop_width, cfg.zoom_min, cfg.zoom_max), HorizontalFlip(cfg.flip)]
    if cfg.colour_jitter > 0:
        ts.append(PhotometricJitter(cfg.colour_jitter))
    if cfg.cutout > 0:
        ts.append(Cutout(cfg.cutout))
    return Compose(ts)


def training_pool(scenes: Sequence[FusionScene]) -> list[tuple[int, int]]:
    """(scene index, view index) of every training view of every scene."""
    return [(s, v) for s, scene in enumerate(scenes) for v in scene.train_views]


def draw_batch(pool: Sequence[tuple[int, int]], count: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """``count`` distinct views drawn uniformly from ``pool`` (so a batch mixes scenes)."""
    if not pool:
        raise ValueError("no training views: every scene's views are held out")
    picks = rng.choice(len(pool), count, replace=count > len(pool))
    return [pool[i] for i in picks]


@dataclass
class Batch:
    """Samples stacked for the network."""

    image: Tensor  # [B, 3, H, W] in [0, 1]
    features: Tensor | None  # [B, D, H, W]
    labels: Tensor  # [B, H, W] int64, IGNORE_LABEL where unlabelled
    depth: Tensor  # [B, H, W] metres


def collate(samples: Sequence[ViewSample], device: torch.device) -> Batch:
    """Stack same-sized samples into a batch on ``device``."""
    image = torch.stack([s.image for s in samples]).permute(0, 3, 1, 2)
    feats = None
    if samples[0].features is not None:
        feats = torch.stack([s.features for s in samples]).permute(0, 3, 1, 2).to(device)
    labels = torch.stack([s.labels for s in samples]).long()
    depth = torch.stack([s.depth for s in samples])
    return Batch(image.to(device), feats, labels.to(device), depth.to(device))


def training_batch(
    scenes: Sequence[FusionScene],
    draws: Sequence[tuple[int, int]],
    augment: Compose,
    rng: np.random.Generator,
    device: torch.device,
) -> Batch:
    """Render, augment and stack the drawn views (one ``rng`` for all draws, in order)."""
    return collate([augment(render_sample(scenes[s], v), rng) for s, v in draws], device)

