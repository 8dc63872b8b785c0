"""Numba CPU kernels of the tile rasterizer, backward pass (checked by autograd through ``reference.py``).

Two steps, after the forward kernels of ``numba_kernels.py``:

1. ``blend_tiles_backward``  per tile (parallel): each pixel is walked back to front from its last
   blended splat, recovering the transmittance from the final one (gsplat's scheme). Gradients
   w.r.t. each splat's 2D mean, conic, opacity and blended values are summed over the tile's
   pixels into that (tile, splat) entry's row: no atomics, and the result does not depend on
   the thread count.
2. ``gaussians_backward``    per Gaussian (parallel): sums its entries' rows, then goes back
   through the projection (conic -> 2D covariance -> 3D covariance -> quaternion and scales;
   2D mean and the Jacobian -> camera point -> mean), the sigmoid, and the SH colour (including
   the clamp at 0 and the view direction's dependence on the mean).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from rtgs2.render.constants import COLOR_OFFSET, TILE_SIZE
from rtgs2.render.numba_kernels import (
    CHUNK,
    F32_ALPHA_MAX,
    F32_ALPHA_MIN,
    F32_HALF,
    F32_ONE,
    P_A,
    P_B,
    P_C,
    P_OPAC,
    P_X,
    P_Y,
    V_DEPTH,
    V_FEAT,
    WORK_ITEMS,
    cov2d_of,
    frustum_limits,
    projection_matrix,
    quat_rotmat,
    row_range,
    row_span,
    sh_basis,
    splat_sigma,
    tile_rect,
    view_dir,
    world_cov,
)
from rtgs2.scene.sh import SH_C1, SH_C2, SH_C3
import rtgs2.render.constants as constants
import rtgs2.render.numba_kernels as nk
import rtgs2.scene.sh as sh
from rtgs2.utils.numba_cache import compiled_with

# the kernels inline the helpers of numba_kernels.py and the constants of render/constants.py and
# scene/sh.py: their content joins the cache stamp, so no stale kernel (wrong gradients) is loaded
INLINED_SOURCES = compiled_with(__file__, nk.__file__, constants.__file__, sh.__file__)

# ent_grad columns: gradient of one (tile, splat) entry.
G_X, G_Y, G_A, G_B, G_C, G_OPAC = range(6)
G_VAL = 6  # then one column per blended value (colour, z, features)


@njit(parallel=True, cache=True)
def blend_tiles_backward(
    tile_off,  # [T+1] int64
    tile_list,  # [E] int32 depth ranks
    gpar,  # [M, NUM_PARAMS]
    values,  # [M, C]
    width,
    height,
    t_final,  # [H, W] final transmittance of the forward
    last,  # [H, W] int32 last blended tile-list position, -1 if none
    v_out,  # [H, W, C] dL/d(accumulated values)
    v_alpha,  # [H, W] dL/d(alpha)
    channels,  # [A] int64 value channels with a nonzero dL/d(out) somewhere; the others get zero
    ent_grad,  # out [E, G_VAL + C]
):
    """Per-entry gradients w.r.t. 2D mean (px), conic, opacity and the splat's values."""
    tiles_x = (width + TILE_SIZE - 1) // TILE_SIZE
    num_tiles = tile_off.shape[0] - 1
    nc = values.shape[1]
    num_items = min(num_tiles, WORK_ITEMS)
    for item in prange(num_items):
        # Scratch of one tile, allocated once per work item.
        trans = np.empty(TILE_SIZE * TILE_SIZE, np.float32)
        lastk = np.empty(TILE_SIZE * TILE_SIZE, np.int64)
        after = np.empty((TILE_SIZE * TILE_SIZE, nc), np.float32)  # sum of w·value of the splats behind
        row_last = np.empty(TILE_SIZE, np.int64)  # rows whose pixels all stopped earlier are skipped
        for t in range(item, num_tiles, num_items):
            x_lo, x_hi, y_lo, y_hi = tile_rect(t, tiles_x, width, height)
            tw = x_hi - x_lo
            npix = tw * (y_hi - y_lo)
            start, end = tile_off[t], tile_off[t + 1]
            ent_grad[start:end, :] = 0.0
            after[:npix] = 0.0
            row_last[:] = -1
            for py in range(y_lo, y_hi):
                for px in range(x_lo, x_hi):
                    p = (py - y_lo) * tw + (px - x_lo)
                    trans[p] = t_final[py, px]
                    lastk[p] = last[py, px]
                    row_last[py - y_lo] = max(row_last[py - y_lo], lastk[p])
            max_last = row_last[: y_hi - y_lo].max() if y_hi > y_lo else -1
            for kk in range(max_last, -1, -1):
                k = start + kk
                r = tile_list[k]
                u, v, a, b, c, o = gpar[r, P_X], gpar[r, P_Y], gpar[r, P_A], gpar[r, P_B], gpar[r, P_C], gpar[r, P_OPAC]
                y0, y1 = row_range(gpar, r, y_lo, y_hi)
                g_u = g_v = g_a = g_b = g_c = g_o = 0.0
                for py in range(y0, y1):
                    if kk > row_last[py - y_lo]:
                        continue
                    x0, x1 = row_span(gpar, r, py, x_lo, x_hi)
                    dy = np.float32(py + F32_HALF) - v
                    for px in range(x0, x1):
                        p = (py - y_lo) * tw + (px - x_lo)
                        if kk > lastk[p]:
                            continue
                        # Same float32 operations as the forward's splat_alpha: same skips.
                        dx = np.float32(px + F32_HALF) - u
                        sigma = splat_sigma(a, b, c, dx, dy)
                        if sigma < 0:
                            continue
                        e = np.exp(-sigma)
                        raw = o * e
                        alpha = min(F32_ALPHA_MAX, raw)
                        if alpha < F32_ALPHA_MIN:
                            continue
                        ra = F32_ONE / (F32_ONE - alpha)
                        t_before = trans[p] * ra
                        trans[p] = t_before
                        w = alpha * t_before
                        d_alpha = float(v_alpha[py, px]) * float(t_final[py, px]) * float(ra)
                        for ch in channels:
                            g = v_out[py, px, ch]
                            ent_grad[k, G_VAL + ch] += w * g
                            d_alpha += float((values[r, ch] * t_before - after[p, ch] * ra) * g)
                            after[p, ch] += w * values[r, ch]
                        if raw <= F32_ALPHA_MAX:  # the clamp at ALPHA_MAX has zero gradient
                            g_o += d_alpha * float(e)
                            d_sigma = -d_alpha * float(alpha)
                            fdx, fdy = float(dx), float(dy)
                            g_a += 0.5 * d_sigma * fdx * fdx
                            g_b += d_sigma * fdx * fdy
                            g_c += 0.5 * d_sigma * fdy * fdy
                            # sigma depends on the mean through dx = px - u, dy = py - v.
                            g_u -= d_sigma * (float(a) * fdx + float(b) * fdy)
                            g_v -= d_sigma * (float(b) * fdx + float(c) * fdy)
                ent_grad[k, G_X], ent_grad[k, G_Y] = g_u, g_v
                ent_grad[k, G_A], ent_grad[k, G_B], ent_grad[k, G_C] = g_a, g_b, g_c
                ent_grad[k, G_OPAC] = g_o


