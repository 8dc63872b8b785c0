"""Numba CPU kernels of the tile rasterizer, forward pass (checked by ``reference.py``).

Pipeline, each step one kernel (``numba_backend.py`` calls them in order):

0. ``prepare_gaussians``  per Gaussian (parallel): what does not depend on the camera (world
   covariance, opacity, the alpha >= 1/255 level), float64 rows the per-frame path keeps per scene.
1. ``project_gaussians``  per Gaussian (parallel): EWA projection as ``projection.project``,
   visibility and radius as ``reference.visible_on_screen`` / ``screen_radii``, SH colour, and
   the blend parameters (``P_*``), including the "padded ellipse" that bounds every pixel a
   splat may reach with alpha >= 1/255.
2. ``sort_by_depth``      visible Gaussians by camera z: a stable LSD radix sort on the float
   bits, so ties keep index order as the reference's stable argsort does.
3. ``gather_sorted``      blend parameters and values [M, 3+1+D] in depth order, so the blend and
   the binning read them from contiguous memory.
4. ``bin_tiles``          (parallel) a stable counting sort of (Gaussian, tile) pairs into
   per-tile lists in depth order. A Gaussian goes only to the tiles its padded ellipse reaches
   (per row of tiles, the ellipse's exact column range), not to every tile of its bounding box.
5. ``blend_tiles``        per tile (parallel): front-to-back blending. Each Gaussian visits only the
   pixels, row by row, inside its padded ellipse, and each of those is tested exactly as the
   reference does, so the result does not depend on the tiling or on the padding.

Arrays are float32 except where noted. Scalars are promoted to float64 in the per-Gaussian
maths (cheap there); the per-pixel loop stays float32 like the reference.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from rtgs2.render.constants import ALPHA_MAX, ALPHA_MIN, COLOR_OFFSET, COV2D_BLUR, FRUSTUM_SLACK, T_MIN, TILE_SIZE
from rtgs2.scene.sh import SH_C0, SH_C1, SH_C2, SH_C3
import rtgs2.render.constants as constants
import rtgs2.scene.sh as sh
from rtgs2.utils.numba_cache import compiled_with

# the kernels compile in the constants of render/constants.py and scene/sh.py: their content joins
# the cache stamp, so no stale kernel is ever loaded
INLINED_SOURCES = compiled_with(__file__, constants.__file__, sh.__file__)

F32_HALF = np.float32(0.5)
F32_ONE = np.float32(1.0)
F32_ALPHA_MAX = np.float32(ALPHA_MAX)
F32_ALPHA_MIN = np.float32(ALPHA_MIN)
F32_T_MIN = np.float32(T_MIN)
LEVEL_PAD = 1e-3  # relative and absolute growth of the ellipse level: float rounding never drops a pixel
CHUNK = 1024  # Gaussians per parallel work item (amortises per-item scratch allocation)
WORK_ITEMS = 64  # parallel work items of the per-tile kernels (each takes every 64th tile)
RADIUS_MAX = 2**30  # pixels; a larger radius is clipped to it (as in reference.screen_radii), to fit int32
BIN_CHUNKS = 16  # rank ranges binned in parallel; fixed (not the thread count) so the output never varies

# Blend parameters of one Gaussian (rows of ``params`` / ``gpar``): 2D mean (px), conic (a, b, c),
# opacity, and the padded ellipse sigma <= level': on row offset dy its pixels span
# x = mean + SLOPE·dy ± sqrt(Q0 - Q1·dy^2) (see ``row_span``); it reaches |dy| <= ROW_HALF and
# |dx| <= COL_HALF, its rightmost point at dy = EXT_DY and its leftmost at -EXT_DY.
P_X, P_Y, P_A, P_B, P_C, P_OPAC, P_SPAN_SLOPE, P_SPAN_Q0, P_SPAN_Q1, P_ROW_HALF, P_COL_HALF, P_EXT_DY = range(12)
NUM_PARAMS = 12
# values columns: colour 0..2, camera z 3, features 4..
V_DEPTH = 3
V_FEAT = 4
# Camera-independent rows of one Gaussian (``prepare_gaussians``), float64 so that projecting from
# them gives the bits of projecting from the parameters: world covariance (xx, xy, xz, yy, yz, zz),
# the largest log-scale, opacity, and the level ln(max(opacity / ALPHA_MIN, 1)) of its alpha >= 1/255 ellipse.
Q_COV, Q_LOG_SCALE_MAX, Q_OPAC, Q_LEVEL = 0, 6, 7, 8
PREPARED_COLUMNS = 9


@njit(cache=True, inline="always")
def sh_basis(degree, x, y, z, out):
    """SH basis Y_k at unit direction (x, y, z) into out[:(degree+1)^2] (order of ``rtgs2.scene.sh``)."""
    out[0] = SH_C0
    if degree < 1:
        return
    out[1] = -SH_C1 * y
    out[2] = SH_C1 * z
    out[3] = -SH_C1 * x
    if degree < 2:
        return
    xx, yy, zz, xy, yz, xz = x * x, y * y, z * z, x * y, y * z, x * z
    out[4] = SH_C2[0] * xy
    out[5] = SH_C2[1] * yz
    out[6] = SH_C2[2] * (2.0 * zz - xx - yy)
    out[7] = SH_C2[3] * xz
    out[8] = SH_C2[4] * (xx - yy)
    if degree < 3:
        return
    out[9] = SH_C3[0] * y * (3.0 * xx - yy)
    out[10] = SH_C3[1] * xy * z
    out[11] = SH_C3[2] * y * (4.0 * zz - xx - yy)
    out[12] = SH_C3[3] * z * (2.0 * zz - 3.0 * xx - 3.0 * yy)
    out[13] = SH_C3[4] * x * (4.0 * zz - xx - yy)
    out[14] = SH_C3[5] * z * (xx - yy)
    out[15] = SH_C3[6] * x * (xx - 3.0 * yy)


@njit(cache=True, inline="always")
def view_dir(means, i, cam_center):
    """Unit direction camera centre -> Gaussian i and its length (F.normalize's eps of 1e-12)."""
    dx = float(means[i, 0]) - cam_center[0]
    dy = float(means[i, 1]) - cam_center[1]
    dz = float(means[i, 2]) - cam_center[2]
    norm = max(math.sqrt(dx * dx + dy * dy + dz * dz), 1e-12)
    inv = 1.0 / norm
    return dx * inv, dy * inv, dz * inv, norm


@njit(cache=True, inline="always")
def quat_rotmat(quats, i, R):
    """Rotation matrix of the normalised quaternion i (wxyz) into R [3, 3]; returns the unit quat and |q|."""
    w, x, y, z = float(quats[i, 0]), float(quats[i, 1]), float(quats[i, 2]), float(quats[i, 3])
    qn = max(math.sqrt(w * w + x * x + y * y + z * z), 1e-12)
    inv = 1.0 / qn
    w, x, y, z = w * inv, x * inv, y * inv, z * inv
    R[0, 0] = 1 - 2 * (y * y + z * z)
    R[0, 1] = 2 * (x * y - w * z)
    R[0, 2] = 2 * (x * z + w * y)
    R[1, 0] = 2 * (x * y + w * z)
    R[1, 1] = 1 - 2 * (x * x + z * z)
    R[1, 2] = 2 * (y * z - w * x)
    R[2, 0] = 2 * (x * z - w * y)
    R[2, 1] = 2 * (y * z + w * x)
    R[2, 2] = 1 - 2 * (x * x + y * y)
    return w, x, y, z, qn


@njit(cache=True, inline="always")
def frustum_limits(width, height, fx, fy, cx, cy):
    """Bounds of x/z and y/z used in the projection Jacobian (gsplat persp_proj): xp, xn, yp, yn."""
    tan_x, tan_y = 0.5 * width / fx, 0.5 * height / fy
    return (
        (width - cx) / fx + FRUSTUM_SLACK * tan_x,
        cx / fx + FRUSTUM_SLACK * tan_x,
        (height - cy) / fy + FRUSTUM_SLACK * tan_y,
        cy / fy + FRUSTUM_SLACK * tan_y,
    )


@njit(cache=True, inline="always")
def projection_matrix(view, x, y, z, fx, fy, lims, T):
    """T = J @ R_view [2, 3], J the clamped perspective Jacobian at camera point (x, y, z).

    Returns tx, ty (the clamped x, y used in J) and whether each was clamped.
    """
    rx = min(lims[0], max(-lims[1], x / z))
    ry = min(lims[2], max(-lims[3], y / z))
    tx, ty = z * rx, z * ry
    j00, j02 = fx / z, -fx * tx / (z * z)
    j11, j12 = fy / z, -fy * ty / (z * z)
    for k in range(3):
        T[0, k] = j00 * view[0, k] + j02 * view[2, k]
        T[1, k] = j11 * view[1, k] + j12 * view[2, k]
    return tx, ty, rx != x / z, ry != y / z


@njit(cache=True, inline="always")
def world_cov(R, log_scales, i, S):
    """S = R diag(s^2) R^T [3, 3] with s = exp(log_scales[i]); returns the scales."""
    s0, s1, s2 = math.exp(float(log_scales[i, 0])), math.exp(float(log_scales[i, 1])), math.exp(float(log_scales[i, 2]))
    v0, v1, v2 = s0 * s0, s1 * s1, s2 * s2
    for r in range(3):
        for c in range(3):
            S[r, c] = R[r, 0] * R[c, 0] * v0 + R[r, 1] * R[c, 1] * v1 + R[r, 2] * R[c, 2] * v2
    return s0, s1, s2


@njit(cache=True, inline="always")
def cov2d_of(T, S):
    """Blurred 2D covariance (a, b, c) of T S T^T + COV2D_BLUR I."""
    a = b = c = 0.0
    for r in range(3):
        t0 = T[0, 0] * S[0, r] + T[0, 1] * S[1, r] + T[0, 2] * S[2, r]
        t1 = T[1, 0] * S[0, r] + T[1, 1] * S[1, r] + T[1, 2] * S[2, r]
        a += t0 * T[0, r]
        b += t0 * T[1, r]
        c += t1 * T[1, r]
    return a + COV2D_BLUR, b, c + COV2D_BLUR


@njit(cache=True, inline="always")
def off_screen_bound(u, v, x, y, z, fx, fy, lims, log_scale_max, width, height):
    """True if a Gaussian (camera point x, y, z, projected to u, v; largest log-scale
    ``log_scale_max``) is certainly off-screen, decided before its 2D covariance is built.

    Its 2D covariance is J R S R^T J^T + blur, whose diagonal is at most |J|_F^2 s_max^2 + blur;
    with opacity <= 1 the alpha >= 1/255 box half-width is then at most
    sqrt(2 ln(1 / ALPHA_MIN) (|J|_F^2 s_max^2 + blur)). Outside the image by more than that,
    ``visible_on_screen`` would reject it too.
    """
    rx = min(lims[0], max(-lims[1], x / z))
    ry = min(lims[2], max(-lims[3], y / z))
    s_max = math.exp(log_scale_max)
    j2 = (fx * fx * (1.0 + rx * rx) + fy * fy * (1.0 + ry * ry)) / (z * z)
    h = math.sqrt(2.0 * math.log(1.0 / ALPHA_MIN) * (j2 * s_max * s_max + COV2D_BLUR))
    return u + h <= 0.0 or u - h >= width or v + h <= 0.0 or v - h >= height


@njit(parallel=True, cache=True)
def prepare_gaussians(
    quats,  # [N, 4] wxyz
    log_scales,  # [N, 3]
    opacity_logits,  # [N]
    prepared,  # out [N, PREPARED_COLUMNS] float64 (``Q_*``)
):
    """The camera-independent rows of every Gaussian (``Q_*``): what ``project_gaussians`` reads."""
    n = quats.shape[0]
    for ch in prange((n + CHUNK - 1) // CHUNK):
        R = np.empty((3, 3))
        S = np.empty((3, 3))
        for i in range(ch * CHUNK, min(n, (ch + 1) * CHUNK)):
            quat_rotmat(quats, i, R)
            world_cov(R, log_scales, i, S)
            prepared[i, Q_COV], prepared[i, Q_COV + 1], prepared[i, Q_COV + 2] = S[0, 0], S[0, 1], S[0, 2]
            prepared[i, Q_COV + 3], prepared[i, Q_COV + 4], prepared[i, Q_COV + 5] = S[1, 1], S[1, 2], S[2, 2]
            prepared[i, Q_LOG_SCALE_MAX] = max(float(log_scales[i, 0]), float(log_scales[i, 1]), float(log_scales[i, 2]))
            o = 1.0 / (1.0 + math.exp(-float(opacity_logits[i])))
            prepared[i, Q_OPAC] = o
            prepared[i, Q_LEVEL] = math.log(max(o / ALPHA_MIN, 1.0))


@njit(cache=True, inline="always")
def prepared_cov(prepared, i, S):
    """S [3, 3] = the world covariance of Gaussian i from its prepared row."""
    S[0, 0], S[0, 1], S[0, 2] = prepared[i, Q_COV], prepared[i, Q_COV + 1], prepared[i, Q_COV + 2]
    S[1, 0], S[1, 1], S[1, 2] = prepared[i, Q_COV + 1], prepared[i, Q_COV + 3], prepared[i, Q_COV + 4]
    S[2, 0], S[2, 1], S[2, 2] = prepared[i, Q_COV + 2], prepared[i, Q_COV + 4], prepared[i, Q_COV + 5]


@njit(parallel=True, cache=True)
def project_gaussians(
    means,  # [N, 3] world, metres
    prepared,  # [N, PREPARED_COLUMNS] float64 (``prepare_gaussians``)
    sh,  # [N, K, 3]
    sh_degree,  # int, (sh_degree+1)^2 <= K
    view,  # [4, 4] world_to_cam (float64 copy of the float32 camera)
    intr,  # [4] fx, fy, cx, cy, pixels
    cam_center,  # [3] world, metres
    width,  # int, pixels
    height,  # int, pixels
    near,  # metres
    far,  # metres
    params,  # out [N, NUM_PARAMS] blend parameters (rows of visible Gaussians only)
    rgb,  # out [N, 3] max(SH + 0.5, 0) (rows of visible Gaussians only)
    depth,  # out [N] camera z, metres
    visible,  # out [N] bool, as reference.visible_on_screen
    radii,  # out [N] int32 larger half-width of the alpha >= 1/255 box rounded up, px (reference.screen_radii)
):
    """Project every Gaussian; invisible ones (culled, off-screen, too faint, non-finite) get
    ``visible = False`` and radius 0, and their other rows are left unwritten."""
    n = means.shape[0]
    fx, fy, cx, cy = intr[0], intr[1], intr[2], intr[3]
    lims = frustum_limits(width, height, fx, fy, cx, cy)
    num_chunks = (n + CHUNK - 1) // CHUNK
    for ch in prange(num_chunks):
        S = np.empty((3, 3))
        T = np.empty((2, 3))
        Y = np.empty(16)
        for i in range(ch * CHUNK, min(n, (ch + 1) * CHUNK)):
            visible[i] = False
            radii[i] = 0
            mx, my, mz = float(means[i, 0]), float(means[i, 1]), float(means[i, 2])
            x = view[0, 0] * mx + view[0, 1] * my + view[0, 2] * mz + view[0, 3]
            y = view[1, 0] * mx + view[1, 1] * my + view[1, 2] * mz + view[1, 3]
            z = view[2, 0] * mx + view[2, 1] * my + view[2, 2] * mz + view[2, 3]
            depth[i] = z
            if not (z > near and z < far):  # NaN fails too
                continue
            u = fx * x / z + cx
            v = fy * y / z + cy
            on_screen = 0.0 <= u <= width and 0.0 <= v <= height  # else a cheap bound may cull it early
            if not on_screen and off_screen_bound(u, v, x, y, z, fx, fy, lims, prepared[i, Q_LOG_SCALE_MAX], width, height):
                continue
            prepared_cov(prepared, i, S)
            projection_matrix(view, x, y, z, fx, fy, lims, T)
            a, b, c = cov2d_of(T, S)
            det = a * c - b * b
            if not det > 0.0:
                continue
            o = prepared[i, Q_OPAC]
            if not o >= ALPHA_MIN:
                continue
            level = prepared[i, Q_LEVEL]
            hx, hy = math.sqrt(2.0 * level * a), math.sqrt(2.0 * level * c)
            if not (u + hx > 0 and u - hx < width and v + hy > 0 and v - hy < height):
                continue
            visible[i] = True
            radii[i] = math.ceil(min(max(hx, hy), RADIUS_MAX))  # clipped in float: an infinite box must not overflow
            # The padded ellipse 0.5 [dx dy] conic [dx dy]^T <= pad, conic = (c, -b, a) / det: on row offset dy
            # it spans dx in SLOPE·dy ± sqrt(Q0 - Q1 dy^2), SLOPE = b/c, Q0 = 2 pad det/c, Q1 = det/c^2; it
            # reaches |dy| <= sqrt(2 pad c) and |dx| <= sqrt(2 pad a), its rightmost point at dy = b sqrt(2 pad/a).
            inv_det, inv_c = 1.0 / det, 1.0 / c
            pad2 = 2.0 * (level * (1.0 + LEVEL_PAD) + LEVEL_PAD)
            col_half = math.sqrt(pad2 * a)
            params[i, P_X], params[i, P_Y] = u, v
            params[i, P_A], params[i, P_B], params[i, P_C] = c * inv_det, -b * inv_det, a * inv_det
            params[i, P_OPAC] = o
            params[i, P_SPAN_SLOPE] = b * inv_c
            params[i, P_SPAN_Q0] = pad2 * det * inv_c
            params[i, P_SPAN_Q1] = det * inv_c * inv_c
            params[i, P_ROW_HALF] = math.sqrt(pad2 * c)
            params[i, P_COL_HALF] = col_half
            params[i, P_EXT_DY] = b * col_half / a
            dx, dy, dz, _ = view_dir(means, i, cam_center)
            sh_basis(sh_degree, dx, dy, dz, Y)
            c0 = c1 = c2 = 0.0  # the three channels in one pass over the row: it is read in memory order
            for j in range((sh_degree + 1) * (sh_degree + 1)):
                y = Y[j]
                c0 += y * sh[i, j, 0]
                c1 += y * sh[i, j, 1]
                c2 += y * sh[i, j, 2]
            rgb[i, 0] = max(c0 + COLOR_OFFSET, 0.0)
            rgb[i, 1] = max(c1 + COLOR_OFFSET, 0.0)
            rgb[i, 2] = max(c2 + COLOR_OFFSET, 0.0)


@njit(cache=True)
def sort_by_depth(visible, depth):
    """Indices [M] int32 of the visible Gaussians sorted by depth; ties keep index order.

    LSD radix sort, 8 bits per pass, on the float bits mapped to order-preserving uint32
    (sign-flip trick, so negative depths with a negative near plane sort right too).
    """
    n = visible.shape[0]
    m = 0
    for i in range(n):
        m += visible[i]
    ids = np.empty(m, np.int32)
    keys = np.empty(m, np.uint32)
    bits = depth.view(np.uint32)
    j = 0
    for i in range(n):
        if visible[i]:
            b = bits[i]
            keys[j] = ~b if b & np.uint32(0x80000000) else b | np.uint32(0x80000000)
            ids[j] = i
            j += 1
    ids2 = np.empty(m, np.int32)
    keys2 = np.empty(m, np.uint32)
    count = np.empty(257, np.int64)
    for shift in range(0, 32, 8):
        count[:] = 0
        for j in range(m):
            count[((keys[j] >> shift) & 255) + 1] += 1
        if count.max() == m:  # every key shares this byte: the pass would be the identity
            continue
        for b in range(256):
            count[b + 1] += count[b]
        for j in range(m):
            d = (keys[j] >> shift) & 255
            pos = count[d]
            count[d] = pos + 1
            keys2[pos] = keys[j]
            ids2[pos] = ids[j]
        keys, keys2 = keys2, keys
        ids, ids2 = ids2, ids
    return ids


@njit(parallel=True, cache=True)
def gather_sorted(order, params, rgb, depth, features, gpar, values):
    """Blend parameters gpar [M, NUM_PARAMS] and values [M, 4 + D] (colour, z, features) in depth order."""
    m = order.shape[0]
    d = features.shape[1]
    for r in prange(m):
        g = order[r]
        for k in range(NUM_PARAMS):
            gpar[r, k] = params[g, k]
        values[r, 0], values[r, 1], values[r, 2] = rgb[g, 0], rgb[g, 1], rgb[g, 2]
        values[r, V_DEPTH] = depth[g]
        for k in range(d):
            values[r, V_FEAT + k] = features[g, k]


@njit(cache=True, inline="always")
def band_columns(gpar, r, y0, y1, width):
    """Columns [c0, c1) of [0, width) whose pixel centres Gaussian r's padded ellipse may reach on
    rows [y0, y1) (rows it reaches, non-empty).

    Over row offsets dy in [dy0, dy1] the ellipse's right edge x = mean + SLOPE·dy + hw(dy) is
    concave, so its maximum is at the rightmost point's offset clamped to the interval (and the
    whole half-width when the interval holds it); the left edge likewise. A pixel this range
    holds in excess lies outside the ellipse, and the blend's row spans skip it.
    """
    u, v = gpar[r, P_X], gpar[r, P_Y]
    dy0, dy1 = y0 + 0.5 - v, y1 - 0.5 - v
    ext = gpar[r, P_EXT_DY]
    x_max = u + gpar[r, P_COL_HALF] if dy0 <= ext <= dy1 else u + band_edge(gpar, r, min(max(ext, dy0), dy1), 1.0)
    x_min = u - gpar[r, P_COL_HALF] if dy0 <= -ext <= dy1 else u + band_edge(gpar, r, min(max(-ext, dy0), dy1), -1.0)
    c0 = max(0, int(math.ceil(max(x_min - 0.5, -1.0))))
    c1 = min(width, int(math.floor(min(x_max - 0.5, width + 1.0))) + 1)
    return c0, c1


@njit(cache=True, inline="always")
def band_edge(gpar, r, dy, side):
    """x offset of the right (side 1) or left (side -1) edge of Gaussian r's padded ellipse at row offset dy."""
    hw2 = gpar[r, P_SPAN_Q0] - gpar[r, P_SPAN_Q1] * dy * dy
    return gpar[r, P_SPAN_SLOPE] * dy + side * math.sqrt(max(hw2, 0.0))


@njit(cache=True, inline="always")
def tile_columns(gpar, r, ty, y0, y1, width, box0, box1):
    """Tile columns [tx0, tx1) that Gaussian r reaches in tile row ty, given its rows [y0, y1) and the
    tile columns [box0, box1) of its bounding box (a box one tile wide is the answer as it is)."""
    if box1 - box0 <= 1:
        return box0, box1
    c0, c1 = band_columns(gpar, r, max(y0, ty * TILE_SIZE), min(y1, (ty + 1) * TILE_SIZE), width)
    if c1 <= c0:
        return 0, 0
    return c0 // TILE_SIZE, (c1 - 1) // TILE_SIZE + 1


@njit(cache=True, inline="always")
def box_tile_columns(gpar, r, width):
    """Tile columns [tx0, tx1) of Gaussian r's padded ellipse's bounding box, clipped to the image."""
    u, h = gpar[r, P_X], gpar[r, P_COL_HALF]
    c0 = max(0, int(math.ceil(max(u - h - 0.5, -1.0))))
    c1 = min(width, int(math.floor(min(u + h - 0.5, width + 1.0))) + 1)
    if c1 <= c0:
        return 0, 0
    return c0 // TILE_SIZE, (c1 - 1) // TILE_SIZE + 1


@njit(cache=True, inline="always")
def tile_row_end(y0, y1):
    """One past the last tile row holding rows [y0, y1); y0 // TILE_SIZE if that is empty."""
    return (y1 - 1) // TILE_SIZE + 1 if y1 > y0 else y0 // TILE_SIZE


@njit(parallel=True, cache=True)
def bin_tiles(gpar, width, height):
    """Stable counting sort of the (Gaussian, tile) pairs into per-tile lists.

    Ranks are cut into BIN_CHUNKS ranges, counted and scattered in parallel; each range writes
    after the lower ones in every tile, so each tile's list is in depth order whatever the
    thread count.

    Args:
        gpar: [M, NUM_PARAMS] blend parameters in depth order.
    Returns:
        tile_off [T+1] int64 (tile t owns entries tile_off[t]:tile_off[t+1]),
        tile_list [E] int32 depth ranks (so every tile's list is in depth order),
        rank_off [M+1] int64 and rank_entry [E] int64: the entries of rank r are
        rank_entry[rank_off[r]:rank_off[r+1]] (the backward reduces per-entry gradients with them).
    """
    m = gpar.shape[0]
    tiles_x = (width + TILE_SIZE - 1) // TILE_SIZE
    num_tiles = tiles_x * ((height + TILE_SIZE - 1) // TILE_SIZE)
    per = (m + BIN_CHUNKS - 1) // BIN_CHUNKS
    hist = np.zeros((BIN_CHUNKS, num_tiles), np.int64)
    rank_off = np.zeros(m + 1, np.int64)
    for ch in prange(BIN_CHUNKS):
        for r in range(ch * per, min(m, (ch + 1) * per)):
            y0, y1 = row_range(gpar, r, 0, height)
            box0, box1 = box_tile_columns(gpar, r, width)
            count = 0
            for ty in range(y0 // TILE_SIZE, tile_row_end(y0, y1)):
                tx0, tx1 = tile_columns(gpar, r, ty, y0, y1, width, box0, box1)
                for tx in range(tx0, tx1):
                    hist[ch, ty * tiles_x + tx] += 1
                count += tx1 - tx0
            rank_off[r + 1] = count
    for r in range(m):
        rank_off[r + 1] += rank_off[r]
    tile_off = np.empty(num_tiles + 1, np.int64)
    pos = 0
    for t in range(num_tiles):  # hist becomes each range's first position in each tile
        tile_off[t] = pos
        for ch in range(BIN_CHUNKS):
            k = hist[ch, t]
            hist[ch, t] = pos
            pos += k
    tile_off[num_tiles] = pos
    tile_list = np.empty(pos, np.int32)
    rank_entry = np.empty(pos, np.int64)
    for ch in prange(BIN_CHUNKS):
        for r in range(ch * per, min(m, (ch + 1) * per)):
            y0, y1 = row_range(gpar, r, 0, height)
            box0, box1 = box_tile_columns(gpar, r, width)
            k = rank_off[r]
            for ty in range(y0 // TILE_SIZE, tile_row_end(y0, y1)):
                tx0, tx1 = tile_columns(gpar, r, ty, y0, y1, width, box0, box1)
                for tx in range(tx0, tx1):
                    t = ty * tiles_x + tx
                    tile_list[hist[ch, t]] = r
                    rank_entry[k] = hist[ch, t]
                    hist[ch, t] += 1
                    k += 1
    return tile_off, tile_list, rank_off, rank_entry


@njit(cache=True, inline="always")
def tile_rect(t, tiles_x, width, height):
    """Pixel rectangle [x_lo, x_hi) x [y_lo, y_hi) of tile t (row-major tiles, clipped to the image)."""
    x_lo = (t % tiles_x) * TILE_SIZE
    y_lo = (t // tiles_x) * TILE_SIZE
    return x_lo, min(x_lo + TILE_SIZE, width), y_lo, min(y_lo + TILE_SIZE, height)


@njit(cache=True, inline="always")
def row_range(gpar, r, y_lo, y_hi):
    """Rows [y0, y1) of [y_lo, y_hi) whose pixel centres Gaussian r's padded ellipse reaches."""
    v, h = gpar[r, P_Y], gpar[r, P_ROW_HALF]
    y0 = max(y_lo, int(math.ceil(max(v - h - 0.5, y_lo - 1.0))))
    y1 = min(y_hi, int(math.floor(min(v + h - 0.5, y_hi + 1.0))) + 1)
    return y0, max(y0, y1)


@njit(cache=True, inline="always")
def row_span(gpar, r, py, x_lo, x_hi):
    """Pixels [x0, x1) of row py, clipped to [x_lo, x_hi), inside Gaussian r's alpha >= 1/255 ellipse.

    On row offset dy the ellipse sigma <= level spans dx in centre ± half-width with
    centre = -b/a·dy and half-width^2 = 2·level/a - det·dy^2/a^2 (conic (a, b, c), det = ac - b^2);
    ``project_gaussians`` stores those coefficients, the level grown by LEVEL_PAD so float rounding
    never drops a pixel (every pixel in the span is still tested exactly).
    """
    dy = py + 0.5 - gpar[r, P_Y]
    hw2 = gpar[r, P_SPAN_Q0] - gpar[r, P_SPAN_Q1] * dy * dy
    if not hw2 >= 0.0:
        return x_lo, x_lo
    hw = math.sqrt(hw2)
    mid = gpar[r, P_X] + gpar[r, P_SPAN_SLOPE] * dy - 0.5  # pixel j's centre is j + 0.5
    x0 = max(x_lo, int(math.ceil(max(mid - hw, x_lo - 1.0))))
    x1 = min(x_hi, int(math.floor(min(mid + hw, x_hi + 1.0))) + 1)
    return x0, max(x0, x1)


@njit(cache=True, inline="always")
def splat_sigma(a, b, c, dx, dy):
    """sigma = 0.5 [dx dy] conic [dx dy]^T, float32 in the order of ``reference.rasterize``."""
    return F32_HALF * (a * (dx * dx) + c * (dy * dy)) + b * dx * dy


@njit(cache=True, inline="always")
def splat_alpha(u, v, a, b, c, o, dx, dy):
    """alpha of a splat (mean u, v; conic a, b, c; opacity o) at pixel offset (dx, dy) = centre - mean;
    0 where skipped (sigma < 0 or alpha < ALPHA_MIN).

    Float32 in the order of ``reference.rasterize`` so both backends skip the same splats.
    """
    sigma = splat_sigma(a, b, c, dx, dy)
    if sigma < 0:
        return np.float32(0.0)
    alpha = min(F32_ALPHA_MAX, o * np.exp(-sigma))
    if alpha < F32_ALPHA_MIN:
        return np.float32(0.0)
    return alpha


@njit(parallel=True, cache=True)
def blend_tiles(
    tile_off,  # [T+1] int64
    tile_list,  # [E] int32 depth ranks
    gpar,  # [M, NUM_PARAMS]
    values,  # [M, C]
    width,
    height,
    out,  # out [H, W, C] accumulated values, no background
    t_final,  # out [H, W] final transmittance
    last,  # out [H, W] int32 tile-list position (relative to the tile start) of the last splat blended, -1 if none
    t_stop,  # float32: a pixel also stops once a splat it blended took T to this or below (0: never)
):
    """Front-to-back blending, one tile at a time, stopping each pixel before T <= T_MIN (the
    splat that would take it there is not blended: INRIA's rule) or after T <= t_stop."""
    tiles_x = (width + TILE_SIZE - 1) // TILE_SIZE
    num_tiles = tile_off.shape[0] - 1
    nc = values.shape[1]
    # Tiles are dealt out round-robin: prange splits its range into equal contiguous blocks, and
    # neighbouring tiles cost about the same, so this balances the threads.
    num_items = min(num_tiles, WORK_ITEMS)
    for item in prange(num_items):
        # Scratch of one tile, allocated once per work item and reset for each of its tiles.
        trans = np.empty(TILE_SIZE * TILE_SIZE, np.float32)
        done = np.empty(TILE_SIZE * TILE_SIZE, np.bool_)
        # Per row, the columns [live_lo, live_hi) between its first and last unfinished pixels:
        # spans are clipped to them, and a finished row is skipped whole.
        live_lo = np.empty(TILE_SIZE, np.int64)
        live_hi = np.empty(TILE_SIZE, np.int64)
        acc = np.empty((TILE_SIZE * TILE_SIZE, nc), np.float32)
        lastk = np.empty(TILE_SIZE * TILE_SIZE, np.int32)
        for t in range(item, num_tiles, num_items):
            x_lo, x_hi, y_lo, y_hi = tile_rect(t, tiles_x, width, height)
            tw = x_hi - x_lo
            npix = tw * (y_hi - y_lo)
            trans[:npix] = 1.0
            done[:npix] = False
            live_lo[:] = x_lo
            live_hi[:] = x_hi
            acc[:npix] = 0.0
            lastk[:npix] = -1
            ndone = 0
            start = tile_off[t]
            for k in range(start, tile_off[t + 1]):
                if ndone == npix:
                    break
                r = tile_list[k]
                u, v, a, b, c, o = gpar[r, P_X], gpar[r, P_Y], gpar[r, P_A], gpar[r, P_B], gpar[r, P_C], gpar[r, P_OPAC]
                y0, y1 = row_range(gpar, r, y_lo, y_hi)
                for py in range(y0, y1):
                    row = py - y_lo
                    if live_lo[row] >= live_hi[row]:
                        continue
                    x0, x1 = row_span(gpar, r, py, live_lo[row], live_hi[row])
                    dy = np.float32(py + F32_HALF) - v
                    for px in range(x0, x1):
                        p = row * tw + (px - x_lo)
                        if done[p]:
                            continue
                        alpha = splat_alpha(u, v, a, b, c, o, np.float32(px + F32_HALF) - u, dy)
                        if alpha == 0:
                            continue
                        t_next = trans[p] * (F32_ONE - alpha)
                        if t_next > F32_T_MIN:
                            w = alpha * trans[p]
                            for ch in range(nc):
                                acc[p, ch] += w * values[r, ch]
                            trans[p] = t_next
                            lastk[p] = k - start
                            if t_next > t_stop:
                                continue
                        done[p] = True
                        ndone += 1
                        base = row * tw - x_lo
                        while live_lo[row] < live_hi[row] and done[base + live_lo[row]]:
                            live_lo[row] += 1
                        while live_lo[row] < live_hi[row] and done[base + live_hi[row] - 1]:
                            live_hi[row] -= 1
            for py in range(y_lo, y_hi):
                for px in range(x_lo, x_hi):
                    p = (py - y_lo) * tw + (px - x_lo)
                    out[py, px, :] = acc[p]
                    last[py, px] = lastk[p]
                    t_final[py, px] = trans[p]
