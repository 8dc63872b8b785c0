"""Numba CPU kernels that sum per-pixel values back onto the Gaussians with their blending weights
(checked by ``reference.gather``; ``contract.RasterOutputs.gathered``).

Given V [H, W, C], each Gaussian i gets sum_p w_i(p)·V(p) and sum_p w_i(p), with
w_i(p) = T_i(p)·alpha_i(p) the weight the forward blends its colour with. Two steps, after the
forward kernels of ``numba_kernels.py`` (whose tile lists and per-pixel last splat they reuse):

1. ``gather_tiles``    per tile (parallel): each pixel is walked front to back up to its last
   blended splat, recomputing alpha and T with the forward's float32 operations (so the same
   splats are skipped and the same weights found); w·V and w are summed over the tile's pixels
   into that (tile, splat) entry's row: no atomics, and the result does not depend on the thread count.
2. ``sum_entries``     per Gaussian (parallel): the sum of its entries' rows.

The same sums are the gradient of sum_p <V(p), rendered features(p)> w.r.t. the features, which
the backward kernels also compute; these kernels skip the rest of the backward (the alpha and
geometry gradients), a fraction of its cost.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from rtgs2.render.constants import TILE_SIZE
from rtgs2.render.numba_kernels import (
    F32_HALF,
    F32_ONE,
    P_A,
    P_B,
    P_C,
    P_OPAC,
    P_X,
    P_Y,
    WORK_ITEMS,
    row_range,
    row_span,
    splat_alpha,
    tile_rect,
)
import rtgs2.render.constants as constants
import rtgs2.render.numba_kernels as nk
import rtgs2.scene.sh as sh
from rtgs2.utils.numba_cache import compiled_with

# the kernels inline the helpers of numba_kernels.py and the constants of render/constants.py: their
# content joins the cache stamp, so no stale kernel is ever loaded
INLINED_SOURCES = compiled_with(__file__, nk.__file__, constants.__file__, sh.__file__)


@njit(parallel=True, cache=True)
def gather_tiles(
    tile_off,  # [T+1] int64
    tile_list,  # [E] int32 depth ranks
    gpar,  # [M, NUM_PARAMS]
    width,
    height,
    last,  # [H, W] int32 last blended tile-list position (relative to the tile start), -1 if none
    pixel_values,  # [H, W, C] V
    ent_sums,  # out [E, C + 1]: per entry, sum of w·V over the tile's pixels, then of w
):
    """Per-entry sums of w·V and w (module doc, step 1)."""
    tiles_x = (width + TILE_SIZE - 1) // TILE_SIZE
    num_tiles = tile_off.shape[0] - 1
    nc = pixel_values.shape[2]
    num_items = min(num_tiles, WORK_ITEMS)
    for item in prange(num_items):
        trans = np.empty(TILE_SIZE * TILE_SIZE, np.float32)
        lastk = np.empty(TILE_SIZE * TILE_SIZE, np.int64)
        row_last = np.empty(TILE_SIZE, np.int64)  # rows whose pixels all stopped earlier are skipped
        for t in range(item, num_tiles, num_items):
            x_lo, x_hi, y_lo, y_hi = tile_rect(t, tiles_x, width, height)
            tw = x_hi - x_lo
            start, end = tile_off[t], tile_off[t + 1]
            ent_sums[start:end, :] = 0.0
            row_last[:] = -1
            for py in range(y_lo, y_hi):
                for px in range(x_lo, x_hi):
                    p = (py - y_lo) * tw + (px - x_lo)
                    trans[p] = 1.0
                    lastk[p] = last[py, px]
                    row_last[py - y_lo] = max(row_last[py - y_lo], lastk[p])
            max_last = row_last[: y_hi - y_lo].max() if y_hi > y_lo else -1
            for kk in range(max_last + 1):
                k = start + kk
                r = tile_list[k]
                u, v, a, b, c, o = gpar[r, P_X], gpar[r, P_Y], gpar[r, P_A], gpar[r, P_B], gpar[r, P_C], gpar[r, P_OPAC]
                y0, y1 = row_range(gpar, r, y_lo, y_hi)
                for py in range(y0, y1):
                    if kk > row_last[py - y_lo]:
                        continue
                    x0, x1 = row_span(gpar, r, py, x_lo, x_hi)
                    dy = np.float32(py + F32_HALF) - v
                    for px in range(x0, x1):
                        p = (py - y_lo) * tw + (px - x_lo)
                        if kk > lastk[p]:
                            continue
                        # Up to the pixel's last blended splat, every splat with alpha > 0 was blended
                        # (the forward stops only after it): the same weights as blend_tiles.
                        alpha = splat_alpha(u, v, a, b, c, o, np.float32(px + F32_HALF) - u, dy)
                        if alpha == 0:
                            continue
                        w = alpha * trans[p]
                        for ch in range(nc):
                            ent_sums[k, ch] += w * pixel_values[py, px, ch]
                        ent_sums[k, nc] += w
                        trans[p] = trans[p] * (F32_ONE - alpha)


@njit(parallel=True, cache=True)
def sum_entries(
    order,  # [M] int32 Gaussian id of each depth rank
    rank_off,  # [M+1] int64 ranges of rank_entry per rank
    rank_entry,  # [E] int64 positions in tile_list of each rank's entries
    ent_sums,  # [E, C + 1] from gather_tiles
    sums,  # out [N, C] zeros: sum_p w·V of each Gaussian (rows of undrawn Gaussians stay 0)
    weight,  # out [N] zeros: sum_p w
):
    """Per-Gaussian sums of its entries' rows (module doc, step 2)."""
    nc = sums.shape[1]
    for r in prange(order.shape[0]):
        g = order[r]
        for j in range(rank_off[r], rank_off[r + 1]):
            e = rank_entry[j]
            for ch in range(nc):
                sums[g, ch] += ent_sums[e, ch]
            weight[g] += ent_sums[e, nc]
