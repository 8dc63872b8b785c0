"""The ``gsplat`` backend of ``render()``: CUDA rasterization via ``gsplat.rasterization``.

A ``contract.BackendFn``, like ``reference.render_reference``. Colours are computed by rtgs2's
own SH code in torch (``projection.view_colors``, so all backends share one SH convention);
colour, features and camera z are rasterized together as channels of one pass (gsplat's
"RGB+D" mode appends the accumulated z as the last channel), with no background.

Facts relied on, from gsplat v1.5.3 (pinned in the ``[cuda]`` extra):
- ``rasterization(means, quats, scales, opacities, colors, viewmats, Ks, width, height, ...)``
  takes activated scales and opacities, wxyz quaternions (normalised inside), colours [N, X]
  when ``sh_degree=None``; returns colours [C, H, W, X], alphas [C, H, W, 1] and ``meta``
  (gsplat/rendering.py);
- "RGB+D" gives the *accumulated* z (sum of w·z), "RGB+ED" the normalised one (rendering.py);
- alpha = min(0.999, o·exp(-σ)), skip < 1/255, stop before T <= 1e-4, 2D blur eps2d = 0.3,
  Jacobian clamp 1.3x the FOV (csrc/RasterizeToPixels3DGSFwd.cu, ProjectionEWA3DGSFused.cu).
  Later gsplat releases may cap alpha at 0.99: keep the pin, or expect near-opaque differences;
- with ``packed=False``, ``meta["radii"]`` is [C, N, 2] int32 (> 0 where drawn): per axis
  ceil(sqrt(2 ln(o / (1/255)) cov2d_ii)), capped at 3.33 std-devs (a cap only o > 1 reaches),
  which is rtgs2's alpha >= 1/255 box; ``meta["means2d"]`` [C, N, 2] pixels is the tensor whose
  gradient 3DGS densification uses.

``pixel_values`` (``RasterOutputs.gathered``) are summed onto the Gaussians by gsplat's backward:
the gradient of sum_p <[V, 1](p), F_rendered(p)> w.r.t. per-Gaussian features F is sum_p w(p)·[V, 1](p).
"""

from __future__ import annotations

import torch
from torch import Tensor

from rtgs2.render.constants import COV2D_BLUR, TILE_SIZE
from rtgs2.render.contract import RasterInputs, RasterOutputs
from rtgs2.render.projection import view_colors


def render_gsplat(inputs: RasterInputs) -> RasterOutputs:
    """Render on CUDA with gsplat (see ``contract.RasterOutputs``).

    Raises:
        ValueError: tensors not on a CUDA device.
    """
    i = inputs
    if i.means.device.type != "cuda":
        raise ValueError(f"the gsplat backend needs CUDA tensors; means is on {i.means.device}")
    cam_center = -i.world_to_cam[:3, :3].T @ i.world_to_cam[:3, 3]
    channels = [view_colors(i.means, i.sh, i.sh_degree, cam_center)]
    if i.features is not None:
        channels.append(i.features)
    colors = torch.cat(channels, dim=-1)
    out, alphas, meta = _rasterize(i, i.means, i.quats, i.log_scales, i.opacity_logits, colors, "RGB+D")
    out, alpha = out[0], alphas[0, ..., 0]
    if i.means2d_probe is not None and meta["means2d"].requires_grad:
        _route_grad(meta["means2d"], i.means2d_probe)
    radii = meta["radii"][0]
    visible = (radii > 0).all(dim=-1)
    gathered = gathered_weight = None
    if i.pixel_values is not None:
        gathered, gathered_weight = _gather(i)
    return RasterOutputs(
        rgb=out[..., :3],
        depth_acc=out[..., -1],
        alpha=alpha,
        features=out[..., 3:-1] if i.features is not None else None,
        visible=visible,
        radii=torch.where(visible, radii.amax(dim=-1), 0).to(torch.int32),
        gathered=gathered,
        gathered_weight=gathered_weight,
    )


def _gather(i: RasterInputs) -> tuple[Tensor, Tensor]:  # [N, C], [N]
    """``RasterOutputs.gathered`` and ``gathered_weight`` by the gradient of a second pass whose
    colours are zero features F [N, C + 1] (module doc); not differentiable."""
    v = i.pixel_values.detach()
    target = torch.cat([v, torch.ones_like(v[..., :1])], dim=-1)  # [H, W, C + 1]
    with torch.enable_grad():
        f = torch.zeros(i.means.shape[0], target.shape[-1], dtype=v.dtype, device=v.device, requires_grad=True)
        out, _, _ = _rasterize(
            i, i.means.detach(), i.quats.detach(), i.log_scales.detach(), i.opacity_logits.detach(), f, "RGB"
        )
        (grad,) = torch.autograd.grad((out[0] * target).sum(), f)
    return grad[:, :-1], grad[:, -1]


def _rasterize(
    i: RasterInputs, means: Tensor, quats: Tensor, log_scales: Tensor, opacity_logits: Tensor, colors: Tensor, mode: str
) -> tuple[Tensor, Tensor, dict]:
    """gsplat's rasterization of one camera of ``i`` with rtgs2's rules (blur, tiles, classic mode)."""
    import gsplat  # the [cuda] extra; imported here so rtgs2 imports without it

    return gsplat.rasterization(
        means,
        quats,
        log_scales.exp(),
        torch.sigmoid(opacity_logits),
        colors,
        i.world_to_cam[None],
        i.K[None],
        i.width,
        i.height,
        near_plane=i.near_plane,
        far_plane=i.far_plane,
        eps2d=COV2D_BLUR,
        sh_degree=None,
        packed=False,
        tile_size=TILE_SIZE,
        render_mode=mode,
        rasterize_mode="classic",
    )


def _route_grad(means2d: Tensor, probe: Tensor) -> None:
    """Make ``probe.grad`` receive dL/d(gsplat's means2d) [C=1, N, 2] during backward.

    gsplat computes the 2D means inside its projection, so the probe cannot be added to them;
    a hook on gsplat's tensor accumulates its gradient into the probe instead.
    """

    def hook(grad: Tensor) -> None:
        g = grad[0].detach().to(probe.dtype)
        probe.grad = g.clone() if probe.grad is None else probe.grad + g

    means2d.register_hook(hook)
