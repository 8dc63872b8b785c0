"""A procedural room made of flat Gaussian discs: the benchmarks' scene (any size, in seconds).

The room is an axis-aligned box (floor at z = 0, z up) with furniture-like boxes standing on the
floor. Every surface is a rectangle; Gaussians are sampled on them in proportion to area, as thin
discs lying in the surface, overlapping enough to look opaque. Colours come from per-surface
base colours and procedural textures (checker, stripes, wood rings, value noise), with small
higher-order SH terms so the colour depends on the view. Fully determined by the seed.

Imported by the scripts beside it (``from scenes import room_scene``) and by
``tests/benchmarks`` (``from benchmarks.scenes import room_scene``). SynthRooms
(:mod:`rtgs2.synth`) is the labelled generator; this room only has to be fast to make and
render like a real 3DGS room.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from rtgs2.scene.camera import Camera
from rtgs2.scene.gaussians import GaussianScene
from rtgs2.scene.paths import smooth_path
from rtgs2.scene.sh import num_sh_bases, rgb_to_sh_dc

ROOM_HEIGHT = 2.6  # metres, floor to ceiling
DISC_OVERLAP = 1.0  # disc std-dev as a fraction of the mean sample spacing: neighbours overlap
DISC_THICKNESS_RATIO = 0.05  # std-dev along the normal / in-plane std-dev: discs lie flat in their surface
SH_REST_STD = 0.04  # std-dev of higher-order SH coefficients: mild view dependence
EYE_HEIGHT = 1.5  # metres, camera height of room_cameras (standing person)
NUM_TEXTURES = 4


@dataclass(frozen=True)
class Rect:
    """A rectangle origin + s·u + t·v, (s, t) in [0, 1]^2; normal = u × v normalised."""

    origin: np.ndarray  # [3] metres
    u: np.ndarray  # [3] metres
    v: np.ndarray  # [3] metres

    @property
    def area(self) -> float:
        return float(np.linalg.norm(np.cross(self.u, self.v)))


@dataclass(frozen=True)
class RoomLayout:
    """Size of the room and the furniture boxes in it (world metres, z up)."""

    size: tuple[float, float, float]  # x, y, z extent; the room spans [0, size]
    boxes: tuple[tuple[np.ndarray, np.ndarray], ...]  # (min corner [3], max corner [3])

    @property
    def center(self) -> np.ndarray:
        return np.asarray(self.size) / 2


def room_layout(seed: int = 0) -> RoomLayout:
    """The room of ``seed``: 4-6.5 m by 3.5-5.5 m, with 5 boxes (tables, cabinets, a bed) along the walls."""
    rng = np.random.default_rng(seed)
    lx, ly = rng.uniform(4.0, 6.5), rng.uniform(3.5, 5.5)
    boxes = []
    for _ in range(5):
        w, d, h = rng.uniform(0.4, 1.6), rng.uniform(0.4, 1.0), rng.uniform(0.4, 1.2)
        side = rng.integers(4)  # keep furniture near a wall so the room centre stays free for cameras
        if side < 2:
            x0 = rng.uniform(0.05, lx - w - 0.05)
            y0 = 0.05 if side == 0 else ly - d - 0.05
            lo, hi = np.array([x0, y0, 0.0]), np.array([x0 + w, y0 + d, h])
        else:
            y0 = rng.uniform(0.05, ly - w - 0.05)
            x0 = 0.05 if side == 2 else lx - d - 0.05
            lo, hi = np.array([x0, y0, 0.0]), np.array([x0 + d, y0 + w, h])
        boxes.append((lo, hi))
    return RoomLayout((lx, ly, ROOM_HEIGHT), tuple(boxes))


def _surfaces(layout: RoomLayout) -> list[Rect]:
    lx, ly, lz = layout.size
    e = np.eye(3)
    rects = [
        Rect(np.zeros(3), lx * e[0], ly * e[1]),  # floor, normal +z
        Rect(np.array([0, 0, lz]), ly * e[1], lx * e[0]),  # ceiling, normal -z
        Rect(np.zeros(3), lz * e[2], lx * e[0]),  # wall y = 0, normal +y
        Rect(np.array([0, ly, 0]), lx * e[0], lz * e[2]),  # wall y = ly, normal -y
        Rect(np.zeros(3), ly * e[1], lz * e[2]),  # wall x = 0, normal +x
        Rect(np.array([lx, 0, 0]), lz * e[2], ly * e[1]),  # wall x = lx, normal -x
    ]
    for lo, hi in layout.boxes:
        d = hi - lo
        dx, dy, dz = d[0] * e[0], d[1] * e[1], d[2] * e[2]
        rects += [
            Rect(lo + dz, dx, dy),  # top, +z
            Rect(lo, dx, dz),  # front y = lo, -y
            Rect(lo + dy, dz, dx),  # back, +y
            Rect(lo, dz, dy),  # x = lo, -x
            Rect(lo + dx, dy, dz),  # x = hi, +x
        ]
    return rects


def _texture(kind: int, s: np.ndarray, t: np.ndarray, freq: float, rng: np.random.Generator) -> np.ndarray:
    """[M] texture intensity in [0, 1] at surface coordinates (s, t) metres."""
    if kind == 0:  # checker
        return ((np.floor(s * freq) + np.floor(t * freq)) % 2).astype(np.float64)
    if kind == 1:  # stripes
        return 0.5 + 0.5 * np.sin(2 * np.pi * freq * s)
    if kind == 2:  # wood rings
        return 0.5 + 0.5 * np.sin(2 * np.pi * freq * np.hypot(s - 0.3, 0.2 * t) + 3 * np.sin(5 * t))
    phase = rng.uniform(0, 2 * np.pi, 6)  # smooth value noise from a few sines
    return 0.5 + (np.sin(3 * freq * s + phase[0]) * np.sin(2 * freq * t + phase[1]) + 0.5 * np.sin(5 * freq * (s + t) + phase[2])) / 3


def _quat_from_frame(u: np.ndarray, v: np.ndarray, n: np.ndarray) -> np.ndarray:
    """[M, 4] wxyz quaternions of the rotations with columns (u, v, n), each [M, 3] orthonormal."""
    R = np.stack([u, v, n], axis=-1)  # [M, 3, 3]
    w = np.sqrt(np.clip(1 + R[:, 0, 0] + R[:, 1, 1] + R[:, 2, 2], 1e-12, None)) / 2
    q = np.stack([w, (R[:, 2, 1] - R[:, 1, 2]) / (4 * w), (R[:, 0, 2] - R[:, 2, 0]) / (4 * w), (R[:, 1, 0] - R[:, 0, 1]) / (4 * w)], -1)
    # Near 180° rotations w -> 0 loses precision: fall back to a generic conversion via scipy.
    bad = w < 1e-3
    if bad.any():
        from scipy.spatial.transform import Rotation

        xyzw = Rotation.from_matrix(R[bad]).as_quat()
        q[bad] = xyzw[:, [3, 0, 1, 2]]
    return q


def room_scene(
    num_gaussians: int,
    seed: int = 0,
    *,
    sh_degree: int = 3,
    feature_dim: int = 0,
    dtype: torch.dtype = torch.float32,
) -> GaussianScene:
    """A room of about ``num_gaussians`` flat Gaussians (exactly that many).

    Args:
        num_gaussians: N >= 1.
        seed: the room layout, colours and samples; same seed, same scene.
        sh_degree: 0..3; coefficients above degree 0 are small random view dependence.
        feature_dim: D > 0 adds features [N, D]: a random unit vector per surface plus a
            smooth spatial variation and noise (a stand-in for learned features).
    Returns:
        GaussianScene with means in metres inside ``room_layout(seed).size``.
    """
    if num_gaussians < 1:
        raise ValueError(f"num_gaussians must be >= 1, got {num_gaussians}")
    if feature_dim < 0:
        raise ValueError(f"feature_dim must be >= 0, got {feature_dim}")
    k = num_sh_bases(sh_degree)
    layout = room_layout(seed)
    rng = np.random.default_rng(seed + 1)
    rects = _surfaces(layout)
    areas = np.array([r.area for r in rects])
    counts = np.floor(areas / areas.sum() * num_gaussians).astype(int)
    counts[np.argmax(areas)] += num_gaussians - counts.sum()
    spacing = math.sqrt(areas.sum() / num_gaussians)
    parts: dict[str, list[np.ndarray]] = {"means": [], "quats": [], "scales": [], "rgb": [], "feat": []}
    for rect, m in zip(rects, counts):
        if m == 0:
            continue
        s, t = rng.random(m), rng.random(m)
        means = rect.origin + s[:, None] * rect.u + t[:, None] * rect.v
        lu, lv = np.linalg.norm(rect.u), np.linalg.norm(rect.v)
        eu, ev = rect.u / lu, rect.v / lv
        normal = np.cross(eu, ev)
        # Random in-plane rotation and anisotropy of each disc.
        phi = rng.uniform(0, 2 * np.pi, m)[:, None]
        du = np.cos(phi) * eu + np.sin(phi) * ev
        dv = np.cross(np.broadcast_to(normal, du.shape), du)
        quats = _quat_from_frame(du, dv, np.broadcast_to(normal, du.shape))
        aniso = rng.uniform(0.7, 1.4, m)
        base = DISC_OVERLAP * spacing * rng.uniform(0.8, 1.25, m)
        scales = np.stack([base * aniso, base / aniso, DISC_THICKNESS_RATIO * base], -1)
        color_a, color_b = rng.uniform(0.1, 0.9, 3), rng.uniform(0.1, 0.9, 3)
        tex = _texture(int(rng.integers(NUM_TEXTURES)), s * lu, t * lv, rng.uniform(1.0, 4.0), rng)
        rgb = color_a + np.clip(tex, 0, 1)[:, None] * (color_b - color_a) + rng.normal(0, 0.02, (m, 3))
        parts["means"].append(means)
        parts["quats"].append(quats)
        parts["scales"].append(scales)
        parts["rgb"].append(np.clip(rgb, 0.0, 1.0))
        if feature_dim:
            direction = rng.normal(size=feature_dim)
            direction /= np.linalg.norm(direction)
            wave = np.sin(np.outer(s * lu + t * lv, rng.uniform(0.5, 2.0, feature_dim)))
            parts["feat"].append(direction + 0.3 * wave + rng.normal(0, 0.05, (m, feature_dim)))
    cat = {key: np.concatenate(v) for key, v in parts.items() if v}
    n = num_gaussians
    sh = np.zeros((n, k, 3))
    sh[:, 0] = rgb_to_sh_dc(torch.from_numpy(cat["rgb"])).numpy()
    sh[:, 1:] = rng.normal(0, SH_REST_STD, (n, k - 1, 3))
    opacities = rng.uniform(0.8, 0.99, n)

    def as_t(x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(x)).to(dtype)

    return GaussianScene(
        means=as_t(cat["means"]),
        quats=as_t(cat["quats"]),
        log_scales=as_t(np.log(cat["scales"])),
        opacity_logits=as_t(np.log(opacities / (1 - opacities))),
        sh=as_t(sh),
        features=as_t(cat["feat"]) if feature_dim else None,
    )


def room_cameras(
    num_views: int,
    seed: int = 0,
    *,
    width: int = 320,
    height: int = 240,
    fov_x_deg: float = 90.0,
) -> list[Camera]:
    """``num_views`` cameras on a smooth closed loop inside the room of ``seed``, at eye height,
    looking outwards at the walls and furniture (a slow turn around the room's centre)."""
    if num_views < 1:
        raise ValueError(f"num_views must be >= 1, got {num_views}")
    layout = room_layout(seed)
    c = layout.center
    lx, ly, _ = layout.size
    angles = np.linspace(0, 2 * np.pi, 6, endpoint=False)
    ring = np.stack([np.cos(angles), np.sin(angles), np.zeros_like(angles)], -1)
    eyes = np.array([c[0], c[1], EYE_HEIGHT]) + ring * np.array([0.2 * lx, 0.2 * ly, 0])
    # Look ahead and outwards (rotated 60° from the radial direction), slightly down.
    look = np.stack([np.cos(angles + 1.0), np.sin(angles + 1.0), np.full_like(angles, -0.25)], -1)
    targets = eyes + look * np.array([0.45 * lx, 0.45 * ly, 1.0])
    return smooth_path(eyes, targets, num_views, closed=True, fov_x_deg=fov_x_deg, width=width, height=height)
