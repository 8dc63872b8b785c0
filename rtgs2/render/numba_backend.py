"""The ``numba`` backend of ``render()``: tile rasterizer on the CPU, forward and backward.

``render_numba`` is a ``contract.BackendFn``, like ``reference.render_reference``. It is
differentiable: a ``torch.autograd.Function`` runs the numba forward
kernels (``numba_kernels.py``) and, on ``backward()``, the gradient kernels
(``numba_kernels_bwd.py``) w.r.t. means, quats, log_scales, opacity_logits, sh and features.
Given ``pixel_values``, ``numba_kernels_gather.py`` sums them back onto the Gaussians with the
forward's blending weights (``RasterOutputs.gathered``).
The per-frame path (``stop_transmittance`` > 0, no gradients, ``RasterInputs.frame_kernel``)
takes ``rasterize_frame``: the same projection, sort and binning, then ``numba_kernels_frame.py``'s blend,
which gives the features at ``feature_stride`` and keeps nothing for a backward pass. Every
render without gradients projects from the scene's camera-independent rows kept between calls
(``PREPARED``); a differentiable one computes them afresh.

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
import weakref
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import Tensor

from rtgs2.render import numba_kernels as nk
from rtgs2.render import numba_kernels_bwd as bk
from rtgs2.render import numba_kernels_frame as fk
from rtgs2.render import numba_kernels_gather as gk
from rtgs2.render.contract import RasterInputs, RasterOutputs
from rtgs2.utils.threads import torch_threads_kept

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
    gpar: np.ndarray  # [M, NUM_PARAMS] blend parameters (see numba_kernels.P_*)
    values: np.ndarray  # [M, 4 + D] colour, z, features
    t_final: np.ndarray  # [H, W] final transmittance
    last: np.ndarray  # [H, W] int32 last blended tile-list position per pixel, -1 if none


class StageClock:
    """Adds the wall time (ms) of each stage to ``profile[stage]``; a no-op without a dict."""

    def __init__(self, profile: dict[str, float] | None):
        self.profile, self.t = profile, time.perf_counter()

    def mark(self, stage: str) -> None:
        if self.profile is not None:
            now = time.perf_counter()
            self.profile[stage] = self.profile.get(stage, 0.0) + (now - self.t) * 1e3
            self.t = now


def _f32(t: Tensor) -> np.ndarray:
    return np.ascontiguousarray(t.detach().to(device="cpu", dtype=torch.float32).numpy())


def _check_inputs(inputs: RasterInputs) -> None:
    """Shapes, camera and devices, before any kernel runs (``render()`` checks the rest)."""
    i = inputs
    n = i.means.shape[0] if i.means.ndim == 2 else -1
    if i.means.ndim != 2 or i.means.shape[1] != 3:
        raise ValueError(f"means must have shape [N, 3], got {list(i.means.shape)}")
    k = (i.sh_degree + 1) ** 2
    expected = {
        "quats": (i.quats, (n, 4)),
        "log_scales": (i.log_scales, (n, 3)),
        "opacity_logits": (i.opacity_logits, (n,)),
        "world_to_cam": (i.world_to_cam, (4, 4)),
        "K": (i.K, (3, 3)),
    }
    if i.means2d_probe is not None:
        expected["means2d_probe"] = (i.means2d_probe, (n, 2))
    for name, (t, shape) in expected.items():
        if tuple(t.shape) != shape:
            raise ValueError(f"{name} must have shape {list(shape)}, got {list(t.shape)}")
    if not 0 <= i.sh_degree <= 3:
        raise ValueError(f"sh_degree must be in 0..3, got {i.sh_degree}")
    if i.sh.ndim != 3 or i.sh.shape[0] != n or i.sh.shape[1] < k or i.sh.shape[2] != 3:
        raise ValueError(f"sh must have shape [N={n}, >={k}, 3] for degree {i.sh_degree}, got {list(i.sh.shape)}")
    if i.features is not None and (i.features.ndim != 2 or i.features.shape[0] != n):
        raise ValueError(f"features must have shape [N={n}, D], got {list(i.features.shape)}")
    pv = i.pixel_values
    if pv is not None and (pv.ndim != 3 or tuple(pv.shape[:2]) != (int(i.height), int(i.width))):
        raise ValueError(f"pixel_values must have shape [H={i.height}, W={i.width}, C], got {list(pv.shape)}")
    if int(i.width) <= 0 or int(i.height) <= 0:
        raise ValueError(f"image size must be positive, got {i.width}x{i.height}")
    for name, t in (("means", i.means), ("sh", i.sh), ("features", i.features), ("pixel_values", pv)):
        if t is not None and t.device.type != "cpu":
            raise ValueError(f"the numba backend runs on the CPU; {name} is on {t.device}")


def raster_camera(inputs: RasterInputs) -> RasterCamera:
    """The camera arguments of the kernels, from the inputs' camera rounded to float32 (the precision
    the reference sees), in numpy: torch's per-op overhead would be most of this call.

    Raises:
        ValueError: a non-finite camera or non-positive focal lengths.
    """
    w2c = inputs.world_to_cam.detach().cpu().numpy().astype(np.float32)
    k = inputs.K.detach().cpu().numpy().astype(np.float32)
    if not (np.isfinite(w2c).all() and np.isfinite(k).all()):
        raise ValueError("world_to_cam and K must be finite")
    if not (k[0, 0] > 0 and k[1, 1] > 0):
        raise ValueError(f"focal lengths must be positive, got fx={k[0, 0]}, fy={k[1, 1]}")
    center = -w2c[:3, :3].T @ w2c[:3, 3]
    return RasterCamera(
        view=w2c.astype(np.float64),
        intr=np.array([k[0, 0], k[1, 1], k[0, 2], k[1, 2]], dtype=np.float64),
        cam_center=center.astype(np.float64),
        width=int(inputs.width),
        height=int(inputs.height),
        sh_degree=int(inputs.sh_degree),
        near=float(inputs.near_plane),
        far=float(inputs.far_plane),
    )


@dataclass
class Forward:
    """What the forward kernels give (numpy)."""

    acc: np.ndarray  # [H, W, 4 + D] accumulated colour, z, features
    alpha: np.ndarray  # [H, W]
    visible: np.ndarray  # [N] bool
    radii: np.ndarray  # [N] int32 pixels
    state: RasterState  # what the backward needs


@dataclass
class Binned:
    """The splats of one view, projected, sorted and binned into tiles (the blends' input)."""

    visible: np.ndarray  # [N] bool
    radii: np.ndarray  # [N] int32 pixels
    order: np.ndarray  # [M] int32 Gaussian index of each depth rank
    gpar: np.ndarray  # [M, NUM_PARAMS] blend parameters in depth order
    values: np.ndarray  # [M, 4 + D] colour, z, features in depth order
    tile_off: np.ndarray  # [T+1] int64
    tile_list: np.ndarray  # [E] int32
    rank_off: np.ndarray  # [M+1] int64
    rank_entry: np.ndarray  # [E] int64


def prepare_gaussians(
    quats: np.ndarray,  # [N, 4] float32
    log_scales: np.ndarray,  # [N, 3]
    opacity_logits: np.ndarray,  # [N]
) -> np.ndarray:
    """[N, PREPARED_COLUMNS] float64: the camera-independent rows ``numba_kernels.prepare_gaussians`` computes."""
    prepared = np.empty((quats.shape[0], nk.PREPARED_COLUMNS), np.float64)
    nk.prepare_gaussians(quats, log_scales, opacity_logits, prepared)
    return prepared


class PreparedCache:
    """The prepared rows (``prepare_gaussians``) of the last scene rendered without gradients, kept
    while its tensors live unchanged: the same objects (held by weak reference: the rows go with the
    scene) at the same in-place version counters. A segmenter or a viewer draws one scene frame
    after frame, and these rows do not depend on the camera: ~30 % of the projection
    (benchmarks/RESULTS.md 2026-12-05). Never kept for inference tensors (made under
    ``torch.inference_mode``: no version counter). Unseen, as by torch's own autograd: writes
    through ``tensor.data`` or through numpy memory shared with a tensor."""

    def __init__(self) -> None:
        # (weak references, version counters, rows), replaced as one: a reader sees one entry whole
        self._entry: tuple[tuple[weakref.ref, ...], tuple[int, ...], np.ndarray] | None = None

    @property
    def _rows(self) -> np.ndarray | None:
        """The rows kept now (tests)."""
        entry = self._entry
        return None if entry is None else entry[2]

    def rows(self, tensors: tuple[Tensor, Tensor, Tensor], arrays: tuple[np.ndarray, ...]) -> np.ndarray:
        """The prepared rows of quats, log_scales, opacity_logits (``tensors``; ``arrays``: their float32 numpy)."""
        try:
            versions = tuple(t._version for t in tensors)
        except RuntimeError:  # an inference tensor: may change in place unseen
            return prepare_gaussians(*arrays)
        entry = self._entry
        if entry is not None and entry[1] == versions and all(r() is t for r, t in zip(entry[0], tensors)):
            return entry[2]
        rows = prepare_gaussians(*arrays)
        self._entry = (tuple(weakref.ref(t, self._forget) for t in tensors), versions, rows)
        return rows

    def _forget(self, dead: weakref.ref) -> None:
        """A kept tensor was freed: drop its scene's rows (N x 72 bytes) with it."""
        entry = self._entry
        if entry is not None and dead in entry[0]:
            self._entry = None


PREPARED = PreparedCache()
"""The cache of prepared rows of ``render_numba`` without gradients (the per-frame path, exact renders, gathers)."""


def _prepared(i: RasterInputs, arrays: list[np.ndarray]) -> np.ndarray:
    """The prepared rows of ``i``'s Gaussians (``arrays``: ``_arrays(i)[0]``), kept in ``PREPARED``."""
    return PREPARED.rows((i.quats, i.log_scales, i.opacity_logits), tuple(arrays[1:4]))


def bin_splats(
    means: np.ndarray,  # [N, 3] float32
    prepared: np.ndarray,  # [N, PREPARED_COLUMNS] float64 (``prepare_gaussians``)
    sh: np.ndarray,  # [N, K, 3]
    features: np.ndarray,  # [N, D] (D may be 0)
    cam: RasterCamera,
    clock: StageClock,
) -> Binned:
    """Project, sort, gather and bin (kernels 1-4 of ``numba_kernels``), each stage timed by ``clock``."""
    n = means.shape[0]
    # Every row a later kernel reads is written first: no zero-filling.
    params = np.empty((n, nk.NUM_PARAMS), F32)
    rgb = np.empty((n, 3), F32)
    depth = np.empty(n, F32)
    visible = np.empty(n, np.bool_)
    radii = np.empty(n, np.int32)
    nk.project_gaussians(
        means, prepared, sh, cam.sh_degree, cam.view, cam.intr, cam.cam_center,
        cam.width, cam.height, cam.near, cam.far, params, rgb, depth, visible, radii,
    )  # fmt: skip
    clock.mark("project")
    order = nk.sort_by_depth(visible, depth)
    clock.mark("sort")
    m, c = order.shape[0], 4 + features.shape[1]
    gpar = np.empty((m, nk.NUM_PARAMS), F32)
    values = np.empty((m, c), F32)
    nk.gather_sorted(order, params, rgb, depth, features, gpar, values)
    clock.mark("gather")
    tile_off, tile_list, rank_off, rank_entry = nk.bin_tiles(gpar, cam.width, cam.height)
    clock.mark("bin")
    return Binned(visible, radii, order, gpar, values, tile_off, tile_list, rank_off, rank_entry)


def rasterize_forward(
    means: np.ndarray,  # [N, 3] float32
    quats: np.ndarray,  # [N, 4]
    log_scales: np.ndarray,  # [N, 3]
    opacity_logits: np.ndarray,  # [N]
    sh: np.ndarray,  # [N, K, 3]
    features: np.ndarray,  # [N, D] (D may be 0)
    cam: RasterCamera,
    profile: dict[str, float] | None = None,
    stop_transmittance: float = 0.0,
    prepared: np.ndarray | None = None,
) -> Forward:
    """Run the forward kernels. ``profile`` collects the wall ms of each stage (see ``StageClock``).
    ``stop_transmittance``: a pixel also stops once T falls to it (0 = never: ``RasterSettings``).
    ``prepared``: as for ``rasterize_frame``."""
    clock = StageClock(profile)
    if prepared is None:
        prepared = prepare_gaussians(quats, log_scales, opacity_logits)
        clock.mark("prepare")
    bs = bin_splats(means, prepared, sh, features, cam, clock)
    out = np.empty((cam.height, cam.width, bs.values.shape[1]), F32)
    t_final = np.empty((cam.height, cam.width), F32)
    last = np.empty((cam.height, cam.width), np.int32)
    nk.blend_tiles(
        bs.tile_off, bs.tile_list, bs.gpar, bs.values, cam.width, cam.height, out, t_final, last,
        np.float32(stop_transmittance),
    )  # fmt: skip
    clock.mark("blend")
    state = RasterState(
        bs.order, bs.tile_off, bs.tile_list, bs.rank_off, bs.rank_entry, bs.gpar, bs.values, t_final, last
    )  # fmt: skip
    return Forward(out, 1.0 - t_final, bs.visible, bs.radii, state)


@dataclass
class Frame:
    """What the per-frame blend gives (numpy)."""

    acc: np.ndarray  # [H, W, 4] accumulated colour, z
    alpha: np.ndarray  # [H, W]
    features: np.ndarray  # [ceil(H / s), ceil(W / s), D] mean blended features of each s x s block
    visible: np.ndarray  # [N] bool
    radii: np.ndarray  # [N] int32 pixels


def rasterize_frame(
    means: np.ndarray,  # [N, 3] float32
    quats: np.ndarray,  # [N, 4]
    log_scales: np.ndarray,  # [N, 3]
    opacity_logits: np.ndarray,  # [N]
    sh: np.ndarray,  # [N, K, 3]
    features: np.ndarray,  # [N, D] (D may be 0)
    cam: RasterCamera,
    stop_transmittance: float,
    feature_stride: int,
    profile: dict[str, float] | None = None,
    prepared: np.ndarray | None = None,
) -> Frame:
    """The per-frame forward (``numba_kernels_frame``): no backward state, features per block of
    ``feature_stride`` (``fk.frame_stride_ok`` must hold). ``prepared``: the rows
    ``prepare_gaussians`` gives for these Gaussians, kept from an earlier frame (None: computed,
    the stage "prepare")."""
    clock = StageClock(profile)
    if prepared is None:
        prepared = prepare_gaussians(quats, log_scales, opacity_logits)
        clock.mark("prepare")
    # colour and z only: the blend reads the features where they are (per block row, not per pixel)
    no_features = np.zeros((means.shape[0], 0), F32)
    bs = bin_splats(means, prepared, sh, no_features, cam, clock)
    w, h, s = cam.width, cam.height, feature_stride
    acc = np.empty((h, w, fk.FRAME_CHANNELS), F32)
    t_final = np.empty((h, w), F32)
    feats = np.empty(((h + s - 1) // s, (w + s - 1) // s, features.shape[1]), F32)
    entries = fk.pack_entries(bs.tile_list, bs.gpar, bs.values)
    clock.mark("pack")
    fk.blend_tiles_frame(
        bs.tile_off, bs.tile_list, entries, bs.order, features, w, h, s, acc, t_final, feats, np.float32(stop_transmittance)
    )  # fmt: skip
    clock.mark("blend")
    return Frame(acc, 1.0 - t_final, feats, bs.visible, bs.radii)


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
    ``profile`` collects the wall ms of each stage (see ``StageClock``)."""
    clock = StageClock(profile)
    means, quats, log_scales, opacity_logits, sh = arrays
    n, d = means.shape[0], v_acc.shape[-1] - nk.V_FEAT
    ent_grad = np.empty((state.tile_list.shape[0], bk.G_VAL + v_acc.shape[-1]), F32)
    bk.blend_tiles_backward(
        state.tile_off, state.tile_list, state.gpar, state.values, cam.width, cam.height,
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


def gather_forward(
    state: RasterState,
    cam: RasterCamera,
    num_gaussians: int,
    pixel_values: np.ndarray,  # [H, W, C] float32 V
) -> tuple[np.ndarray, np.ndarray]:  # [N, C], [N]
    """Per Gaussian, sum_p w(p)·V(p) and sum_p w(p) with the forward's blending weights
    (``numba_kernels_gather``); zero for Gaussians not drawn."""
    c = pixel_values.shape[-1]
    ent_sums = np.empty((state.tile_list.shape[0], c + 1), F32)
    gk.gather_tiles(
        state.tile_off, state.tile_list, state.gpar, cam.width, cam.height, state.last, pixel_values, ent_sums
    )  # fmt: skip
    sums, weight = np.zeros((num_gaussians, c), F32), np.zeros(num_gaussians, F32)
    gk.sum_entries(state.order, state.rank_off, state.rank_entry, ent_sums, sums, weight)
    return sums, weight


def _arrays(inputs: RasterInputs) -> tuple[list[np.ndarray], np.ndarray]:
    """float32 numpy copies (or views) of the Gaussian parameters, and the features [N, D >= 0]."""
    i = inputs
    arrays = [_f32(t) for t in (i.means, i.quats, i.log_scales, i.opacity_logits, i.sh)]
    feats = _f32(i.features) if i.features is not None else np.zeros((i.means.shape[0], 0), F32)
    return arrays, feats


class _RasterizeNumba(torch.autograd.Function):
    """(means, quats, log_scales, opacity_logits, sh, features|None, means2d_probe|None) ->
    (accumulated values [H, W, 4 + D], alpha [H, W], visible [N] bool, radii [N] int32)."""

    @staticmethod
    def forward(ctx, means, quats, log_scales, opacity_logits, sh, features, means2d_probe, inputs, cam):
        arrays, feats = _arrays(inputs)
        with torch_threads_kept():
            fwd = rasterize_forward(*arrays, feats, cam)
        ctx.cam, ctx.state, ctx.arrays = cam, fwd.state, arrays
        ctx.has_features, ctx.has_probe = features is not None, means2d_probe is not None
        ctx.dtypes = [t.dtype if t is not None else None for t in (means, quats, log_scales, opacity_logits, sh, features)]
        vis, radii = torch.from_numpy(fwd.visible), torch.from_numpy(fwd.radii)
        ctx.mark_non_differentiable(vis, radii)
        dtype = means.dtype
        return torch.from_numpy(fwd.acc).to(dtype), torch.from_numpy(fwd.alpha).to(dtype), vis, radii

    @staticmethod
    def backward(ctx, v_acc, v_alpha, _v_visible, _v_radii):
        with torch_threads_kept():
            grads = rasterize_backward(ctx.state, ctx.arrays, ctx.cam, _f32(v_acc), _f32(v_alpha))
        d_means, d_quats, d_scales, d_logits, d_sh, d_feats, d_xy = (torch.from_numpy(g) for g in grads)
        out = [g.to(dt) for g, dt in zip((d_means, d_quats, d_scales, d_logits, d_sh), ctx.dtypes)]
        out.append(d_feats.to(ctx.dtypes[5]) if ctx.has_features else None)
        out.append(d_xy.to(ctx.dtypes[0]) if ctx.has_probe else None)
        return (*out, None, None)


def render_numba(inputs: RasterInputs) -> RasterOutputs:
    """Render with the numba tile rasterizer (see ``contract.RasterOutputs``).

    Raises:
        ValueError: wrong shapes, non-finite camera, non-positive image size, tensors not on CPU.
    """
    _check_inputs(inputs)
    cam = raster_camera(inputs)
    i = replace(inputs, sh=inputs.sh[:, : (inputs.sh_degree + 1) ** 2])
    tensors = (i.means, i.quats, i.log_scales, i.opacity_logits, i.sh, i.features, i.means2d_probe)
    dtype = i.means.dtype
    differentiable = torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)
    if differentiable and i.stop_transmittance > 0:
        raise ValueError("stop_transmittance > 0 (the per-frame path) is not differentiable; render under no_grad")
    num_features = 0 if i.features is None else i.features.shape[1]
    if not differentiable and i.stop_transmittance > 0 and i.frame_kernel and i.pixel_values is None:
        if fk.frame_stride_ok(i.feature_stride, num_features):
            return _render_frame(i, cam)
    fwd = None
    if differentiable:
        acc, alpha, visible, radii = _RasterizeNumba.apply(*tensors, i, cam)
    else:
        fwd = _forward(i, cam)
        acc, alpha = torch.from_numpy(fwd.acc).to(dtype), torch.from_numpy(fwd.alpha).to(dtype)
        visible, radii = torch.from_numpy(fwd.visible), torch.from_numpy(fwd.radii)
    gathered = gathered_weight = None
    if i.pixel_values is not None:
        # Not differentiable; the autograd path keeps its forward state in the graph, so it is run again.
        if fwd is None:
            fwd = _forward(i, cam)
        with torch_threads_kept():
            sums, weight = gather_forward(fwd.state, cam, i.means.shape[0], _f32(i.pixel_values))
        gathered, gathered_weight = torch.from_numpy(sums).to(dtype), torch.from_numpy(weight).to(dtype)
    return RasterOutputs(
        rgb=acc[..., :3],
        depth_acc=acc[..., nk.V_DEPTH],
        alpha=alpha,
        features=acc[..., nk.V_FEAT :] if i.features is not None else None,
        visible=visible,
        radii=radii,
        gathered=gathered,
        gathered_weight=gathered_weight,
    )


def _render_frame(i: RasterInputs, cam: RasterCamera) -> RasterOutputs:
    """The per-frame path (``rasterize_frame``): features already at ``i.feature_stride``."""
    arrays, feats = _arrays(i)
    with torch_threads_kept():
        f = rasterize_frame(*arrays, feats, cam, i.stop_transmittance, i.feature_stride, prepared=_prepared(i, arrays))
    dtype = i.means.dtype
    acc = torch.from_numpy(f.acc).to(dtype)
    return RasterOutputs(
        rgb=acc[..., :3],
        depth_acc=acc[..., nk.V_DEPTH],
        alpha=torch.from_numpy(f.alpha).to(dtype),
        features=torch.from_numpy(f.features).to(dtype) if i.features is not None else None,
        visible=torch.from_numpy(f.visible),
        radii=torch.from_numpy(f.radii),
        feature_stride=i.feature_stride if i.features is not None else 1,
    )


def _forward(inputs: RasterInputs, cam: RasterCamera) -> Forward:
    """The forward kernels on ``inputs`` (no autograd)."""
    arrays, feats = _arrays(inputs)
    with torch_threads_kept():
        return rasterize_forward(
            *arrays, feats, cam, stop_transmittance=inputs.stop_transmittance, prepared=_prepared(inputs, arrays)
        )
