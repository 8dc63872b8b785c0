"""Noise and the procedural material families of SynthRooms ``v2`` (see :mod:`rtgs2.synth.textures`).

Every family maps a :class:`Pts` (points with their materials' parameters) to [n, 3] linear
RGB albedo. Sizes are metres at real-world scale: a render pixel covers ~0.5-2 cm, so structure
finer than that (threads, pores) shows as fine noise, as it does in a photograph. Noise is
integer-hashed per lattice point from the material seed: deterministic, no global RNG.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_U32 = np.uint32


@dataclass
class Pts:
    """n points and the parameters of their materials (rows of ``MaterialArrays``).

    ``p`` [n, 3] metres in the primitive frame, ``u``, ``v`` [n] planar texture coordinates
    (metres), ``a``, ``b``, ``c`` [n, 3] colours, ``seed`` [n] int, ``scale``, ``param`` [n],
    ``axis`` [n] int."""

    p: np.ndarray
    u: np.ndarray
    v: np.ndarray
    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    seed: np.ndarray
    scale: np.ndarray
    param: np.ndarray
    axis: np.ndarray


def subset(s: Pts, m: np.ndarray) -> Pts:
    """The points ``m`` (an index array) of ``s``."""
    return Pts(**{k: getattr(s, k)[m] for k in Pts.__dataclass_fields__})


# ----------------------------------------------------------------------------- noise helpers


def _u32(x) -> np.ndarray:
    """Integer-valued array -> uint32 (wrapping; floats such as floor() results go via int64,
    since a negative float has no defined uint32 cast)."""
    x = np.asarray(x)
    return (x.astype(np.int64) if x.dtype.kind == "f" else x).astype(_U32)


# Lattice hashing = a linear combination of the coordinates (so a neighbour's key is the key
# plus a constant: noise corners cost one finaliser each) followed by an avalanche finaliser.
KX, KY, KZ, KS = _U32(0x8DA6B343), _U32(0xD8163841), _U32(0xCB1AB31F), _U32(0x9E3779B1)


def _key(ix, iy, iz, seed) -> np.ndarray:
    with np.errstate(over="ignore"):
        return _u32(ix) * KX + _u32(iy) * KY + _u32(iz) * KZ + _u32(seed) * KS


def _final(key: np.ndarray) -> np.ndarray:
    """uint32 avalanche of lattice keys (a copy; ``key`` is left as is)."""
    with np.errstate(over="ignore"):
        h = key ^ (key >> _U32(16))
        h *= _U32(0x7FEB352D)
        h ^= h >> _U32(15)
        h *= _U32(0x846CA68B)
        h ^= h >> _U32(16)
    return h


def _to01(h: np.ndarray) -> np.ndarray:
    return h * (1.0 / 2.0**32)


def hash_u32(ix, iy, iz, seed) -> np.ndarray:
    """[n] uint32 hash of integer lattice points and seeds (any broadcastable int arrays)."""
    return _final(_key(ix, iy, iz, seed))


def hash01(ix, iy, iz, seed) -> np.ndarray:
    """[n] float in [0, 1) per integer lattice point (see :func:`hash_u32`)."""
    return _to01(hash_u32(ix, iy, iz, seed))


def seed_param(seed: np.ndarray, k: int) -> np.ndarray:
    """[n] the k-th per-material random number in [0, 1) (shape choices derived from the seed)."""
    seed = np.asarray(seed)
    if len(seed) and seed.min() == seed.max():  # one material: hash once (the common case)
        return np.full(len(seed), hash01(k, 0x5EED, 0, seed[:1])[0])
    return hash01(k, 0x5EED, 0, seed)


def cell(x: np.ndarray, y: np.ndarray, z: np.ndarray, seed: np.ndarray) -> np.ndarray:
    """[n] white noise in [0, 1) constant over unit lattice cells (cheap fine grain)."""
    return hash01(np.floor(x).astype(np.int64), np.floor(y).astype(np.int64), np.floor(z).astype(np.int64), seed)


def _smooth(f: np.ndarray) -> np.ndarray:
    return f * f * (3.0 - 2.0 * f)


def vnoise2(x: np.ndarray, y: np.ndarray, seed: np.ndarray, layer: int = 0) -> np.ndarray:
    """[n] smooth 2D value noise in [0, 1], lattice period 1; ``layer`` decorrelates octaves."""
    ix, iy = np.floor(x), np.floor(y)
    fx, fy = _smooth(x - ix), _smooth(y - iy)
    k = _key(ix, iy, layer, seed)
    with np.errstate(over="ignore"):
        h00, h10 = _to01(_final(k)), _to01(_final(k + KX))
        h01, h11 = _to01(_final(k + KY)), _to01(_final(k + (KX + KY)))
    top, bot = h00 + (h10 - h00) * fx, h01 + (h11 - h01) * fx
    return top + (bot - top) * fy


def vnoise3(p: np.ndarray, seed: np.ndarray) -> np.ndarray:
    """[n] smooth 3D value noise in [0, 1] at ``p`` [n, 3], lattice period 1."""
    i = np.floor(p)
    f = _smooth(p - i)
    k = _key(i[:, 0], i[:, 1], i[:, 2], seed)
    out = np.zeros(len(p))
    with np.errstate(over="ignore"):
        for dx in (0, 1):
            wx = f[:, 0] if dx else 1 - f[:, 0]
            for dy in (0, 1):
                wxy = wx * (f[:, 1] if dy else 1 - f[:, 1])
                for dz in (0, 1):
                    w = wxy * (f[:, 2] if dz else 1 - f[:, 2])
                    out += w * _to01(_final(k + _U32(dx * int(KX) + dy * int(KY) + dz * int(KZ) & 0xFFFFFFFF)))
    return out


def fbm2(x: np.ndarray, y: np.ndarray, seed: np.ndarray, octaves: int = 4, gain: float = 0.5) -> np.ndarray:
    """[n] fractal (1/f-like) sum of ``octaves`` 2D noises, normalised to mean ~0.5 in [0, 1]."""
    out, amp, total = np.zeros(len(x)), 1.0, 0.0
    for k in range(octaves):
        out += amp * vnoise2(x, y, seed, layer=k + 1)
        total += amp
        x, y, amp = x * 2.03 + 17.1, y * 2.03 - 5.3, amp * gain  # off-lattice shift: no octave alignment
    return out / total


def fbm3(p: np.ndarray, seed: np.ndarray, octaves: int = 3, gain: float = 0.5) -> np.ndarray:
    """[n] fractal sum of ``octaves`` 3D noises at ``p`` [n, 3], normalised to [0, 1]."""
    out, amp, total = np.zeros(len(p)), 1.0, 0.0
    for k in range(octaves):
        out += amp * vnoise3(p, seed + 7919 * k)
        total += amp
        p, amp = p * 2.03 + 11.7, amp * gain
    return out / total


def worley3(p: np.ndarray, seed: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cellular noise at ``p`` [n, 3] (cell size 1): distances F1, F2 [n] to the nearest two
    feature points and the uint32 hash [n] of the nearest one's cell. Searches the 8 cells
    around the point, with feature points jittered within 0.35 of their cell centres, so the
    result is exact up to rare far-corner cases (invisible in blotch textures)."""
    base = np.floor(p - 0.5)
    k = _key(base[:, 0], base[:, 1], base[:, 2], seed)
    rel = p - base - 0.5  # the point relative to the centre of its base cell
    f1, f2 = np.full(len(p), 9.0), np.full(len(p), 9.0)
    id1 = np.zeros(len(p), _U32)
    for dx in (0, 1):
        for dy in (0, 1):
            for dz in (0, 1):
                with np.errstate(over="ignore"):
                    h = _final(k + _U32(dx * int(KX) + dy * int(KY) + dz * int(KZ) & 0xFFFFFFFF))
                d2 = np.zeros(len(p))
                for axis, (off, shift) in enumerate(((dx, 0), (dy, 10), (dz, 20))):
                    j = ((h >> _U32(shift)) & _U32(1023)) * (0.7 / 1023) - 0.35  # three 10-bit jitters
                    d2 += (off + j - rel[:, axis]) ** 2
                closer = d2 < f1
                f2 = np.where(closer, f1, np.minimum(f2, d2))
                id1 = np.where(closer, h, id1)
                f1 = np.where(closer, d2, f1)
    f1, f2 = np.sqrt(f1), np.sqrt(f2)
    return f1, f2, id1


