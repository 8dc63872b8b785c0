"""The ``gsplat`` backend of ``render()``: CUDA rasterization via ``gsplat.rasterization``.

Same signature and outputs as ``reference.render_reference``. Colours are computed by rtgs2's
own SH code in torch (``reference.view_colors``, so all backends share one SH convention);
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
- with ``packed=False``, ``meta["radii"]`` is [C, N, 2] (> 0 where drawn) and
  ``meta["means2d"]`` [C, N, 2] pixels is the tensor whose gradient 3DGS densification uses.
"""

from __future__ import annotations

import torch
from torch import Tensor

from rtgs2.render.constants import COV2D_BLUR, FAR_PLANE, NEAR_PLANE, TILE_SIZE
from rtgs2.render.reference import view_colors


def render_gsplat(
    means: Tensor,  # [N, 3] world, metres
    quats: Tensor,  # [N, 4] wxyz
    log_scales: Tensor,  # [N, 3]
    opacity_logits: Tensor,  # [N]
    sh: Tensor,  # [N, K, 3]
    features: Tensor | None,  # [N, D]
    world_to_cam: Tensor,  # [4, 4]
    K: Tensor,  # [3, 3] pixels
    width: int,
    height: int,
    sh_degree: int,
    near_plane: float = NEAR_PLANE,
    far_plane: float = FAR_PLANE,
    means2d_probe: Tensor | None = None,  # [N, 2] zeros; its .grad becomes dL/d(means2d), px
) -> tuple[Tensor, Tensor, Tensor, Tensor | None, Tensor]:
    """Render on CUDA with gsplat; same contract as ``reference.render_reference``.

    Returns:
        rgb [H, W, 3] accumulated colour (no background), depth [H, W] accumulated w·z (metres),
        alpha [H, W], features [H, W, D] or None, visible [N] bool (gsplat's radii > 0).
    Raises:
        ValueError: tensors not on a CUDA device.
    """
    import gsplat  # the [cuda] extra; imported here so rtgs2 imports without it

    if means.device.type != "cuda":
        raise ValueError(f"the gsplat backend needs CUDA tensors; means is on {means.device}")
    cam_center = -world_to_cam[:3, :3].T @ world_to_cam[:3, 3]
    channels = [view_colors(means, sh, sh_degree, cam_center)]
    if features is not None:
        channels.append(features)
    colors = torch.cat(channels, dim=-1)
    out, alphas, meta = gsplat.rasterization(
        means,
        quats,
        log_scales.exp(),
        torch.sigmoid(opacity_logits),
        colors,
        world_to_cam[None],
        K[None],
        width,
        height,
        near_plane=near_plane,
        far_plane=far_plane,
        eps2d=COV2D_BLUR,
        sh_degree=None,
        packed=False,
        tile_size=TILE_SIZE,
        render_mode="RGB+D",
        rasterize_mode="classic",
    )
    out, alpha = out[0], alphas[0, ..., 0]
    if means2d_probe is not None and meta["means2d"].requires_grad:
        _route_grad(meta["means2d"], means2d_probe)
    visible = (meta["radii"][0] > 0).all(dim=-1)
    feats = out[..., 3:-1] if features is not None else None
    return out[..., :3], out[..., -1], alpha, feats, visible


def _route_grad(means2d: Tensor, probe: Tensor) -> None:
    """Make ``probe.grad`` receive dL/d(gsplat's means2d) [C=1, N, 2] during backward.

    gsplat computes the 2D means inside its projection, so the probe cannot be added to them;
    a hook on gsplat's tensor accumulates its gradient into the probe instead.
    """

    def hook(grad: Tensor) -> None:
        g = grad[0].detach().to(probe.dtype)
        probe.grad = g.clone() if probe.grad is None else probe.grad + g

    means2d.register_hook(hook)
