"""Pure-torch reference rasterizer: slow, plainly correct, differentiable by autograd.

It is the oracle for the fast backends (``numba_kernels.py``, ``gsplat_backend.py``), which
must match it to 1e-4. It evaluates every Gaussian at every pixel (in pixel chunks), so its
output does not depend on tiling. Tests import it; production code never does (what it
needs, the projection and SH colour, is in ``projection.py``, checked on its own by
``tests/render/test_projection.py``). The rules, shared with the other backends:

- projection (``projection.project``) as gsplat's ``persp_proj``: Jacobian with x/z, y/z
  clamped to 1.3x the FOV, 2D covariance + COV2D_BLUR, Gaussians with z <= near or
  det(cov2d) <= 0 culled;
- alpha = min(ALPHA_MAX, o·exp(-σ)), skipped if σ < 0 or alpha < ALPHA_MIN;
- front-to-back by camera z; a pixel stops *before* the Gaussian that would take its
  transmittance to T_MIN or below (gsplat ``rasterize_to_pixels_fwd``);
- colour = max(SH + 0.5, 0); depth and features blended with the same weights;
- ``gather``: those same weights summed back onto the Gaussians, times a per-pixel value.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor

from rtgs2.render.constants import ALPHA_MAX, ALPHA_MIN, T_MIN
from rtgs2.render.contract import RasterInputs, RasterOutputs
from rtgs2.render.projection import Projected, project, view_colors


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
    r = box_half_widths(proj, opacities).amax(-1).ceil().clamp_max(2**30)  # as numba_kernels.RADIUS_MAX
    return torch.where(visible, r, torch.zeros_like(r)).to(torch.int32)


def blend_weights(
    proj: Projected,
    opacities: Tensor,  # [N] in (0, 1)
    width: int,
    height: int,
    max_elements: int = 1 << 24,
    t_stop: float = 0.0,
) -> tuple[Tensor, Iterator[Tensor]]:
    """Blending weights w = T·alpha of every visible Gaussian at every pixel centre, front to back.

    Returns:
        the visible Gaussians' ids in depth order [M], and an iterator over the weights [P, M]
        of successive chunks of P pixels (row-major; the last chunk may be shorter).
    """
    keep = visible_on_screen(proj, opacities, width, height)
    order = torch.argsort(torch.where(keep, proj.depths, torch.full_like(proj.depths, float("inf"))), stable=True)
    order = order[: int(keep.sum())]
    mu, con, op = proj.means2d[order], proj.conics[order], opacities[order]
    j = torch.arange(width, dtype=mu.dtype, device=mu.device) + 0.5
    i = torch.arange(height, dtype=mu.dtype, device=mu.device) + 0.5
    pix = torch.stack(torch.meshgrid(j, i, indexing="xy"), dim=-1).reshape(-1, 2)  # [P, 2] (x, y)
    chunk = max(1, max_elements // max(1, len(order)))

    def chunks() -> Iterator[Tensor]:
        for p in pix.split(chunk):
            d = p[:, None, :] - mu[None]  # [P, M, 2]
            sigma = 0.5 * (con[:, 0] * d[..., 0] ** 2 + con[:, 2] * d[..., 1] ** 2) + con[:, 1] * d[..., 0] * d[..., 1]
            alpha = torch.clamp_max(op * torch.exp(-sigma), ALPHA_MAX)
            alpha = torch.where((sigma < 0) | (alpha < ALPHA_MIN), torch.zeros_like(alpha), alpha)
            t_after = torch.cumprod(1 - alpha, dim=1)
            t_before = torch.cat([torch.ones_like(t_after[:, :1]), t_after[:, :-1]], dim=1)
            yield alpha * t_before * (t_after > T_MIN) * (t_before > t_stop)

    return order, chunks()


def rasterize(
    proj: Projected,
    opacities: Tensor,  # [N] in (0, 1)
    values: Tensor,  # [N, C] anything to blend: colour, depth, features
    width: int,
    height: int,
    t_stop: float = 0.0,
) -> tuple[Tensor, Tensor]:
    """Front-to-back alpha blending of every visible Gaussian at every pixel centre.

    Returns:
        accumulated values [H, W, C] (no background) and alpha [H, W] (= 1 - final T).
    """
    order, chunks = blend_weights(proj, opacities, width, height, t_stop=t_stop)
    val = values[order]
    out_v, out_a = [], []
    for w in chunks:
        out_v.append(w @ val)
        out_a.append(w.sum(1))
    acc = torch.cat(out_v).reshape(height, width, -1)
    return acc, torch.cat(out_a).reshape(height, width)


def gather(
    proj: Projected,
    opacities: Tensor,  # [N] in (0, 1)
    pixel_values: Tensor,  # [H, W, C] V
) -> tuple[Tensor, Tensor]:  # [N, C], [N]
    """Per Gaussian, the sums over pixels of its blending weight times V, and of the weight alone
    (``contract.RasterOutputs.gathered``; checks ``numba_kernels_gather``). Zero for Gaussians not drawn."""
    height, width, c = pixel_values.shape
    order, chunks = blend_weights(proj, opacities, width, height)
    v = pixel_values.reshape(-1, c)
    sums = v.new_zeros(len(order), c)
    weight = v.new_zeros(len(order))
    start = 0
    for w in chunks:
        sums = sums + w.T @ v[start : start + len(w)]
        weight = weight + w.sum(0)
        start += len(w)
    n = opacities.shape[0]
    return v.new_zeros(n, c).index_copy(0, order, sums), v.new_zeros(n).index_copy(0, order, weight)


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
    acc, alpha = rasterize(proj, opacities, torch.cat(vals, dim=-1), i.width, i.height, t_stop=i.stop_transmittance)
    with torch.no_grad():
        visible = visible_on_screen(proj, opacities, i.width, i.height)
        radii = screen_radii(proj, opacities, visible)
    gathered = gathered_weight = None
    if i.pixel_values is not None:
        gathered, gathered_weight = gather(proj, opacities, i.pixel_values)
    return RasterOutputs(
        rgb=acc[..., :3],
        depth_acc=acc[..., 3],
        alpha=alpha,
        features=acc[..., 4:] if i.features is not None else None,
        visible=visible,
        radii=radii,
        gathered=gathered,
        gathered_weight=gathered_weight,
    )
