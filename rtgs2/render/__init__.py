"""Rendering of Gaussian scenes: colour, depth, alpha and features in one pass.

Names are imported on first use, so that ``rtgs2.render.contract`` (which configs read for the
backend names) loads without torch or the kernels.
"""

from rtgs2.utils.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "BACKENDS": "rtgs2.render.contract",
    "Backend": "rtgs2.render.contract",
    "RasterInputs": "rtgs2.render.contract",
    "RasterOutputs": "rtgs2.render.contract",
    "Gathered": "rtgs2.render.api",
    "PER_FRAME": "rtgs2.render.api",
    "RasterSettings": "rtgs2.render.api",
    "RenderOutput": "rtgs2.render.api",
    "average_features": "rtgs2.render.api",
    "default_device": "rtgs2.render.api",
    "gather_to_gaussians": "rtgs2.render.api",
    "raster_inputs": "rtgs2.render.api",
    "render": "rtgs2.render.api",
    "resolve_backend": "rtgs2.render.api",
})
