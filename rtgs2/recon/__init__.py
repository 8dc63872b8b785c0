"""Stage recon: fit a GaussianScene to posed images (3DGS optimisation and densification).

Names are imported on first use, so that ``rtgs2.recon.config`` (which the CLI reads to build
its ``--help``) loads without torch or the renderers.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "ReconConfig": "rtgs2.recon.config",
    "Schedule": "rtgs2.recon.config",
    "NonFiniteError": "rtgs2.recon.fit",
    "fit_gaussians": "rtgs2.recon.fit",
    "points_from_depth": "rtgs2.recon.init",
    "photometric_loss": "rtgs2.recon.losses",
    "psnr": "rtgs2.recon.losses",
    "ssim": "rtgs2.recon.losses",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'rtgs2.recon' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)


def __dir__() -> list[str]:
    return __all__
