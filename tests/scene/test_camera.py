import json
import math

import numpy as np
import pytest
import torch

from rtgs2.scene import Camera, orbit, read_cameras_json, smooth_path, write_cameras_json


def test_look_at_is_opencv_with_world_up():
    cam = Camera.look_at([0, -2, 1], [0, 0, 1], up=(0, 0, 1), fov_x_deg=90, width=640, height=480)
    assert cam.fx == pytest.approx(320) and cam.fy == pytest.approx(320)
    assert (cam.cx, cam.cy) == (320, 240)  # +0.5 pixel centres: image centre at W/2
    pts = torch.tensor([[0, 0, 1], [1, 0, 1], [0, 0, 2]], dtype=torch.float64)  # target, +x world, up
    uv, z = cam.project(pts)
    np.testing.assert_allclose(uv[0].numpy(), [320, 240])
    assert z[0] == pytest.approx(2)
    assert uv[1, 0] > 320  # world +x is image right when looking along +y
    assert uv[2, 1] < 240  # world up is image up (image y grows downwards)
    np.testing.assert_allclose(cam.center.numpy(), [0, -2, 1], atol=1e-12)
    np.testing.assert_allclose(cam.forward.numpy(), [0, 1, 0], atol=1e-12)


def test_pixel_rays_hit_pixel_centres():
    cam = Camera.look_at([0.3, -1, 0.5], [0, 1, 0.2], fov_x_deg=70, width=8, height=6)
    origin, dirs = cam.pixel_rays()
    pts = origin + 2.5 * dirs  # depth 2.5 along every ray
    uv, z = cam.project(pts.reshape(-1, 3))
    np.testing.assert_allclose(z.numpy(), 2.5, atol=1e-12)
    jj, ii = np.meshgrid(np.arange(8) + 0.5, np.arange(6) + 0.5)
    np.testing.assert_allclose(uv.numpy(), np.stack([jj, ii], -1).reshape(-1, 2), atol=1e-9)


def test_unproject_is_the_inverse_of_project():
    cam = Camera.look_at([0.3, -1, 0.5], [0, 1, 0.2], fov_x_deg=70, width=9, height=7)
    depth = torch.rand(7, 9, generator=torch.Generator().manual_seed(0), dtype=torch.float32) * 4 + 0.5
    pts = cam.unproject(depth)
    assert pts.shape == (7, 9, 3) and pts.dtype == torch.float64
    uv, z = cam.project(pts.reshape(-1, 3))
    np.testing.assert_allclose(z.numpy(), depth.double().reshape(-1).numpy(), rtol=1e-12)
    jj, ii = np.meshgrid(np.arange(9) + 0.5, np.arange(7) + 0.5)
    np.testing.assert_allclose(uv.numpy(), np.stack([jj, ii], -1).reshape(-1, 2), atol=1e-9)
    # by hand: looking along +y from (1, 2, 3), 90 degrees over 4 px (f = 2, cx = 2, cy = 1), pixel
    # (row 0, col 1) at depth 2 is 0.5 m left of and 0.5 m above the axis (camera x = y = -0.5)
    ahead = Camera.look_at([1, 2, 3], [1, 5, 3], fov_x_deg=90, width=4, height=2).unproject(torch.full((2, 4), 2.0))
    np.testing.assert_allclose(ahead[0, 1].numpy(), [0.5, 4, 3.5], atol=1e-12)
    # every 3rd row and column: the same points as the full map's
    np.testing.assert_allclose(cam.unproject(depth, step=3).numpy(), pts[::3, ::3].numpy())
    with pytest.raises(ValueError, match=r"depth must have shape \[7, 9\]"):
        cam.unproject(depth.T)


def test_in_frustum_and_resize():
    cam = Camera.look_at([0, 0, 0], [1, 0, 0], width=100, height=50)
    pts = torch.tensor([[1.0, 0, 0], [-1.0, 0, 0], [1.0, 5.0, 0]], dtype=torch.float64)
    assert cam.in_frustum(pts).tolist() == [True, False, False]
    half = cam.resized(50, 25)
    assert half.fx == pytest.approx(cam.fx / 2) and half.cx == pytest.approx(25)