@njit(cache=True, inline="always")
def sh_dir_grad(degree, x, y, z, coef):
    """Gradient w.r.t. the direction (x, y, z) of sum_k coef[k] * Y_k(x, y, z) (components independent)."""
    gx = gy = gz = 0.0
    if degree < 1:
        return gx, gy, gz
    gx += -SH_C1 * coef[3]
    gy += -SH_C1 * coef[1]
    gz += SH_C1 * coef[2]
    if degree < 2:
        return gx, gy, gz
    gx += SH_C2[0] * y * coef[4] + SH_C2[2] * (-2.0 * x) * coef[6] + SH_C2[3] * z * coef[7] + SH_C2[4] * 2.0 * x * coef[8]
    gy += SH_C2[0] * x * coef[4] + SH_C2[1] * z * coef[5] + SH_C2[2] * (-2.0 * y) * coef[6] - SH_C2[4] * 2.0 * y * coef[8]
    gz += SH_C2[1] * y * coef[5] + SH_C2[2] * 4.0 * z * coef[6] + SH_C2[3] * x * coef[7]
    if degree < 3:
        return gx, gy, gz
    xx, yy, zz = x * x, y * y, z * z
    gx += (
        SH_C3[0] * 6.0 * x * y * coef[9]
        + SH_C3[1] * y * z * coef[10]
        + SH_C3[2] * (-2.0 * x * y) * coef[11]
        + SH_C3[3] * (-6.0 * x * z) * coef[12]
        + SH_C3[4] * (4.0 * zz - 3.0 * xx - yy) * coef[13]
        + SH_C3[5] * 2.0 * x * z * coef[14]
        + SH_C3[6] * (3.0 * xx - 3.0 * yy) * coef[15]
    )
    gy += (
        SH_C3[0] * (3.0 * xx - 3.0 * yy) * coef[9]
        + SH_C3[1] * x * z * coef[10]
        + SH_C3[2] * (4.0 * zz - xx - 3.0 * yy) * coef[11]
        + SH_C3[3] * (-6.0 * y * z) * coef[12]
        + SH_C3[4] * (-2.0 * x * y) * coef[13]
        + SH_C3[5] * (-2.0 * y * z) * coef[14]
        + SH_C3[6] * (-6.0 * x * y) * coef[15]
    )
    gz += (
        SH_C3[1] * x * y * coef[10]
        + SH_C3[2] * 8.0 * y * z * coef[11]
        + SH_C3[3] * (6.0 * zz - 3.0 * xx - 3.0 * yy) * coef[12]
        + SH_C3[4] * 8.0 * x * z * coef[13]
        + SH_C3[5] * (xx - yy) * coef[14]
    )
    return gx, gy, gz