# ----------------------------------------------------------------------------- small helpers


def mix(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """[n, 3] a + (b - a) t for colours a, b [n, 3] and weights t [n] (or a scalar)."""
    t = np.asarray(t, dtype=np.float64)
    return a + (b - a) * (t[:, None] if t.ndim else t)


def smoothstep(e0: float | np.ndarray, e1: float | np.ndarray, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def edge_mask(d: np.ndarray, width: float | np.ndarray, soft: float = 0.0015) -> np.ndarray:
    """[n] 1 where a distance ``d`` to a seam is under ``width``, fading to 0 over ``soft``
    metres beyond it (a seam is a line of a few millimetres, as a camera pixel sees it)."""
    return 1.0 - smoothstep(width, width + soft, d)


def grain(s: Pts, period: float, amp: float, layer: int = 0) -> np.ndarray:
    """[n] multiplicative fine grain 1 +- amp from solid cells of ``period`` metres."""
    q = s.p / period
    return 1.0 + amp * (2.0 * cell(q[:, 0], q[:, 1], q[:, 2], s.seed + layer) - 1.0)


def along_axis(s: Pts) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(along, cross1, cross2) [n] coordinates: the material axis and the two others."""
    ax = s.axis
    pick = np.take_along_axis
    along = pick(s.p, ax[:, None], 1)[:, 0]
    c1 = pick(s.p, ((ax + 1) % 3)[:, None], 1)[:, 0]
    c2 = pick(s.p, ((ax + 2) % 3)[:, None], 1)[:, 0]
    return along, c1, c2


def streaks(along: np.ndarray, cross: np.ndarray, seed: np.ndarray, length: float, width: float) -> np.ndarray:
    """[n] noise in [0, 1] stretched along one direction: long thin streaks (``length`` by
    ``width`` metres), as in wood grain or brushed metal."""
    return vnoise2(along / length, cross / width, seed, layer=31)


# ----------------------------------------------------------------------------- walls, ceilings


def plaster(s: Pts) -> np.ndarray:
    """Paint on plaster: ``a`` with a faint large mottling towards ``b`` (period ``scale``) and
    a fine roller grain."""
    m = fbm2(s.u / s.scale, s.v / s.scale, s.seed, 3)
    return mix(s.a, s.b, smoothstep(0.3, 0.7, m)) * grain(s, 0.0015, 0.012)[:, None]


def wallpaper(s: Pts) -> np.ndarray:
    """Wallpaper, period ``scale``: ``param`` < 1 soft vertical stripes of ``a``/``b`` with a
    pin line of ``c``; otherwise a staggered motif of ``b`` on ``a`` (dot, diamond or flower)."""
    out = np.empty((len(s.u), 3))
    st = s.param < 1.0
    if st.any():
        f = np.mod(s.u[st] / s.scale[st], 1.0)
        duty = 0.3 + 0.4 * seed_param(s.seed[st], 1)
        band = smoothstep(0.0, 0.02, f) * (1 - smoothstep(duty, duty + 0.02, f))
        pin = edge_mask(np.abs(f - duty - 0.15) * s.scale[st], 0.001)
        out[st] = mix(mix(s.a[st], s.b[st], band), s.c[st], 0.6 * pin * (seed_param(s.seed[st], 2) < 0.5))
    mo = ~st
    if mo.any():
        sc = s.scale[mo]
        row = np.floor(s.v[mo] / sc)
        x = np.mod(s.u[mo] / sc + 0.5 * np.mod(row, 2), 1.0) - 0.5
        y = np.mod(s.v[mo] / sc, 1.0) - 0.5
        kind = np.floor(seed_param(s.seed[mo], 3) * 3)
        r = np.hypot(x, y)
        d = np.where(kind == 0, r - 0.12, np.where(kind == 1, np.abs(x) + np.abs(y) - 0.2, r - 0.14 - 0.08 * np.cos(4 * np.arctan2(y, x))))
        out[mo] = mix(s.a[mo], s.b[mo], 1 - smoothstep(-0.02, 0.02, d))
    return out * grain(s, 0.002, 0.01)[:, None]


def brick(s: Pts) -> np.ndarray:
    """Running-bond brick: bricks ``scale`` long, courses ``param`` high plus 1 cm mortar of
    colour ``c``; per-brick tone between ``a`` and ``b`` and a rough surface."""
    mortar = 0.01
    course = s.param + mortar
    row = np.floor(s.v / course)
    uu = s.u + 0.5 * s.scale * np.mod(row, 2)
    col = np.floor(uu / s.scale)
    du, dv = np.mod(uu, s.scale), np.mod(s.v, course)
    joint = np.maximum(edge_mask(du, mortar), edge_mask(dv, mortar))
    h1 = hash01(col, row, 1, s.seed)
    h2 = hash01(col, row, 2, s.seed)
    face = mix(s.a, s.b, h1) * (0.85 + 0.25 * h2)[:, None]
    face *= (0.9 + 0.2 * fbm2(s.u / 0.03, s.v / 0.03, s.seed, 2))[:, None]
    return mix(face, s.c * grain(s, 0.003, 0.08)[:, None], joint)


def panelling(s: Pts) -> np.ndarray:
    """Vertical boards ``scale`` wide with 3 mm seams of ``c``; tone per board between ``a``
    and ``b``; grain along the boards of strength ``param`` (0 = painted boards)."""
    board = np.floor(s.u / s.scale)
    du = np.mod(s.u, s.scale)
    tone = mix(s.a, s.b, 0.6 * hash01(board, 0, 3, s.seed))
    g = streaks(s.v, s.u, s.seed, 0.4, 0.004) - 0.5
    tone *= (1 + 0.35 * s.param * g)[:, None]
    return mix(tone, s.c, edge_mask(du, 0.003))


# ----------------------------------------------------------------------------- floors


def planks(s: Pts) -> np.ndarray:
    """Wood plank floor: boards ``param`` wide and ``scale`` long along u, ends staggered per
    row, tone per board between ``a`` and ``b``, grain streaks, dark seams of ``c``."""
    row = np.floor(s.v / s.param)
    uu = s.u + s.scale * hash01(row, 0, 4, s.seed)
    board = np.floor(uu / s.scale)
    du, dv = np.mod(uu, s.scale), np.mod(s.v, s.param)
    h = hash01(board, row, 5, s.seed)
    tone = mix(s.a, s.b, h) * (0.88 + 0.2 * hash01(board, row, 6, s.seed))[:, None]
    warp = 0.006 * vnoise2(s.u / 0.5, s.v / 0.05, s.seed, 7)  # grain lines wander across the board
    fine = streaks(s.u, s.v + warp + 3.1 * row, s.seed + board, 0.3, 0.004)
    broad = streaks(s.u, s.v + warp, s.seed + 77, 0.8, 0.02)
    tone *= (0.8 + 0.25 * fine + 0.15 * broad)[:, None]
    seam = np.maximum(edge_mask(dv, 0.0015), edge_mask(du, 0.002))
    return mix(tone, s.c, seam)


def tiles(s: Pts) -> np.ndarray:
    """Tiles ``scale`` high and ``scale * param`` wide (``param`` >= 1; long tiles are laid in
    running bond), 3-6 mm grout of ``c``, per-tile tone jitter, stone-like mottling to ``b``."""
    ar = np.maximum(s.param, 1.0)
    w = s.scale * ar
    row = np.floor(s.v / s.scale)
    uu = s.u + np.where(ar > 1.5, 0.5 * w * np.mod(row, 2), 0.0)
    col = np.floor(uu / w)
    du, dv = np.mod(uu, w), np.mod(s.v, s.scale)
    grout = 0.003 + 0.003 * seed_param(s.seed, 8)
    joint = np.maximum(edge_mask(du, grout, 0.001), edge_mask(dv, grout, 0.001))
    mottle = fbm2(s.u / (0.35 * s.scale) + 13 * col, s.v / (0.35 * s.scale), s.seed, 3)
    tile = mix(s.a, s.b, smoothstep(0.35, 0.75, mottle)) * (0.96 + 0.08 * hash01(col, row, 9, s.seed))[:, None]
    return mix(tile, s.c, joint)


def carpet(s: Pts) -> np.ndarray:
    """Carpet / plain rug: pile tufts (~3 mm) heathered between ``a`` and ``b`` and faint pile
    shading over ``scale``."""
    tuft = cell(s.u / 0.003, s.v / 0.003, s.p[:, 2] / 0.003, s.seed)
    shade = 0.94 + 0.12 * fbm2(s.u / s.scale, s.v / s.scale, s.seed, 2)
    return mix(s.a, s.b, tuft) * shade[:, None]


def concrete(s: Pts) -> np.ndarray:
    """Polished concrete / screed: mottling of ``a`` towards ``b`` over ``scale`` and small
    dark pores."""
    m = fbm2(s.u / s.scale, s.v / s.scale, s.seed, 4, 0.6)
    pores = cell(s.u / 0.002, s.v / 0.002, 0, s.seed + 5) < 0.015
    return mix(s.a, s.b, smoothstep(0.3, 0.75, m)) * np.where(pores, 0.75, 1.0)[:, None] * grain(s, 0.002, 0.02)[:, None]


# ----------------------------------------------------------------------------- textiles


def weave(s: Pts) -> np.ndarray:
    """Woven fabric (solid): threads ``scale`` apart (1-3 mm), each yarn ``a`` or ``b`` (a
    heather), a faint weave relief and soft large-scale sheen variation."""
    q = s.p / s.scale[:, None]
    yarn = cell(q[:, 0], q[:, 1], q[:, 2], s.seed) < 0.5
    relief = 0.93 + 0.07 * np.abs(np.sin(np.pi * q[:, 0]) * np.sin(np.pi * q[:, 1] + np.pi * q[:, 2]))
    sheen = 0.95 + 0.1 * vnoise3(s.p / 0.12, s.seed + 3)
    return np.where(yarn[:, None], s.a, s.b) * (relief * sheen)[:, None]


def leather(s: Pts) -> np.ndarray:
    """Leather (solid): smooth ``a`` with soft mottling towards ``b`` and a fine pebble grain."""
    m = vnoise3(s.p / 0.08, s.seed)
    return mix(s.a, s.b, 0.6 * smoothstep(0.2, 0.8, m)) * grain(s, 0.001, 0.03)[:, None]


def bedding(s: Pts) -> np.ndarray:
    """Duvet / knit blanket (planar): ``param`` 0 plain ``a``, 1 stripes of ``b`` (period
    ``scale``), 2 gingham checks; soft folds as tone variation and a fine knit texture."""
    f = np.mod(s.u / s.scale, 1.0)
    duty = 0.15 + 0.35 * seed_param(s.seed, 10)
    sx = smoothstep(0.0, 0.03, f) * (1 - smoothstep(duty, duty + 0.03, f))
    g = np.mod(s.v / s.scale, 1.0)
    sy = smoothstep(0.0, 0.03, g) * (1 - smoothstep(0.5, 0.53, g))
    t = np.where(s.param < 0.5, 0.0, np.where(s.param < 1.5, sx, 0.5 * (smoothstep(0.0, 0.03, f) * (1 - smoothstep(0.5, 0.53, f)) + sy)))
    folds = fbm2(s.u / 0.35 + 0.3 * vnoise2(s.u / 0.2, s.v / 0.2, s.seed, 9), s.v / 0.5, s.seed, 3)
    return mix(s.a, s.b, t) * ((0.8 + 0.3 * folds) * grain(s, 0.004, 0.03))[:, None]


def rug(s: Pts) -> np.ndarray:
    """Patterned rug (planar, centred on the rug): field ``a``, pattern ``b``, accent ``c``.
    A border frame runs ~15 cm inside an edge at half extents (``param``, ``scale``) when
    ``param`` > 0 (a rug fitted to its size), else at (0.55, 0.38) m, so on any rug the
    border fills the rim. Field by seed: a central medallion over small motifs, a diamond
    trellis, or zig-zag kilim bands."""
    fitted = s.param > 0
    hx = np.where(fitted, s.param - 0.15, 0.55)
    hy = np.where(fitted, s.scale - 0.15, 0.38)
    ax, ay = np.abs(s.u), np.abs(s.v)
    e = np.minimum(hx - ax, hy - ay)  # distance inside the frame (negative in the border)
    kind = np.floor(seed_param(s.seed, 11) * 3)
    period = 0.08 + 0.08 * seed_param(s.seed, 12)
    # field
    x, y = s.u / period, s.v / period
    lattice = np.abs(np.mod(x, 1.0) - 0.5) + np.abs(np.mod(y, 1.0) - 0.5)
    medal = ax / (0.6 * hx) + ay / (0.6 * hy)
    trad = np.where(medal < 1.0, np.where(np.abs(medal - 0.7) < 0.08, 2, 1), np.where(lattice < 0.12, 1, 0))
    trellis = np.where(np.abs(lattice - 0.45) < 0.06, 1, np.where(lattice < 0.08, 2, 0))
    zig = np.mod(y + 0.5 * np.abs(np.mod(x, 1.0) - 0.5), 1.0)
    kilim = np.where(zig < 0.2, 1, np.where(zig < 0.3, 2, 0))
    field = np.where(kind == 0, trad, np.where(kind == 1, trellis, kilim))
    # border: a band of b with a running diamond of c, lines of c at both sides
    along = np.where(hx - ax < hy - ay, s.v, s.u) / 0.1
    depth = np.clip(-e / 0.15, 0, 1)
    diamond = np.abs(np.mod(along, 1.0) - 0.5) + np.abs(depth - 0.5) < 0.3
    border = np.where(diamond, 2, 1)
    idx = np.where(e < 0, border, field)
    idx = np.where(np.abs(e) < 0.012, 2, idx)
    cols = np.stack([s.a, s.b, s.c], 0)
    out = cols[idx, np.arange(len(idx))]
    wool = cell(s.u / 0.003, s.v / 0.003, s.p[:, 2] / 0.003, s.seed) * 0.1 + 0.9
    wear = 0.94 + 0.1 * fbm2(s.u / 0.4, s.v / 0.4, s.seed, 2)
    return out * (wool * wear)[:, None]


def shade_fabric(s: Pts) -> np.ndarray:
    """Lamp shade: light ``a`` with a faint linen weave (solid, 1 mm)."""
    return s.a * grain(s, 0.001, 0.04)[:, None] * grain(s, 0.004, 0.02, 1)[:, None]
