"""Pure-torch reference rasterizer: slow, plainly correct, differentiable by autograd.

It is the oracle for the fast backends (``numba_kernels.py``, ``gsplat_backend.py``), which
must match it to 1e-4. It evaluates every Gaussian at every pixel (in pixel chunks), so its
output does not depend on tiling. The rules, shared with the other backends:

- projection as gsplat's ``persp_proj``: Jacobian with x/z, y/z clamped to 1.3x the FOV,
  2D covariance + COV2D_BLUR, Gaussians with z <= near or det(cov2d) <= 0 culled;
- alpha = min(ALPHA_MAX, o·exp(-σ)), skipped if σ < 0 or alpha < ALPHA_MIN;
- front-to-back by camera z; a pixel stops *before* the Gaussian that would take its
  transmittance to T_MIN or below (gsplat ``rasterize_to_pixels_fwd``);
- colour = max(SH + 0.5, 0); depth and features blended with the same weights.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from rtgs2.render.constants import (
    ALPHA_MAX,
    ALPHA_MIN,
    COLOR_OFFSET,
    COV2D_BLUR,
    FAR_PLANE,
    FRUSTUM_SLACK,
    NEAR_PLANE,
    T_MIN,
)
from rtgs2.render.contract import RasterInputs, RasterOutputs
from rtgs2.scene.sh import eval_sh


class Projected(NamedTuple):
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


def box_half_widths(
    proj: Projected,
    opacities: Tensor,  # [N] in (0, 1)
) -> Tensor:  # [N, 2] pixels
    """Half-widths (x, y) of the box around each 2D mean where alpha can reach ALPHA_MIN.

    A pixel gets alpha >= ALPHA_MIN only where sigma <= ln(o / ALPHA_MIN), an ellipse whose
    bounding box has half-widths sqrt(2 ln(o / ALPHA_MIN) * cov_xx) and the same in y.
    """
    level = torch.log((opacities / ALPHA_MIN).clamp_min(1.0))
    return torch.sqrt(2 * level.unsqueeze(-1) * proj.cov2d[:, [0, 2]])


def visible_on_screen(
    proj: Projected,
    opacities: Tensor,  # [N] in (0, 1)
    width: int,
    height: int,
) -> Tensor:
    """[N] bool: Gaussians that can reach alpha >= ALPHA_MIN somewhere on the image (their
    ``box_half_widths`` box overlaps it). Tile-based backends bin by this box, so their output
    does not depend on tiling."""
    hx, hy = box_half_widths(proj, opacities).unbind(-1)
    x, y = proj.means2d.unbind(-1)
    on = (x + hx > 0) & (x - hx < width) & (y + hy > 0) & (y - hy < height)
    return proj.valid & (opacities >= ALPHA_MIN) & on


def screen_radii(
    proj: Projected,
    opacities: Tensor,  # [N] in (0, 1)
    visible: Tensor,  # [N] bool
) -> Tensor:  # [N] int32 pixels
    """The larger ``box_half_widths``, rounded up; 0 where not visible (checks the numba radii)."""
    r = box_half_widths(proj, opacities).amax(-1).ceil()
    return torch.where(visible, r, torch.zeros_like(r)).to(torch.int32)


def view_colors(
    means: Tensor,  # [N, 3] world, metres
    sh: Tensor,  # [N, K, 3]
    sh_degree: int,
    cam_center: Tensor,  # [3] world, metres
) -> Tensor:
    """[N, 3] colour seen from ``cam_center``: max(SH(dir) + 0.5, 0) (checks the SH part of ``numba_kernels.project_gaussians``)."""
    dirs = F.normalize(means - cam_center, dim=-1)
    return (eval_sh(sh_degree, sh, dirs) + COLOR_OFFSET).clamp_min(0.0)


def rasterize(
    proj: Projected,
    opacities: Tensor,  # [N] in (0, 1)
    values: Tensor,  # [N, C] anything to blend: colour, depth, features
    width: int,
    height: int,
    max_elements: int = 1 << 24,
) -> tuple[Tensor, Tensor]:
    """Front-to-back alpha blending of every visible Gaussian at every pixel centre.

    Returns:
        accumulated values [H, W, C] (no background) and alpha [H, W] (= 1 - final T).
    """
    keep = visible_on_screen(proj, opacities, width, height)
    order = torch.argsort(torch.where(keep, proj.depths, torch.full_like(proj.depths, float("inf"))), stable=True)
    order = order[: int(keep.sum())]
    mu, con, op, val = proj.means2d[order], proj.conics[order], opacities[order], values[order]
    j = torch.arange(width, dtype=mu.dtype, device=mu.device) + 0.5
    i = torch.arange(height, dtype=mu.dtype, device=mu.device) + 0.5
    pix = torch.stack(torch.meshgrid(j, i, indexing="xy"), dim=-1).reshape(-1, 2)  # [P, 2] (x, y)
    chunk = max(1, max_elements // max(1, len(order)))
    out_v, out_a = [], []
    for p in pix.split(chunk):
        d = p[:, None, :] - mu[None]  # [P, N, 2]
        sigma = 0.5 * (con[:, 0] * d[..., 0] ** 2 + con[:, 2] * d[..., 1] ** 2) + con[:, 1] * d[..., 0] * d[..., 1]
        alpha = torch.clamp_max(op * torch.exp(-sigma), ALPHA_MAX)
        alpha = torch.where((sigma < 0) | (alpha < ALPHA_MIN), torch.zeros_like(alpha), alpha)
        t_after = torch.cumprod(1 - alpha, dim=1)
        t_before = torch.cat([torch.ones_like(t_after[:, :1]), t_after[:, :-1]], dim=1)
        w = alpha * t_before * (t_after > T_MIN)
        out_v.append(w @ val)
        out_a.append(w.sum(1))
    acc = torch.cat(out_v).reshape(height, width, -1)
    return acc, torch.cat(out_a).reshape(height, width)


def render_reference(inputs: RasterInputs) -> RasterOutputs:
    """One pass of every output (see ``contract.RasterOutputs``), by autograd-differentiable torch."""
    i = inputs
    proj = project(i.means, i.quats, i.log_scales, i.world_to_cam, i.K, i.width, i.height, i.near_plane, i.far_plane)
    if i.means2d_probe is not None:
        proj = proj._replace(means2d=proj.means2d + i.means2d_probe)
    opacities = torch.sigmoid(i.opacity_logits)
    cam_center = -i.world_to_cam[:3, :3].T @ i.world_to_cam[:3, 3]
    rgb = view_colors(i.means, i.sh, i.sh_degree, cam_center)
    vals = [rgb, proj.depths.unsqueeze(-1)] + ([i.features] if i.features is not None else [])
    acc, alpha = rasterize(proj, opacities, torch.cat(vals, dim=-1), i.width, i.height)
    with torch.no_grad():
        visible = visible_on_screen(proj, opacities, i.width, i.height)
        radii = screen_radii(proj, opacities, visible)
    return RasterOutputs(
        rgb=acc[..., :3],
        depth_acc=acc[..., 3],
        alpha=alpha,
        features=acc[..., 4:] if i.features is not None else None,
        visible=visible,
        radii=radii,
    )
