"""``render()``: one rasterization pass giving colour, depth, alpha and features."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from rtgs2.render.constants import FAR_PLANE, NEAR_PLANE
from rtgs2.scene.camera import Camera
from rtgs2.scene.gaussians import GaussianScene

Backend = Literal["auto", "numba", "reference", "gsplat"]
BACKENDS = ("numba", "reference", "gsplat")


@dataclass(frozen=True)
class RasterSettings:
    """Rarely changed rasterization knobs."""

    near_plane: float = NEAR_PLANE
    """Gaussians with camera z at or below this are culled, metres."""
    far_plane: float = FAR_PLANE
    """Gaussians with camera z at or beyond this are culled, metres."""
    track_means2d_grad: bool = False
    """Return ``RenderOutput.means2d_probe`` whose ``.grad`` after backward is dL/d(2D means), px
    (what 3DGS densification accumulates)."""


@dataclass
class RenderOutput:
    """A rendered view. All tensors on the scene's device, float32 (or the scene's dtype).

    - ``rgb``      [H, W, 3] colour in [0, ~1], background composited with the final transmittance
    - ``depth``    [H, W] expected camera z of the blended Gaussians, metres (0 where alpha = 0)
    - ``alpha``    [H, W] accumulated opacity, 1 - final transmittance
    - ``features`` [H, W, D] alpha-blended features, no background; None if none were rendered
    - ``visible``  [N] bool, Gaussians that can reach alpha >= 1/255 somewhere in the image
    - ``means2d_probe`` [N, 2] zeros in the graph (with ``track_means2d_grad``): after
      ``backward()`` its ``.grad`` is the gradient w.r.t. the projected 2D means, pixels
    """

    rgb: Tensor
    depth: Tensor
    alpha: Tensor
    features: Tensor | None = None
    visible: Tensor | None = None
    means2d_probe: Tensor | None = None


def cuda_available_for(scene: GaussianScene) -> bool:
    return scene.device.type == "cuda" and importlib.util.find_spec("gsplat") is not None


def resolve_backend(backend: Backend, scene: GaussianScene) -> str:
    """The backend ``auto`` picks: gsplat for a CUDA scene with gsplat installed, else numba."""
    if backend == "auto":
        return "gsplat" if cuda_available_for(scene) else "numba"
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {('auto',) + BACKENDS}, got {backend!r}")
    if backend == "gsplat" and not cuda_available_for(scene):
        raise RuntimeError("backend 'gsplat' needs the scene on a CUDA device and gsplat installed ([cuda] extra)")
    if backend == "numba" and scene.device.type != "cpu":
        raise ValueError(f"backend 'numba' runs on the CPU; the scene is on {scene.device}")
    return backend


def render(
    scene: GaussianScene,
    camera: Camera,
    *,
    features: Tensor | None = None,  # [N, D]; default: scene.features
    sh_degree: int | None = None,  # default: the scene's degree
    background: Tensor | tuple[float, float, float] | None = None,  # [3] RGB; default black
    backend: Backend = "auto",
    settings: RasterSettings = RasterSettings(),
) -> RenderOutput:
    """Render colour, depth, alpha and (optionally) features of ``scene`` seen by ``camera``.

    All outputs come from ONE rasterization pass with the same blending weights. Features
    default to ``scene.features``. Gaussians behind the camera or off-screen contribute
    nothing; a view with no visible Gaussian gives alpha = 0 everywhere (not an error).
    Differentiable w.r.t. the scene's tensors (and ``features``) on the reference backend
    (autograd) and on backends that implement a backward pass.

    Raises:
        ValueError: shapes that do not match (naming the argument, expected and actual shape),
            an SH degree above the scene's, a bad background.
    """
    if not isinstance(scene, GaussianScene):
        raise TypeError(f"scene must be a GaussianScene, got {type(scene).__name__}")
    if not isinstance(camera, Camera):
        raise TypeError(f"camera must be a Camera, got {type(camera).__name__}")
    feats = scene.features if features is None else features
    n = scene.num_gaussians
    if feats is not None and (feats.ndim != 2 or feats.shape[0] != n):
        raise ValueError(f"features must have shape [N={n}, D], got {list(feats.shape)}")
    degree = scene.sh_degree if sh_degree is None else int(sh_degree)
    if not 0 <= degree <= scene.sh_degree:
        raise ValueError(f"sh_degree must be in 0..{scene.sh_degree} (the scene's degree), got {sh_degree}")
    dtype, device = scene.means.dtype, scene.device
    bg = None
    if background is not None:
        bg = torch.as_tensor(background, dtype=dtype, device=device)
        if bg.shape != (3,):
            raise ValueError(f"background must have shape [3], got {list(bg.shape)}")
    name = resolve_backend(backend, scene)
    if name == "numba":
        from rtgs2.render.numba_backend import render_numba as fn
    elif name == "gsplat":
        from rtgs2.render.gsplat_backend import render_gsplat as fn
    else:
        from rtgs2.render.reference import render_reference as fn
    k = (degree + 1) ** 2
    probe = None
    if settings.track_means2d_grad:
        probe = torch.zeros(n, 2, dtype=dtype, device=device, requires_grad=True)
    rgb, depth_acc, alpha, feat_img, visible = fn(
        scene.means,
        scene.quats,
        scene.log_scales,
        scene.opacity_logits,
        scene.sh[:, :k],
        feats,
        camera.world_to_cam.to(device=device, dtype=dtype),
        camera.K.to(device=device, dtype=dtype),
        camera.width,
        camera.height,
        degree,
        settings.near_plane,
        settings.far_plane,
        probe,
    )
    if bg is not None:
        rgb = rgb + (1 - alpha).unsqueeze(-1) * bg
    # Safe division: the unselected branch of where() would still pass NaN gradients.
    depth = depth_acc / torch.where(alpha > 0, alpha, torch.ones_like(alpha))
    return RenderOutput(rgb=rgb, depth=depth, alpha=alpha, features=feat_img, visible=visible, means2d_probe=probe)
