"""Numba CPU blend of the per-frame path: SIMD over a tile's rows, features straight into blocks.

``numba_kernels.blend_tiles`` visits, per splat, only the pixels of its ellipse, one at a time:
exact and what the backward needs, but scalar (a fitted room costs ~40 ns per (pixel, splat)
visit on a 2-core VM, ~46 visits per pixel). ``blend_tiles_frame`` is the forward of the
per-frame path (no gradients, ``RasterSettings.stop_transmittance`` > 0):

- each splat row is blended over the whole 16-pixel row of the tile in one branch-free loop that
  LLVM vectorizes (a pixel outside the ellipse gets alpha < 1/255, skipped as the reference
  skips it), with ``exp_neg``, a polynomial exp that vectorizes (libm's ``expf`` does not);
- every per-pixel quantity lives in ONE flat scratch array at constant offsets, so the compiler
  can prove the stores do not alias (separate arrays keep the loop scalar);
- a pixel that stops keeps -T in the transmittance slot (T > 0 always), so "done" costs no array;
  whether the whole tile is done is checked every LIVE_CHECK splats, not per row;
- each tile reads its splats' parameters from consecutive memory (``pack_entries``, one cache
  line per (tile, splat) entry), and the features from the scene's own [N, D] array (not gathered
  per view), prefetching those of the splats a few entries ahead;
- features (D channels) are summed per ``stride`` x ``stride`` block, not per pixel: a splat's
  weights are summed over each block first, then its D values are added once per block it
  touched; the block's mean is what ``render(..., feature_stride=s)`` returns.

Results match ``blend_tiles`` + ``api.average_features`` to float32 rounding and ``exp_neg``'s
error (relative 3e-6): the blending rules (ALPHA_MIN, ALPHA_MAX, T_MIN, the stop) are the same,
and a splat on the very edge of one of them, kept by one kernel and not the other, moves a pixel
by less than one 8-bit level (tests/render/test_per_frame_path.py). On SynthRooms v2 test_000 at
320x240 it takes 0.4x the exact kernel's time (benchmarks/RESULTS.md).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from rtgs2.render.constants import TILE_SIZE
from rtgs2.render.numba_kernels import (
    F32_ALPHA_MAX,
    F32_ALPHA_MIN,
    F32_HALF,
    F32_ONE,
    F32_T_MIN,
    NUM_PARAMS,
    P_A,
    P_B,
    P_C,
    P_OPAC,
    P_X,
    P_Y,
    WORK_ITEMS,
    row_range,
    tile_rect,
)
import rtgs2.render.constants as constants
import rtgs2.render.numba_kernels as nk
import rtgs2.utils.numba_prefetch as numba_prefetch
from rtgs2.utils.numba_cache import compiled_with
from rtgs2.utils.numba_prefetch import prefetch

INLINED_SOURCES = compiled_with(__file__, nk.__file__, constants.__file__, numba_prefetch.__file__)

F32_ZERO = np.float32(0.0)
# exp(-s) = exp(-s/16)^16; exp(-s/16) by a degree-5 Taylor polynomial around s/16 = 3/16, the
# middle of [0, 3/8] (s <= 6): relative error <= 3e-6 after the four squarings. Beyond s = 6,
# exp(-s) < 1/255 <= ALPHA_MIN, so a clamped s still gives a skipped splat.
SIGMA_MAX = np.float32(6.0)
_EXP_MID = 0.1875
F32_EXP_MID = np.float32(_EXP_MID)
F32_EXP_AT_MID = np.float32(np.exp(-_EXP_MID))
F32_INV16 = np.float32(1.0 / 16.0)
F32_C2, F32_C3, F32_C4, F32_C5 = (np.float32(1.0 / k) for k in (2, 6, 24, 120))

PIXELS = TILE_SIZE * TILE_SIZE
# offsets into the per-tile scratch: transmittance (-T once a pixel stops), the four blended
# channels (colour, camera z), the column sums of one splat's weights over a block row, and the
# x of the tile's column centres (loaded in the row loop: an int-to-float conversion there would
# halve its vector width)
S_TRANS, S_ACC, S_WCOL, S_XS = 0, PIXELS, 5 * PIXELS, 5 * PIXELS + TILE_SIZE
SCRATCH = 5 * PIXELS + 2 * TILE_SIZE
FRAME_CHANNELS = 4  # colour 0..2, camera z 3 (``numba_kernels.V_DEPTH``)
# a packed entry (``pack_entries``): the splat's blend parameters (``numba_kernels.P_*``), then its
# colour and camera z: 16 floats, one cache line
E_VALUES = NUM_PARAMS
ENTRY_COLUMNS = NUM_PARAMS + FRAME_CHANNELS
LIVE_CHECK = 32  # entries between checks that the tile has pixels left to blend
PREFETCH_AHEAD = 2  # entries: enough to hide a cache miss behind the blend of the splats between


@njit(cache=True, inline="always")
def exp_neg(s):
    """exp(-s) for float32 s in [0, SIGMA_MAX], relative error <= 3e-6, branch-free (vectorizes)."""
    t = s * F32_INV16 - F32_EXP_MID
    p = F32_EXP_AT_MID * (F32_ONE - t * (F32_ONE - t * (F32_C2 - t * (F32_C3 - t * (F32_C4 - t * F32_C5)))))
    p = p * p
    p = p * p
    p = p * p
    return p * p


def frame_stride_ok(stride: int, num_features: int) -> bool:
    """Whether ``blend_tiles_frame`` can give features at ``stride`` (a block must not straddle
    tiles; per-pixel features, stride 1, are the exact kernel's job)."""
    return num_features == 0 or (stride > 1 and TILE_SIZE % stride == 0)


@njit(parallel=True, cache=True)
def pack_entries(tile_list, gpar, values):
    """[E, ENTRY_COLUMNS] the blend parameters and colour + camera z of every (tile, splat) entry,
    in tile-list order: the blend then reads its splats from consecutive memory instead of
    jumping through ``gpar`` and ``values`` (features are read per block row, from the scene's)."""
    num = tile_list.shape[0]
    entries = np.empty((num, ENTRY_COLUMNS), np.float32)
    for e in prange(num):
        r = tile_list[e]
        for q in range(NUM_PARAMS):
            entries[e, q] = gpar[r, q]
        for q in range(FRAME_CHANNELS):
            entries[e, E_VALUES + q] = values[r, q]
    return entries


@njit(parallel=True, cache=True)
def blend_tiles_frame(
    tile_off,  # [T+1] int64
    tile_list,  # [E] int32 depth ranks
    entries,  # [E, ENTRY_COLUMNS] (``pack_entries``)
    order,  # [M] int32 Gaussian index of each depth rank (``numba_kernels.sort_by_depth``)
    features,  # [N, D] per-Gaussian features (D may be 0), read in place: not gathered per view
    width,
    height,
    stride,  # feature block side, pixels (divides TILE_SIZE; any value if D = 0)
    out,  # out [H, W, 4] accumulated colour and camera z, no background
    t_final,  # out [H, W] final transmittance
    block_features,  # out [ceil(H / stride), ceil(W / stride), D] mean blended features of each block
    t_stop,  # float32: a pixel stops once a splat it blended took T to this or below (0: never)
):
    """Front-to-back blending of the per-frame path (module doc): ``blend_tiles``' rules, without
    the backward's bookkeeping, features per block."""
    num_tiles = tile_off.shape[0] - 1
    d = features.shape[1]
    shift = 0  # stride = 2^shift (it divides TILE_SIZE, a power of two)
    while d > 0 and (1 << shift) < stride:
        shift += 1
    nb = TILE_SIZE >> shift  # blocks per tile side
    num_items = min(num_tiles, WORK_ITEMS)
    for item in prange(num_items):
        buf = np.empty(SCRATCH, np.float32)
        block_acc = np.empty((nb * nb, d), np.float32)
        for t in range(item, num_tiles, num_items):
            blend_tile(t, tile_off, tile_list, entries, order, features, width, height, shift, t_stop, buf, block_acc)
            write_tile(t, width, height, stride, buf, block_acc, out, t_final, block_features)


@njit(cache=True)
def blend_tile(t, tile_off, tile_list, entries, order, features, width, height, shift, t_stop, buf, block_acc):
    """Blend tile t into the scratch ``buf`` (transmittance, channels) and ``block_acc`` (feature
    sums per block). A function of its own: LLVM vectorizes the row loop only when the scratch
    comes in as an argument (allocated inside the parallel loop, it is not proven free of aliases)."""
    tiles_x = (width + TILE_SIZE - 1) // TILE_SIZE
    d = features.shape[1]
    x_lo, x_hi, y_lo, y_hi = tile_rect(t, tiles_x, width, height)
    tw, th = x_hi - x_lo, y_hi - y_lo
    buf[S_ACC:] = 0.0
    for row in range(TILE_SIZE):  # pixels outside the image start as stopped
        for j in range(TILE_SIZE):
            buf[S_TRANS + row * TILE_SIZE + j] = 1.0 if (row < th and j < tw) else -1.0
    block_acc[:] = 0.0
    for j in range(TILE_SIZE):
        buf[S_XS + j] = np.float32(x_lo + j) + F32_HALF
    end = tile_off[t + 1]
    for k in range(tile_off[t], end):
        # Whether every pixel has stopped, checked every LIVE_CHECK entries: counting per row (to
        # skip finished rows) cost more than all the rows it skipped (measured: half the blend).
        if (k - tile_off[t]) % LIVE_CHECK == LIVE_CHECK - 1 and not any_live(buf):
            break
        g = order[tile_list[k]]  # the splat's Gaussian
        if d > 0 and k + PREFETCH_AHEAD < end:  # the features of a splat soon to come: 2-3 cache lines
            ahead = order[tile_list[k + PREFETCH_AHEAD]]
            for col in range(0, d + 15, 16):
                prefetch(features, ahead, min(col, d - 1))
        u, v, a, b, c, o = entries[k, P_X], entries[k, P_Y], entries[k, P_A], entries[k, P_B], entries[k, P_C], entries[k, P_OPAC]
        v0, v1, v2, v3 = entries[k, E_VALUES], entries[k, E_VALUES + 1], entries[k, E_VALUES + 2], entries[k, E_VALUES + 3]
        y0, y1 = row_range(entries, k, y_lo, y_hi)  # the entry's first columns are the splat's gpar row
        brow = -1  # the block row whose column sums of this splat's weights S_WCOL holds
        for py in range(y0, y1):
            row = py - y_lo
            if d > 0 and row >> shift != brow:
                if brow >= 0:
                    add_block_row(buf, block_acc, brow, shift, features[g])
                brow = row >> shift
            dy = np.float32(py + F32_HALF) - v
            c_dy2 = c * (dy * dy)
            b_dy = b * dy
            # row is in [0, TILE_SIZE) already; the mask lets LLVM prove the column sums (after
            # the pixels) are never overwritten, which it needs to vectorize the loop below
            p0 = (row & (TILE_SIZE - 1)) * TILE_SIZE
            for j in range(TILE_SIZE):  # vectorized: no branches, one scratch array
                dx = buf[S_XS + j] - u
                sigma = F32_HALF * (a * (dx * dx) + c_dy2) + b_dy * dx  # the reference's order
                alpha = min(F32_ALPHA_MAX, o * exp_neg(min(max(sigma, F32_ZERO), SIGMA_MAX)))
                alpha = alpha if (sigma >= F32_ZERO and alpha >= F32_ALPHA_MIN) else F32_ZERO
                p = p0 + j
                tp = buf[S_TRANS + p]
                tn = tp * (F32_ONE - alpha)
                blend = tn > F32_T_MIN  # false for a stopped pixel (tp = -T < 0)
                w = alpha * tp if blend else F32_ZERO
                buf[S_ACC + p] += w * v0
                buf[S_ACC + PIXELS + p] += w * v1
                buf[S_ACC + 2 * PIXELS + p] += w * v2
                buf[S_ACC + 3 * PIXELS + p] += w * v3
                t_new = (tn if tn > t_stop else -tn) if blend else -abs(tp)
                buf[S_TRANS + p] = t_new
                buf[S_WCOL + j] += w
        if brow >= 0:
            add_block_row(buf, block_acc, brow, shift, features[g])


@njit(cache=True, inline="always")
def any_live(buf):
    """Whether a pixel of the tile is still blending (T > 0 in its slot)."""
    live = np.int32(0)
    for p in range(PIXELS):
        live += np.int32(buf[S_TRANS + p] > F32_ZERO)
    return live > 0


@njit(cache=True, inline="always")
def add_block_row(buf, block_acc, brow, shift, feats):
    """Add one splat's features ``feats`` [D] to the blocks of block row ``brow`` with the weights
    summed in the column sums S_WCOL (each block: the sum of its 2^shift columns), and clear them.
    Every block gets its add, a zero weight too: a branch on the weight, which the data decide, was
    mispredicted often enough to cost ~2 of the 14 ms of a 150k-Gaussian fit's blend at 320x240,
    more than the adds it skipped."""
    stride = 1 << shift
    nb = TILE_SIZE >> shift
    for bj in range(nb):
        w = F32_ZERO
        for q in range(bj * stride, (bj + 1) * stride):
            w += buf[S_WCOL + q]
        add_scaled(block_acc[brow * nb + bj], w, feats)
    for q in range(TILE_SIZE):  # cleared in one loop after the sums (a vector store)
        buf[S_WCOL + q] = F32_ZERO


@njit(cache=True, inline="always")
def add_scaled(acc, w, x):
    """acc += w·x over D channels."""
    for ch in range(acc.shape[0]):
        acc[ch] += w * x[ch]


@njit(cache=True)
def write_tile(t, width, height, stride, buf, block_acc, out, t_final, block_features):
    """Copy tile t's scratch into the images: channels and T per pixel, features as block means."""
    tiles_x = (width + TILE_SIZE - 1) // TILE_SIZE
    d = block_acc.shape[1]
    x_lo, x_hi, y_lo, y_hi = tile_rect(t, tiles_x, width, height)
    tw, th = x_hi - x_lo, y_hi - y_lo
    for py in range(y_lo, y_hi):
        for px in range(x_lo, x_hi):
            p = (py - y_lo) * TILE_SIZE + (px - x_lo)
            for ch in range(FRAME_CHANNELS):
                out[py, px, ch] = buf[S_ACC + ch * PIXELS + p]
            t_final[py, px] = abs(buf[S_TRANS + p])
    if d > 0:
        nb = TILE_SIZE // stride
        for by in range(min(nb, (th + stride - 1) // stride)):
            ny = min(stride, th - by * stride)
            for bx in range(min(nb, (tw + stride - 1) // stride)):
                inv = np.float32(1.0 / (ny * min(stride, tw - bx * stride)))  # edge blocks: the pixels they hold
                for ch in range(d):
                    block_features[y_lo // stride + by, x_lo // stride + bx, ch] = block_acc[by * nb + bx, ch] * inv
