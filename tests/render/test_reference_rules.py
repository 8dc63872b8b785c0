"""The reference rasterizer follows the INRIA/gsplat rules exactly (hand-computed cases)."""

import math

import pytest
import torch

from rtgs2.render import render
from rtgs2.render.constants import ALPHA_MAX, COV2D_BLUR
from rtgs2.scene import Camera, GaussianScene


def camera(width=9, height=9, f=10.0):
    # Identity world_to_cam: an OpenCV camera at the origin looking along +z.
    K = [[f, 0, width / 2], [0, f, height / 2], [0, 0, 1]]
    return Camera(K, torch.eye(4), width, height)


def scene(means, scales, opacities, colors):
    n = len(means)
    return GaussianScene.from_activated(
        torch.tensor(means, dtype=torch.float64),
        torch.tensor(scales, dtype=torch.float64).reshape(n, 1).expand(n, 3).contiguous(),
        torch.tensor([[1.0, 0, 0, 0]] * n, dtype=torch.float64),
        torch.tensor(opacities, dtype=torch.float64),
        torch.tensor(colors, dtype=torch.float64),
    )


def test_single_gaussian_alpha_matches_formula():
    s, o, z, f = 0.05, 0.7, 2.0, 10.0
    out = render(scene([[0, 0, z]], [s], [o], [[0.2, 0.4, 0.6]]), camera(f=f), backend="reference")
    var = (f / z) ** 2 * s**2 + COV2D_BLUR  # J Σ J^T + blur, isotropic
    # Pixel (row 4, col 4) has its centre (4.5, 4.5) exactly on the projected mean.
    assert float(out.alpha[4, 4]) == pytest.approx(o, rel=1e-9)
    assert float(out.alpha[4, 5]) == pytest.approx(o * math.exp(-0.5 / var), rel=1e-9)
    assert float(out.alpha[5, 5]) == pytest.approx(o * math.exp(-1.0 / var), rel=1e-9)
    torch.testing.assert_close(out.rgb[4, 4], torch.tensor([0.2, 0.4, 0.6], dtype=torch.float64) * o)
    assert float(out.depth[4, 4]) == pytest.approx(z)  # expected depth of one Gaussian is its z
    assert float(out.alpha[0, 0]) == 0.0  # sigma = 16/var: alpha far below 1/255 is skipped
    # The radius: the alpha >= 1/255 box, o exp(-r^2 / (2 var)) = 1/255, rounded up.
    assert int(out.radii[0]) == math.ceil(math.sqrt(2 * math.log(o * 255) * var)) == 2


def test_alpha_is_capped_and_blending_stops_before_t_min():
    colors = [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
    out = render(scene([[0, 0, 1], [0, 0, 2], [0, 0, 3]], [0.2] * 3, [0.995] * 3, colors), camera(), backend="reference")
    # T after the first = 0.005; the second would take it to 2.5e-5 <= 1e-4, so blending stops
    # before it: only the first Gaussian contributes at the centre pixel.
    torch.testing.assert_close(out.rgb[4, 4], torch.tensor([0.995, 0, 0], dtype=torch.float64))
    assert float(out.alpha[4, 4]) == pytest.approx(0.995)
    opaque = render(scene([[0, 0, 1]], [0.2], [1 - 1e-7], [[1, 1, 1]]), camera(), backend="reference")
    assert float(opaque.alpha[4, 4]) == pytest.approx(ALPHA_MAX)


def test_front_to_back_order_and_background():
    # Listed back-to-front on purpose: the renderer must sort by camera z.
    sc = scene([[0, 0, 3], [0, 0, 1]], [0.2, 0.2], [0.5, 0.5], [[0, 0, 1], [1, 0, 0]])
    out = render(sc, camera(), background=(0.0, 1.0, 0.0), backend="reference")
    expected = torch.tensor([0.5, 0.25, 0.25], dtype=torch.float64)  # red 0.5, blue 0.25, green bg 0.25
    torch.testing.assert_close(out.rgb[4, 4], expected)
    assert float(out.depth[4, 4]) == pytest.approx((0.5 * 1 + 0.25 * 3) / 0.75)


def test_behind_camera_and_near_plane_give_empty_image():
    sc = scene([[0, 0, -2], [0, 0, 0.005]], [0.3, 0.3], [0.9, 0.9], [[1, 1, 1]] * 2)
    out = render(sc, camera(), features=torch.ones(2, 3, dtype=torch.float64), backend="reference")
    assert not out.alpha.any() and not out.rgb.any() and not out.depth.any() and not out.features.any()
    assert not out.visible.any()


def test_render_rejects_bad_arguments():
    sc = scene([[0, 0, 2]], [0.1], [0.5], [[1, 1, 1]])
    with pytest.raises(ValueError, match=r"features must have shape \[N=1"):
        render(sc, camera(), features=torch.ones(2, 4, dtype=torch.float64), backend="reference")
    with pytest.raises(ValueError, match="sh_degree"):
        render(sc, camera(), sh_degree=2, backend="reference")
    with pytest.raises(ValueError, match="background"):
        render(sc, camera(), background=(1.0, 1.0), backend="reference")
    with pytest.raises(ValueError, match="backend"):
        render(sc, camera(), backend="opengl")


@pytest.mark.parametrize(
    "features,match",
    [
        (torch.tensor([[1.0, float("nan")]], dtype=torch.float64), r"features have non-finite values.*in 1 of 1"),
        (torch.tensor([[float("inf"), 0.0]], dtype=torch.float64), "non-finite"),
        (torch.ones(1, 2, dtype=torch.int64), "features must be a floating-point tensor, got torch.int64"),
        (torch.ones(1, 2, dtype=torch.bool), "features must be a floating-point tensor, got torch.bool"),
    ],
)
@pytest.mark.parametrize("backend", ["reference", "numba"])
def test_render_rejects_bad_feature_values(features, match, backend):
    sc = scene([[0, 0, 2]], [0.1], [0.5], [[1, 1, 1]])
    with pytest.raises(ValueError, match=match):
        render(sc, camera(), features=features, backend=backend)


def test_render_rejects_non_float_scene_tensors_and_bad_backgrounds():
    sc = scene([[0, 0, 2]], [0.1], [0.5], [[1, 1, 1]])
    sc.opacity_logits = sc.opacity_logits.round().long()  # reassigned after the scene checked itself
    with pytest.raises(ValueError, match="scene.opacity_logits must be a floating-point tensor"):
        render(sc, camera(), backend="reference")
    sc = scene([[0, 0, 2]], [0.1], [0.5], [[1, 1, 1]])
    with pytest.raises(ValueError, match="background must be finite"):
        render(sc, camera(), background=(0.0, float("nan"), 0.0), backend="reference")
