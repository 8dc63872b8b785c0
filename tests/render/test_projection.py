"""The production projection (``render/projection.py``) against computations that share no code with
it: scipy's quaternion rotations, autograd's Jacobian of the pinhole map, ``Camera.project``."""

import torch
from scipy.spatial.transform import Rotation

from rtgs2.render.constants import COV2D_BLUR
from rtgs2.render.projection import covariance_3d, project
from rtgs2.scene import Camera


def pinhole(cam: Camera, points: torch.Tensor) -> torch.Tensor:
    """[..., 3] world -> [..., 2] pixels, written out plainly (OpenCV, no clamp)."""
    pc = points @ cam.world_to_cam[:3, :3].T + cam.world_to_cam[:3, 3]
    return torch.stack([cam.fx * pc[..., 0] / pc[..., 2] + cam.cx, cam.fy * pc[..., 1] / pc[..., 2] + cam.cy], -1)


def test_projection_matches_an_independent_computation():
    g = torch.Generator().manual_seed(0)
    n = 64
    cam = Camera.look_at((0.3, -2.0, 1.2), (0.0, 0.0, 0.4), fov_x_deg=70, width=64, height=48)
    # Means within the view (inside the 1.3x-FOV clamp, where J is the plain pinhole Jacobian).
    means = torch.rand(n, 3, generator=g, dtype=torch.float64) * torch.tensor([0.8, 0.8, 0.6]) - 0.4
    means[:, 2] += 0.4
    quats = torch.randn(n, 4, generator=g, dtype=torch.float64) * 2  # not unit: project normalises
    log_scales = torch.log(0.01 + 0.2 * torch.rand(n, 3, generator=g, dtype=torch.float64))

    rot = torch.from_numpy(Rotation.from_quat(quats[:, [1, 2, 3, 0]].numpy()).as_matrix())  # scipy: xyzw
    cov3d = rot @ torch.diag_embed(log_scales.exp() ** 2) @ rot.transpose(-1, -2)
    torch.testing.assert_close(covariance_3d(quats, log_scales), cov3d, rtol=1e-10, atol=1e-14)

    jac = torch.func.vmap(torch.func.jacrev(lambda p: pinhole(cam, p)))(means)  # [N, 2, 3] d(pixel)/d(world)
    cov2d = jac @ cov3d @ jac.transpose(-1, -2) + COV2D_BLUR * torch.eye(2, dtype=torch.float64)
    proj = project(means, quats, log_scales, cam.world_to_cam, cam.K, cam.width, cam.height)

    assert bool(proj.valid.all())
    uv, z = cam.project(means)
    torch.testing.assert_close(proj.means2d, uv)
    torch.testing.assert_close(proj.depths, z)
    torch.testing.assert_close(proj.cov2d, torch.stack([cov2d[:, 0, 0], cov2d[:, 0, 1], cov2d[:, 1, 1]], -1))
    conic = torch.linalg.inv(cov2d)
    torch.testing.assert_close(proj.conics, torch.stack([conic[:, 0, 0], conic[:, 0, 1], conic[:, 1, 1]], -1))


def test_points_behind_the_near_plane_are_invalid_and_finite():
    cam = Camera.look_at((0.0, -2.0, 0.0), (0.0, 0.0, 0.0), fov_x_deg=60, width=32, height=32)
    means = torch.tensor([[0.0, 0.0, 0.0], [0.0, -2.0, 0.0], [0.0, -3.0, 0.0]], dtype=torch.float64)
    n = len(means)
    proj = project(means, torch.tensor([[1.0, 0, 0, 0]] * n, dtype=torch.float64), torch.full((n, 3), -2.0,
                   dtype=torch.float64), cam.world_to_cam, cam.K, cam.width, cam.height)  # fmt: skip
    assert proj.valid.tolist() == [True, False, False]  # in front; at the camera; behind it
    assert all(bool(torch.isfinite(t).all()) for t in (proj.means2d, proj.conics, proj.cov2d))
