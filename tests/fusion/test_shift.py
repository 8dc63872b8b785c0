"""Feature shift: the pooled training statistics, the offset and spread of a scene against them,
and the card entry that carries them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rtgs2.fusion.shift import MAX_OFFSET, FeatureShift, FeatureStats, feature_shift, feature_stats
from rtgs2.utils.errors import Rtgs2Error


def _scenes(seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, 8, generator=g) * (1 + torch.arange(8)) + 3 for n in (500, 1200, 300)]


def test_stats_are_pooled_over_every_gaussian_of_every_scene():
    scenes = _scenes()
    stats = feature_stats(scenes)
    pooled = torch.cat(scenes).double().numpy()
    np.testing.assert_allclose(stats.mean, pooled.mean(0), rtol=1e-9)
    np.testing.assert_allclose(stats.std, pooled.std(0), rtol=1e-9)
    assert (stats.scenes, stats.gaussians) == (3, 2000)


def test_a_scene_like_the_training_ones_is_in_distribution_and_a_shifted_or_squeezed_one_is_not():
    stats = feature_stats(_scenes())
    like = feature_shift(_scenes(seed=1)[1], stats)
    assert like.offset < 0.1 and 0.95 < like.spread < 1.05 and not like.out_of_distribution
    std = torch.tensor(stats.std, dtype=torch.float32)
    shifted = feature_shift(_scenes(seed=1)[1] + 0.5 * std, stats)  # every channel half a std-dev off
    assert shifted.offset == pytest.approx(0.5, abs=0.1) and shifted.out_of_distribution
    mean = torch.tensor(stats.mean, dtype=torch.float32)
    squeezed = feature_shift(mean + 0.5 * (_scenes(seed=1)[1] - mean), stats)  # half the spread, same centre
    assert squeezed.spread == pytest.approx(0.5, abs=0.05) and squeezed.offset < MAX_OFFSET
    assert squeezed.out_of_distribution


def test_offset_and_spread_are_the_medians_over_channels():
    stats = FeatureStats(mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), scenes=1, gaussians=4)
    f = torch.tensor([[1.0, 0.0, 5.0], [1.0, 2.0, 5.0], [1.0, 0.0, 5.0], [1.0, 2.0, 5.0]])  # means 1, 1, 5; stds 0, 1, 0
    assert feature_shift(f, stats) == FeatureShift(offset=1.0, spread=0.0)


def test_the_card_entry_round_trips_and_a_malformed_one_names_the_card():
    stats = feature_stats(_scenes())
    assert FeatureStats.from_json(stats.to_json(), "card.json") == stats
    bad = dict(stats.to_json(), std=[0.0] * 8)
    with pytest.raises(Rtgs2Error, match="card.json: feature_stats holds .* standard deviation <= 0"):
        FeatureStats.from_json(bad, "card.json")
    with pytest.raises(Rtgs2Error, match="card.json: feature_stats is malformed"):
        FeatureStats.from_json({"mean": [0.0]}, "card.json")
    with pytest.raises(Rtgs2Error, match="8 means and 7 standard deviations"):
        FeatureStats.from_json(dict(stats.to_json(), std=stats.std[:7]), "card.json")


def test_features_of_another_width_or_no_gaussian_are_refused():
    stats = feature_stats(_scenes())
    with pytest.raises(Rtgs2Error, match="training stats of 8 channels"):
        feature_shift(torch.zeros(10, 5), stats)
    with pytest.raises(Rtgs2Error, match="no Gaussian"):
        feature_shift(torch.zeros(0, 8), stats)
    with pytest.raises(ValueError, match="different widths"):
        feature_stats([torch.zeros(3, 8), torch.zeros(3, 5)])
    with pytest.raises(ValueError, match="constant"):
        feature_stats([torch.ones(3, 8)])