@pytest.mark.parametrize(
    "K,w2c,size,message",
    [
        ([[0, 0, 1], [0, 1, 1], [0, 0, 1]], np.eye(4), (4, 4), "focal"),
        ([[1, 0, np.nan], [0, 1, 1], [0, 0, 1]], np.eye(4), (4, 4), "non-finite"),
        (np.eye(3), np.diag([2.0, 1, 1, 1]), (4, 4), "rigid"),
        (np.eye(3), np.diag([-1.0, 1, 1, 1]), (4, 4), "reflection"),
        (np.eye(3), np.eye(4), (0, 4), "positive"),
        (np.eye(3), np.eye(3), (4, 4), "shape"),
    ],
)
def test_bad_cameras_are_rejected(K, w2c, size, message):
    with pytest.raises(ValueError, match=message):
        Camera(K, w2c, *size)


def test_cameras_json_round_trip_and_inria_fields(tmp_path):
    cams = orbit([0, 0, 0], 2.0, 0.5, 5, width=64, height=48)
    write_cameras_json(cams, tmp_path / "cameras.json")
    entry = json.loads((tmp_path / "cameras.json").read_text())[1]
    np.testing.assert_allclose(entry["position"], cams[1].center.numpy(), atol=1e-12)
    np.testing.assert_allclose(np.array(entry["rotation"]), cams[1].cam_to_world[:3, :3].numpy(), atol=1e-12)
    back = read_cameras_json(tmp_path / "cameras.json")
    for a, b in zip(cams, back):
        torch.testing.assert_close(a.world_to_cam, b.world_to_cam)
        torch.testing.assert_close(a.K, b.K)
    (tmp_path / "bad.json").write_text(json.dumps([{"width": 4}]))
    with pytest.raises(ValueError, match="entry 0"):
        read_cameras_json(tmp_path / "bad.json")


def test_paths_are_smooth_and_look_at_targets():
    cams = orbit([1, 2, 0], 3.0, 1.0, 8)
    for c in cams:
        uv, _ = c.project(torch.tensor([[1.0, 2.0, 0.0]], dtype=torch.float64))
        np.testing.assert_allclose(uv[0].numpy(), [160, 120], atol=1e-9)
        assert math.hypot(*(c.center[:2] - torch.tensor([1.0, 2.0])).tolist()) == pytest.approx(3)
    eyes = [[0, 0, 1.5], [2, 0, 1.5], [2, 2, 1.5], [0, 2, 1.5]]
    path = smooth_path(eyes, [[1, 1, 1]] * 4, 40)
    centers = torch.stack([c.center for c in path])
    steps = (centers[1:] - centers[:-1]).norm(dim=1)
    assert float(steps.max()) < 3 * float(steps.mean())  # no jumps
    np.testing.assert_allclose(centers[0].numpy(), eyes[0], atol=1e-9)
    np.testing.assert_allclose(centers[-1].numpy(), eyes[-1], atol=1e-9)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"ply\nformat binary_little_endian 1.0\n\xff\xfe\x00", "not UTF-8"),
        (b'[{"width": 4, "height": 3, "fy": 2, "rotation": [[1,0,0],[0,1,0],[0,0,1]], "position": [0,0,0]}]', "lacks fx"),
        (b'[{"width": 4, "height": 3, "fx": 2, "fy": 2, "rotation": [1, 0, 0], "position": [0,0,0]}]', "rotation must be 3x3"),
        (b'[{"width": 4, "height": 3, "fx": "a", "fy": 2, "rotation": [[1,0,0],[0,1,0],[0,0,1]], "position": [0,0,0]}]', "not a number"),
        (b"[3]", "not an object"),
    ],
)
def test_bad_cameras_json_names_file_entry_and_problem(tmp_path, content, message):
    path = tmp_path / "cams.json"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message) as err:
        read_cameras_json(path)
    assert str(path) in str(err.value)
    with pytest.raises(ValueError, match="is a folder"):
        read_cameras_json(tmp_path)


def test_pixel_at_is_the_floor_inside_the_image_in_front():
    cam = Camera.look_at((0, 0, 0), (1, 0, 0), width=4, height=3)
    uv = torch.tensor([[0.0, 0.0], [3.99, 2.99], [4.0, 1.0], [-0.01, 1.0], [1.5, 1.5], [float("nan"), 1.0]], dtype=torch.float64)
    z = torch.tensor([1.0, 1.0, 1.0, 1.0, -1.0, 1.0], dtype=torch.float64)
    rows, cols, inside = cam.pixel_at(uv, z)
    assert inside.tolist() == [True, True, False, False, False, False]
    assert rows.tolist() == [0, 2, -1, -1, -1, -1] and cols.tolist() == [0, 3, -1, -1, -1, -1]