@njit(cache=True, inline="always")
def quat_grad(w, x, y, z, qn, dR):
    """dL/d(raw quaternion) from dL/dR [3, 3] for R of the unit quaternion (w, x, y, z) = q / qn."""
    gw = 2.0 * (-z * dR[0, 1] + y * dR[0, 2] + z * dR[1, 0] - x * dR[1, 2] - y * dR[2, 0] + x * dR[2, 1])
    gx = 2.0 * (y * dR[0, 1] + z * dR[0, 2] + y * dR[1, 0] - 2.0 * x * dR[1, 1] - w * dR[1, 2])
    gx += 2.0 * (z * dR[2, 0] + w * dR[2, 1] - 2.0 * x * dR[2, 2])
    gy = 2.0 * (-2.0 * y * dR[0, 0] + x * dR[0, 1] + w * dR[0, 2] + x * dR[1, 0] + z * dR[1, 2])
    gy += 2.0 * (-w * dR[2, 0] + z * dR[2, 1] - 2.0 * y * dR[2, 2])
    gz = 2.0 * (-2.0 * z * dR[0, 0] - w * dR[0, 1] + x * dR[0, 2] + w * dR[1, 0] - 2.0 * z * dR[1, 1])
    gz += 2.0 * (y * dR[1, 2] + x * dR[2, 0] + y * dR[2, 1])
    # Through q / |q| (F.normalize): remove the radial component, divide by |q|.
    dot = w * gw + x * gx + y * gy + z * gz
    return (gw - w * dot) / qn, (gx - x * dot) / qn, (gy - y * dot) / qn, (gz - z * dot) / qn


