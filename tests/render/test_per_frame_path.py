"""The per-frame path's render options: the feature image at the fusion network's resolution
(``render(..., feature_stride=s)``: the mean of each s x s block) and the earlier stop of
``PER_FRAME`` (``stop_transmittance``), numba against the reference."""

import pytest
import torch

from rtgs2.render import PER_FRAME, RasterSettings, average_features, raster_inputs, render
from rtgs2.render.numba_backend import render_numba
from rtgs2.render.reference import render_reference
from tests.render.helpers import camera, random_scene


@pytest.mark.parametrize("stride", [1, 2, 4])
def test_features_at_a_stride_are_the_block_means(stride: int) -> None:
    scene = random_scene(300, stride, feature_dim=8)
    cam = camera(45, 37)  # odd sizes: edge blocks are cut short
    with torch.no_grad():
        full = render(scene, cam)
        coarse = render(scene, cam, feature_stride=stride)
    assert coarse.features.shape == (-(-37 // stride), -(-45 // stride), 8)
    assert torch.allclose(coarse.features, average_features(full.features, stride))
    for name in ("rgb", "depth", "alpha"):  # the image's outputs keep its size
        assert torch.equal(getattr(coarse, name), getattr(full, name)), name
    with pytest.raises(ValueError, match="feature_stride must be an integer >= 1, got 0"):
        render(scene, cam, feature_stride=0)


def test_average_features_is_the_block_mean() -> None:
    z = torch.arange(5 * 6 * 2, dtype=torch.float32).reshape(5, 6, 2)
    got = average_features(z, 4)
    assert got.shape == (2, 2, 2)
    assert torch.allclose(got[0, 0], z[:4, :4].reshape(-1, 2).mean(0))
    assert torch.allclose(got[1, 1], z[4:, 4:].reshape(-1, 2).mean(0))  # an edge block: its own pixels only
    assert torch.equal(average_features(z[None], 4)[0], got) and average_features(z, 1) is z


@pytest.mark.parametrize("seed", [0, 1])
def test_an_earlier_stop_matches_the_reference_and_moves_colour_by_under_one_level(seed: int) -> None:
    scene = random_scene(600, seed, sh_degree=1, feature_dim=4, spread=0.5)  # dense: many pixels saturate
    inputs = raster_inputs(scene, camera(), settings=PER_FRAME)
    got, want = render_numba(inputs), render_reference(inputs)
    for name in ("rgb", "depth_acc", "alpha", "features"):
        assert float((getattr(got, name) - getattr(want, name)).abs().max()) < 1e-4, name
    exact = render_numba(raster_inputs(scene, camera()))
    changed = (got.rgb - exact.rgb).abs().amax(-1)
    assert float(changed.max()) > 0  # the stop did cut some splats
    # what is left after T <= 1/255 adds at most T times the largest colour
    assert float(changed.max()) <= 1 / 255 * float(exact.rgb.max().clamp_min(1)) + 1e-6


def test_an_earlier_stop_is_refused_with_gradients_and_out_of_range() -> None:
    scene = random_scene(50, 0)
    scene.means.requires_grad_(True)
    with pytest.raises(ValueError, match="stop_transmittance > 0 .* not differentiable"):
        render(scene, camera(), backend="numba", settings=PER_FRAME)
    with pytest.raises(ValueError, match="stop_transmittance must lie in"):
        render(scene, camera(), settings=RasterSettings(stop_transmittance=1.0))
