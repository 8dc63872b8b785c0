"""Per-pixel values summed back onto the Gaussians with their blending weights (``gather_to_gaussians``,
``RasterOutputs.gathered``): the reference against autograd, the numba kernels against the reference."""

from dataclasses import replace

import pytest
import torch

from rtgs2.render import gather_to_gaussians, raster_inputs, render
from rtgs2.render.numba_backend import render_numba
from rtgs2.render.reference import render_reference
from tests.render.helpers import HEIGHT, WIDTH, camera, random_scene

# Each sum runs over up to ~60 pixels of weight <= 1 and |V| <= ~4. Worst seen here (2-core CPU,
# the cases below): 1.9e-5 (gathered_weight, a sum of 43 pixels); a pixel where a splat sits right at
# alpha = 1/255 or T = 1e-4 may flip between backends and move a sum by ~1/255 · |V|: bound the
# share of Gaussians that differ more instead of loosening the atol.
ATOL = 1e-4
MAX_FLIP_FRACTION = 0.01  # of the drawn Gaussians; worst seen: 0


def pixel_values(channels: int, seed: int) -> torch.Tensor:  # [H, W, C]
    return torch.randn(HEIGHT, WIDTH, channels, generator=torch.Generator().manual_seed(seed))


def assert_close_sums(got: torch.Tensor, want: torch.Tensor, name: str) -> None:
    err = (got - want).abs().reshape(len(got), -1).amax(-1)
    flips = float((err > ATOL).float().mean())
    assert flips <= MAX_FLIP_FRACTION, f"{name}: {flips:.2%} of Gaussians differ by > {ATOL} (max {float(err.max()):.2e})"
    assert float(err.max()) < 0.05, f"{name}: max error {float(err.max()):.3e} is more than a threshold flip"


@pytest.mark.parametrize("seed,channels", [(0, 1), (1, 5), (2, 17)])
def test_reference_equals_the_feature_gradient(seed, channels):
    # sum_p w_i(p) V(p) is d/dF_i sum_p <V(p), Z(p)>: autograd through the reference is the oracle.
    scene = random_scene(120, seed)
    cam = camera()
    v = pixel_values(channels, seed)
    feats = torch.zeros(scene.num_gaussians, channels + 1, requires_grad=True)
    z = render(scene, cam, features=feats, backend="reference").features
    (grad,) = torch.autograd.grad((z * torch.cat([v, torch.ones_like(v[..., :1])], -1)).sum(), feats)
    out = render_reference(replace(raster_inputs(scene, cam), pixel_values=v))
    torch.testing.assert_close(out.gathered, grad[:, :-1], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out.gathered_weight, grad[:, -1], atol=1e-5, rtol=1e-5)
    assert float(out.gathered_weight.max()) > 1  # some Gaussians cover several pixels: the sums mean something


@pytest.mark.parametrize("seed,sh_degree,channels", [(0, 0, 1), (1, 1, 4), (2, 3, 17), (3, 0, 32)])
def test_numba_matches_reference(seed, sh_degree, channels):
    scene = random_scene(300, seed, sh_degree=sh_degree)
    inputs = replace(raster_inputs(scene, camera()), pixel_values=pixel_values(channels, seed))
    got, want = render_numba(inputs), render_reference(inputs)
    drawn = want.gathered_weight > 0
    assert 0 < int(drawn.sum()) < scene.num_gaussians  # some drawn, some culled or hidden
    assert not bool(got.gathered_weight[~got.visible].any()), "Gaussians not drawn get nothing"
    assert_close_sums(got.gathered[drawn], want.gathered[drawn], "gathered")
    assert_close_sums(got.gathered_weight[drawn], want.gathered_weight[drawn], "gathered_weight")
    # A Gaussian's weights over a pixel's splats add up to that pixel's alpha.
    torch.testing.assert_close(got.gathered_weight.sum(), got.alpha.sum(), rtol=1e-4, atol=1e-3)
    torch.testing.assert_close(
        got.gathered.sum(0), (got.alpha[..., None] * inputs.pixel_values).sum((0, 1)), rtol=1e-4, atol=1e-3
    )


def test_numba_gathers_the_same_on_its_autograd_path():
    scene = random_scene(200, 4, sh_degree=1)
    inputs = replace(raster_inputs(scene, camera()), pixel_values=pixel_values(3, 4))
    plain = render_numba(inputs)
    tracked = render_numba(replace(inputs, means=scene.means.clone().requires_grad_(True)))
    assert torch.equal(plain.gathered, tracked.gathered) and torch.equal(plain.gathered_weight, tracked.gathered_weight)
    assert tracked.rgb.requires_grad  # the render itself stays differentiable


def test_gather_to_gaussians_matches_the_backend_and_checks_values():
    scene = random_scene(150, 5, feature_dim=3)
    cam = camera()
    v = pixel_values(2, 5)
    got = gather_to_gaussians(scene, cam, v, backend="numba")
    want = render_reference(replace(raster_inputs(scene, cam), pixel_values=v))
    assert got.sums.shape == (150, 2) and got.weight.shape == (150,)
    drawn = want.gathered_weight > 0
    assert_close_sums(got.sums[drawn], want.gathered[drawn], "sums")
    with pytest.raises(ValueError, match=r"values must have shape \[H=37, W=45, C\], got \[45, 37, 2\]"):
        gather_to_gaussians(scene, cam, v.transpose(0, 1))
    with pytest.raises(ValueError, match="floating-point"):
        gather_to_gaussians(scene, cam, v.long())
    with pytest.raises(ValueError, match="non-finite"):
        gather_to_gaussians(scene, cam, torch.full_like(v, float("nan")))
