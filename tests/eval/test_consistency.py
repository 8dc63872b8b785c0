"""View consistency on analytic scenes (a floor z = 0 and optional horizontal slabs, cameras
looking at it, depth and labels from exact ray casting), then once through the renderer."""

import numpy as np
import pytest
import torch

from rtgs2.eval.consistency import nearest_views, pair_agreement, view_consistency
from rtgs2.render import render
from rtgs2.scene import Camera
from tests.render.helpers import camera, random_scene

W, H = 64, 48
FLOOR = 0
SLAB = 7
CELL = 0.5  # side of the label squares on the floor, metres
# A slab over the floor at height 1 m, x in [1.5, 2]: out of view of A (looking straight down
# from 2 m, it sees |x| < 1.15 m at z = 0 and |x| < 0.58 m at z = 1) but in front of B's view of
# the floor at x in [0, 1].
SLAB_BOX = (1.5, 2.0, -1.0, 1.0, 1.0)  # x0, x1, y0, y1 (metres), height z (metres)


def cam_a() -> Camera:
    return Camera.look_at((0.0, 0.0, 2.0), (0.0, 0.0, 0.0), up=(0.0, 1.0, 0.0), fov_x_deg=60, width=W, height=H)


def cam_b() -> Camera:
    return Camera.look_at((3.0, 0.3, 2.0), (0.2, 0.0, 0.0), fov_x_deg=60, width=W, height=H)


