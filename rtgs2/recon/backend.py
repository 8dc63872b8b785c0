"""Which renderer a fit uses: ``auto`` = gsplat on CUDA, numba on CPU when its backward pass
exists, else the pure-torch reference (correct but slow: tiny images only)."""

from __future__ import annotations

import functools
import importlib.util

import torch

from rtgs2.render import RasterSettings, render
from rtgs2.scene.camera import Camera
from rtgs2.scene.gaussians import GaussianScene

PROBE_SIZE = 8  # pixels per side of the image that probes the numba backward


@functools.lru_cache(maxsize=1)
def numba_backward_available() -> bool:
    """True if ``render(backend="numba")`` gives gradients for the scene and the 2D means.

    Probed once with one Gaussian on an 8×8 image rather than by version checks, so the
    answer follows the code that is actually installed."""
    if importlib.util.find_spec("rtgs2.render.numba_backend") is None:
        return False
    scene = GaussianScene.from_activated(
        torch.tensor([[0.0, 0.0, 2.0]]), torch.full((1, 3), 0.3), torch.tensor([[1.0, 0, 0, 0]]),
        torch.tensor([0.8]), torch.tensor([[0.6, 0.4, 0.2]]),
    )  # fmt: skip
    params = [t.requires_grad_() for t in (scene.means, scene.log_scales, scene.opacity_logits, scene.sh)]
    cam = Camera.look_at((0, 0, 0), (0, 0, 1), up=(0, -1, 0), fov_x_deg=60, width=PROBE_SIZE, height=PROBE_SIZE)
    try:
        out = render(scene, cam, backend="numba", settings=RasterSettings(track_means2d_grad=True))
        out.rgb.sum().backward()
    except Exception:  # no backward yet (NotImplementedError, RuntimeError "does not require grad", ...)
        return False
    grads = [p.grad for p in params] + [None if out.means2d_probe is None else out.means2d_probe.grad]
    return all(g is not None and bool(torch.isfinite(g).all()) for g in grads) and bool(params[2].grad.abs().sum() > 0)


def choose_backend(requested: str, device: torch.device) -> str:
    """The concrete backend for a fit on ``device``."""
    if requested != "auto":
        return requested
    if device.type == "cuda" and importlib.util.find_spec("gsplat") is not None:
        return "gsplat"
    return "numba" if numba_backward_available() else "reference"
