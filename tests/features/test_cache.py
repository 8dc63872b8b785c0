"""The on-disk feature cache: extracted once, read back, rebuilt when the weights, the scene or the
inputs' rules change."""

from __future__ import annotations

import torch

import rtgs2.features.cache as cache_module
import rtgs2.features.extract as extract
from rtgs2.features.cache import FeatureCache
from rtgs2.features.io import save_feature_net
from rtgs2.features.ptv3 import ptv3_small
from rtgs2.scene import read_ply, write_ply


def test_feature_cache_is_reused_and_rebuilt_when_the_weights_change(donut_path, tmp_path, monkeypatch):
    scene = read_ply(donut_path)
    scene = scene.subset(torch.arange(0, scene.num_gaussians, 20))  # a few thousand Gaussians: fast
    ply = tmp_path / "scene.ply"
    write_ply(scene, ply)
    nets = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        nets.append(save_feature_net(ptv3_small(), tmp_path / f"net{seed}.pt"))
    calls = []
    real = extract.extract_features
    monkeypatch.setattr(extract, "extract_features", lambda *a, **k: calls.append(1) or real(*a, **k))

    first = FeatureCache(tmp_path / "cache", nets[0]).features("s", ply, scene)
    assert first.shape == (scene.num_gaussians, 32) and len(calls) == 1
    again = FeatureCache(tmp_path / "cache", nets[0]).features("s", ply, scene)
    assert torch.equal(again, first) and len(calls) == 1  # read back, not recomputed
    other = FeatureCache(tmp_path / "cache", nets[1]).features("s", ply, scene)
    assert len(calls) == 2 and not torch.allclose(other, first)
    write_ply(scene.subset(torch.arange(scene.num_gaussians - 1)), ply)  # the scene changed too
    changed = FeatureCache(tmp_path / "cache", nets[1]).features("s", ply, read_ply(ply))
    assert len(calls) == 3 and changed.shape[0] == scene.num_gaussians - 1
    monkeypatch.setattr(cache_module, "INPUTS_VERSION", cache_module.INPUTS_VERSION + 1)  # a centring rule changed
    FeatureCache(tmp_path / "cache", nets[1]).features("s", ply, read_ply(ply))
    assert len(calls) == 4  # the features of the old rules are not reused
    FeatureCache(tmp_path / "cache", nets[1]).features("s", ply, read_ply(ply))
    assert len(calls) == 4
