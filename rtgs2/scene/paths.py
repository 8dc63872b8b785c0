"""Camera paths: orbits and smooth paths through key positions."""

from __future__ import annotations

import math

import numpy as np

from rtgs2.scene.camera import Camera


def orbit(
    center,  # [3] point looked at, world metres
    radius: float,  # metres, horizontal distance from center
    elevation: float,  # metres above center (along +z, the world's up)
    num_views: int,
    *,
    fov_x_deg: float = 60.0,
    width: int = 320,
    height: int = 240,
    start_deg: float = 0.0,
    up=(0.0, 0.0, 1.0),
) -> list[Camera]:
    """``num_views`` cameras evenly spaced on a horizontal circle, all looking at ``center``."""
    if num_views <= 0 or radius <= 0:
        raise ValueError(f"orbit needs num_views > 0 and radius > 0, got {num_views}, {radius}")
    c = np.asarray(center, dtype=np.float64)
    cams = []
    for k in range(num_views):
        a = math.radians(start_deg) + 2 * math.pi * k / num_views
        eye = c + np.array([radius * math.cos(a), radius * math.sin(a), elevation])
        cams.append(Camera.look_at(eye, c, up, fov_x_deg=fov_x_deg, width=width, height=height))
    return cams


def catmull_rom(points: np.ndarray, num: int, closed: bool = False) -> np.ndarray:
    """Uniform Catmull-Rom spline through ``points`` [M, 3] -> [num, 3]."""
    p = np.asarray(points, dtype=np.float64)
    if p.ndim != 2 or len(p) < 2:
        raise ValueError(f"need at least 2 key points of shape [M, 3], got {p.shape}")
    if closed:
        ext = np.concatenate([p[-1:], p, p[:2]])
        segs = len(p)
    else:
        ext = np.concatenate([2 * p[:1] - p[1:2], p, 2 * p[-1:] - p[-2:-1]])
        segs = len(p) - 1
    ts = np.linspace(0, segs, num, endpoint=not closed)
    out = np.empty((num, p.shape[1]))
    for n, t in enumerate(ts):
        i = min(int(t), segs - 1)
        u = t - i
        p0, p1, p2, p3 = ext[i], ext[i + 1], ext[i + 2], ext[i + 3]
        out[n] = 0.5 * (
            2 * p1 + (-p0 + p2) * u + (2 * p0 - 5 * p1 + 4 * p2 - p3) * u**2 + (-p0 + 3 * p1 - 3 * p2 + p3) * u**3
        )
    return out


def smooth_path(
    eyes,  # [M, 3] key camera positions, world metres
    targets,  # [M, 3] key look-at points
    num_views: int,
    *,
    closed: bool = False,
    fov_x_deg: float = 90.0,
    width: int = 320,
    height: int = 240,
    up=(0.0, 0.0, 1.0),
) -> list[Camera]:
    """Cameras along smooth splines through key positions and key look-at points."""
    e = catmull_rom(np.asarray(eyes), num_views, closed)
    t = catmull_rom(np.asarray(targets), num_views, closed)
    return [Camera.look_at(a, b, up, fov_x_deg=fov_x_deg, width=width, height=height) for a, b in zip(e, t)]
