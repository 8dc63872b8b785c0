"""The per-frame path's render options: the feature image at the fusion network's resolution
(``render(..., feature_stride=s)``: the mean of each s x s block) and the earlier stop of
``PER_FRAME`` (``stop_transmittance``), numba against the reference."""

import gc
from dataclasses import replace

import numpy as np
import pytest
import torch

from rtgs2.render.constants import ALPHA_MIN
from rtgs2.render.numba_kernels_frame import SIGMA_MAX, exp_neg
from rtgs2.render import PER_FRAME, RasterSettings, average_features, raster_inputs, render
from rtgs2.render import numba_backend
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


def _frame_and_exact(scene, cam, stride: int):
    """The per-frame kernel's render and the exact kernel's with its features averaged to ``stride``."""
    fast = render_numba(raster_inputs(scene, cam, settings=PER_FRAME, feature_stride=stride))
    exact = render_numba(raster_inputs(scene, cam, settings=PER_FRAME))
    return fast, exact


@pytest.mark.parametrize("stride", [2, 4, 16])
@pytest.mark.parametrize("seed", [0, 1])
def test_the_per_frame_kernel_matches_the_exact_one(stride: int, seed: int) -> None:
    """Measured on these scenes: most pixels agree to 1e-6; a splat on the edge of a threshold
    (ALPHA_MIN, T_MIN, the stop) may be kept by one kernel and not the other, which moves a pixel
    by at most T (or alpha) times its colour: under one 8-bit level."""
    scene = random_scene(800, seed, sh_degree=1, feature_dim=8, spread=0.5)
    cam = camera(70, 53)  # several tiles, partial edge tiles and edge blocks
    fast, exact = _frame_and_exact(scene, cam, stride)
    assert fast.feature_stride == stride and exact.feature_stride == 1
    want = {"rgb": exact.rgb, "depth_acc": exact.depth_acc, "alpha": exact.alpha,
            "features": average_features(exact.features, stride)}  # fmt: skip
    for name, w in want.items():
        got = getattr(fast, name)
        assert got.shape == w.shape, name
        scale = float(w.abs().max().clamp_min(1))
        diff = (got - w).abs()
        assert float(diff.max()) <= scale / 255, name
        assert float(diff.mean()) <= 1e-5 * scale, name
    assert float(exact.alpha.max()) > 0.9  # the scene covers the view: the test compares something


def test_the_per_frame_kernel_without_features_and_at_strides_it_cannot_blend() -> None:
    scene = random_scene(400, 3, feature_dim=6, spread=0.5)
    cam = camera(50, 40)
    # stride 3 does not divide a 16-px tile: the exact kernel's features are averaged by render()
    with torch.no_grad():
        three = render(scene, cam, settings=PER_FRAME, feature_stride=3)
        exact = render(scene, cam, settings=PER_FRAME)
    assert torch.allclose(three.features, average_features(exact.features, 3))
    no_feats = replace(scene, features=None)
    fast = render_numba(raster_inputs(no_feats, cam, settings=PER_FRAME))
    assert fast.features is None and fast.feature_stride == 1
    assert float((fast.rgb - exact.rgb.cpu()).abs().mean()) < 1e-5


def test_the_polynomial_exp_is_within_its_bound() -> None:
    s = np.linspace(0.0, float(SIGMA_MAX), 4001, dtype=np.float32)
    got = np.array([exp_neg(x) for x in s], np.float64)
    assert np.max(np.abs(got / np.exp(-s.astype(np.float64)) - 1)) < 3e-6
    assert np.exp(-float(SIGMA_MAX)) < ALPHA_MIN  # a clamped sigma still gives a skipped splat


def test_the_per_frame_kernel_stops_a_finished_tile_early_and_still_matches() -> None:
    """Large, nearly opaque splats: every pixel stops after a few of them, so tiles end their lists
    early (the kernel checks every LIVE_CHECK entries); what is drawn must not change."""
    scene = random_scene(1500, 5, feature_dim=4, spread=0.5)
    scene = replace(scene, opacity_logits=torch.full_like(scene.opacity_logits, 6.0), log_scales=scene.log_scales + 1.5)
    cam = camera(64, 48)
    fast, exact = _frame_and_exact(scene, cam, 4)
    assert float((exact.alpha >= 1 - 1 / 255).float().mean()) > 0.95  # nearly every pixel stopped: tiles end early
    for name in ("rgb", "depth_acc", "alpha"):
        assert float((getattr(fast, name) - getattr(exact, name)).abs().max()) < 1e-4, name
    assert torch.allclose(fast.features, average_features(exact.features, 4), atol=1e-4)


def test_the_prepared_rows_are_kept_between_frames_and_never_stale() -> None:
    scene = random_scene(400, 3, sh_degree=1, feature_dim=4, spread=0.5)
    cam = camera()
    cache = numba_backend.PREPARED  # stride > 1: the per-frame kernel's path
    with torch.no_grad():
        first = render(scene, cam, settings=PER_FRAME, feature_stride=4)
        rows = cache._rows
        again = render(scene, camera(37, 29), settings=PER_FRAME, feature_stride=4)  # another camera: the same rows serve
        assert cache._rows is rows and again.rgb.shape == (29, 37, 3)
        render(scene, cam)  # the exact kernel, without gradients: the same rows too
        assert cache._rows is rows
        assert torch.equal(render(scene, cam, settings=PER_FRAME, feature_stride=4).rgb, first.rgb)
        # changed in place (what an editor or an optimiser step does): recomputed, as a fresh scene renders
        scene.opacity_logits.sub_(1.0)
        scene.quats[:, 1].add_(0.3)
        dimmer = render(scene, cam, settings=PER_FRAME, feature_stride=4)
        assert cache._rows is not rows
        fresh = replace(scene, opacity_logits=scene.opacity_logits.clone(), quats=scene.quats.clone())
        want = render(fresh, cam, settings=PER_FRAME, feature_stride=4)
    for name in ("rgb", "depth", "alpha", "features"):
        assert torch.equal(getattr(dimmer, name), getattr(want, name)), name
    assert float((dimmer.alpha - first.alpha).abs().max()) > 0.05  # the change shows
    with torch.inference_mode():  # inference tensors have no version counter: never kept, still right
        frozen = replace(scene, opacity_logits=scene.opacity_logits.clone())
        before = cache._rows
        got = render(frozen, cam, settings=PER_FRAME, feature_stride=4)
        assert cache._rows is before and torch.equal(got.rgb, want.rgb)
    del scene, fresh, frozen  # the scene freed: its rows go too
    gc.collect()
    assert cache._rows is None