def cast(camera: Camera, slabs=()) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Exact camera z depth [H, W] metres, world points [H, W, 3], and whether a slab was hit [H, W]."""
    origin, dirs = camera.pixel_rays()  # camera z of dirs is 1: the ray parameter is the depth
    depth = torch.where(dirs[..., 2] < 0, -origin[2] / dirs[..., 2], torch.tensor(0.0, dtype=torch.float64))
    on_slab = torch.zeros(H, W, dtype=torch.bool)
    for x0, x1, y0, y1, z in slabs:
        t = (z - origin[2]) / dirs[..., 2]
        p = origin + t.unsqueeze(-1) * dirs
        hit = (t > 0) & (p[..., 0] >= x0) & (p[..., 0] <= x1) & (p[..., 1] >= y0) & (p[..., 1] <= y1) & (t < depth)
        depth, on_slab = torch.where(hit, t, depth), on_slab | hit
    return depth, origin + depth.unsqueeze(-1) * dirs, on_slab


def grid_labels(points: torch.Tensor) -> np.ndarray:
    """[H, W] uint8 labels that depend only on the 3D point: CELL-sized squares of 4 classes."""
    cell = torch.floor(points[..., :2] / CELL).long()
    return ((cell[..., 0] + 2 * cell[..., 1]) % 4).numpy().astype(np.uint8)


def test_identical_view_agrees_everywhere():
    depth, points, _ = cast(cam_a())
    labels = grid_labels(points)
    assert pair_agreement(cam_a(), depth, labels, cam_a(), depth, labels) == (W * H, W * H)


def test_labels_of_the_3d_point_agree_across_viewpoints():
    (da, pa, _), (db, pb, _) = cast(cam_a()), cast(cam_b())
    la = grid_labels(pa)
    agree, compared = pair_agreement(cam_a(), da, la, cam_b(), db, grid_labels(pb))
    assert compared == W * H  # B sees all of A's floor
    assert agree / compared > 0.85  # measured 0.919: disagreements lie along the squares' edges
    # B's nearest pixel centre is at most ~6 cm from the projected point (half a pixel, oblique,
    # 3.6 m away): A's pixels farther than EDGE from a square's edge must all agree.
    edge = 0.1  # metres
    off_edge = (torch.remainder(pa[..., :2], CELL) - CELL / 2).abs().amax(-1) < CELL / 2 - edge
    la_off_edge = np.where(off_edge.numpy(), la, 255).astype(np.uint8)
    agree, compared = pair_agreement(cam_a(), da, la_off_edge, cam_b(), db, grid_labels(pb))
    assert agree == compared == int(off_edge.sum()) > W * H // 4  # (0.3 / 0.5)^2 of the floor


def test_shuffled_labels_agree_at_chance():
    (da, pa, _), (db, pb, _) = cast(cam_a()), cast(cam_b())
    lb = grid_labels(pb)
    shuffled = np.random.default_rng(0).permutation(lb.ravel()).reshape(lb.shape)
    agree, compared = pair_agreement(cam_a(), da, grid_labels(pa), cam_b(), db, shuffled)
    assert agree / compared < 0.4  # 4 classes: chance is ~0.25


def test_points_hidden_in_b_are_not_compared():
    (da, _, slab_in_a), (db, _, slab_in_b) = cast(cam_a(), [SLAB_BOX]), cast(cam_b(), [SLAB_BOX])
    assert not slab_in_a.any() and slab_in_b.sum() > 100  # the scene does what SLAB_BOX says
    la = np.zeros((H, W), np.uint8)  # A sees only floor
    lb = np.where(slab_in_b.numpy(), SLAB, FLOOR).astype(np.uint8)
    agree, compared = pair_agreement(cam_a(), da, la, cam_b(), db, lb)
    assert agree == compared
    _, compared_unoccluded = pair_agreement(cam_a(), da, la, cam_b(), cast(cam_b())[0], np.zeros((H, W), np.uint8))
    assert compared < 0.8 * compared_unoccluded  # the floor behind the slab was left out
    # Without the depth test the hidden floor would be compared with the slab's label.
    agree_blind, compared_blind = pair_agreement(cam_a(), da, la, cam_b(), db, lb, rel_tol=10.0)
    assert compared_blind == compared_unoccluded and agree_blind < compared_blind


def test_ignored_labels_are_skipped_on_either_side():
    (da, pa, _), (db, pb, _) = cast(cam_a()), cast(cam_b())
    la, lb = grid_labels(pa), grid_labels(pb)
    full = pair_agreement(cam_a(), da, la, cam_b(), db, lb)
    rng = np.random.default_rng(1)
    for side in ("a", "b"):
        region = rng.random((H, W)) < 0.3
        parts = []
        for mask in (region, ~region):  # ignoring a region, then the rest, splits the counts
            a = np.where(mask, 255, la) if side == "a" else la
            b = np.where(mask, 255, lb) if side == "b" else lb
            parts.append(pair_agreement(cam_a(), da, a.astype(np.uint8), cam_b(), db, b.astype(np.uint8)))
        assert all(0 < n < full[1] for _, n in parts)
        assert (parts[0][0] + parts[1][0], parts[0][1] + parts[1][1]) == full


def test_unknown_depth_and_shape_errors():
    depth, points, _ = cast(cam_a())
    labels = grid_labels(points)
    depth[:10] = 0.0
    depth[10:12] = float("nan")
    assert pair_agreement(cam_a(), depth, labels, cam_a(), depth, labels) == (W * (H - 12),) * 2
    with pytest.raises(ValueError, match=r"labels_b must have shape \[48, 64\]"):
        pair_agreement(cam_a(), depth, labels, cam_a(), depth, labels[:-1])


def test_view_consistency_pairs_nearest_views():
    cams = [cam_a(), cam_b(), Camera.look_at((3.2, 0.0, 2.1), (0.0, 0.0, 0.0), width=W, height=H)]
    assert nearest_views(cams) == [1, 2, 1]
    casts = [cast(c) for c in cams]
    depths, labels = [d for d, _, _ in casts], [grid_labels(p) for _, p, _ in casts]
    assert view_consistency(cams, depths, labels) > 0.85  # measured 0.897: edges as above
    shuffled = [np.random.default_rng(i).permutation(lab.ravel()).reshape(H, W) for i, lab in enumerate(labels)]
    assert view_consistency(cams, depths, shuffled) < 0.4
    assert np.isnan(view_consistency(cams, depths, [np.full((H, W), 255, np.uint8)] * 3))


def test_rendered_depth_is_what_pair_agreement_expects():
    """render()'s depth (camera z) through unproject/project: labels of the 3D point agree."""
    scene = random_scene(3000, 0, behind_fraction=0.0)
    ca = camera(W, H)
    w2c = torch.eye(4, dtype=torch.float64)
    w2c[0, 3] = -0.15  # B: 15 cm to the right of A
    cb = Camera(ca.K, w2c, W, H)
    views = []
    for c in (ca, cb):
        out = render(scene, c, backend="numba")
        depth = torch.where(out.alpha > 0.5, out.depth.double(), 0.0)  # faint pixels: depth unreliable
        labels = (torch.floor(c.unproject(depth)[..., 0] / 0.7).long() % 5).numpy().astype(np.uint8)
        views.append((c, depth, labels))
    agree, compared = pair_agreement(*views[0], *views[1])
    assert compared > 0.8 * W * H and agree / compared > 0.95  # measured 2838 / 2868 = 0.990
    shuffled = np.random.default_rng(0).permutation(views[1][2].ravel()).reshape(H, W)
    agree, compared = pair_agreement(*views[0], cb, views[1][1], shuffled)
    assert agree / compared < 0.4  # measured 0.26
