"""Projection maths of the renderer, in differentiable torch: 3D covariance, EWA projection to
2D Gaussians, SH colour seen from a camera.

Production code (``gsplat_backend.py``, ``recon/``) and the reference rasterizer use these; the
numba kernels (``numba_kernels.project_gaussians``) implement the same maths on their own and
are checked against them. Conventions as gsplat's ``persp_proj``: OpenCV cameras (x right, y
down, z forward), intrinsics in pixels with pixel centres at +0.5, 0.3 px^2 added to the 2D
covariance.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from rtgs2.render.constants import COLOR_OFFSET, COV2D_BLUR, FAR_PLANE, FRUSTUM_SLACK, NEAR_PLANE
from rtgs2.scene.sh import eval_sh


class Projected(NamedTuple):
    """N Gaussians projected to the image by ``project``."""

    means2d: Tensor  # [N, 2] pixels (+0.5 centres)
    conics: Tensor  # [N, 3] inverse 2D covariance (a, b, c) of [[a, b], [b, c]], 1/px^2
    depths: Tensor  # [N] camera z, metres
    valid: Tensor  # [N] bool: in front of the near plane, non-degenerate
    cov2d: Tensor  # [N, 3] blurred 2D covariance (a, b, c) of [[a, b], [b, c]], px^2


def quat_to_rotmat(quats: Tensor) -> Tensor:
    """[N, 4] wxyz (any length) -> [N, 3, 3] rotation matrices."""
    w, x, y, z = F.normalize(quats, dim=-1).unbind(-1)
    return torch.stack(
        [
            1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
            2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
            2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
        ],
        dim=-1,
    ).reshape(-1, 3, 3)  # fmt: skip


def covariance_3d(quats: Tensor, log_scales: Tensor) -> Tensor:
    """[N, 4] wxyz, [N, 3] log std-devs -> [N, 3, 3] world covariance, metres^2."""
    M = quat_to_rotmat(quats) * log_scales.exp().unsqueeze(-2)
    return M @ M.transpose(-1, -2)


def project(
    means: Tensor,  # [N, 3] world, metres
    quats: Tensor,  # [N, 4] wxyz
    log_scales: Tensor,  # [N, 3]
    world_to_cam: Tensor,  # [4, 4]
    K: Tensor,  # [3, 3] pixels
    width: int,
    height: int,
    near_plane: float = NEAR_PLANE,
    far_plane: float = FAR_PLANE,
) -> Projected:
    """EWA projection of 3D Gaussians to image-space 2D Gaussians (checks ``numba_kernels.project_gaussians``)."""
    R, t = world_to_cam[:3, :3], world_to_cam[:3, 3]
    pc = means @ R.T + t
    x, y, z = pc.unbind(-1)
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    valid = (z > near_plane) & (z < far_plane)
    zs = torch.where(valid, z, torch.ones_like(z))  # keep culled rows finite
    tan_x, tan_y = 0.5 * width / fx, 0.5 * height / fy
    lim_xp, lim_xn = (width - cx) / fx + FRUSTUM_SLACK * tan_x, cx / fx + FRUSTUM_SLACK * tan_x
    lim_yp, lim_yn = (height - cy) / fy + FRUSTUM_SLACK * tan_y, cy / fy + FRUSTUM_SLACK * tan_y
    tx = zs * torch.minimum(lim_xp, torch.maximum(-lim_xn, x / zs))
    ty = zs * torch.minimum(lim_yp, torch.maximum(-lim_yn, y / zs))
    zero = torch.zeros_like(zs)
    J = torch.stack(
        [fx / zs, zero, -fx * tx / zs**2, zero, fy / zs, -fy * ty / zs**2], dim=-1
    ).reshape(-1, 2, 3)
    cov_cam = R @ covariance_3d(quats, log_scales) @ R.T
    cov2d = J @ cov_cam @ J.transpose(-1, -2)
    a = cov2d[:, 0, 0] + COV2D_BLUR
    b = cov2d[:, 0, 1]
    c = cov2d[:, 1, 1] + COV2D_BLUR
    det = a * c - b * b
    valid = valid & (det > 0)
    det_s = torch.where(valid, det, torch.ones_like(det))
    conics = torch.stack([c / det_s, -b / det_s, a / det_s], dim=-1)
    means2d = torch.stack([fx * x / zs + cx, fy * y / zs + cy], dim=-1)
    return Projected(means2d, conics, z, valid, torch.stack([a, b, c], dim=-1))


def view_colors(
    means: Tensor,  # [N, 3] world, metres
    sh: Tensor,  # [N, K, 3]
    sh_degree: int,
    cam_center: Tensor,  # [3] world, metres
) -> Tensor:
    """[N, 3] colour seen from ``cam_center``: max(SH(dir) + 0.5, 0) (checks the SH part of ``numba_kernels.project_gaussians``)."""
    dirs = F.normalize(means - cam_center, dim=-1)
    return (eval_sh(sh_degree, sh, dirs) + COLOR_OFFSET).clamp_min(0.0)
