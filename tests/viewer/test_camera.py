"""viser's client camera (position, wxyz, vertical fov; OpenCV axes) -> rtgs2 Camera."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import viser.transforms as vtf

from rtgs2.scene import Camera
from rtgs2.viewer.camera import camera_from_viser, quat_to_matrix


def test_look_at_pose_survives_the_round_trip_through_viser():
    cam = Camera.look_at((1.0, 2.0, 3.0), (0.2, -0.1, 0.4), fov_x_deg=70.0, width=64, height=48)
    c2w = cam.cam_to_world.numpy()
    wxyz = vtf.SO3.from_matrix(c2w[:3, :3]).wxyz  # as viser's own maths writes it
    back = camera_from_viser(c2w[:3, 3], wxyz, math.radians(cam.fov_y_deg), 64, 48)
    torch.testing.assert_close(back.world_to_cam, cam.world_to_cam, atol=1e-9, rtol=0)
    torch.testing.assert_close(back.K, cam.K, atol=1e-9, rtol=0)


def test_quaternion_matches_viser():
    rng = np.random.default_rng(0)
    for q in rng.normal(size=(5, 4)):
        np.testing.assert_allclose(quat_to_matrix(q), vtf.SO3(q / np.linalg.norm(q)).as_matrix(), atol=1e-12)
    with pytest.raises(ValueError, match="wxyz"):
        quat_to_matrix(np.zeros(4))


def test_known_poses_project_where_expected():
    # identity: looks along world +z, image right = world +x, image down = world +y
    cam = camera_from_viser(np.zeros(3), np.array([1.0, 0, 0, 0]), math.radians(90), 40, 20)
    uv, z = cam.project(torch.tensor([[0.0, 0, 2], [0.5, 0, 2], [0, 0.5, 2], [0, -2, 2]], dtype=torch.float64))
    torch.testing.assert_close(uv[0], torch.tensor([20.0, 10.0], dtype=torch.float64))  # the image centre
    assert uv[1, 0] > 20 and uv[2, 1] > 10  # right of, below the centre
    assert float(uv[3, 1]) == pytest.approx(0.0)  # on the top edge: tan(45 deg) = 1 of a 90 deg vertical fov
    torch.testing.assert_close(z, torch.full((4,), 2.0, dtype=torch.float64))

    # 90 deg about x: camera z -> world -y, camera y (down) -> world +z, from (0, 1, 0)
    s = math.sqrt(0.5)
    cam = camera_from_viser(np.array([0.0, 1, 0]), np.array([s, s, 0, 0]), math.radians(60), 40, 20)
    torch.testing.assert_close(cam.center, torch.tensor([0.0, 1, 0], dtype=torch.float64))
    torch.testing.assert_close(cam.forward, torch.tensor([0.0, -1, 0], dtype=torch.float64))
    uv, z = cam.project(torch.tensor([[0.0, -1, 0], [0, -1, 0.3]], dtype=torch.float64))
    torch.testing.assert_close(uv[0], torch.tensor([20.0, 10.0], dtype=torch.float64))
    assert float(uv[1, 1]) > 10 and float(z[0]) == pytest.approx(2.0)
