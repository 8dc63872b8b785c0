"""``render()``: one rasterization pass giving colour, depth, alpha and features."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, replace

import torch
from torch import Tensor

from rtgs2.render.constants import FAR_PLANE, NEAR_PLANE
from rtgs2.render.contract import BACKENDS, Backend, BackendFn, RasterInputs, RasterOutputs
from rtgs2.scene.camera import Camera
from rtgs2.scene.gaussians import GaussianScene, all_finite
from rtgs2.utils.errors import UserError


@dataclass(frozen=True)
class RasterSettings:
    """Rarely changed rasterization knobs."""

    near_plane: float = NEAR_PLANE
    """Gaussians with camera z at or below this are culled, metres."""
    far_plane: float = FAR_PLANE
    """Gaussians with camera z at or beyond this are culled, metres."""
    stop_transmittance: float = 0.0
    """Besides INRIA's rule (a pixel stops before a splat would take its transmittance T to 1e-4
    or below), stop a pixel once a splat it blended took T to this or below: the splats left could
    add at most T times their largest colour (``PER_FRAME``: under one 8-bit level). 0 = never
    (training, and every render but the per-frame path's). Numba and reference backends, without
    gradients; gsplat ignores it. With it > 0 the numba backend blends with its per-frame kernel
    (``numba_kernels_frame``: SIMD, a polynomial exp of relative error 3e-6, features summed per
    ``feature_stride`` block)."""
    frame_kernel: bool = True
    """With ``stop_transmittance`` > 0, blend with the numba backend's per-frame kernel (above);
    False: its exact kernel, features averaged to ``feature_stride`` afterwards (for comparison)."""
    track_means2d_grad: bool = False
    """Return ``RenderOutput.means2d_probe`` whose ``.grad`` after backward is dL/d(2D means), px
    (what 3DGS densification accumulates)."""


PER_FRAME = RasterSettings(stop_transmittance=1.0 / 255.0)
"""The settings of the per-frame path (segmenting, the viewer, the views fusion training reads):
a pixel stops once the splats left could change its colour by under one 8-bit level."""


@dataclass
class RenderOutput:
    """A rendered view. All tensors on the scene's device, float32 (or the scene's dtype).

    - ``rgb``      [H, W, 3] colour in [0, ~1], background composited with the final transmittance
    - ``depth``    [H, W] expected camera z of the blended Gaussians, metres (0 where alpha = 0)
    - ``alpha``    [H, W] accumulated opacity, 1 - final transmittance
    - ``features`` [H, W, D] alpha-blended features, no background ([ceil(H / s), ceil(W / s), D]
      with ``feature_stride`` s); None if none were rendered
    - ``visible``  [N] bool, Gaussians that can reach alpha >= 1/255 somewhere in the image
    - ``radii``    [N] int32 screen radius, pixels: half-side of the alpha >= 1/255 box the
      Gaussian's tiles were chosen by (the larger axis, rounded up); 0 where not visible
    - ``means2d_probe`` [N, 2] zeros in the graph (with ``track_means2d_grad``): after
      ``backward()`` its ``.grad`` is the gradient w.r.t. the projected 2D means, pixels
    """

    rgb: Tensor
    depth: Tensor
    alpha: Tensor
    features: Tensor | None = None
    visible: Tensor | None = None
    radii: Tensor | None = None
    means2d_probe: Tensor | None = None


def _gsplat_installed() -> bool:
    return importlib.util.find_spec("gsplat") is not None


def default_device(backend: Backend = "auto") -> torch.device:
    """The device to build a scene on for ``backend``: CUDA when the backend may be gsplat
    (``auto`` or ``gsplat``) and CUDA and gsplat are both present, else the CPU."""
    if backend in ("auto", "gsplat") and torch.cuda.is_available() and _gsplat_installed():
        return torch.device("cuda")
    return torch.device("cpu")


def resolve_backend(backend: Backend, device: torch.device | str) -> str:
    """The concrete backend for a scene on ``device``: ``auto`` is gsplat for a CUDA scene with
    gsplat installed, else numba. The one place a backend is chosen: a backend that cannot run
    raises here rather than falling back to another.

    Raises:
        UserError: an unknown name, numba asked for a scene off the CPU, or gsplat asked for
            without a CUDA scene or without gsplat installed (a user's choice, not a bug).
    """
    device = torch.device(device)
    gsplat_ok = device.type == "cuda" and _gsplat_installed()
    if backend == "auto":
        return "gsplat" if gsplat_ok else "numba"
    if backend not in BACKENDS:
        raise UserError(f"backend must be one of {('auto',) + BACKENDS}, got {backend!r}")
    if backend == "gsplat" and not gsplat_ok:
        raise UserError(
            f"backend 'gsplat' needs the scene on a CUDA device (it is on {device}) and gsplat installed "
            "(pip install -e '.[cuda]'); use --backend numba on a CPU"
        )
    if backend == "numba" and device.type != "cpu":
        raise UserError(f"backend 'numba' runs on the CPU; the scene is on {device}")
    return backend


def backend_fn(name: str) -> BackendFn:
    """The function of a concrete backend (imported on first use: numba and gsplat are heavy)."""
    if name == "numba":
        from rtgs2.render.numba_backend import render_numba

        return render_numba
    if name == "gsplat":
        from rtgs2.render.gsplat_backend import render_gsplat

        return render_gsplat
    if name == "reference":
        from rtgs2.render.reference import render_reference

        return render_reference
    raise ValueError(f"backend must be one of {BACKENDS}, got {name!r}")


_SCENE_TENSORS = ("means", "quats", "log_scales", "opacity_logits", "sh", "features")


def _check_features(features: Tensor, n: int, device: torch.device) -> None:
    """The ``features`` argument of ``render``: [N, D] floating point, finite, on the scene's device."""
    if not isinstance(features, torch.Tensor):
        raise TypeError(f"features must be a torch.Tensor [N={n}, D], got {type(features).__name__}")
    if features.ndim != 2 or features.shape[0] != n:
        raise ValueError(f"features must have shape [N={n}, D], got {list(features.shape)}")
    if not features.is_floating_point():
        raise ValueError(f"features must be a floating-point tensor, got {features.dtype} (convert with .float())")
    if features.device != device:
        raise ValueError(f"features are on {features.device} but the scene is on {device}")
    if not all_finite(features):
        bad = int((~torch.isfinite(features)).any(dim=1).sum())
        raise ValueError(f"features have non-finite values (NaN or Inf) in {bad} of {n} Gaussians")


def raster_inputs(
    scene: GaussianScene,
    camera: Camera,
    *,
    features: Tensor | None = None,  # [N, D]; default: scene.features
    sh_degree: int | None = None,  # default: the scene's degree
    settings: RasterSettings = RasterSettings(),
    feature_stride: int = 1,
) -> RasterInputs:
    """The backend inputs of one view, checked (see ``render`` for the arguments and errors)."""
    if isinstance(feature_stride, bool) or not isinstance(feature_stride, int) or feature_stride < 1:
        raise ValueError(f"feature_stride must be an integer >= 1, got {feature_stride!r}")
    if not 0.0 <= settings.stop_transmittance < 1.0:
        raise ValueError(f"stop_transmittance must lie in [0, 1), got {settings.stop_transmittance!r}")
    if not isinstance(scene, GaussianScene):
        raise TypeError(f"scene must be a GaussianScene, got {type(scene).__name__}")
    if not isinstance(camera, Camera):
        raise TypeError(f"camera must be a Camera, got {type(camera).__name__}")
    for name in _SCENE_TENSORS:  # checked when the scene was built, but a field may have been reassigned
        t = getattr(scene, name)
        if t is not None and not t.is_floating_point():
            raise ValueError(f"scene.{name} must be a floating-point tensor, got {t.dtype}")
    n = scene.num_gaussians
    if features is not None:
        _check_features(features, n, scene.device)
    feats = scene.features if features is None else features
    degree = scene.sh_degree if sh_degree is None else int(sh_degree)
    if not 0 <= degree <= scene.sh_degree:
        raise ValueError(f"sh_degree must be in 0..{scene.sh_degree} (the scene's degree), got {sh_degree}")
    dtype, device = scene.means.dtype, scene.device
    probe = None
    if settings.track_means2d_grad:
        probe = torch.zeros(n, 2, dtype=dtype, device=device, requires_grad=True)
    return RasterInputs(
        means=scene.means,
        quats=scene.quats,
        log_scales=scene.log_scales,
        opacity_logits=scene.opacity_logits,
        sh=scene.sh[:, : (degree + 1) ** 2],
        features=feats,
        world_to_cam=camera.world_to_cam.to(device=device, dtype=dtype),
        K=camera.K.to(device=device, dtype=dtype),
        width=camera.width,
        height=camera.height,
        sh_degree=degree,
        near_plane=settings.near_plane,
        far_plane=settings.far_plane,
        means2d_probe=probe,
        stop_transmittance=settings.stop_transmittance,
        feature_stride=feature_stride,
        frame_kernel=settings.frame_kernel,
    )


def render(
    scene: GaussianScene,
    camera: Camera,
    *,
    features: Tensor | None = None,  # [N, D]; default: scene.features
    sh_degree: int | None = None,  # default: the scene's degree
    background: Tensor | tuple[float, float, float] | None = None,  # [3] RGB; default black
    backend: Backend = "auto",
    settings: RasterSettings = RasterSettings(),
    feature_stride: int = 1,
) -> RenderOutput:
    """Render colour, depth, alpha and (optionally) features of ``scene`` seen by ``camera``.

    All outputs come from ONE rasterization pass with the same blending weights. Features
    default to ``scene.features``; with ``feature_stride`` s > 1 they come as the mean of each
    s x s block, [ceil(H / s), ceil(W / s), D] (``average_features``: the fusion network reads Z
    at a quarter of the image's resolution). Gaussians behind the camera or off-screen contribute
    nothing; a view with no visible Gaussian gives alpha = 0 everywhere (not an error).
    Differentiable w.r.t. the scene's tensors (and ``features``) on the reference backend
    (autograd) and on backends that implement a backward pass.

    ``features`` given here are checked for NaN/Inf, one pass over them (a scene's own features
    were checked once, when it was built: the cheaper way to render many views).

    Raises:
        ValueError: shapes that do not match (naming the argument, expected and actual shape),
            features that are not floating point or not finite, an SH degree above the scene's,
            a bad or non-finite background.
        TypeError: a scene, camera or features of the wrong type.
    """
    inputs = raster_inputs(
        scene, camera, features=features, sh_degree=sh_degree, settings=settings, feature_stride=feature_stride
    )  # fmt: skip
    dtype, device = scene.means.dtype, scene.device
    bg = None
    if background is not None:
        bg = torch.as_tensor(background, dtype=dtype, device=device)
        if bg.shape != (3,):
            raise ValueError(f"background must have shape [3], got {list(bg.shape)}")
        if not bool(torch.isfinite(bg).all()):
            raise ValueError(f"background must be finite, got {bg.tolist()}")
    out: RasterOutputs = backend_fn(resolve_backend(backend, scene.device))(inputs)
    rgb, alpha = out.rgb, out.alpha
    if bg is not None:
        rgb = rgb + (1 - alpha).unsqueeze(-1) * bg
    # Safe division: the unselected branch of where() would still pass NaN gradients.
    depth = out.depth_acc / torch.where(alpha > 0, alpha, 1.0)
    return RenderOutput(
        rgb=rgb,
        depth=depth,
        alpha=alpha,
        features=_at_stride(out, feature_stride),
        visible=out.visible,
        radii=out.radii,
        means2d_probe=inputs.means2d_probe,
    )


def _at_stride(out: RasterOutputs, stride: int) -> Tensor | None:
    """The backend's features at ``stride``: as they come where the backend honoured it."""
    if out.features is None or out.feature_stride == stride:
        return out.features
    return average_features(out.features, stride)


def average_features(features: Tensor, stride: int) -> Tensor:
    """Mean of each ``stride`` x ``stride`` block of a feature image [..., H, W, D] ->
    [..., ceil(H / s), ceil(W / s), D] (edge blocks: the mean of the pixels they hold): what
    ``render(..., feature_stride=s)`` gives."""
    if stride == 1:
        return features
    lead = features.shape[:-3]
    x = features.reshape(-1, *features.shape[-3:]).permute(0, 3, 1, 2)
    x = torch.nn.functional.avg_pool2d(x, stride, ceil_mode=True).permute(0, 2, 3, 1)
    return x.reshape(*lead, *x.shape[1:])


@dataclass
class Gathered:
    """Per-pixel values summed back onto the Gaussians with their blending weights (``gather_to_gaussians``).

    - ``sums``   [N, C] per Gaussian i, sum over pixels p of w_i(p)·V(p)
    - ``weight`` [N] sum over pixels of w_i(p), pixels (0 for a Gaussian the view does not draw)
    """

    sums: Tensor
    weight: Tensor


def gather_to_gaussians(
    scene: GaussianScene,
    camera: Camera,
    values: Tensor,  # [H, W, C] per-pixel values V, e.g. one-hot labels
    *,
    backend: Backend = "auto",
    settings: RasterSettings = RasterSettings(),
) -> Gathered:
    """Sum ``values`` onto the Gaussians of ``scene`` seen by ``camera``, each pixel's value
    weighted by each Gaussian's blending weight there, w_i = T_i·alpha_i: the weight ``render``
    blends its colour and features with, so that sum_i w_i = alpha at every pixel.

    The sums equal the gradient of sum_p <V(p), Z(p)> w.r.t. per-Gaussian features F, where Z is
    the feature image ``render`` blends from F. Not differentiable. Colour and features do not
    enter: the scene is rendered at SH degree 0 without features.

    Raises:
        ValueError: ``values`` not floating point, not finite, or not [H, W, C] of the camera,
            plus what ``render`` raises.
        TypeError: a scene, camera or values of the wrong type.
    """
    if not isinstance(values, torch.Tensor):
        raise TypeError(f"values must be a torch.Tensor [H, W, C], got {type(values).__name__}")
    if values.ndim != 3 or tuple(values.shape[:2]) != (camera.height, camera.width):
        raise ValueError(f"values must have shape [H={camera.height}, W={camera.width}, C], got {list(values.shape)}")
    if not values.is_floating_point():
        raise ValueError(f"values must be a floating-point tensor, got {values.dtype} (convert with .float())")
    if not all_finite(values):
        raise ValueError("values have non-finite entries (NaN or Inf)")
    inputs = raster_inputs(scene, camera, sh_degree=0, settings=settings)
    pixel_values = values.detach().to(device=scene.device, dtype=scene.means.dtype)
    inputs = replace(inputs, features=None, pixel_values=pixel_values)
    with torch.no_grad():
        out: RasterOutputs = backend_fn(resolve_backend(backend, scene.device))(inputs)
    return Gathered(out.gathered, out.gathered_weight)
