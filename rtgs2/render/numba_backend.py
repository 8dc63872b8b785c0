"""The ``numba`` backend of ``render()``: tile rasterizer on the CPU, forward and backward.

``render_numba`` has the backend signature of ``reference.render_reference`` and returns the
same 5-tuple. It is differentiable: a ``torch.autograd.Function`` runs the numba forward
kernels (``numba_kernels.py``) and, on ``backward()``, the gradient kernels
(``numba_kernels_bwd.py``) w.r.t. means, quats, log_scales, opacity_logits, sh and features.

Densification statistic. 3DGS densifies Gaussians by the norm of dL/d(projected 2D mean),
pixels. Pass ``means2d_probe``, a zeros [N, 2] tensor with ``requires_grad=True``: it stands for
an offset added to the projected means (zero: its value is not read, the forward is unchanged)
and its ``.grad`` after ``backward()`` is exactly dL/d(means2d) (zero for Gaussians not drawn). Through ``render()``::

    out = render(scene, cam, settings=RasterSettings(track_means2d_grad=True))
    loss(out).backward()
    grad_norm = out.means2d_probe.grad.norm(dim=-1)   # [N] pixels^-1 · loss units

Inputs of any float dtype are computed in float32 (the kernels' precision); outputs and
gradients are cast back to the dtype of ``means``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from rtgs2.render import numba_kernels as nk
from rtgs2.render import numba_kernels_bwd as bk
from rtgs2.render.constants import FAR_PLANE, NEAR_PLANE, TILE_SIZE

F32 = np.float32


@dataclass(frozen=True)
class RasterCamera:
    """Camera and image arguments of one render call (float64 copies of the float32 camera)."""

    view: np.ndarray  # [4, 4] world_to_cam
    intr: np.ndarray  # [4] fx, fy, cx, cy, pixels
    cam_center: np.ndarray  # [3] world, metres
    width: int
    height: int
    sh_degree: int
    near: float
    far: float


@dataclass
class RasterState:
    """What the forward leaves for the backward (numpy arrays, depth order = rank)."""

    order: np.ndarray  # [M] int32 Gaussian id of each depth rank
    tile_off: np.ndarray  # [T+1] int64 per-tile ranges of tile_list
    tile_list: np.ndarray  # [E] int32 depth ranks per tile, front to back
    rank_off: np.ndarray  # [M+1] int64 ranges of rank_entry per rank
    rank_entry: np.ndarray  # [E] int64 positions in tile_list of each rank's entries
    gpar: np.ndarray  # [M, 8] blend parameters (see numba_kernels.P_*)
    values: np.ndarray  # [M, 4 + D] colour, z, features
    t_final: np.ndarray  # [H, W] final transmittance
    last: np.ndarray  # [H, W] int32 last blended tile-list position per pixel, -1 if none


class StageClock:
    """Adds the CPU time (all threads, ms) of each stage to ``profile[stage]``; a no-op without a dict.

    CPU time rather than wall time: benchmarks on a shared machine stay comparable.
    """

    def __init__(self, profile: dict[str, float] | None):
        self.profile, self.t = profile, time.process_time()

    def mark(self, stage: str) -> None:
        if self.profile is not None:
            now = time.process_time()
            self.profile[stage] = self.profile.get(stage, 0.0) + (now - self.t) * 1e3
            self.t = now


def _f32(t: Tensor) -> np.ndarray:
    return np.ascontiguousarray(t.detach().to(device="cpu", dtype=torch.float32).numpy())


def _check_inputs(means, quats, log_scales, opacity_logits, sh, features, world_to_cam, K, width, height, sh_degree):
    n = means.shape[0] if means.ndim == 2 else -1
    if means.ndim != 2 or means.shape[1] != 3:
        raise ValueError(f"means must have shape [N, 3], got {list(means.shape)}")
    k = (sh_degree + 1) ** 2
    expected = {
        "quats": (quats, (n, 4)),
        "log_scales": (log_scales, (n, 3)),
        "opacity_logits": (opacity_logits, (n,)),
        "world_to_cam": (world_to_cam, (4, 4)),
        "K": (K, (3, 3)),
    }
    for name, (t, shape) in expected.items():
        if tuple(t.shape) != shape:
            raise ValueError(f"{name} must have shape {list(shape)}, got {list(t.shape)}")
    if not 0 <= sh_degree <= 3:
        raise ValueError(f"sh_degree must be in 0..3, got {sh_degree}")
    if sh.ndim != 3 or sh.shape[0] != n or sh.shape[1] < k or sh.shape[2] != 3:
        raise ValueError(f"sh must have shape [N={n}, >={k}, 3] for degree {sh_degree}, got {list(sh.shape)}")
    if features is not None and (features.ndim != 2 or features.shape[0] != n):
        raise ValueError(f"features must have shape [N={n}, D], got {list(features.shape)}")
    if int(width) <= 0 or int(height) <= 0:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    if not (bool(torch.isfinite(world_to_cam).all()) and bool(torch.isfinite(K).all())):
        raise ValueError("world_to_cam and K must be finite")
    if not (float(K[0, 0]) > 0 and float(K[1, 1]) > 0):
        raise ValueError(f"focal lengths must be positive, got fx={float(K[0, 0])}, fy={float(K[1, 1])}")
    for name, t in (("means", means), ("sh", sh), ("features", features)):
        if t is not None and t.device.type != "cpu":
            raise ValueError(f"the numba backend runs on the CPU; {name} is on {t.device}")


def _camera(world_to_cam: Tensor, K: Tensor, width, height, sh_degree, near, far) -> RasterCamera:
    w2c = world_to_cam.detach().cpu().to(torch.float32)  # the precision the reference sees
    R, t = w2c[:3, :3], w2c[:3, 3]
    center = -R.T @ t
    k = K.detach().cpu().to(torch.float32).double()
    return RasterCamera(
        view=w2c.double().numpy(),
        intr=np.array([k[0, 0], k[1, 1], k[0, 2], k[1, 2]], dtype=np.float64),
        cam_center=center.double().numpy(),
        width=int(width),
        height=int(height),
        sh_degree=int(sh_degree),
        near=float(near),
        far=float(far),
    )


def rasterize_forward(
    means: np.ndarray,  # [N, 3] float32
    quats: np.ndarray,  # [N, 4]
    log_scales: np.ndarray,  # [N, 3]
    opacity_logits: np.ndarray,  # [N]
    sh: np.ndarray,  # [N, K, 3]
    features: np.ndarray,  # [N, D] (D may be 0)
    cam: RasterCamera,
    profile: dict[str, float] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, RasterState]:
    """Run the forward kernels. Returns accumulated values [H, W, 4 + D] (colour, z, features),
    alpha [H, W], visible [N] bool and the state the backward needs. ``profile`` collects the CPU
    ms of each stage (see ``StageClock``)."""
    clock = StageClock(profile)
    n = means.shape[0]
    ts = TILE_SIZE
    tiles_x, tiles_y = -(-cam.width // ts), -(-cam.height // ts)
    xy = np.zeros((n, 2), F32)
    conic = np.zeros((n, 3), F32)
    depth = np.zeros(n, F32)
    opac = np.zeros(n, F32)
    half_ext = np.zeros((n, 2), F32)
    rgb = np.zeros((n, 3), F32)
    rect = np.zeros((n, 4), np.int32)
    visible = np.zeros(n, np.bool_)
    nk.project_gaussians(
        means, quats, log_scales, opacity_logits, sh, cam.sh_degree, cam.view, cam.intr, cam.cam_center,
        cam.width, cam.height, cam.near, cam.far, ts, xy, conic, depth, opac, half_ext, rgb, rect, visible,
    )  # fmt: skip
    clock.mark("project")
    order = nk.sort_by_depth(visible, depth)
    clock.mark("sort")
    tile_off, tile_list, rank_off, rank_entry = nk.bin_tiles(order, rect, tiles_x, tiles_x * tiles_y)
    clock.mark("bin")
    m, c = order.shape[0], 4 + features.shape[1]
    gpar = np.empty((m, nk.NUM_PARAMS), F32)
    values = np.empty((m, c), F32)
    nk.gather_sorted(order, xy, conic, opac, half_ext, rgb, depth, features, gpar, values)
    clock.mark("gather")
    out = np.empty((cam.height, cam.width, c), F32)
    t_final = np.empty((cam.height, cam.width), F32)
    last = np.empty((cam.height, cam.width), np.int32)
    nk.blend_tiles(tile_off, tile_list, gpar, values, cam.width, cam.height, ts, out, t_final, last)
    clock.mark("blend")
    state = RasterState(order, tile_off, tile_list, rank_off, rank_entry, gpar, values, t_final, last)
    return out, 1.0 - t_final, visible, state


def active_channels(v_acc: np.ndarray) -> np.ndarray:
    """[A] int64 channels of v_acc [H, W, C] that are nonzero somewhere. A loss on RGB only leaves
    depth and features out, and the per-pixel backward then skips them."""
    return np.flatnonzero((v_acc != 0).reshape(-1, v_acc.shape[-1]).any(axis=0)).astype(np.int64)


def rasterize_backward(
    state: RasterState,
    arrays: list[np.ndarray],  # float32 means, quats, log_scales, opacity_logits, sh of the forward
    cam: RasterCamera,
    v_acc: np.ndarray,  # [H, W, 4 + D] dL/d(accumulated colour, z, features)
    v_alpha: np.ndarray,  # [H, W] dL/d(alpha)
    profile: dict[str, float] | None = None,
) -> tuple[np.ndarray, ...]:
    """Run the backward kernels. Returns float32 gradients w.r.t. means [N, 3], quats [N, 4],
    log_scales [N, 3], opacity_logits [N], sh [N, K, 3], features [N, D] and the 2D means [N, 2].
    ``profile`` collects the CPU ms of each stage (see ``StageClock``)."""
    clock = StageClock(profile)
    means, quats, log_scales, opacity_logits, sh = arrays
    n, d = means.shape[0], v_acc.shape[-1] - nk.V_FEAT
    ent_grad = np.empty((state.tile_list.shape[0], bk.G_VAL + v_acc.shape[-1]), F32)
    bk.blend_tiles_backward(
        state.tile_off, state.tile_list, state.gpar, state.values, cam.width, cam.height, TILE_SIZE,
        state.t_final, state.last, v_acc, v_alpha, active_channels(v_acc), ent_grad,
    )  # fmt: skip
    clock.mark("blend backward")
    grads = (
        np.zeros((n, 3), F32), np.zeros((n, 4), F32), np.zeros((n, 3), F32), np.zeros(n, F32),
        np.zeros(sh.shape, F32), np.zeros((n, d), F32), np.zeros((n, 2), F32),
    )  # fmt: skip
    bk.gaussians_backward(
        state.order, state.rank_off, state.rank_entry, ent_grad, means, quats, log_scales, opacity_logits, sh,
        cam.sh_degree, cam.view, cam.intr, cam.cam_center, cam.width, cam.height, *grads,
    )  # fmt: skip
    clock.mark("gaussians backward")
    return grads


class _RasterizeNumba(torch.autograd.Function):
    """(means, quats, log_scales, opacity_logits, sh, features|None, means2d_probe|None) ->
    (accumulated values [H, W, 4 + D], alpha [H, W], visible [N] bool)."""

    @staticmethod
    def forward(ctx, means, quats, log_scales, opacity_logits, sh, features, means2d_probe, cam):
        arrays = [_f32(t) for t in (means, quats, log_scales, opacity_logits, sh)]
        feats = _f32(features) if features is not None else np.zeros((means.shape[0], 0), F32)
        acc, alpha, visible, state = rasterize_forward(*arrays, feats, cam)
        ctx.cam, ctx.state, ctx.arrays = cam, state, arrays
        ctx.has_features, ctx.has_probe = features is not None, means2d_probe is not None
        ctx.dtypes = [t.dtype if t is not None else None for t in (means, quats, log_scales, opacity_logits, sh, features)]
        vis = torch.from_numpy(visible)
        ctx.mark_non_differentiable(vis)
        dtype = means.dtype
        return torch.from_numpy(acc).to(dtype), torch.from_numpy(alpha).to(dtype), vis

    @staticmethod
    def backward(ctx, v_acc, v_alpha, _v_visible):
        grads = rasterize_backward(ctx.state, ctx.arrays, ctx.cam, _f32(v_acc), _f32(v_alpha))
        d_means, d_quats, d_scales, d_logits, d_sh, d_feats, d_xy = (torch.from_numpy(g) for g in grads)
        out = [g.to(dt) for g, dt in zip((d_means, d_quats, d_scales, d_logits, d_sh), ctx.dtypes)]
        out.append(d_feats.to(ctx.dtypes[5]) if ctx.has_features else None)
        out.append(d_xy.to(ctx.dtypes[0]) if ctx.has_probe else None)
        return (*out, None)


def render_numba(
    means: Tensor,  # [N, 3] world, metres
    quats: Tensor,  # [N, 4] wxyz
    log_scales: Tensor,  # [N, 3]
    opacity_logits: Tensor,  # [N]
    sh: Tensor,  # [N, K, 3], K >= (sh_degree+1)^2
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
    """Render with the numba tile rasterizer; same contract as ``reference.render_reference``.

    Returns:
        rgb [H, W, 3] accumulated colour (no background), depth [H, W] accumulated sum of
        w·z (metres), alpha [H, W], features [H, W, D] or None, visible [N] bool.
    Raises:
        ValueError: wrong shapes, non-finite camera, non-positive image size, tensors not on CPU.
    """
    _check_inputs(means, quats, log_scales, opacity_logits, sh, features, world_to_cam, K, width, height, sh_degree)
    if means2d_probe is not None and tuple(means2d_probe.shape) != (means.shape[0], 2):
        raise ValueError(f"means2d_probe must have shape [{means.shape[0]}, 2], got {list(means2d_probe.shape)}")
    cam = _camera(world_to_cam, K, width, height, sh_degree, near_plane, far_plane)
    sh = sh[:, : (sh_degree + 1) ** 2]
    inputs = (means, quats, log_scales, opacity_logits, sh, features, means2d_probe)
    if torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in inputs):
        acc, alpha, visible = _RasterizeNumba.apply(*inputs, cam)
    else:
        arrays = [_f32(t) for t in (means, quats, log_scales, opacity_logits, sh)]
        feats = _f32(features) if features is not None else np.zeros((means.shape[0], 0), F32)
        acc_np, alpha_np, vis_np, _ = rasterize_forward(*arrays, feats, cam)
        acc = torch.from_numpy(acc_np).to(means.dtype)
        alpha, visible = torch.from_numpy(alpha_np).to(means.dtype), torch.from_numpy(vis_np)
    feat_img = acc[..., nk.V_FEAT :] if features is not None else None
    return acc[..., :3], acc[..., nk.V_DEPTH], alpha, feat_img, visible
