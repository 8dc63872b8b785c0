"""The contract between ``render()`` and its backends: one named structure in, one out.

Every backend (``numba_backend.render_numba``, ``gsplat_backend.render_gsplat``,
``reference.render_reference``) is a ``BackendFn``: ``RasterInputs -> RasterOutputs``. A new
input or output is one field here, filled by each backend; nothing is passed or read by position.

This module imports no torch at run time, so that configs (``rtgs2.recon.config``, read by the
CLI's ``--help``) can name the backends cheaply.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from torch import Tensor

Backend = Literal["auto", "numba", "reference", "gsplat"]
"""A renderer as users name it; ``auto``: gsplat for a CUDA scene with gsplat installed, else numba."""
BACKENDS = ("numba", "reference", "gsplat")  # the concrete backends ``auto`` chooses among


@dataclass(frozen=True)
class RasterInputs:
    """One rasterization call. Tensors share the scene's dtype and device."""

    means: Tensor  # [N, 3] world, metres
    quats: Tensor  # [N, 4] wxyz, not necessarily unit
    log_scales: Tensor  # [N, 3] log std-devs, log-metres
    opacity_logits: Tensor  # [N]
    sh: Tensor  # [N, K, 3], K >= (sh_degree + 1)^2
    features: Tensor | None  # [N, D] blended like colour, or None
    world_to_cam: Tensor  # [4, 4] OpenCV camera
    K: Tensor  # [3, 3] intrinsics, pixels
    width: int  # pixels
    height: int  # pixels
    sh_degree: int  # 0..3, the degree evaluated
    near_plane: float  # metres; camera z at or below it is culled
    far_plane: float  # metres; camera z at or beyond it is culled
    means2d_probe: Tensor | None = None  # [N, 2] zeros; its .grad becomes dL/d(2D means), px
    pixel_values: Tensor | None = None  # [H, W, C] per-pixel values V to sum onto the Gaussians (outputs gathered*)
    stop_transmittance: float = 0.0  # a pixel also stops once T falls to this (RasterSettings; 0 = never)
    feature_stride: int = 1  # the features are wanted as the mean of each s x s block (a backend may ignore it)
    frame_kernel: bool = True  # numba: with stop_transmittance > 0, its per-frame kernel (RasterSettings)


@dataclass(frozen=True)
class RasterOutputs:
    """What every backend returns: accumulated (unnormalised) images, no background."""

    rgb: Tensor  # [H, W, 3] sum of w·colour
    depth_acc: Tensor  # [H, W] sum of w·z, metres (divide by alpha for the expected depth)
    alpha: Tensor  # [H, W] 1 - final transmittance
    # [H, W, D] sum of w·feature ([ceil(H / s), ceil(W / s), D] block means at feature_stride s > 1);
    # None without input features
    features: Tensor | None
    visible: Tensor  # [N] bool: can reach alpha >= 1/255 somewhere in the image
    radii: Tensor  # [N] int32 pixels: half-side of the alpha >= 1/255 box used for tile binning, 0 if culled
    # With inputs.pixel_values V, per Gaussian i the sums over pixels p of its blending weight
    # w_i(p) = T_i(p)·alpha_i(p) (the weight its colour is blended with) times V(p), and of w_i(p)
    # alone; None without V. Equal to d/dF sum_p <V(p), features rendered at p> (F: per-Gaussian features).
    gathered: Tensor | None = None  # [N, C] sum_p w_i(p)·V(p)
    gathered_weight: Tensor | None = None  # [N] sum_p w_i(p), pixels
    feature_stride: int = 1  # the stride s the features come at: inputs.feature_stride if the backend honoured it, else 1


BackendFn = Callable[[RasterInputs], RasterOutputs]
