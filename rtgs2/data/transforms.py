"""Augmentations: small dataclass transforms called as ``t(sample, rng)`` with an explicit
``np.random.Generator``, composed with :class:`Compose`; each returns a new sample.

Point transforms work on any dataclass sample with fields ``xyz`` [N, 3] metres (z up),
``colour`` [N, 3] in [0, 1], ``log_scales`` [N, 3] log-metres, ``opacity`` [N] in (0, 1) and
``ids`` [N] (e.g. :class:`rtgs2.features.inputs.GaussianArrays`), keeping rows aligned.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

Transform = Callable[[Any, np.random.Generator], Any]


@dataclass(frozen=True)
class Compose:
    """Apply ``transforms`` in turn."""

    transforms: Sequence[Transform]

    def __call__(self, sample, rng: np.random.Generator):
        for t in self.transforms:
            sample = t(sample, rng)
        return sample


@dataclass(frozen=True)
class RandomRotateZ:
    """Turn the points about the vertical axis through the origin by a uniform angle."""

    max_degrees: float = 180.0

    def __call__(self, sample, rng: np.random.Generator):
        a = math.radians(rng.uniform(-self.max_degrees, self.max_degrees))
        c, s = math.cos(a), math.sin(a)
        rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]], dtype=sample.xyz.dtype)
        return replace(sample, xyz=sample.xyz @ rot.T)


@dataclass(frozen=True)
class RandomScale:
    """Scale the scene uniformly by a factor in [low, high]: positions and Gaussian sizes."""

    low: float = 0.6
    high: float = 1.2

    def __call__(self, sample, rng: np.random.Generator):
        f = rng.uniform(self.low, self.high)
        return replace(sample, xyz=sample.xyz * f, log_scales=sample.log_scales + np.float32(math.log(f)))


@dataclass(frozen=True)
class ColourJitter:
    """Per-sample brightness (multiplicative) and contrast jitter, plus per-Gaussian noise;
    colours stay in [0, 1]."""

    brightness: float = 0.2
    contrast: float = 0.2
    noise_std: float = 0.02

    def __call__(self, sample, rng: np.random.Generator):
        c = sample.colour * rng.uniform(1 - self.brightness, 1 + self.brightness)
        mean = c.mean(axis=0, keepdims=True)
        c = (c - mean) * rng.uniform(1 - self.contrast, 1 + self.contrast) + mean
        c = c + rng.normal(0.0, self.noise_std, c.shape)
        return replace(sample, colour=np.clip(c, 0, 1).astype(sample.colour.dtype))


@dataclass(frozen=True)
class OpacityJitter:
    """Per-Gaussian noise on the opacity logit (std ``std``), opacities stay in (0, 1)."""

    std: float = 0.3

    def __call__(self, sample, rng: np.random.Generator):
        o = np.clip(sample.opacity.astype(np.float64), 1e-6, 1 - 1e-6)
        logit = np.log(o / (1 - o)) + rng.normal(0.0, self.std, o.shape)
        return replace(sample, opacity=(1 / (1 + np.exp(-logit))).astype(sample.opacity.dtype))


@dataclass(frozen=True)
class VoxelSubsample:
    """Keep one randomly chosen point per occupied voxel of edge ``grid_size`` metres (with
    a random grid phase), as PointContrast's voxel downsampling."""

    grid_size: float = 0.02

    def __call__(self, sample, rng: np.random.Generator):
        cell = np.floor(sample.xyz / self.grid_size + rng.uniform(0, 1, 3)).astype(np.int64)
        cell -= cell.min(axis=0)
        dims = cell.max(axis=0) + 1
        key = (cell[:, 0] * dims[1] + cell[:, 1]) * dims[2] + cell[:, 2]
        shuffled = rng.permutation(len(key))
        _, first = np.unique(key[shuffled], return_index=True)
        return sample.subset(np.sort(shuffled[first]))


@dataclass(frozen=True)
class RandomSubset:
    """Keep at most ``max_points`` points, uniformly drawn (bounds a training step's cost)."""

    max_points: int

    def __call__(self, sample, rng: np.random.Generator):
        n = len(sample.ids)
        if n <= self.max_points:
            return sample
        return sample.subset(np.sort(rng.choice(n, self.max_points, replace=False)))


FLOATER_ID = -1  # the id of a point AddFloaters made: it is no Gaussian of the scene, and matches nothing


@dataclass(frozen=True)
class RandomDrop:
    """Drop a random share of the points, uniform in [0, max_fraction] per sample: scenes of
    varied density (a fit of a real capture may hold far fewer Gaussians per surface)."""

    max_fraction: float = 0.0

    def __call__(self, sample, rng: np.random.Generator):
        if self.max_fraction <= 0:  # off: no random numbers drawn, later transforms unchanged
            return sample
        share = rng.uniform(0.0, self.max_fraction)
        return sample.subset(np.flatnonzero(rng.uniform(0.0, 1.0, len(sample.ids)) >= share))


@dataclass(frozen=True)
class AddFloaters:
    """Add ``fraction`` x N floaters: Gaussians on no surface, uniform in the sample's bounding
    box, of random colour, 1-10 cm and opacity 0.05-0.5, like those a fit of a real capture
    leaves in the air. Their ids are FLOATER_ID (they correspond to nothing)."""

    fraction: float = 0.0

    def __call__(self, sample, rng: np.random.Generator):
        m = int(round(self.fraction * len(sample.ids)))
        if m == 0:  # off (or too few points): no random numbers drawn
            return sample
        lo, hi = sample.xyz.min(axis=0), sample.xyz.max(axis=0)

        def cat(old: np.ndarray, new: np.ndarray) -> np.ndarray:
            return np.concatenate([old, new.astype(old.dtype)])

        return replace(
            sample,
            xyz=cat(sample.xyz, rng.uniform(lo, hi, (m, 3))),
            colour=cat(sample.colour, rng.uniform(0.0, 1.0, (m, 3))),
            log_scales=cat(sample.log_scales, np.log(rng.uniform(0.01, 0.1, (m, 3)))),
            opacity=cat(sample.opacity, rng.uniform(0.05, 0.5, m)),
            ids=cat(sample.ids, np.full(m, FLOATER_ID)),
        )
