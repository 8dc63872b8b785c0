"""How far a scene's per-Gaussian features F [N, D] lie from those a fusion model was trained on.

A model that reads Z learns what Z looks like on its training rooms. Per channel, the scene's
mean is compared with the training Gaussians' (in training standard deviations: the *offset*)
and its spread with theirs (the ratio of standard deviations: the *spread*); the medians over the
D channels summarise the scene. The training side is kept on the model's card (``feature_stats``,
written by ``rtgs2 train fusion``).

Measured with the shipped v3 features (RESULTS.md 2026-12-06, ``benchmarks/feature_shift.py``):
every SynthRooms room, train or test, fitted as the build fits them or by ``rtgs2 recon`` for
3000 steps, lies within offset 0.17 and spread 0.95-1.01; the path-traced dining room fitted
by ``rtgs2 recon`` (``../shared/assets``) at 0.60 / 0.57, the donut at 0.36 / 0.81. There
the v3 full model scored 21.4 % mIoU (the v3x3 mid-fusion one 15.4, the late-fusion one 32.9)
and an image-only model 33.1 (the shipped fallback): a model whose Z is out of distribution is
better replaced by one that reads the image alone (:mod:`rtgs2.pipeline.segmenter`).
The limits below sit well outside the SynthRooms range.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from rtgs2.utils.errors import Rtgs2Error

MAX_OFFSET = 0.3  # median |scene mean - training mean| / training std; SynthRooms rooms <= 0.17
SPREAD_RANGE = (0.8, 1.25)  # median scene std / training std; SynthRooms rooms 0.95-1.01


@dataclass(frozen=True)
class FeatureStats:
    """Per-channel mean and standard deviation of a model's training features, pooled over all
    Gaussians of its ``scenes`` training scenes (``gaussians`` in all)."""

    mean: tuple[float, ...]  # [D]
    std: tuple[float, ...]  # [D], > 0
    scenes: int
    gaussians: int

    def to_json(self) -> dict:
        return {"mean": list(self.mean), "std": list(self.std), "scenes": self.scenes, "gaussians": self.gaussians}

    @classmethod
    def from_json(cls, card: Mapping, source: str) -> FeatureStats:
        """The stats of a card's ``feature_stats`` entry; Rtgs2Error naming ``source`` when malformed."""
        try:
            mean = tuple(float(v) for v in card["mean"])
            std = tuple(float(v) for v in card["std"])
            scenes, gaussians = int(card["scenes"]), int(card["gaussians"])
        except (KeyError, TypeError, ValueError) as e:
            raise Rtgs2Error(f"{source}: feature_stats is malformed ({e!r}): expected mean, std, scenes, gaussians") from None
        if not mean or len(mean) != len(std):
            raise Rtgs2Error(f"{source}: feature_stats has {len(mean)} means and {len(std)} standard deviations")
        if not all(math.isfinite(m) for m in mean) or not all(math.isfinite(s) and s > 0 for s in std):
            raise Rtgs2Error(f"{source}: feature_stats holds a non-finite mean or a standard deviation <= 0")
        return cls(mean, std, scenes, gaussians)


def feature_stats(features: Sequence[Tensor]) -> FeatureStats:
    """Pooled per-channel statistics of the training scenes' features, each [N_i, D].

    Raises:
        ValueError: no scene, scenes of different widths, or a constant channel.
    """
    if not features:
        raise ValueError("feature_stats: no scene")
    dims = {f.shape[1] for f in features}
    if len(dims) != 1:
        raise ValueError(f"feature_stats: the scenes' features have different widths {sorted(dims)}")
    total = sum(len(f) for f in features)
    s1 = sum(f.double().sum(0) for f in features)
    s2 = sum(f.double().square().sum(0) for f in features)
    mean = s1 / total
    std = (s2 / total - mean.square()).clamp_min(0).sqrt()
    if bool((std <= 0).any()):
        raise ValueError("feature_stats: a feature channel is constant over every training Gaussian")
    return FeatureStats(tuple(mean.tolist()), tuple(std.tolist()), len(features), total)


@dataclass(frozen=True)
class FeatureShift:
    """A scene's features against a model's training features (module doc)."""

    offset: float  # median over channels of |scene mean - training mean| / training std
    spread: float  # median over channels of scene std / training std

    @property
    def out_of_distribution(self) -> bool:
        """Beyond :data:`MAX_OFFSET` or outside :data:`SPREAD_RANGE`."""
        lo, hi = SPREAD_RANGE
        return self.offset > MAX_OFFSET or not lo <= self.spread <= hi

    def describe(self) -> str:
        lo, hi = SPREAD_RANGE
        return (
            f"the scene's features lie {self.offset:.2f} training std-devs off with {self.spread:.2f}x their spread "
            f"(per channel, median; in distribution: <= {MAX_OFFSET:g} off, {lo:g}-{hi:g}x)"
        )


def feature_shift(features: Tensor, stats: FeatureStats) -> FeatureShift:  # features [N, D]
    """How far ``features`` lie from the training features ``stats`` describe.

    Raises:
        Rtgs2Error: the widths differ, or the scene has no Gaussian.
    """
    if features.ndim != 2 or features.shape[1] != len(stats.mean):
        raise Rtgs2Error(f"features of shape {list(features.shape)} against training stats of {len(stats.mean)} channels")
    if len(features) == 0:
        raise Rtgs2Error("the scene has no Gaussian: no features to compare")
    f = features.double()
    mean = torch.tensor(stats.mean, dtype=torch.float64)
    std = torch.tensor(stats.std, dtype=torch.float64)
    offset = ((f.mean(0) - mean).abs() / std).quantile(0.5)  # (the mean of the middle two, as np.median)
    spread = (f.std(0, correction=0) / std).quantile(0.5)
    return FeatureShift(float(offset), float(spread))
