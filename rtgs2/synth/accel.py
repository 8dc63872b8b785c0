"""A uniform-grid acceleration structure for the SynthRooms ray caster.

``raycast.closest_hits`` tests every ray against all M primitives, fine for v1 rooms (50-150
primitives, one primary ray per pixel) but too slow for v2 rooms (200-600 primitives, 10-15
shading rays per pixel). Here the primitives are binned into a uniform 3D grid over their
bounding boxes (``build_grid``), and each ray walks only the cells it crosses (3D DDA of
Amanatides and Woo, ``closest_hits_grid``), stopping once its best hit lies inside the cells
already walked, so a ray's cost follows the cells it crosses and the primitives in them rather
than M.

Outputs equal ``raycast.closest_hits`` exactly: every primitive is tested by the same
arithmetic (the same bounding-sphere rejection and the same inlined intersection routines),
so a primitive's t is bit-identical, and ties in t go to the lower index as in the brute-force
loop. ``cast_grid`` is the drop-in for ``raycast.cast``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from rtgs2.synth.furniture import BOX, CYLINDER
from rtgs2.synth.raycast import RAY_EPS, _hit_box, _hit_unit_cylinder, _hit_unit_sphere
from rtgs2.synth.room import Room
from rtgs2.utils.threads import torch_threads_kept
import rtgs2.synth.furniture as furniture
import rtgs2.synth.raycast as raycast
from rtgs2.utils.numba_cache import compiled_with

# the kernel inlines the intersection routines and RAY_EPS of raycast.py and the kind codes of
# furniture.py: their content joins the cache stamp, so no stale kernel is ever loaded
INLINED_SOURCES = compiled_with(__file__, raycast.__file__, furniture.__file__)

GRID_CELL = 0.25  # metres; default cell edge (a few primitives per cell in furnished rooms)
GRID_MAX_DIM = 64  # cells per axis at most (a 16 m room at the default cell size)
GRID_MAX_CELLS = 50_000  # cells in all at most; a larger room gets coarser cells
# metres; primitive boxes grow by this before binning, so a hit computed with rounding error just
# outside its primitive's box (grazing hits are only accurate to ~sqrt(float eps)), or a cell
# boundary crossed with rounding error, never hides the primitive from the walk
AABB_PAD = 1e-5
# a primitive whose box covers more than this fraction of the grid's cells (room shell, big rugs)
# is tested for every ray instead of listed in each cell (measured in benchmarks/raycast.py: the
# shell boxes tested per ray made casting 0.7-0.9x as fast as listing them, so by default nothing is "big")
BIG_FRACTION = 1.0
RAY_CHUNK = 64  # rays per parallel work item (each item allocates one mailbox of M stamps)


@dataclass
class Grid:
    """Primitives of a room binned into ``dims`` = (nx, ny, nz) cells of edge ``cell`` [3]
    metres from the corner ``origin`` [3] (world metres). Cell (ix, iy, iz) is number
    ``(iz * ny + iy) * nx + ix``; its primitives are ``cell_items[cell_start[c]:cell_start[c + 1]]``
    (CSR: ``cell_start`` [C + 1] int64, ``cell_items`` [K] int32, ascending per cell).
    ``big`` [B] int32 primitives tested for every ray and listed in no cell.

    The per-primitive arrays the kernel reads are kept here, computed once per room as
    ``raycast.cast`` computes them per call: ``kind`` [M] int64, ``center`` / ``half`` [M, 3]
    metres, ``cos_yaw`` / ``sin_yaw`` [M], ``radius`` [M] metres (bounding spheres)."""

    origin: np.ndarray
    cell: np.ndarray
    dims: np.ndarray
    cell_start: np.ndarray
    cell_items: np.ndarray
    big: np.ndarray
    kind: np.ndarray
    center: np.ndarray
    half: np.ndarray
    cos_yaw: np.ndarray
    sin_yaw: np.ndarray
    radius: np.ndarray

    @property
    def num_cells(self) -> int:
        return int(np.prod(self.dims))

    @property
    def num_primitives(self) -> int:
        return len(self.kind)


def primitive_bounds(room: Room) -> tuple[np.ndarray, np.ndarray]:
    """World axis-aligned boxes (lo [M, 3], hi [M, 3], metres) that contain each primitive.

    Boxes rotate their xy half extents exactly (the rotated rectangle's extents); cylinders and
    ellipsoids take the same bound, which contains their rotated ellipse (it is inscribed in
    the rectangle of their radii)."""
    c, s = np.abs(np.cos(room.yaw)), np.abs(np.sin(room.yaw))
    hx, hy, hz = room.half[:, 0], room.half[:, 1], room.half[:, 2]
    ext = np.stack([c * hx + s * hy, s * hx + c * hy, hz], axis=1)
    return room.center - ext, room.center + ext


def build_grid(room: Room, cell: float = GRID_CELL, big_fraction: float = BIG_FRACTION) -> Grid:
    """The grid of ``room``'s primitives, cells of about ``cell`` metres (coarser where
    GRID_MAX_DIM or GRID_MAX_CELLS require), over the union of the primitives' padded boxes.
    Primitives whose box covers more than ``big_fraction`` of the cells go to ``Grid.big``."""
    if room.num_primitives == 0:
        raise ValueError("a room without primitives has nothing to bin")
    lo, hi = primitive_bounds(room)
    lo, hi = lo - AABB_PAD, hi + AABB_PAD
    g_lo, g_hi = lo.min(axis=0), hi.max(axis=0)
    span = g_hi - g_lo
    edge = float(cell)
    while True:  # the cell grows until both caps hold
        dims = np.clip(np.ceil(span / edge).astype(np.int64), 1, GRID_MAX_DIM)
        if int(np.prod(dims)) <= GRID_MAX_CELLS:
            break
        edge *= 1.1
    csize = span / dims  # exact cover of the box: the last cell ends at g_hi
    # cell ranges each primitive overlaps, inclusive
    i0 = np.clip(np.floor((lo - g_lo) / csize).astype(np.int64), 0, dims - 1)
    i1 = np.clip(np.floor((hi - g_lo) / csize).astype(np.int64), 0, dims - 1)
    counts = np.prod(i1 - i0 + 1, axis=1)
    is_big = counts > big_fraction * np.prod(dims)
    cells, items = [], []
    for m in np.flatnonzero(~is_big):
        ix, iy, iz = (np.arange(i0[m, a], i1[m, a] + 1) for a in range(3))
        c = ((iz[:, None, None] * dims[1] + iy[None, :, None]) * dims[0] + ix[None, None, :]).ravel()
        cells.append(c)
        items.append(np.full(len(c), m, np.int32))
    cells_a = np.concatenate(cells) if cells else np.zeros(0, np.int64)
    items_a = np.concatenate(items) if items else np.zeros(0, np.int32)
    order = np.argsort(cells_a, kind="stable")  # primitives were appended in index order: kept per cell
    cell_start = np.zeros(int(np.prod(dims)) + 1, np.int64)
    np.cumsum(np.bincount(cells_a, minlength=int(np.prod(dims))), out=cell_start[1:])
    return Grid(
        origin=g_lo, cell=csize, dims=dims, cell_start=cell_start, cell_items=items_a[order],
        big=np.flatnonzero(is_big).astype(np.int32), kind=room.kind.astype(np.int64),
        center=np.ascontiguousarray(room.center, dtype=np.float64), half=np.ascontiguousarray(room.half, dtype=np.float64),
        cos_yaw=np.cos(room.yaw), sin_yaw=np.sin(room.yaw),
        # as raycast.cast: slightly above the primitive's circumradius, never rejecting a hit
        radius=np.linalg.norm(room.half, axis=1) * (1 + 1e-9) + RAY_EPS,
    )  # fmt: skip


@numba.njit(cache=True, inline="always")
def _test_prim(m, ox, oy, oz, dx, dy, dz, best, bp, kind, center, half, cos_yaw, sin_yaw, radius):
    """Primitive ``m`` against the ray, with the arithmetic of ``raycast.closest_hits``.

    Returns (taken, t, nx, ny, nz): taken when it is hit at 0 < t and t beats ``best`` (or ties
    it with a lower index than ``bp``, the order in which the brute-force loop would keep it);
    then (nx, ny, nz) is the unnormalised world normal."""
    px, py, pz = ox - center[m, 0], oy - center[m, 1], oz - center[m, 2]
    dd = dx * dx + dy * dy + dz * dz
    pd = px * dx + py * dy + pz * dz
    pp = px * px + py * py + pz * pz
    if pp - pd * pd / dd > radius[m] * radius[m] or (pd > 0 and pp > radius[m] * radius[m]):
        return False, 0.0, 0.0, 0.0, 0.0
    c, s = cos_yaw[m], sin_yaw[m]
    lx, ly, lz = c * px + s * py, -s * px + c * py, pz
    ex, ey, ez = c * dx + s * dy, -s * dx + c * dy, dz
    hx, hy, hz = half[m, 0], half[m, 1], half[m, 2]
    ux, uy, uz = 0.0, 0.0, 0.0
    if kind[m] == BOX:
        t, ax, sg = _hit_box(lx, ly, lz, ex, ey, ez, hx, hy, hz)
        if not (t > 0 and (t < best or (t == best and m < bp))):
            return False, 0.0, 0.0, 0.0, 0.0
        ux, uy, uz = (sg if ax == 0 else 0.0), (sg if ax == 1 else 0.0), (sg if ax == 2 else 0.0)
    elif kind[m] == CYLINDER:
        t, part = _hit_unit_cylinder(lx / hx, ly / hy, lz / hz, ex / hx, ey / hy, ez / hz)
        if not (t > 0 and (t < best or (t == best and m < bp))):
            return False, 0.0, 0.0, 0.0, 0.0
        if part == 0:
            ux, uy, uz = (lx + t * ex) / (hx * hx), (ly + t * ey) / (hy * hy), 0.0
        else:
            ux, uy, uz = 0.0, 0.0, float(part)
    else:
        t = _hit_unit_sphere(lx / hx, ly / hy, lz / hz, ex / hx, ey / hy, ez / hz)
        if not (t > 0 and (t < best or (t == best and m < bp))):
            return False, 0.0, 0.0, 0.0, 0.0
        ux, uy, uz = (lx + t * ex) / (hx * hx), (ly + t * ey) / (hy * hy), (lz + t * ez) / (hz * hz)
    return True, t, c * ux - s * uy, s * ux + c * uy, uz


@numba.njit(inline="always")
def _boundary_t(o, d, g0, cs, i):
    """Ray parameter where the walk leaves cell ``i`` along one axis (inf for d == 0)."""
    if d > 0:
        return (g0 + (i + 1) * cs - o) / d
    if d < 0:
        return (g0 + i * cs - o) / d
    return np.inf


@numba.njit(parallel=True, cache=True)
def closest_hits_grid(
    orig, dirs, t_max, kind, center, half, cos_yaw, sin_yaw, radius, g_origin, g_cell, g_dims, cell_start, cell_items, big, mailbox
):  # pragma: no cover (jit)
    """``raycast.closest_hits`` through a grid: for R rays ``orig + t * dirs`` ([R, 3] each)
    the nearest primitive with RAY_EPS < t < t_max [R]. Returns t [R] (t_max where none),
    prim [R] int32 (-1 = none) and the unit outward normal [R, 3]; equal to closest_hits.

    The grid (see :class:`Grid`): corner ``g_origin`` [3], cell edges ``g_cell`` [3] metres,
    ``g_dims`` [3] int64, CSR ``cell_start`` / ``cell_items``; ``big`` [B] primitives are
    tested for every ray. ``mailbox``: skip a primitive already tested for this ray (it sits in
    several cells; the repeated test would give the same answer)."""
    r_n, m_n = orig.shape[0], kind.shape[0]
    nx_, ny_, nz_ = g_dims[0], g_dims[1], g_dims[2]
    t_out = t_max.copy()
    p_out = np.full(r_n, -1, np.int32)
    n_out = np.zeros((r_n, 3))
    n_chunks = (r_n + RAY_CHUNK - 1) // RAY_CHUNK
    for chunk in numba.prange(n_chunks):
        stamp = np.full(m_n if mailbox else 0, -1, np.int64)  # last ray that tested each primitive
        for r in range(chunk * RAY_CHUNK, min(r_n, (chunk + 1) * RAY_CHUNK)):
            ox, oy, oz = orig[r, 0], orig[r, 1], orig[r, 2]
            dx, dy, dz = dirs[r, 0], dirs[r, 1], dirs[r, 2]
            best, bp, nx, ny, nz = t_max[r], -1, 0.0, 0.0, 0.0
            for k in range(big.shape[0]):
                m = big[k]
                ok, t, ax, ay, az = _test_prim(m, ox, oy, oz, dx, dy, dz, best, bp, kind, center, half, cos_yaw, sin_yaw, radius)
                if ok:
                    best, bp, nx, ny, nz = t, m, ax, ay, az
            # the ray's span inside the grid box (slab test); nothing to walk if it misses it
            t0, t1 = 0.0, best
            for a in range(3):
                o, d = orig[r, a], dirs[r, a]
                lo, hi = g_origin[a], g_origin[a] + g_dims[a] * g_cell[a]
                if d == 0.0:
                    if o < lo or o > hi:
                        t1 = -1.0
                else:
                    ta, tb = (lo - o) / d, (hi - o) / d
                    if ta > tb:
                        ta, tb = tb, ta
                    t0, t1 = max(t0, ta), min(t1, tb)
            if t0 <= t1:
                # the cell of the entry point; rounding may put it one cell off across a face,
                # which AABB_PAD covers, and the clamp keeps it inside the grid
                ix = min(max(int(math.floor((ox + t0 * dx - g_origin[0]) / g_cell[0])), 0), nx_ - 1)
                iy = min(max(int(math.floor((oy + t0 * dy - g_origin[1]) / g_cell[1])), 0), ny_ - 1)
                iz = min(max(int(math.floor((oz + t0 * dz - g_origin[2]) / g_cell[2])), 0), nz_ - 1)
                sx, sy, sz = (1 if dx > 0 else -1), (1 if dy > 0 else -1), (1 if dz > 0 else -1)
                tx = _boundary_t(ox, dx, g_origin[0], g_cell[0], ix)
                ty = _boundary_t(oy, dy, g_origin[1], g_cell[1], iy)
                tz = _boundary_t(oz, dz, g_origin[2], g_cell[2], iz)
                while True:
                    c = (iz * ny_ + iy) * nx_ + ix
                    for k in range(cell_start[c], cell_start[c + 1]):
                        m = cell_items[k]
                        if mailbox:
                            if stamp[m] == r:
                                continue
                            stamp[m] = r
                        ok, t, ax, ay, az = _test_prim(m, ox, oy, oz, dx, dy, dz, best, bp, kind, center, half, cos_yaw, sin_yaw, radius)
                        if ok:
                            best, bp, nx, ny, nz = t, m, ax, ay, az
                    # A hit beyond this cell's exit may still be beaten by a primitive in a later
                    # cell; one before the exit cannot (whatever it hits there lies in the cells
                    # walked so far), nor can anything past t_max (best starts there).
                    t_exit = min(tx, min(ty, tz))
                    if best <= t_exit:
                        break
                    if tx <= ty and tx <= tz:
                        ix += sx
                        if ix < 0 or ix >= nx_:
                            break
                        tx = _boundary_t(ox, dx, g_origin[0], g_cell[0], ix)
                    elif ty <= tz:
                        iy += sy
                        if iy < 0 or iy >= ny_:
                            break
                        ty = _boundary_t(oy, dy, g_origin[1], g_cell[1], iy)
                    else:
                        iz += sz
                        if iz < 0 or iz >= nz_:
                            break
                        tz = _boundary_t(oz, dz, g_origin[2], g_cell[2], iz)
            if bp >= 0:
                norm = np.sqrt(nx * nx + ny * ny + nz * nz)
                t_out[r], p_out[r] = best, bp
                n_out[r, 0], n_out[r, 1], n_out[r, 2] = nx / norm, ny / norm, nz / norm
    return t_out, p_out, n_out


def cast_grid(
    room: Room, grid: Grid, orig: np.ndarray, dirs: np.ndarray, t_max: np.ndarray | float = np.inf, mailbox: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``raycast.cast`` through ``grid`` (``build_grid(room)``): nearest hits of rays ``orig``
    [R, 3] (or [3]) + t ``dirs`` [R, 3] (world metres) in ``room``.

    Returns t [R] (inf / t_max where nothing is hit), prim [R] int32 (-1 = none), normal [R, 3],
    equal to ``raycast.cast``'s. ``mailbox``: test each primitive once per ray although it sits
    in several cells (1.1-1.4x faster in benchmarks/raycast.py; the results are the same)."""
    if grid.num_primitives != room.num_primitives:
        raise ValueError(f"grid of {grid.num_primitives} primitives for a room of {room.num_primitives}")
    orig = np.ascontiguousarray(np.broadcast_to(orig, dirs.shape), dtype=np.float64)
    tm = np.ascontiguousarray(np.broadcast_to(np.asarray(t_max, dtype=np.float64), (len(dirs),)))
    g = grid
    with torch_threads_kept():  # numba's parallel launch would set torch's thread count to its own
        return closest_hits_grid(
            orig, np.ascontiguousarray(dirs, dtype=np.float64), tm, g.kind, g.center, g.half, g.cos_yaw, g.sin_yaw, g.radius,
            g.origin, g.cell, g.dims, g.cell_start, g.cell_items, g.big, mailbox,
        )  # fmt: skip
