"""Exact ray casting of a :class:`Room`: closest hits against boxes, vertical cylinders and
ellipsoids (numba), then shading (point lights, hard shadows by shadow rays, Lambert +
Blinn-Phong specular, so colour depends on the view) and per-pixel ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from rtgs2.data.views import IGNORE_LABEL
from rtgs2.scene.camera import Camera
import rtgs2.synth.furniture as furniture
from rtgs2.synth.furniture import BOX, CYLINDER
from rtgs2.synth.materials import albedo
from rtgs2.synth.room import Room
from rtgs2.utils.numba_cache import compiled_with
from rtgs2.utils.threads import torch_threads_kept

# the kernels compile in the primitive kind codes of furniture.py: its content joins the cache stamp
compiled_with(__file__, furniture.__file__)

RAY_EPS = 1e-6  # metres; hits closer than this along a ray are ignored (self-intersection)
SHADOW_OFFSET = 1e-4  # metres; shadow rays start this far off the surface, along its normal
LIGHT_FALLOFF = 2.0  # metres; light decays as 1 / (1 + (d / LIGHT_FALLOFF)^2), softer than 1/d^2
GAMMA = 2.2  # linear -> display RGB


@numba.njit(cache=True, inline="always")
def _hit_box(ox, oy, oz, dx, dy, dz, hx, hy, hz):
    """Entry distance into the box |x|<=h and the axis (0-2, sign in the 2nd value) it entered by."""
    tnear, tfar, ax, sg = -1e30, 1e30, -1, 0.0
    for a in range(3):
        o = ox if a == 0 else (oy if a == 1 else oz)
        d = dx if a == 0 else (dy if a == 1 else dz)
        h = hx if a == 0 else (hy if a == 1 else hz)
        if abs(d) < 1e-15:
            if abs(o) > h:
                return -1.0, 0, 0.0
            continue
        t0, t1 = (-h - o) / d, (h - o) / d
        s = -1.0
        if t0 > t1:
            t0, t1, s = t1, t0, 1.0
        if t0 > tnear:
            tnear, ax, sg = t0, a, s
        tfar = min(tfar, t1)
    if tnear > tfar or tnear < RAY_EPS:  # a miss, or the ray starts inside: no outer surface ahead
        return -1.0, 0, 0.0
    return tnear, ax, sg


@numba.njit(cache=True, inline="always")
def _hit_unit_sphere(ox, oy, oz, dx, dy, dz):
    a = dx * dx + dy * dy + dz * dz
    b = ox * dx + oy * dy + oz * dz
    c = ox * ox + oy * oy + oz * oz - 1.0
    disc = b * b - a * c
    if disc < 0 or c < 0:  # a miss, or the ray starts inside
        return -1.0
    t = (-b - np.sqrt(disc)) / a
    return t if t > RAY_EPS else -1.0


@numba.njit(cache=True, inline="always")
def _hit_unit_cylinder(ox, oy, oz, dx, dy, dz):
    """Entry into x^2+y^2<=1, |z|<=1; returns t and 0 (side) or +-1 (cap)."""
    best, part = 1e30, 0
    a = dx * dx + dy * dy
    if a > 1e-30:
        b = ox * dx + oy * dy
        c = ox * ox + oy * oy - 1.0
        disc = b * b - a * c
        if disc >= 0:
            t = (-b - np.sqrt(disc)) / a
            if t > RAY_EPS and abs(oz + t * dz) <= 1.0:
                best, part = t, 0
    if abs(dz) > 1e-15:
        for s in (-1.0, 1.0):
            t = (s - oz) / dz
            if RAY_EPS < t < best:
                x, y = ox + t * dx, oy + t * dy
                if x * x + y * y <= 1.0 and oz * s > 1.0:  # only caps seen from outside
                    best, part = t, int(s)
    return (best if best < 1e30 else -1.0), part


@numba.njit(parallel=True, cache=True)
def closest_hits(orig, dirs, t_max, kind, center, half, cos_yaw, sin_yaw, radius):  # pragma: no cover (jit)
    """For R rays ``orig + t * dirs`` ([R, 3] each) find the nearest primitive with
    RAY_EPS < t < t_max [R]. Returns t [R] (t_max where none), prim [R] int32 (-1 = none)
    and the unit outward normal [R, 3]. ``radius`` [M] bounds each primitive (a cheap
    ray-sphere test skips most primitives)."""
    r_n, m_n = orig.shape[0], kind.shape[0]
    t_out = t_max.copy()
    p_out = np.full(r_n, -1, np.int32)
    n_out = np.zeros((r_n, 3))
    for r in numba.prange(r_n):
        best, bp, nx, ny, nz = t_max[r], -1, 0.0, 0.0, 0.0
        for m in range(m_n):
            # into the primitive frame: translate, rotate by -yaw about z
            px, py, pz = orig[r, 0] - center[m, 0], orig[r, 1] - center[m, 1], orig[r, 2] - center[m, 2]
            dd = dirs[r, 0] * dirs[r, 0] + dirs[r, 1] * dirs[r, 1] + dirs[r, 2] * dirs[r, 2]
            pd = px * dirs[r, 0] + py * dirs[r, 1] + pz * dirs[r, 2]
            pp = px * px + py * py + pz * pz
            if pp - pd * pd / dd > radius[m] * radius[m] or (pd > 0 and pp > radius[m] * radius[m]):
                continue  # the ray misses the bounding sphere, or points away from it
            c, s = cos_yaw[m], sin_yaw[m]
            lx, ly, lz = c * px + s * py, -s * px + c * py, pz
            ex, ey, ez = c * dirs[r, 0] + s * dirs[r, 1], -s * dirs[r, 0] + c * dirs[r, 1], dirs[r, 2]
            hx, hy, hz = half[m, 0], half[m, 1], half[m, 2]
            if kind[m] == BOX:
                t, ax, sg = _hit_box(lx, ly, lz, ex, ey, ez, hx, hy, hz)
                if 0 < t < best:
                    ux, uy, uz = (sg if ax == 0 else 0.0), (sg if ax == 1 else 0.0), (sg if ax == 2 else 0.0)
                else:
                    continue
            elif kind[m] == CYLINDER:
                t, part = _hit_unit_cylinder(lx / hx, ly / hy, lz / hz, ex / hx, ey / hy, ez / hz)
                if 0 < t < best:
                    if part == 0:
                        ux, uy, uz = (lx + t * ex) / (hx * hx), (ly + t * ey) / (hy * hy), 0.0
                    else:
                        ux, uy, uz = 0.0, 0.0, float(part)
                else:
                    continue
            else:
                t = _hit_unit_sphere(lx / hx, ly / hy, lz / hz, ex / hx, ey / hy, ez / hz)
                if 0 < t < best:
                    ux, uy, uz = (lx + t * ex) / (hx * hx), (ly + t * ey) / (hy * hy), (lz + t * ez) / (hz * hz)
                else:
                    continue
            best, bp = t, m
            nx, ny, nz = c * ux - s * uy, s * ux + c * uy, uz  # back to world
        if bp >= 0:
            norm = np.sqrt(nx * nx + ny * ny + nz * nz)
            t_out[r], p_out[r] = best, bp
            n_out[r, 0], n_out[r, 1], n_out[r, 2] = nx / norm, ny / norm, nz / norm
    return t_out, p_out, n_out


def cast(room: Room, orig: np.ndarray, dirs: np.ndarray, t_max: np.ndarray | float = np.inf):
    """Nearest hits of rays ``orig`` [R, 3] + t ``dirs`` [R, 3] (world metres) in ``room``.

    Returns t [R] (inf / t_max where nothing is hit), prim [R] int32 (-1 = none), normal [R, 3].
    """
    orig = np.ascontiguousarray(np.broadcast_to(orig, dirs.shape), dtype=np.float64)
    tm = np.ascontiguousarray(np.broadcast_to(np.asarray(t_max, dtype=np.float64), (len(dirs),)))
    with torch_threads_kept():  # numba's parallel launch would set torch's thread count to its own
        return closest_hits(
            orig, np.ascontiguousarray(dirs, dtype=np.float64), tm, room.kind.astype(np.int64), room.center, room.half,
            np.cos(room.yaw), np.sin(room.yaw), np.linalg.norm(room.half, axis=1) * (1 + 1e-9) + RAY_EPS,
        )  # fmt: skip


def shade(room: Room, points: np.ndarray, normals: np.ndarray, prim: np.ndarray, view_dirs: np.ndarray | None) -> np.ndarray:
    """Linear RGB [P, 3] at surface ``points`` [P, 3] with unit ``normals`` [P, 3] facing the
    viewer, on primitives ``prim`` [P]; ``view_dirs`` [P, 3] unit vectors from the eye to the
    points, or None for the view-independent part only (ambient + diffuse, with shadows)."""
    alb = albedo(room.to_local(points, prim), room.material, prim)
    diffuse = np.tile(room.lights.ambient, (len(points), 1))
    spec = np.zeros_like(diffuse)
    start = points + normals * SHADOW_OFFSET
    for lp, lc in zip(room.lights.pos, room.lights.color):
        to_l = lp - start
        dist = np.linalg.norm(to_l, axis=1)
        ldir = to_l / dist[:, None]
        cos = np.einsum("ij,ij->i", normals, ldir)
        lit = cos > 0
        t, _, _ = cast(room, start[lit], ldir[lit], dist[lit])
        vis = np.zeros(len(points), bool)
        vis[np.flatnonzero(lit)] = t >= dist[lit]  # nothing between the point and the light
        energy = np.where(vis, 1.0 / (1.0 + (dist / LIGHT_FALLOFF) ** 2), 0.0)[:, None] * lc
        diffuse += energy * np.maximum(cos, 0)[:, None]
        if view_dirs is not None:
            hvec = ldir - view_dirs
            hvec /= np.linalg.norm(hvec, axis=1, keepdims=True) + 1e-12
            ndoth = np.maximum(np.einsum("ij,ij->i", normals, hvec), 0)
            ks, sh = room.material.specular[prim], room.material.shininess[prim]
            spec += energy * (ks * ndoth**sh)[:, None]
    return alb * diffuse + spec


def to_display(linear: np.ndarray) -> np.ndarray:
    """Linear RGB -> display RGB in [0, 1] (clip, gamma)."""
    return np.clip(linear, 0.0, 1.0) ** (1.0 / GAMMA)


@dataclass
class GroundTruth:
    """One view: ``rgb`` [H, W, 3] float32 display RGB 0-1, ``depth`` [H, W] float32 camera z
    in metres (0 = no surface), ``label`` [H, W] uint8 (255 = nothing hit), ``instance``
    [H, W] uint16 (0 = nothing hit)."""

    rgb: np.ndarray
    depth: np.ndarray
    label: np.ndarray
    instance: np.ndarray


def render_ground_truth(room: Room, camera: Camera) -> GroundTruth:
    """Ray-cast RGB, depth, label and instance id at every pixel centre of ``camera``."""
    o, d = camera.pixel_rays()  # d has camera-z 1, so t is the depth
    h, w = camera.height, camera.width
    dirs = d.numpy().reshape(-1, 3)
    eye = o.numpy()
    t, prim, normal = cast(room, eye, dirs)
    hit = prim >= 0
    rgb = np.zeros((h * w, 3))
    if hit.any():
        pts = eye + t[hit, None] * dirs[hit]
        vd = dirs[hit] / np.linalg.norm(dirs[hit], axis=1, keepdims=True)
        rgb[hit] = to_display(shade(room, pts, normal[hit], prim[hit], vd))
    label = np.full(h * w, IGNORE_LABEL, np.uint8)
    label[hit] = room.label[prim[hit]]
    inst = np.zeros(h * w, np.uint16)
    inst[hit] = room.instance[prim[hit]]
    depth = np.where(hit, t, 0.0)
    return GroundTruth(
        rgb.reshape(h, w, 3).astype(np.float32), depth.reshape(h, w).astype(np.float32), label.reshape(h, w), inst.reshape(h, w)
    )