@njit(parallel=True, cache=True)
def gaussians_backward(
    order,  # [M] int32 Gaussian id per depth rank
    rank_off,  # [M+1] int64
    rank_entry,  # [E] int64
    ent_grad,  # [E, G_VAL + C]
    means,  # [N, 3]
    quats,  # [N, 4]
    log_scales,  # [N, 3]
    opacity_logits,  # [N]
    sh,  # [N, K, 3]
    sh_degree,
    view,  # [4, 4] float64
    intr,  # [4] fx, fy, cx, cy
    cam_center,  # [3]
    width,
    height,
    d_means,  # out [N, 3] (zeros)
    d_quats,  # out [N, 4]
    d_log_scales,  # out [N, 3]
    d_logits,  # out [N]
    d_sh,  # out [N, K, 3]
    d_features,  # out [N, D]
    d_means2d,  # out [N, 2]
):
    """Per-Gaussian gradients from the per-entry ones; Gaussians not drawn keep zero gradients."""
    m = order.shape[0]
    nc = ent_grad.shape[1] - G_VAL
    nfeat = nc - V_FEAT
    nb = (sh_degree + 1) * (sh_degree + 1)
    fx, fy = intr[0], intr[1]
    lims = frustum_limits(width, height, fx, fy, intr[2], intr[3])
    num_chunks = (m + CHUNK - 1) // CHUNK
    for chunk in prange(num_chunks):
        gsum = np.empty(G_VAL + nc)
        R = np.empty((3, 3))
        S = np.empty((3, 3))
        T = np.empty((2, 3))
        dS = np.empty((3, 3))
        dT = np.empty((2, 3))
        dR = np.empty((3, 3))
        Y = np.empty(16)
        coef = np.empty(16)
        for r in range(chunk * CHUNK, min(m, (chunk + 1) * CHUNK)):
            g = order[r]
            gsum[:] = 0.0
            for e in range(rank_off[r], rank_off[r + 1]):
                row = rank_entry[e]
                for j in range(G_VAL + nc):
                    gsum[j] += ent_grad[row, j]
            d_means2d[g, 0], d_means2d[g, 1] = gsum[G_X], gsum[G_Y]
            for j in range(nfeat):
                d_features[g, j] = gsum[G_VAL + V_FEAT + j]
            o = 1.0 / (1.0 + math.exp(-float(opacity_logits[g])))
            d_logits[g] = gsum[G_OPAC] * o * (1.0 - o)

            # Colour = max(SH(dir) + 0.5, 0), dir = normalize(mean - camera centre).
            dx, dy, dz, norm = view_dir(means, g, cam_center)
            sh_basis(sh_degree, dx, dy, dz, Y)
            coef[:] = 0.0
            for ch in range(3):
                col = 0.0
                for j in range(nb):
                    col += Y[j] * sh[g, j, ch]
                gc = gsum[G_VAL + ch] if col + COLOR_OFFSET >= 0.0 else 0.0
                for j in range(nb):
                    d_sh[g, j, ch] = Y[j] * gc
                    coef[j] += sh[g, j, ch] * gc
            gdx, gdy, gdz = sh_dir_grad(sh_degree, dx, dy, dz, coef)
            radial = gdx * dx + gdy * dy + gdz * dz
            d_means[g, 0] += (gdx - dx * radial) / norm
            d_means[g, 1] += (gdy - dy * radial) / norm
            d_means[g, 2] += (gdz - dz * radial) / norm

            # Projection, recomputed as in project_gaussians.
            mx, my, mz = float(means[g, 0]), float(means[g, 1]), float(means[g, 2])
            x = view[0, 0] * mx + view[0, 1] * my + view[0, 2] * mz + view[0, 3]
            y = view[1, 0] * mx + view[1, 1] * my + view[1, 2] * mz + view[1, 3]
            z = view[2, 0] * mx + view[2, 1] * my + view[2, 2] * mz + view[2, 3]
            qw, qx, qy, qz, qn = quat_rotmat(quats, g, R)
            s0, s1, s2 = world_cov(R, log_scales, g, S)
            tx, ty, clamp_x, clamp_y = projection_matrix(view, x, y, z, fx, fy, lims, T)
            a, b, c = cov2d_of(T, S)
            det = a * c - b * b
            det2 = det * det
            ga, gb, gc2 = gsum[G_A], gsum[G_B], gsum[G_C]
            # conic = (c, -b, a) / det  ->  blurred 2D covariance (a, b, c); the blur is a constant.
            d_a = ga * (-c * c / det2) + gb * (b * c / det2) + gc2 * (1.0 / det - a * c / det2)
            d_b = ga * (2.0 * b * c / det2) + gb * (-1.0 / det - 2.0 * b * b / det2) + gc2 * (2.0 * a * b / det2)
            d_c = ga * (1.0 / det - a * c / det2) + gb * (b * a / det2) + gc2 * (-a * a / det2)
            # cov2d = T S T^T with symmetric gradient G = [[d_a, d_b/2], [d_b/2, d_c]].
            g00, g01, g11 = d_a, 0.5 * d_b, d_c
            for i in range(3):
                for j in range(3):
                    dS[i, j] = (
                        T[0, i] * (g00 * T[0, j] + g01 * T[1, j]) + T[1, i] * (g01 * T[0, j] + g11 * T[1, j])
                    )
            for j in range(3):  # dT = 2 G T S
                ts0 = T[0, 0] * S[0, j] + T[0, 1] * S[1, j] + T[0, 2] * S[2, j]
                ts1 = T[1, 0] * S[0, j] + T[1, 1] * S[1, j] + T[1, 2] * S[2, j]
                dT[0, j] = 2.0 * (g00 * ts0 + g01 * ts1)
                dT[1, j] = 2.0 * (g01 * ts0 + g11 * ts1)
            # T = J R_view: dJ = dT R_view^T; only J00, J02, J11, J12 are not constant zeros.
            dj00 = dT[0, 0] * view[0, 0] + dT[0, 1] * view[0, 1] + dT[0, 2] * view[0, 2]
            dj02 = dT[0, 0] * view[2, 0] + dT[0, 1] * view[2, 1] + dT[0, 2] * view[2, 2]
            dj11 = dT[1, 0] * view[1, 0] + dT[1, 1] * view[1, 1] + dT[1, 2] * view[1, 2]
            dj12 = dT[1, 0] * view[2, 0] + dT[1, 1] * view[2, 1] + dT[1, 2] * view[2, 2]
            z2, z3 = z * z, z * z * z
            gz = gsum[G_VAL + V_DEPTH]
            gz += -fx / z2 * dj00 - fy / z2 * dj11 + 2.0 * fx * tx / z3 * dj02 + 2.0 * fy * ty / z3 * dj12
            d_tx, d_ty = -fx / z2 * dj02, -fy / z2 * dj12
            gx = gsum[G_X] * fx / z
            gy = gsum[G_Y] * fy / z
            gz += -gsum[G_X] * fx * x / z2 - gsum[G_Y] * fy * y / z2
            # tx = z * clamp(x / z): d/dx = 1, d/dz = 0 inside the clamp; d/dx = 0, d/dz = bound outside.
            if clamp_x:
                gz += d_tx * tx / z
            else:
                gx += d_tx
            if clamp_y:
                gz += d_ty * ty / z
            else:
                gy += d_ty
            for i in range(3):  # camera point = R_view mean + t
                d_means[g, i] += view[0, i] * gx + view[1, i] * gy + view[2, i] * gz
            # S = M M^T, M = R diag(s): dM = 2 dS M; dR = dM diag(s); ds_j = sum_i dM_ij R_ij.
            sc = (s0, s1, s2)
            for j in range(3):
                ds = 0.0
                for i in range(3):
                    dm = 2.0 * (dS[i, 0] * R[0, j] + dS[i, 1] * R[1, j] + dS[i, 2] * R[2, j]) * sc[j]
                    dR[i, j] = dm * sc[j]
                    ds += dm * R[i, j]
                d_log_scales[g, j] = ds * sc[j]
            d_quats[g, 0], d_quats[g, 1], d_quats[g, 2], d_quats[g, 3] = quat_grad(qw, qx, qy, qz, qn, dR)
