"""The pre-training's optional objectives in ``pair_loss``: negatives left out near the anchor,
and the segment-level term added to the point-level one."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from rtgs2.features.contrastive import matched_rows, segment_info_nce
from rtgs2.features.inputs import GaussianArrays
from rtgs2.features.ptv3 import ptv3_small
from rtgs2.train.config import FeatureTrainConfig
from rtgs2.train.feature_pairs import PairScene
from rtgs2.train.features import pair_loss

CFG = FeatureTrainConfig(num_correspondences=10_000)  # every match: no random pick


def _setup():
    g = np.random.default_rng(0)
    n = 900
    scene = GaussianArrays(
        (g.random((n, 3)) * [3, 3, 2]).astype(np.float32), g.random((n, 3)).astype(np.float32),
        g.normal(-4.5, 0.5, (n, 3)).astype(np.float32), g.random(n).astype(np.float32), np.arange(n),
    )  # fmt: skip
    segments = (scene.xyz[:, 0] // 0.5).astype(np.int64)  # six slabs
    pair = (scene.subset(np.arange(0, 700)), scene.subset(np.arange(300, 900)))
    torch.manual_seed(0)
    model = ptv3_small(grid_size=0.25, drop_path=0.0, shuffle_orders=False).eval()
    return model, pair, PairScene("s", scene, [], np.zeros((0, 2), np.int64), segments)


def test_segment_term_adds_the_segment_info_nce():
    model, pair, scene = _setup()
    with torch.no_grad():
        base, _ = pair_loss(model, [pair], CFG, np.random.default_rng(0), [scene])
        both, _ = pair_loss(model, [pair], replace(CFG, segment_weight=0.5), np.random.default_rng(0), [scene])
        a, b = pair
        fa = model(torch.from_numpy(a.xyz), torch.from_numpy(a.inputs()), torch.tensor([len(a.ids)]))
        fb = model(torch.from_numpy(b.xyz), torch.from_numpy(b.inputs()), torch.tensor([len(b.ids)]))
    ra, rb = matched_rows(torch.from_numpy(a.ids), torch.from_numpy(b.ids))
    seg, _ = segment_info_nce(fa[ra], fb[rb], torch.from_numpy(scene.segments[a.ids[ra]]), CFG.temperature)
    assert float(seg) > 0.1
    torch.testing.assert_close(both - base, 0.5 * seg, rtol=1e-4, atol=1e-5)


def test_negative_radius_leaves_near_negatives_out():
    model, pair, scene = _setup()
    with torch.no_grad():
        base, _ = pair_loss(model, [pair], CFG, np.random.default_rng(0), [scene])
        near, _ = pair_loss(model, [pair], replace(CFG, negative_radius=0.5), np.random.default_rng(0), [scene])
        none, acc = pair_loss(model, [pair], replace(CFG, negative_radius=10.0), np.random.default_rng(0), [scene])
    assert 0 < float(near) < float(base)  # fewer negatives in each denominator
    assert float(none) == 0.0 and acc == 1.0  # every negative within 10 m: nothing left to contrast
    with pytest.raises(ValueError, match="needs each pair's scene"):
        pair_loss(model, [pair], replace(CFG, negative_radius=0.5), np.random.default_rng(0))


def test_later_options_at_their_defaults_keep_older_runs_resumable():
    from rtgs2.train.features import identity_config

    plain = identity_config(CFG)
    assert "negative_radius" not in plain and "segment_weight" not in plain and "temperature" in plain
    assert "num_threads" not in plain  # may change on resume
    assert identity_config(replace(CFG, negative_radius=0.15))["negative_radius"] == 0.15
    assert identity_config(replace(CFG, segment_weight=1.0))["segment_weight"] == 1.0
