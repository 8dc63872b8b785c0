"""The per-frame path's render options: the coarse feature pass (``render(..., feature_stride=s)``),
the numba kernels against the reference and both against the full-resolution feature image
averaged over s x s blocks; and the earlier stop of ``PER_FRAME`` (``stop_transmittance``)."""

import pytest
import torch
import torch.nn.functional as F

from rtgs2.render import PER_FRAME, RasterSettings, average_features, raster_inputs, render
from rtgs2.render.numba_backend import render_numba
from rtgs2.render.reference import render_reference
from rtgs2.scene import Camera, read_ply
from tests.conftest import DONUT
from tests.render.helpers import camera, random_scene


@pytest.mark.parametrize("seed, stride", [(0, 2), (1, 4), (2, 4), (3, 3)])
def test_numba_coarse_pass_matches_the_reference(seed: int, stride: int) -> None:
    scene = random_scene(400, seed, feature_dim=8)
    cam = camera(45, 37)  # odd sizes: the coarse image is ceil(45 / s) x ceil(37 / s)
    inputs = raster_inputs(scene, cam, feature_stride=stride)
    got, want = render_numba(inputs), render_reference(inputs)
    assert got.features.shape == want.features.shape == (-(-37 // stride), -(-45 // stride), 8)
    assert float((got.features - want.features).abs().max()) < 1e-4  # measured: <= 3.5e-6
    # colour, depth and alpha are those of the full-resolution pass, bit for bit
    full = render_numba(raster_inputs(scene, cam))
    for name in ("rgb", "depth_acc", "alpha", "visible", "radii"):
        assert torch.equal(getattr(got, name), getattr(full, name)), name


def _smooth_features(scene):
    x = (scene.means - scene.means.mean(0)) / scene.means.std(0)
    return F.normalize(torch.cat([torch.sin(3 * x), torch.cos(3 * x), scene.base_colors - 0.5], 1), dim=1).float()


def test_coarse_features_are_about_the_block_mean_of_the_full_resolution_ones() -> None:
    """Measured on the donut (a real capture) at 320x240 seen from 0.14 m, stride 4: mean
    |coarse - block mean| / mean |block mean| 0.039 inside the object (alpha > 0.9), cosine 0.998;
    point samples (one fine pixel per block) 0.062. (Seen from 0.36 m, where its splats are
    smaller than a coarse pixel, 0.16-0.19: blurred tiny splats let the far side show through.)"""
    scene = read_ply(DONUT)
    scene = scene.with_features(_smooth_features(scene))
    centre = scene.means.mean(0).double()
    cam = Camera.look_at(centre + torch.tensor([0.0, -0.12, 0.08], dtype=torch.float64), centre, width=320, height=240)
    with torch.no_grad():
        full = render(scene, cam)
        coarse = render(scene, cam, feature_stride=4).features
    mean = average_features(full.features, 4)
    inside = average_features(full.alpha[..., None], 4)[..., 0] > 0.9
    assert coarse.shape == mean.shape == (60, 80, 9) and float(inside.float().mean()) > 0.3
    err = (coarse - mean).norm(dim=-1)[inside].mean() / mean.norm(dim=-1)[inside].mean()
    point = (full.features[1::4, 1::4] - mean).norm(dim=-1)[inside].mean() / mean.norm(dim=-1)[inside].mean()
    assert float(err) < 0.06 and float(err) < float(point)
    assert float(F.cosine_similarity(coarse, mean, dim=-1)[inside].mean()) > 0.99


def test_average_features_is_the_block_mean() -> None:
    z = torch.arange(5 * 6 * 2, dtype=torch.float32).reshape(5, 6, 2)
    got = average_features(z, 4)
    assert got.shape == (2, 2, 2)
    assert torch.allclose(got[0, 0], z[:4, :4].reshape(-1, 2).mean(0))
    assert torch.allclose(got[1, 1], z[4:, 4:].reshape(-1, 2).mean(0))  # an edge block: its own pixels only
    assert torch.equal(average_features(z[None], 4)[0], got) and average_features(z, 1) is z


def test_bad_stride_and_gradients_are_refused() -> None:
    scene = random_scene(50, 0, feature_dim=4)
    with pytest.raises(ValueError, match="feature_stride must be an integer >= 1, got 0"):
        render(scene, camera(), feature_stride=0)
    feats = scene.features.clone().requires_grad_(True)
    with pytest.raises(ValueError, match="not differentiable"):
        render(scene, camera(), features=feats, feature_stride=4)


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
