"""Materials: parameters, and the procedural solid textures of SynthRooms ``v1``.

A material is evaluated at points given in the primitive's own frame (metres), so a texture
moves with its object. ``v1`` patterns (0-4): plain, checker, stripes, value noise, wood rings,
drawn from one pool shared by every class (``material_pool``; kept so that ``v1`` builds as it
always did). ``v2`` draws real-world material families per class (:mod:`rtgs2.synth.appearance`)
with the pattern codes from ``V2_PATTERN_BASE`` on, evaluated by :mod:`rtgs2.synth.textures`.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass, fields, replace

import numpy as np

PLAIN, CHECKER, STRIPES, NOISE, WOOD = range(5)
PATTERNS = ("plain", "checker", "stripes", "noise", "wood")
V2_PATTERN_BASE = 16  # pattern codes >= this are v2 textures (rtgs2.synth.textures)
# Fields a v1 room.json holds; the v2 fields below are written only when a room uses them.
V1_FIELDS = ("a", "b", "pattern", "scale", "axis", "specular", "shininess", "seed")


@dataclass(frozen=True)
class Material:
    """Albedo colours ``a``, ``b`` (linear RGB 0-1), ``pattern`` (index into PATTERNS, or a v2
    texture code), texture period ``scale`` (metres), ``axis`` (0-2, of stripes and wood),
    Blinn-Phong ``specular`` strength (0-1) and ``shininess`` (exponent), ``seed`` of its noise.

    v2 only (zero in v1): a third colour ``c`` (grout, mortar, seams), ``emission`` (self-lit
    radiance scale: lamp shades, screens, the view through a window), ``reflect`` (mirror
    reflectance 0-1 of glossy floors, screens, glass) and ``param`` (a pattern's own shape
    number, e.g. a plank's width, metres)."""

    a: tuple[float, float, float]
    b: tuple[float, float, float]
    pattern: int
    scale: float
    axis: int
    specular: float
    shininess: float
    seed: int
    c: tuple[float, float, float] = (0.0, 0.0, 0.0)
    emission: float = 0.0
    reflect: float = 0.0
    param: float = 0.0


@dataclass
class MaterialArrays:
    """Materials of M primitives as arrays (the fields of :class:`Material`, stacked)."""

    a: np.ndarray  # [M, 3]
    b: np.ndarray  # [M, 3]
    pattern: np.ndarray  # [M] int
    scale: np.ndarray  # [M]
    axis: np.ndarray  # [M] int
    specular: np.ndarray  # [M]
    shininess: np.ndarray  # [M]
    seed: np.ndarray  # [M] int
    c: np.ndarray | None = None  # [M, 3]; the v2 fields are None (zero) in v1 rooms
    emission: np.ndarray | None = None  # [M]
    reflect: np.ndarray | None = None  # [M]
    param: np.ndarray | None = None  # [M]

    def __post_init__(self) -> None:
        m = len(self.pattern)
        self.c = np.zeros((m, 3)) if self.c is None else np.asarray(self.c, np.float64).reshape(m, 3)
        for name in ("emission", "reflect", "param"):
            v = getattr(self, name)
            setattr(self, name, np.zeros(m) if v is None else np.asarray(v, np.float64))

    def to_json(self) -> dict:
        """Plain JSON values; the v2 fields only where some material uses them (so a v1 room is
        written exactly as before)."""
        return {
            f.name: getattr(self, f.name).tolist()
            for f in fields(self)
            if f.name in V1_FIELDS or np.any(getattr(self, f.name) != 0)
        }

    @staticmethod
    def stack(mats: list[Material]) -> MaterialArrays:
        ints = {"pattern", "axis", "seed"}
        cols = {}
        for f in fields(Material):
            cols[f.name] = np.array([getattr(m, f.name) for m in mats], dtype=np.int64 if f.name in ints else np.float64)
        return MaterialArrays(**cols)


def _hsv(h: float, s: float, v: float) -> tuple[float, float, float]:
    return tuple(float(c) for c in colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0.0), 1.0), min(max(v, 0.0), 1.0)))


def random_color(rng: np.random.Generator) -> tuple[float, float, float]:
    """A colour from mixed palettes: neutrals, muted tones, saturated tones, wood-like browns."""
    family = rng.integers(0, 4)
    if family == 0:
        return _hsv(rng.random(), rng.uniform(0.0, 0.12), rng.uniform(0.15, 0.95))
    if family == 1:
        return _hsv(rng.random(), rng.uniform(0.15, 0.45), rng.uniform(0.3, 0.9))
    if family == 2:
        return _hsv(rng.random(), rng.uniform(0.5, 0.9), rng.uniform(0.35, 0.95))
    return _hsv(rng.uniform(0.04, 0.12), rng.uniform(0.35, 0.75), rng.uniform(0.2, 0.8))


