"""Stage recon: fit a GaussianScene to posed images (3DGS optimisation and densification).

Names are imported on first use, so that ``rtgs2.recon.config`` (which the CLI reads to build
its ``--help``) loads without torch or the renderers.
"""

from rtgs2.utils.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "ReconConfig": "rtgs2.recon.config",
    "Schedule": "rtgs2.recon.config",
    "NonFiniteError": "rtgs2.recon.fit",
    "fit_gaussians": "rtgs2.recon.fit",
    "points_from_depth": "rtgs2.recon.init",
    "photometric_loss": "rtgs2.recon.losses",
    "psnr": "rtgs2.recon.losses",
    "ssim": "rtgs2.recon.losses",
})
