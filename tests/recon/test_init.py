import pytest
import torch

from rtgs2.recon import points_from_depth
from rtgs2.recon.init import initial_scene, knn_scales, scene_extent
from rtgs2.scene import Camera


def _wall_view(depth: float = 2.0):
    cam = Camera.look_at((0.3, -0.2, 1.0), (0.3, 5.0, 1.0), fov_x_deg=70, width=16, height=12)
    g = torch.Generator().manual_seed(0)
    img = torch.rand(12, 16, 3, generator=g)
    return cam, img, torch.full((12, 16), depth)


def test_points_from_depth_back_projects_to_the_right_depth_and_pixel():
    cam, img, depth = _wall_view()
    depth[0, 0] = 0.0  # unknown
    depth[1, 1] = float("nan")  # unknown
    pts, cols = points_from_depth([cam], [img], [depth], max_points=10_000, seed=0)
    assert pts.shape == cols.shape == (16 * 12 - 2, 3)
    uv, z = cam.project(pts.double())
    torch.testing.assert_close(z, torch.full_like(z, 2.0), atol=1e-5, rtol=0)
    # Each point lands on the centre of the pixel whose colour it carries.
    col, row = (uv[:, 0] - 0.5).round().long(), (uv[:, 1] - 0.5).round().long()
    torch.testing.assert_close(uv - 0.5, torch.stack([col, row], -1).double(), atol=1e-4, rtol=0)
    torch.testing.assert_close(cols, img[row, col])


def test_points_from_depth_subsamples_deterministically():
    cam, img, depth = _wall_view()
    a, ca = points_from_depth([cam, cam], [img, img], [depth, depth], max_points=50, seed=3)
    b, _ = points_from_depth([cam, cam], [img, img], [depth, depth], max_points=50, seed=3)
    c, _ = points_from_depth([cam, cam], [img, img], [depth, depth], max_points=50, seed=4)
    assert a.shape == (50, 3) and torch.equal(a, b) and not torch.equal(a, c)


def test_points_from_depth_bad_input():
    cam, img, depth = _wall_view()
    with pytest.raises(ValueError, match="zero views"):
        points_from_depth([], [], [], 10, 0)
    with pytest.raises(ValueError, match=r"depth 0 has shape \[12, 15\]"):
        points_from_depth([cam], [img], [depth[:, :-1]], 10, 0)
    with pytest.raises(ValueError, match="no pixel has a valid depth"):
        points_from_depth([cam], [img], [torch.zeros(12, 16)], 10, 0)
    with pytest.raises(ValueError, match="1 cameras, 1 images, 2 depths"):
        points_from_depth([cam], [img], [depth, depth], 10, 0)


def test_knn_scales_on_a_grid():
    g = torch.stack(torch.meshgrid(*[torch.arange(5.0)] * 3, indexing="ij"), -1).reshape(-1, 3) * 0.1
    s = knn_scales(g)
    assert torch.allclose(s, torch.full_like(s, 0.1), atol=1e-6)  # 3 nearest neighbours at 0.1 m
    dup = knn_scales(torch.zeros(4, 3))
    assert bool((dup > 0).all())  # duplicates get a tiny, not a zero, scale


def test_initial_scene():
    pts = torch.rand(20, 3, generator=torch.Generator().manual_seed(0))
    cols = torch.rand(20, 3, generator=torch.Generator().manual_seed(1))
    s = initial_scene(pts, cols, sh_degree=2, opacity=0.1)
    assert s.sh_degree == 2 and float(s.sh[:, 1:].abs().sum()) == 0
    torch.testing.assert_close(s.base_colors, cols, atol=1e-5, rtol=0)
    torch.testing.assert_close(s.opacities, torch.full((20,), 0.1), atol=1e-5, rtol=0)
    torch.testing.assert_close(s.scales[:, 0], knn_scales(pts), atol=1e-6, rtol=1e-5)


def test_scene_extent():
    cams = [Camera.look_at((x, 0, 0), (x, 5, 0)) for x in (-1.0, 0.0, 1.0)]
    assert scene_extent(cams, torch.zeros(1, 3)) == pytest.approx(1.1)
    same = [cams[0], cams[0]]  # coinciding cameras: the points' radius instead
    assert scene_extent(same, torch.tensor([[0.0, 0, 0], [0, 2, 0]])) == pytest.approx(1.1)
