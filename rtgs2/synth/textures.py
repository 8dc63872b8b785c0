"""Procedural textures of SynthRooms ``v2``: real-world material families at real scales.

A texture is evaluated at points in its primitive's own frame (metres), so it moves with its
object. Planar families (walls, floors, rugs, bedding, pictures) use coordinates (u, v) set by
the material ``axis``: 2 = the horizontal plane, (u, v) = (x, y); 0 or 1 = a vertical surface,
(u, v) = (x + y, z) (one of x, y is constant over an axis-aligned face in the object frame).
Solid families (wood, fabric, leather, metal, stone, foliage) use the 3D point, with ``axis``
the grain direction. The colour fields ``a``, ``b``, ``c``, ``scale`` and ``param`` mean what
each family's docstring says; :mod:`rtgs2.synth.appearance` draws them per class.

Families of walls, floors and textiles and the noise helpers are in
:mod:`rtgs2.synth.textures_patterns`; furniture, decor and the view through a window here.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from rtgs2.synth import textures_patterns as tp
from rtgs2.synth.materials import V2_PATTERN_BASE, MaterialArrays
from rtgs2.synth.textures_patterns import Pts, cell, fbm2, fbm3, grain, hash01, mix, seed_param, smoothstep, vnoise3

V2_PATTERNS = (
    "plaster", "wallpaper", "brick", "panelling", "planks", "tiles", "carpet", "concrete",
    "weave", "leather", "bedding", "rug", "shade", "wood", "laminate", "painted", "metal",
    "stone", "glass", "canvas", "foliage", "soil", "ceramic", "blocks", "screen", "window_view",
)  # fmt: skip
(
    PLASTER, WALLPAPER, BRICK, PANELLING, PLANKS, TILES, CARPET, CONCRETE,
    WEAVE, LEATHER, BEDDING, RUG, SHADE, WOOD, LAMINATE, PAINTED, METAL,
    STONE, GLASS, CANVAS, FOLIAGE, SOIL, CERAMIC, BLOCKS, SCREEN, WINDOW_VIEW,
) = range(V2_PATTERN_BASE, V2_PATTERN_BASE + len(V2_PATTERNS))  # fmt: skip


# ----------------------------------------------------------------------------- furniture


def wood(s: Pts) -> np.ndarray:
    """Furniture wood (solid): growth rings ``scale`` apart (3-8 mm) around a log axis along
    ``axis`` lying outside the board (flat-sawn arcs and streaks), earlywood ``a`` to latewood
    ``b``, warped by noise, with fine pores and slow tone drift along the board."""
    along, c1, c2 = tp.along_axis(s)
    off1 = 0.1 + 0.3 * seed_param(s.seed, 20)
    off2 = 0.1 + 0.3 * seed_param(s.seed, 21)
    r = np.hypot(c1 + off1, c2 + off2)
    warp = vnoise3(np.stack([along / 0.3, c1 / 0.03, c2 / 0.03], 1), s.seed)
    f = np.mod(r / s.scale + 2.5 * warp, 1.0)
    late = smoothstep(0.55, 0.9, f) * (1 - smoothstep(0.92, 1.0, f))
    pores = tp.streaks(along, c1 + c2, s.seed + 1, 0.02, 0.0008)
    drift = 0.93 + 0.14 * tp.vnoise2(along / 0.6, (c1 + c2) / 0.3, s.seed, 23)
    return mix(s.a, s.b, 0.8 * late) * ((0.92 + 0.12 * pores) * drift)[:, None]


def laminate(s: Pts) -> np.ndarray:
    """Laminate / melamine: uniform ``a`` with a faint grain towards ``b`` along ``axis``."""
    along, c1, c2 = tp.along_axis(s)
    g = tp.streaks(along, c1 + c2, s.seed, 0.15, 0.002)
    return mix(s.a, s.b, 0.25 * g)


def painted(s: Pts) -> np.ndarray:
    """Painted or plastic surface: flat ``a`` with a barely visible grain."""
    return s.a * grain(s, 0.001, 0.01)[:, None]


def metal(s: Pts) -> np.ndarray:
    """Brushed metal: fine streaks along ``axis`` between ``a`` and ``b``."""
    along, c1, c2 = tp.along_axis(s)
    g = 0.6 * tp.streaks(along, c1 + c2, s.seed, 0.1, 0.0006) + 0.4 * tp.streaks(along, c1 - c2, s.seed + 1, 0.3, 0.003)
    return mix(s.a, s.b, g)


def stone(s: Pts) -> np.ndarray:
    """Marble or granite (solid): ``param`` < 1 marble, ground ``a`` with turbulent veins of
    ``b`` (spacing ``scale``); otherwise granite/terrazzo, ``a`` speckled with ``b`` and ``c``."""
    n = np.array([0.8, 0.5, 0.33])  # veins run across this direction, bent by slow turbulence
    t = fbm3(s.p / (2.5 * s.scale[:, None]), s.seed)
    w = (s.p @ n) / s.scale + 3.5 * t + 7.0 * seed_param(s.seed, 24)
    # veins fade in and out along their length, as real ones do
    strength = smoothstep(0.35, 0.6, vnoise3(s.p / (3.0 * s.scale[:, None]) + 5.0, s.seed + 1))
    vein = strength * (1 - smoothstep(0.0, 0.1, np.abs(np.sin(np.pi * w))))
    cloud = smoothstep(0.3, 0.8, t)
    marble = mix(mix(s.a, s.b, 0.12 * cloud), s.b, 0.8 * vein)
    q = s.p / 0.003
    sp = cell(q[:, 0], q[:, 1], q[:, 2], s.seed)
    granite = np.where((sp < 0.15)[:, None], s.b, np.where((sp > 0.9)[:, None], s.c, s.a)) * (0.95 + 0.1 * cloud)[:, None]
    return np.where((s.param < 1.0)[:, None], marble, granite)


def glass(s: Pts) -> np.ndarray:
    """Glass (tinted, reflective through ``reflect``): flat ``a``."""
    return s.a.copy()


# ----------------------------------------------------------------------------- decor


def _palette(s: Pts) -> np.ndarray:
    """[5, n, 3] colours of an image: ``a``, ``b``, ``c``, a deep shade and a light tint."""
    dark = 0.2 * mix(s.a, s.c, seed_param(s.seed, 30))
    light = mix(s.b, np.full_like(s.b, 0.85), 0.6)
    return np.clip(np.stack([dark, s.a, s.c, s.b, light], 0), 0, 1)


def _ramp(pal: np.ndarray, t: np.ndarray) -> np.ndarray:
    """[n, 3] gradient map: ``t`` [n] in [0, 1] through the palette [K, n, 3] in order."""
    k = len(pal) - 1
    x = np.clip(t, 0, 1) * k
    i = np.minimum(np.floor(x).astype(np.int64), k - 1)
    n = np.arange(len(t))
    return mix(pal[i, n], pal[i + 1, n], x - i)


def canvas(s: Pts) -> np.ndarray:
    """Picture (planar, centred on the canvas): by seed either an abstract image (1/f noise
    through a 5-colour palette from ``a``, ``b``, ``c``, with soft shapes) or a landscape
    (sky over hills over ground)."""
    out = np.empty((len(s.u), 3))
    ab = seed_param(s.seed, 43) < 0.6
    for m, fn in ((np.flatnonzero(ab), _abstract), (np.flatnonzero(~ab), _landscape)):
        if len(m):
            out[m] = fn(tp.subset(s, m))
    return np.clip(out, 0, 1)


def _abstract(s: Pts) -> np.ndarray:
    pal = _palette(s)
    u, v = s.u, s.v
    t = fbm2(u / 0.3, v / 0.3, s.seed, 4, 0.6)
    abstract = _ramp(pal, (t - 0.5) * 2.0 + 0.5)
    for k in range(3):  # soft shapes: round blobs of a palette colour
        cx, cy = seed_param(s.seed, 31 + k) - 0.5, 0.6 * (seed_param(s.seed, 34 + k) - 0.5)
        rad = 0.04 + 0.12 * seed_param(s.seed, 37 + k)
        m = np.exp(-((u - 0.5 * cx) ** 2 + (v - cy) ** 2) / rad**2)
        abstract = mix(abstract, pal[1 + k], 0.85 * smoothstep(0.3, 0.6, m))
    return abstract


def _landscape(s: Pts) -> np.ndarray:
    pal, u, v = _palette(s), s.u, s.v
    horizon = 0.3 * (seed_param(s.seed, 40) - 0.5) + 0.08 * (tp.vnoise2(u / 0.25, 0, s.seed, 41) - 0.5)
    hills = horizon + 0.05 * tp.vnoise2(u / 0.08, 0, s.seed, 42)
    sky = mix(pal[4], s.b, smoothstep(horizon, horizon + 0.4, v))
    sky = mix(sky, np.full_like(sky, 0.8), 0.5 * smoothstep(0.55, 0.75, fbm2(u / 0.15, v / 0.05, s.seed, 3)))
    ground = _ramp(pal[:3], fbm2(u / 0.1, v / 0.04, s.seed + 1, 3))
    return np.where((v > hills)[:, None], sky, np.where((v > horizon - 0.02)[:, None], mix(s.c, pal[4], 0.3), ground))


def foliage(s: Pts) -> np.ndarray:
    """Leaf clusters (solid): cells of ``scale`` (leaf size) coloured ``a``, ``b`` or (a
    quarter of them) ``c``, shaded by depth, with dark gaps between leaves."""
    f1, f2, h = tp.worley3(s.p / s.scale[:, None], s.seed)
    hf = (h & np.uint32(0xFFFF)).astype(np.float64) / 65536.0
    hg = (h >> np.uint32(16)).astype(np.float64) / 65536.0
    leaf = np.where((hg < 0.25)[:, None], s.c, mix(s.a, s.b, hf))
    depth = 0.5 + 0.6 * hg
    gap = smoothstep(0.02, 0.12, f2 - f1)
    return leaf * (depth * (0.25 + 0.75 * gap) * (1.05 - 0.3 * f1))[:, None]


def soil(s: Pts) -> np.ndarray:
    """Potting soil: dark ``a`` crumbs towards ``b`` with a few light specks of ``c``."""
    q = s.p / 0.004
    h = cell(q[:, 0], q[:, 1], q[:, 2], s.seed)
    return np.where((h > 0.97)[:, None], s.c, mix(s.a, s.b, h))


def ceramic(s: Pts) -> np.ndarray:
    """Ceramic / terracotta: ``a`` with soft mottling to ``b`` and faint throwing rings."""
    m = vnoise3(s.p / 0.05, s.seed)
    rings = 1 + 0.02 * np.sin(np.pi * 2 * s.p[:, 2] / 0.007 + 3 * m)
    return mix(s.a, s.b, 0.5 * m) * rings[:, None]


def blocks(s: Pts) -> np.ndarray:
    """Books / boxes: blocks ``scale`` wide along ``axis``, each ``a``, ``b``, ``c`` or a
    random hue of saturation ``param``, with thin dark gaps between them."""
    along, _, _ = tp.along_axis(s)
    k = np.floor(along / s.scale)
    h = hash01(k, 0, 50, s.seed)
    hue = hash01(k, 0, 51, s.seed)
    val = 0.15 + 0.5 * hash01(k, 0, 52, s.seed)
    rand = _hsv(hue, s.param, val)
    pick = np.where((h < 0.2)[:, None], s.a, np.where((h < 0.4)[:, None], s.b, np.where((h < 0.55)[:, None], s.c, rand)))
    gap = tp.edge_mask(np.mod(along, s.scale), 0.0015)
    return mix(pick, 0.3 * pick, gap)


def screen(s: Pts) -> np.ndarray:
    """Switched-off screen: near-black ``a`` with a faint vertical gradient to ``b``."""
    return mix(s.a, s.b, smoothstep(-0.3, 0.3, s.v))


def _hsv(h: np.ndarray, sat: np.ndarray, val: np.ndarray) -> np.ndarray:
    """[n, 3] linear RGB of HSV (display) colours, each [n] in [0, 1]."""
    k = np.stack([np.mod(n + h * 6, 6) for n in (5.0, 3.0, 1.0)], 1)
    rgb = val[:, None] - (val * sat)[:, None] * np.clip(np.minimum(k, 4 - k), 0, 1)
    return rgb**2.2  # display -> linear


FAMILIES: dict[int, Callable[[Pts], np.ndarray]] = {
    PLASTER: tp.plaster, WALLPAPER: tp.wallpaper, BRICK: tp.brick, PANELLING: tp.panelling,
    PLANKS: tp.planks, TILES: tp.tiles, CARPET: tp.carpet, CONCRETE: tp.concrete, WEAVE: tp.weave,
    LEATHER: tp.leather, BEDDING: tp.bedding, RUG: tp.rug, SHADE: tp.shade_fabric, WOOD: wood,
    LAMINATE: laminate, PAINTED: painted, METAL: metal, STONE: stone, GLASS: glass, CANVAS: canvas,
    FOLIAGE: foliage, SOIL: soil, CERAMIC: ceramic, BLOCKS: blocks, SCREEN: screen, WINDOW_VIEW: glass,
}  # fmt: skip


def v2_albedo(local: np.ndarray, mats: MaterialArrays, prim: np.ndarray) -> np.ndarray:
    """[P, 3] albedo (linear RGB 0-1) at ``local`` [P, 3] (metres, primitive frames) on
    primitives ``prim`` [P] whose materials have v2 pattern codes. Unknown codes give ``a``."""
    local = np.asarray(local, dtype=np.float64)
    pat = mats.pattern[prim]
    axis = mats.axis[prim]
    vert = axis != 2
    whole = Pts(
        p=local, u=np.where(vert, local[:, 0] + local[:, 1], local[:, 0]), v=np.where(vert, local[:, 2], local[:, 1]),
        a=mats.a[prim], b=mats.b[prim], c=mats.c[prim], seed=mats.seed[prim],
        scale=np.maximum(mats.scale[prim], 1e-4), param=mats.param[prim], axis=axis,
    )  # fmt: skip
    out = whole.a.copy()
    codes = [pat[0]] if len(pat) and pat.min() == pat.max() else np.unique(pat)
    for code in codes:
        fn = FAMILIES.get(int(code))
        if fn is None:
            continue
        if len(codes) == 1:
            out = fn(whole)
        else:
            m = np.flatnonzero(pat == code)
            out[m] = fn(tp.subset(whole, m))
    return np.clip(np.nan_to_num(out), 0.0, 1.0)


# ----------------------------------------------------------------------------- window view

SKY_ZENITH = np.array([0.30, 0.50, 1.10])  # clear-sky radiance straight up (linear)
SKY_HORIZON = np.array([1.25, 1.40, 1.60])  # paler and brighter towards the horizon
OVERCAST = np.array([1.55, 1.60, 1.65])
FACADES = np.array([[0.55, 0.47, 0.36], [0.42, 0.42, 0.42], [0.40, 0.17, 0.11], [0.68, 0.67, 0.63]])  # beige, grey, brick, white
LEAF_DARK, LEAF_LIGHT = np.array([0.04, 0.08, 0.025]), np.array([0.22, 0.34, 0.10])
BARK = np.array([0.05, 0.035, 0.025])
GROUND = np.array([[0.10, 0.16, 0.05], [0.30, 0.29, 0.27]])  # grass, pavement
FLOOR_HEIGHT = 3.0  # storeys of the buildings outside, metres


def window_view(d_local: np.ndarray, p_local: np.ndarray, seed: np.ndarray) -> np.ndarray:
    """[P, 3] linear RGB radiance (~0.05-3) seen through a window along unit view directions
    ``d_local`` [P, 3] from hit points ``p_local`` [P, 3] on the pane (window object frame: x
    along the wall, y into the room, z up from the window's bottom; outside is -y), per view
    ``seed`` [P] int.

    The outside is a layered backdrop: the ground some metres below, a row of tree canopies on
    a plane y = -D (4-15 m), buildings with window grids on a farther plane, and a clear or
    overcast sky above; the planes give parallax, the sky (infinitely far) none."""
    d = np.asarray(d_local, np.float64)
    d = d / np.linalg.norm(d, axis=1, keepdims=True)
    p = np.asarray(p_local, np.float64)
    seed = np.asarray(seed, np.int64)
    dy = np.minimum(d[:, 1], -0.02)  # a grazing or inward ray still looks out (no division by 0)
    below = 1.0 + 9.0 * seed_param(seed, 60)  # window bottom above the ground: ground to 3rd floor
    d_tree = 4.0 + 11.0 * seed_param(seed, 61)
    d_bldg = d_tree + 6.0 + 30.0 * seed_param(seed, 62)
    has_trees = seed_param(seed, 63) < 0.75
    has_bldg = seed_param(seed, 64) < 0.65
    overcast = seed_param(seed, 65) < 0.3
    light = np.where(overcast, 0.8, 1.0 + 0.6 * seed_param(seed, 66))  # daylight on things outside

    # sky by elevation; clouds on a plane 1 km up (faint parallax-free texture)
    el = np.clip(d[:, 2], -1, 1)
    t = np.clip(el, 0, 1) ** 0.5
    clear = mix(SKY_HORIZON[None] * np.ones((len(d), 1)), SKY_ZENITH[None] * np.ones((len(d), 1)), t)
    cz = np.maximum(el, 0.05)
    cloud = smoothstep(0.45 + 0.3 * seed_param(seed, 67), 0.85, fbm2(d[:, 0] / cz * 1.5, d[:, 1] / cz * 1.5, seed, 3))
    clear = mix(clear, np.full_like(clear, 1.9), cloud)
    grey = OVERCAST[None] * (0.75 + 0.35 * t + 0.1 * tp.vnoise2(d[:, 0] / cz, d[:, 1] / cz, seed, 5))[:, None]
    out = np.where(overcast[:, None], grey, clear)
    depth = np.full(len(d), np.inf)  # distance of what is seen so far (nearest wins)

    def plane(dist: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        tt = (-dist - p[:, 1]) / dy
        return tt, p[:, 0] + tt * d[:, 0], p[:, 2] + tt * d[:, 2] + below  # X along, Z above ground

    # buildings: blocks 8-20 m wide, 2-10 storeys, a facade colour each, a grid of dark windows
    tb, xb, zb = plane(d_bldg)
    width = 8.0 + 12.0 * seed_param(seed, 68)
    blk = np.floor(xb / width)
    height = FLOOR_HEIGHT * (2 + np.floor(8 * hash01(blk, 0, 69, seed)))
    hit = has_bldg & (zb < height) & (zb > 0) & (hash01(blk, 0, 70, seed) < 0.85)
    fac = FACADES[np.floor(hash01(blk, 0, 71, seed) * len(FACADES)).astype(np.int64)]
    bx, bz = np.mod(xb, 2.6), np.mod(zb, FLOOR_HEIGHT)
    win = (bx > 0.6) & (bx < 2.0) & (bz > 0.9) & (bz < 2.5)
    col = np.where(win[:, None], np.array([0.10, 0.13, 0.17]), fac * (0.9 + 0.2 * cell(xb / 0.4, zb / 0.4, 0, seed))[:, None])
    out = np.where(hit[:, None], col * light[:, None], out)
    depth = np.where(hit, tb, depth)

    # trees: round crowns on a grid of 6 m, 3-9 m tall, leafy noise between two greens
    tt, xt, zt = plane(d_tree)
    crown, trunk = np.zeros(len(d), bool), np.zeros(len(d), bool)
    bump = 0.85 + 0.3 * fbm2(xt / 1.2, zt / 1.2, seed, 2)  # ragged crown outlines
    for k in (-1, 0, 1):
        i = np.floor(xt / 6.0) + k
        cx = (i + 0.5 + 0.6 * (hash01(i, 1, 72, seed) - 0.5)) * 6.0
        r = 2.0 + 2.5 * hash01(i, 1, 73, seed)
        top = 2.5 + r + 3.0 * hash01(i, 1, 74, seed)
        present = hash01(i, 1, 75, seed) < 0.8
        leafy = present & ((xt - cx) ** 2 + (zt - top) ** 2 < (r * bump) ** 2)
        crown |= leafy
        trunk |= present & ~leafy & (np.abs(xt - cx) < 0.18) & (zt > 0) & (zt < top)
    leaves = mix(LEAF_DARK[None] * np.ones((len(d), 1)), LEAF_LIGHT[None] * np.ones((len(d), 1)), fbm2(xt / 0.5, zt / 0.5, seed, 2))
    leaves = np.where(trunk[:, None], BARK, leaves)
    hit = has_trees & (crown | trunk) & (tt < depth)
    out = np.where(hit[:, None], leaves * light[:, None] * 1.5, out)
    depth = np.where(hit, tt, depth)

    # ground: grass or pavement where the ray reaches it first
    tg = np.where(d[:, 2] < -1e-3, -(p[:, 2] + below) / np.minimum(d[:, 2], -1e-3), np.inf)
    tgc = np.minimum(tg, 1e4)  # rays that never reach the ground: any finite coordinates
    gx, gy = p[:, 0] + tgc * d[:, 0], p[:, 1] + tgc * dy
    kind = (seed_param(seed, 76) < 0.5).astype(np.int64)
    gcol = GROUND[kind] * (0.8 + 0.4 * fbm2(gx / 0.7, gy / 0.7, seed + 9, 2))[:, None]
    hit = tg < depth
    out = np.where(hit[:, None], gcol * light[:, None] * 1.5, out)
    return np.nan_to_num(out)
