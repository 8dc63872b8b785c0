"""Rasterization constants shared by every backend: the rules of gsplat and the INRIA rasterizer."""

ALPHA_MIN = 1.0 / 255.0  # a splat fainter than one 8-bit level is skipped (INRIA, gsplat)
ALPHA_MAX = 0.999  # cap so that 1 - alpha never reaches 0 (INRIA; gsplat >= 1.x uses 0.99)
T_MIN = 1e-4  # stop blending once transmittance would fall to this (INRIA, gsplat)
COV2D_BLUR = 0.3  # px^2 added to the 2D covariance: a splat covers at least ~one pixel (INRIA)
NEAR_PLANE = 0.01  # metres; Gaussians with camera z <= this are culled (gsplat default)
FAR_PLANE = 1e10  # metres; Gaussians beyond are culled (gsplat default)
FRUSTUM_SLACK = 0.3  # the projection Jacobian clamps x/z, y/z to 1.3x the half-FOV (INRIA, gsplat)
COLOR_OFFSET = 0.5  # SH colour + 0.5, then clamped at 0 (INRIA)
TILE_SIZE = 16  # pixels per tile side in the tile-based backends
