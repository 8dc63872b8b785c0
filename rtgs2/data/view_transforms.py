"""Augmentations of rendered views for the fusion network: small dataclass transforms called as
``t(sample, rng)`` with an explicit ``np.random.Generator`` (compose them with
:class:`rtgs2.data.transforms.Compose`); each returns a new :class:`ViewSample`.

Geometric transforms move the image, the feature image, the labels and the depth together;
photometric ones touch the image only (the features are view independent by design).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from rtgs2.data.views import IGNORE_LABEL


@dataclass(frozen=True)
class ViewSample:
    """One view as the fusion network trains on it (tensors on any one device)."""

    image: Tensor  # [H, W, 3] RGB in [0, 1]
    features: Tensor | None  # [H, W, D] feature image Z (None when the model does not read it)
    labels: Tensor  # [H, W] uint8 class ids, IGNORE_LABEL where unlabelled
    depth: Tensor  # [H, W] camera z, metres (0 = nothing there)

    @property
    def size(self) -> tuple[int, int]:
        return self.labels.shape[0], self.labels.shape[1]


def _resize(x: Tensor, size: tuple[int, int], mode: str) -> Tensor:  # [H, W, C] -> [h, w, C]
    if x.shape[:2] == size:
        return x
    kwargs = {"align_corners": False, "antialias": True} if mode == "bilinear" else {}
    return F.interpolate(x.permute(2, 0, 1)[None], size=size, mode=mode, **kwargs)[0].permute(1, 2, 0)


def _pad(x: Tensor, height: int, width: int, value: float) -> Tensor:  # [H, W, C] -> [>= height, >= width, C]
    dh, dw = max(height - x.shape[0], 0), max(width - x.shape[1], 0)
    if dh == 0 and dw == 0:
        return x
    return F.pad(x.permute(2, 0, 1), (0, dw, 0, dh), value=value).permute(1, 2, 0)


@dataclass(frozen=True)
class RandomZoomCrop:
    """Zoom by a factor drawn log-uniformly from [zoom_min, zoom_max], then cut a random
    ``height`` x ``width`` crop; where the zoomed view is smaller than the crop, the rest is
    padded (image and features 0, labels ignored, depth 0). Only the window the crop needs is
    resampled: bilinear for image and features, nearest for labels and depth."""

    height: int
    width: int
    zoom_min: float = 1.0
    zoom_max: float = 1.0

    def __call__(self, sample: ViewSample, rng: np.random.Generator) -> ViewSample:
        zoom = math.exp(rng.uniform(math.log(self.zoom_min), math.log(self.zoom_max)))
        win_h, win_w = max(round(self.height / zoom), 1), max(round(self.width / zoom), 1)  # in source pixels
        H, W = sample.size
        y0 = int(rng.integers(0, max(H - win_h, 0) + 1))
        x0 = int(rng.integers(0, max(W - win_w, 0) + 1))

        def window(x: Tensor, value: float, mode: str) -> Tensor:  # [H, W, C] -> [height, width, C]
            x = _pad(x[y0 : y0 + win_h, x0 : x0 + win_w], win_h, win_w, value)
            return _resize(x, (self.height, self.width), mode)

        labels = window(sample.labels[..., None].float(), IGNORE_LABEL, "nearest")[..., 0].to(torch.uint8)
        return ViewSample(
            image=window(sample.image, 0.0, "bilinear"),
            features=None if sample.features is None else window(sample.features, 0.0, "bilinear"),
            labels=labels,
            depth=window(sample.depth[..., None], 0.0, "nearest")[..., 0],
        )


@dataclass(frozen=True)
class HorizontalFlip:
    """Mirror image, features, labels and depth left-right with probability ``p``."""

    p: float = 0.5

    def __call__(self, sample: ViewSample, rng: np.random.Generator) -> ViewSample:
        if rng.random() >= self.p:
            return sample
        flip = None if sample.features is None else sample.features.flip(1)
        return ViewSample(sample.image.flip(1), flip, sample.labels.flip(1), sample.depth.flip(1))


@dataclass(frozen=True)
class PhotometricJitter:
    """Brightness (multiplicative), contrast and saturation of the image, each by a factor in
    [1 - strength, 1 + strength]; the result is clamped to [0, 1]."""

    strength: float = 0.3

    def __call__(self, sample: ViewSample, rng: np.random.Generator) -> ViewSample:
        b, c, s = rng.uniform(1 - self.strength, 1 + self.strength, 3)
        img = sample.image * float(b)
        grey = img.mean(dim=-1, keepdim=True)
        img = (img - grey.mean()) * float(c) + grey.mean()  # contrast about the mean grey
        grey = img.mean(dim=-1, keepdim=True)
        img = (img - grey) * float(s) + grey  # saturation: away from or towards each pixel's grey
        return replace(sample, image=img.clamp(0.0, 1.0))


@dataclass(frozen=True)
class HueRotation:
    """Rotate every pixel's colour about the grey axis by one angle drawn in [-degrees, degrees]
    (a hue shift that keeps each pixel's grey level); the result is clamped to [0, 1]. A network
    trained from scratch on few rooms otherwise learns each class's paint rather than its shape."""

    degrees: float = 30.0

    def __call__(self, sample: ViewSample, rng: np.random.Generator) -> ViewSample:
        angle = math.radians(float(rng.uniform(-self.degrees, self.degrees)))
        rotation = hue_rotation_matrix(angle).to(device=sample.image.device, dtype=sample.image.dtype)
        return replace(sample, image=(sample.image @ rotation.T).clamp(0.0, 1.0))


def hue_rotation_matrix(angle: float) -> Tensor:
    """[3, 3] rotation of RGB colours by ``angle`` radians about the grey axis (1, 1, 1) / sqrt(3)
    (Rodrigues' formula): grey maps to itself, a colour's distance from grey is kept."""
    k = torch.full((3,), 1.0 / math.sqrt(3.0), dtype=torch.float64)
    cross = torch.tensor([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]], dtype=torch.float64)
    eye = torch.eye(3, dtype=torch.float64)
    return (math.cos(angle) * eye + math.sin(angle) * cross + (1 - math.cos(angle)) * torch.outer(k, k)).float()


@dataclass(frozen=True)
class Cutout:
    """Zero a random square of side ``fraction`` x the shorter image side in the image and the
    feature image (labels kept: the network must infer the hidden part from its context)."""

    fraction: float = 0.25

    def __call__(self, sample: ViewSample, rng: np.random.Generator) -> ViewSample:
        H, W = sample.size
        side = round(self.fraction * min(H, W))
        y0, x0 = int(rng.integers(0, H - side + 1)), int(rng.integers(0, W - side + 1))
        if side == 0:
            return sample
        image = sample.image.clone()
        image[y0 : y0 + side, x0 : x0 + side] = 0.0
        features = sample.features
        if features is not None:
            features = features.clone()
            features[y0 : y0 + side, x0 : x0 + side] = 0.0
        return replace(sample, image=image, features=features)


@dataclass(frozen=True)
class DropFeatures:
    """With probability ``p``, zero the whole feature image (modality dropout): a full model then
    also learns to segment from the image alone, so it leans less on a Z it has never seen the
    like of (a user's scene fitted otherwise than its training scenes)."""

    p: float = 0.25

    def __call__(self, sample: ViewSample, rng: np.random.Generator) -> ViewSample:
        if sample.features is None or rng.random() >= self.p:
            return sample
        return replace(sample, features=torch.zeros_like(sample.features))
