"""Rendering of Gaussian scenes: colour, depth, alpha and features in one pass.

Names are imported on first use, so that ``rtgs2.render.contract`` (which configs read for the
backend names) loads without torch or the kernels.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "BACKENDS": "rtgs2.render.contract",
    "Backend": "rtgs2.render.contract",
    "RasterInputs": "rtgs2.render.contract",
    "RasterOutputs": "rtgs2.render.contract",
    "Gathered": "rtgs2.render.api",
    "RasterSettings": "rtgs2.render.api",
    "RenderOutput": "rtgs2.render.api",
    "default_device": "rtgs2.render.api",
    "gather_to_gaussians": "rtgs2.render.api",
    "raster_inputs": "rtgs2.render.api",
    "render": "rtgs2.render.api",
    "resolve_backend": "rtgs2.render.api",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'rtgs2.render' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)


def __dir__() -> list[str]:
    return __all__
