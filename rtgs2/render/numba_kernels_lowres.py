"""Numba kernel of the coarse feature pass: the sorted splats of a render, re-parameterised for a
camera ``stride`` times coarser (checked by ``reference.py`` through
``projection.downsample_projection``).

The fusion network reads the feature image Z at a quarter of the image's resolution (its Z stem
has stride 4), so the renderer blends the D feature channels only at those pixels: the projected,
depth-sorted splats of the colour pass are scaled down (``coarse_splats``), binned and blended
again by ``numba_kernels.bin_tiles`` / ``blend_tiles`` at the coarse size, about 1/stride^2 of
the (pixel, splat) visits of blending the features at full resolution.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from rtgs2.render.constants import ALPHA_MIN, COARSE_BLUR, COV2D_BLUR
from rtgs2.render.numba_kernels import (
    LEVEL_PAD, NUM_PARAMS, P_A, P_B, P_C, P_COL_HALF, P_EXT_DY, P_OPAC, P_ROW_HALF, P_SPAN_Q0, P_SPAN_Q1,
    P_SPAN_SLOPE, P_X, P_Y,
)  # fmt: skip
import rtgs2.render.constants as constants
import rtgs2.render.numba_kernels as numba_kernels
from rtgs2.utils.numba_cache import compiled_with

INLINED_SOURCES = compiled_with(__file__, constants.__file__, numba_kernels.__file__)


@njit(parallel=True, cache=True)
def coarse_splats(
    gpar,  # [M, NUM_PARAMS] blend parameters of the full-resolution pass, depth order
    order,  # [M] int32 Gaussian id of each depth rank
    features,  # [N, D] float32 per-Gaussian features
    stride,  # int >= 1
    blur,  # px^2 of the coarse image added to the scaled, unblurred covariance
    alpha_min,  # the coarse pass's alpha cut (``coarse_alpha_min``)
    out_gpar,  # out [M, NUM_PARAMS] blend parameters at the coarse camera
    out_values,  # out [M, D] features in depth order
):
    """Per depth rank: the splat at the coarse camera (``projection.downsample_projection``:
    mean / stride, unblurred covariance / stride^2 + ``blur``, opacity times sqrt of the
    determinants' ratio) with its padded ellipse (where alpha >= ``alpha_min``), and its features.
    A splat whose coarse opacity falls below ``alpha_min`` gets an empty ellipse (no rows), so
    binning and blending skip it."""
    m = gpar.shape[0]
    d = features.shape[1]
    s2 = float(stride) * float(stride)
    for r in prange(m):
        g = order[r]
        for k in range(d):
            out_values[r, k] = features[g, k]
        # blurred covariance from the conic (its inverse), then the coarse one
        ca, cb, cc = float(gpar[r, P_A]), float(gpar[r, P_B]), float(gpar[r, P_C])
        det_conic = ca * cc - cb * cb
        ra, rb, rc = (cc / det_conic - COV2D_BLUR) / s2, -cb / det_conic / s2, (ca / det_conic - COV2D_BLUR) / s2
        a, b, c = ra + blur, rb, rc + blur
        det = a * c - b * b
        det_raw = ra * rc - rb * rb
        o = float(gpar[r, P_OPAC]) * math.sqrt(max(det_raw, 0.0) / det) if det > 0.0 else 0.0
        for k in range(NUM_PARAMS):
            out_gpar[r, k] = 0.0
        out_gpar[r, P_X] = gpar[r, P_X] / stride
        out_gpar[r, P_Y] = gpar[r, P_Y] / stride
        if not o >= alpha_min:
            out_gpar[r, P_ROW_HALF] = -1.0  # no row: binned nowhere, blended nowhere
            out_gpar[r, P_SPAN_Q0] = -1.0
            continue
        # as numba_kernels.project_gaussians
        level = math.log(max(o / alpha_min, 1.0))
        inv_det, inv_c = 1.0 / det, 1.0 / c
        pad2 = 2.0 * (level * (1.0 + LEVEL_PAD) + LEVEL_PAD)
        col_half = math.sqrt(pad2 * a)
        out_gpar[r, P_A], out_gpar[r, P_B], out_gpar[r, P_C] = c * inv_det, -b * inv_det, a * inv_det
        out_gpar[r, P_OPAC] = o
        out_gpar[r, P_SPAN_SLOPE] = b * inv_c
        out_gpar[r, P_SPAN_Q0] = pad2 * det * inv_c
        out_gpar[r, P_SPAN_Q1] = det * inv_c * inv_c
        out_gpar[r, P_ROW_HALF] = math.sqrt(pad2 * c)
        out_gpar[r, P_COL_HALF] = col_half
        out_gpar[r, P_EXT_DY] = b * col_half / a


def coarse_alpha_min(stride: int) -> np.float32:
    """The alpha cut of the coarse pass: ALPHA_MIN / stride^2. A splat at the 1/255 cut in one
    fine pixel adds 1/255 / stride^2 to the mean of the stride x stride pixels it is in; with the
    fine cut, the many small splats of a real capture, whose mass-preserving coarse opacity falls
    below 1/255, would vanish from Z (measured on the donut: mean |dZ| / |Z| 0.39 at stride 4)."""
    return np.float32(ALPHA_MIN / stride**2)


def coarse_size(width: int, height: int, stride: int) -> tuple[int, int]:
    """(width, height) of the coarse image: ceil of each divided by ``stride``."""
    return -(-width // stride), -(-height // stride)