def material_pool(seed: int, size: int = 64) -> list[Material]:
    """``size`` materials drawn from ``seed``: every pattern, every palette (shared by all classes)."""
    rng = np.random.default_rng(seed)
    pool = []
    for k in range(size):
        a = random_color(rng)
        if rng.random() < 0.5:  # second colour: a shade of the first, or an unrelated colour
            h, s, v = colorsys.rgb_to_hsv(*a)
            b = _hsv(h + rng.uniform(-0.05, 0.05), s * rng.uniform(0.7, 1.2), v * rng.uniform(0.4, 0.8))
        else:
            b = random_color(rng)
        pattern = k % len(PATTERNS)  # equal shares of each pattern
        scale = float(rng.uniform(0.05, 0.4))
        spec = float(rng.choice([0.0, 0.05, 0.15, 0.3, 0.5]))
        axis, shininess, seed = int(rng.integers(0, 3)), float(rng.uniform(8, 64)), int(rng.integers(0, 2**31))
        pool.append(Material(a, b, pattern, scale, axis, spec, shininess, seed))
    return pool


def draw_material(pool: list[Material], rng: np.random.Generator) -> Material:
    """A pool material, jittered per object (brightness, hue, texture scale, noise seed)."""
    m = pool[int(rng.integers(0, len(pool)))]
    dv, dh = rng.uniform(0.85, 1.15), rng.uniform(-0.03, 0.03)

    def jit(c):
        h, s, v = colorsys.rgb_to_hsv(*c)
        return _hsv(h + dh, s, v * dv)

    return replace(m, a=jit(m.a), b=jit(m.b), scale=m.scale * float(rng.uniform(0.7, 1.4)), seed=int(rng.integers(0, 2**31)))


def _hash01(ix: np.ndarray, iy: np.ndarray, iz: np.ndarray, seed: np.ndarray) -> np.ndarray:
    """Deterministic pseudo-random value in [0, 1) per integer lattice point (xorshift-multiply)."""
    with np.errstate(over="ignore"):
        h = (ix.astype(np.uint32) * np.uint32(73856093)) ^ (iy.astype(np.uint32) * np.uint32(19349663))
        h = h ^ (iz.astype(np.uint32) * np.uint32(83492791)) ^ seed.astype(np.uint32)
        h = (h ^ (h >> np.uint32(16))) * np.uint32(0x7FEB352D)
        h = (h ^ (h >> np.uint32(15))) * np.uint32(0x846CA68B)
        h = h ^ (h >> np.uint32(16))
    return h.astype(np.float64) / 2.0**32


def value_noise(p: np.ndarray, seed: np.ndarray) -> np.ndarray:
    """[P] smooth noise in [0, 1) at points ``p`` [P, 3] (lattice period 1), one ``seed`` [P] per point."""
    i = np.floor(p).astype(np.int64)
    f = p - i
    u = f * f * (3 - 2 * f)  # smoothstep: C1 across lattice cells
    out = np.zeros(len(p))
    for dx in (0, 1):
        for dy in (0, 1):
            for dz in (0, 1):
                w = (u[:, 0] if dx else 1 - u[:, 0]) * (u[:, 1] if dy else 1 - u[:, 1]) * (u[:, 2] if dz else 1 - u[:, 2])
                out += w * _hash01(i[:, 0] + dx, i[:, 1] + dy, i[:, 2] + dz, seed)
    return out


def albedo(local: np.ndarray, mats: MaterialArrays, prim: np.ndarray) -> np.ndarray:
    """[P, 3] albedo (linear RGB 0-1) at points ``local`` [P, 3] (metres, in the frames of
    primitives ``prim`` [P]) with the materials of those primitives."""
    s = mats.scale[prim][:, None]
    q = local / s
    seed = mats.seed[prim]
    axis = mats.axis[prim]
    along = np.take_along_axis(q, axis[:, None], axis=1)[:, 0]
    pat = mats.pattern[prim]
    t = np.zeros(len(local))
    m = pat == CHECKER
    t[m] = np.mod(np.floor(q[m]).sum(1), 2)
    m = pat == STRIPES
    t[m] = (np.mod(along[m], 1.0) < 0.5).astype(float)
    m = pat == NOISE
    t[m] = np.clip(0.65 * value_noise(q[m] * 2, seed[m]) + 0.35 * value_noise(q[m] * 5, seed[m] + 1), 0, 1)
    m = pat == WOOD
    if m.any():  # rings around the material axis, wobbled by noise
        r = np.sqrt(np.maximum((q[m] ** 2).sum(1) - along[m] ** 2, 0.0))
        ring = np.mod(r * 3 + 0.6 * value_noise(q[m] * 1.5, seed[m]), 1.0)
        t[m] = np.clip(np.abs(ring * 2 - 1) * 1.4 - 0.2, 0, 1)
    out = mats.a[prim] * (1 - t[:, None]) + mats.b[prim] * t[:, None]
    v2 = pat >= V2_PATTERN_BASE
    if v2.any():
        from rtgs2.synth.textures import v2_albedo

        out[v2] = v2_albedo(local[v2], mats, prim[v2])
    return out
