"""Furniture built from primitives, in the object's own frame.

Object frame: x across the object's width, y from its back (y = -d/2, the side that goes
against a wall) to its front (y = +d/2), z up from the floor (z = 0). A template's parts
stay inside the box [-w/2, w/2] x [-d/2, d/2] x [0, h], so placing that box without overlap
places the object without interpenetration. Sizes are metres, drawn from ``rng``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

BOX, CYLINDER, ELLIPSOID = 0, 1, 2  # primitive kinds; cylinders are vertical (local z axis)


@dataclass
class Part:
    """One primitive in the object frame: ``center`` [3] and half extents ``half`` [3], metres
    (a cylinder's half = (radius_x, radius_y, half height); an ellipsoid's = its radii).
    ``slot`` picks the object's primary (0) or secondary (1) material."""

    kind: int
    center: tuple[float, float, float]
    half: tuple[float, float, float]
    slot: int = 0


@dataclass
class Support:
    """A horizontal surface that can carry small objects: rectangle [x0, x1] x [y0, y1] at
    height ``z`` in the object frame, with ``clearance`` metres of free space above it."""

    x0: float
    y0: float
    x1: float
    y1: float
    z: float
    clearance: float


@dataclass
class Template:
    """An object: class name, parts, nominal size (w, d, h) as drawn and support surfaces
    (the exact extent of the parts is :func:`bounds`)."""

    cls: str
    parts: list[Part]
    size: tuple[float, float, float]
    supports: list[Support] = field(default_factory=list)


def _box(x0: float, y0: float, z0: float, x1: float, y1: float, z1: float, slot: int = 0) -> Part:
    """An axis-aligned box from its min and max corners."""
    c = ((x0 + x1) / 2, (y0 + y1) / 2, (z0 + z1) / 2)
    return Part(BOX, c, ((x1 - x0) / 2, (y1 - y0) / 2, (z1 - z0) / 2), slot)


def _cyl(x: float, y: float, z0: float, z1: float, r: float, slot: int = 0) -> Part:
    return Part(CYLINDER, (x, y, (z0 + z1) / 2), (r, r, (z1 - z0) / 2), slot)


def _legs(w: float, d: float, h: float, t: float, inset: float, round_legs: bool, slot: int) -> list[Part]:
    """Four legs of thickness ``t`` from the floor to ``h``, ``inset`` from the corners."""
    out = []
    for sx in (-1, 1):
        for sy in (-1, 1):
            x, y = sx * (w / 2 - inset - t / 2), sy * (d / 2 - inset - t / 2)
            if round_legs:
                out.append(_cyl(x, y, 0, h, t / 2, slot))
            else:
                out.append(_box(x - t / 2, y - t / 2, 0, x + t / 2, y + t / 2, h, slot))
    return out


def table(rng: np.random.Generator, desk: bool = False) -> Template:
    w = rng.uniform(1.0, 1.6) if desk else rng.uniform(0.8, 1.8)
    d = rng.uniform(0.55, 0.75) if desk else rng.uniform(0.7, 1.0)
    h, top = rng.uniform(0.70, 0.78), rng.uniform(0.03, 0.06)
    parts = [_box(-w / 2, -d / 2, h - top, w / 2, d / 2, h)]
    if not desk and rng.random() < 0.3:  # pedestal table: one central column on a disc
        r = min(w, d) / 2
        parts += [_cyl(0, 0, 0, h - top, rng.uniform(0.04, 0.07), 1), _cyl(0, 0, 0, 0.03, r * 0.6, 1)]
    else:
        parts += _legs(w, d, h - top, rng.uniform(0.04, 0.07), rng.uniform(0.0, 0.05), rng.random() < 0.5, 1)
    return Template("table", parts, (w, d, h), [Support(-w / 2 + 0.03, -d / 2 + 0.03, w / 2 - 0.03, d / 2 - 0.03, h, 1.0)])


def chair(rng: np.random.Generator) -> Template:
    w, d = rng.uniform(0.42, 0.52), rng.uniform(0.42, 0.52)
    seat, t = rng.uniform(0.43, 0.48), rng.uniform(0.03, 0.05)
    h = seat + rng.uniform(0.35, 0.5)
    parts = [_box(-w / 2, -d / 2, seat - t, w / 2, d / 2, seat)]
    parts += _legs(w, d, seat - t, rng.uniform(0.03, 0.045), 0.0, rng.random() < 0.5, 1)
    parts.append(_box(-w / 2, -d / 2, seat, w / 2, -d / 2 + rng.uniform(0.03, 0.06), h, 0))
    return Template("chair", parts, (w, d, h))


def sofa(rng: np.random.Generator) -> Template:
    w, d = rng.uniform(1.5, 2.4), rng.uniform(0.8, 1.0)
    seat, h, arm_w = rng.uniform(0.38, 0.46), rng.uniform(0.75, 0.95), rng.uniform(0.12, 0.22)
    arm_h, back_d = seat + rng.uniform(0.12, 0.25), rng.uniform(0.15, 0.25)
    parts = [
        _box(-w / 2 + arm_w, -d / 2 + back_d, 0.08, w / 2 - arm_w, d / 2, seat),
        _box(-w / 2, -d / 2, 0.08, w / 2, -d / 2 + back_d, h),
        _box(-w / 2, -d / 2 + back_d, 0.08, -w / 2 + arm_w, d / 2, arm_h),
        _box(w / 2 - arm_w, -d / 2 + back_d, 0.08, w / 2, d / 2, arm_h),
        _box(-w / 2 + 0.05, -d / 2 + 0.05, 0.0, w / 2 - 0.05, d / 2 - 0.05, 0.08, 1),  # plinth
    ]
    n = int(rng.integers(0, 4))  # cushions resting on the seat against the back
    inner = w - 2 * arm_w
    for k in range(n):
        r = min(inner / (2 * n), 0.25)
        x = -inner / 2 + (k + 0.5) * inner / n
        parts.append(Part(ELLIPSOID, (x, -d / 2 + back_d + 0.09, seat + r * 0.8), (r * 0.9, 0.08, r * 0.8), 1))
    return Template("sofa", parts, (w, d, h))


def bed(rng: np.random.Generator) -> Template:
    w, d = rng.choice([0.9, 1.4, 1.6, 1.8]) + rng.uniform(0, 0.1), rng.uniform(1.95, 2.15)
    frame, mat, head = rng.uniform(0.25, 0.35), rng.uniform(0.15, 0.25), rng.uniform(0.8, 1.2)
    parts = [
        _box(-w / 2, -d / 2, 0.0, w / 2, d / 2, frame, 1),
        _box(-w / 2 + 0.03, -d / 2 + 0.06, frame, w / 2 - 0.03, d / 2 - 0.03, frame + mat),
        _box(-w / 2, -d / 2, 0.0, w / 2, -d / 2 + 0.06, head, 1),
    ]
    n = 1 if w < 1.2 else 2
    for k in range(n):
        x = -w / 2 + (k + 0.5) * w / n
        parts.append(Part(ELLIPSOID, (x, -d / 2 + 0.3, frame + mat + 0.07), (min(0.3, w / (2 * n) - 0.05), 0.18, 0.07), 0))
    return Template("bed", parts, (w, d, head))


def cabinet(rng: np.random.Generator) -> Template:
    w, d, h = rng.uniform(0.5, 1.4), rng.uniform(0.4, 0.6), rng.choice([rng.uniform(0.6, 1.0), rng.uniform(1.6, 2.1)])
    parts = [
        _box(-w / 2, -d / 2, 0.08, w / 2, d / 2 - 0.02, h),  # body
        _box(-w / 2 + 0.04, -d / 2, 0.0, w / 2 - 0.04, d / 2 - 0.06, 0.08, 1),  # plinth
    ]
    doors = 1 if w < 0.7 else 2
    for k in range(doors):  # door panels and handles on the front
        x0, x1 = -w / 2 + k * w / doors + 0.01, -w / 2 + (k + 1) * w / doors - 0.01
        parts.append(_box(x0, d / 2 - 0.02, 0.1, x1, d / 2 - 0.005, h - 0.02, 1))
        hx = x1 - 0.05 if k == 0 and doors == 2 else x0 + 0.05
        parts.append(Part(ELLIPSOID, (hx, d / 2 - 0.005 + 0.0, 0.08 + (h - 0.08) * 0.6), (0.012, 0.005, 0.04), 0))
    sup = [Support(-w / 2 + 0.02, -d / 2 + 0.02, w / 2 - 0.02, d / 2 - 0.04, h, 1.0)] if h < 1.3 else []
    return Template("cabinet", parts, (w, d, h), sup)


def shelf(rng: np.random.Generator) -> Template:
    w, d, h, t = rng.uniform(0.6, 1.2), rng.uniform(0.28, 0.4), rng.uniform(1.2, 2.0), rng.uniform(0.02, 0.035)
    parts = [
        _box(-w / 2, -d / 2, 0, -w / 2 + t, d / 2, h),
        _box(w / 2 - t, -d / 2, 0, w / 2, d / 2, h),
        _box(-w / 2 + t, -d / 2, 0, w / 2 - t, -d / 2 + 0.01, h, 1),  # back panel
    ]
    n = int(rng.integers(3, 6))
    levels = np.linspace(0.05, h - t, n)
    sup = []
    for k, z in enumerate(levels):
        parts.append(_box(-w / 2 + t, -d / 2 + 0.01, z, w / 2 - t, d / 2, z + t))
        if k < n - 1:
            sup.append(Support(-w / 2 + t, -d / 2 + 0.01, w / 2 - t, d / 2, z + t, levels[k + 1] - z - t))
    return Template("shelf", parts, (w, d, h), sup)


def floor_lamp(rng: np.random.Generator) -> Template:
    r_shade, h = rng.uniform(0.15, 0.25), rng.uniform(1.4, 1.8)
    shade_h = rng.uniform(0.2, 0.35)
    parts = [_cyl(0, 0, 0, 0.03, r_shade * 0.8, 1), _cyl(0, 0, 0.03, h - shade_h * 0.5, 0.015, 1)]
    if rng.random() < 0.5:
        parts.append(_cyl(0, 0, h - shade_h, h, r_shade))
    else:
        parts.append(Part(ELLIPSOID, (0, 0, h - shade_h / 2), (r_shade, r_shade, shade_h / 2), 0))
    return Template("lamp", parts, (2 * r_shade, 2 * r_shade, h))


def table_lamp(rng: np.random.Generator) -> Template:
    r, h = rng.uniform(0.08, 0.15), rng.uniform(0.3, 0.5)
    parts = [
        _cyl(0, 0, 0, 0.1, r * 0.6, 1),
        _cyl(0, 0, 0.1, h - 0.1, 0.012, 1),
        Part(ELLIPSOID, (0, 0, h - 0.08), (r, r, 0.08), 0),
    ]
    return Template("lamp", parts, (2 * r, 2 * r, h))


def plant(rng: np.random.Generator) -> Template:
    r_pot, pot_h = rng.uniform(0.1, 0.2), rng.uniform(0.2, 0.4)
    parts = [_cyl(0, 0, 0, pot_h, r_pot, 1)]
    r = r_pot * rng.uniform(1.3, 2.0)
    top = pot_h
    for _ in range(int(rng.integers(1, 4))):  # foliage: stacked, slightly shifted blobs
        rz = r * rng.uniform(0.7, 1.2)
        dx, dy = rng.uniform(-0.3, 0.3, 2) * (r - r * 0.7)
        parts.append(Part(ELLIPSOID, (dx, dy, top + rz * 0.9), (r * 0.9, r * 0.9, rz), 0))
        top += rz * 1.2
        r *= 0.75
    w = 2 * max(r_pot, parts[1].half[0] + 0.03)
    return Template("plant", parts, (w, w, top + 0.3))


def monitor(rng: np.random.Generator) -> Template:
    w, sh = rng.uniform(0.45, 0.7), rng.uniform(0.28, 0.42)
    z0 = rng.uniform(0.1, 0.2)
    parts = [
        _box(-0.1, -0.09, 0, 0.1, 0.09, 0.015, 1),
        _box(-0.025, -0.06, 0.015, 0.025, -0.03, z0 + 0.05, 1),
        _box(-w / 2, -0.03, z0, w / 2, 0.0, z0 + sh, 0),
    ]
    return Template("monitor", parts, (w, 0.18, z0 + sh))


def clutter(rng: np.random.Generator, max_size: float = 0.3) -> Template:
    """A small thing: a book stack, a box, a vase or cup, a ball."""
    s = rng.uniform(0.06, max_size)
    kind = int(rng.integers(0, 4))
    if kind == 0:  # stack of books
        parts, z = [], 0.0
        w, d = s, s * rng.uniform(0.6, 0.9)
        for _ in range(int(rng.integers(1, 5))):
            t = rng.uniform(0.02, 0.05)
            parts.append(_box(-w / 2, -d / 2, z, w / 2, d / 2, z + t, int(rng.integers(0, 2))))
            z += t
        return Template("clutter", parts, (w, d, z))
    if kind == 1:
        h = s * rng.uniform(0.5, 1.2)
        return Template("clutter", [_box(-s / 2, -s / 2 * 0.8, 0, s / 2, s / 2 * 0.8, h)], (s, s * 0.8, h))
    if kind == 2:
        r, h = s / 2 * rng.uniform(0.4, 0.8), s * rng.uniform(0.8, 1.6)
        return Template("clutter", [_cyl(0, 0, 0, h, r)], (2 * r, 2 * r, h))
    r = s / 2
    return Template("clutter", [Part(ELLIPSOID, (0, 0, r), (r, r, r), 0)], (s, s, s))


def floor_box(rng: np.random.Generator) -> Template:
    """Clutter on the floor: a storage box or a basket."""
    w, d, h = rng.uniform(0.3, 0.6), rng.uniform(0.3, 0.5), rng.uniform(0.2, 0.5)
    if rng.random() < 0.5:
        return Template("clutter", [_box(-w / 2, -d / 2, 0, w / 2, d / 2, h)], (w, d, h))
    r = min(w, d) / 2
    return Template("clutter", [_cyl(0, 0, 0, h, r)], (2 * r, 2 * r, h))


def rug(rng: np.random.Generator) -> Template:
    w, d = rng.uniform(1.2, 2.5), rng.uniform(0.8, 1.8)
    return Template("rug", [_box(-w / 2, -d / 2, 0, w / 2, d / 2, 0.012)], (w, d, 0.012))


def door(rng: np.random.Generator) -> Template:
    """A door in a wall (object frame: y = -d/2 on the wall surface, protruding into the room)."""
    w, h = rng.uniform(0.8, 0.95), rng.uniform(2.0, 2.15)
    parts = [
        _box(-w / 2 - 0.06, -0.03, 0, w / 2 + 0.06, 0.0, h + 0.06, 1),  # frame
        _box(-w / 2, 0.0, 0, w / 2, 0.01, h),  # leaf, slightly proud of the frame
        Part(ELLIPSOID, (w / 2 - 0.08, 0.035, 1.0), (0.025, 0.025, 0.025), 1),
    ]
    return Template("door", parts, (w + 0.12, 0.06, h + 0.06))


def window(rng: np.random.Generator) -> Template:
    w, h = rng.uniform(0.6, 1.6), rng.uniform(0.8, 1.3)
    f = rng.uniform(0.04, 0.07)
    parts = [
        _box(-w / 2, -0.02, 0, w / 2, 0.0, h, 0),  # pane
        _box(-w / 2 - f, -0.02, -f, w / 2 + f, 0.03, 0, 1),  # sill and frame
        _box(-w / 2 - f, -0.02, h, w / 2 + f, 0.02, h + f, 1),
        _box(-w / 2 - f, -0.02, 0, -w / 2, 0.02, h, 1),
        _box(w / 2, -0.02, 0, w / 2 + f, 0.02, h, 1),
    ]
    if w > 1.0:  # mullion
        parts.append(_box(-f / 3, -0.02, 0, f / 3, 0.015, h, 1))
    return Template("window", parts, (w + 2 * f, 0.05, h + 2 * f))


def picture(rng: np.random.Generator) -> Template:
    w, h = rng.uniform(0.3, 1.0), rng.uniform(0.25, 0.8)
    f = rng.uniform(0.02, 0.05)
    parts = [_box(-w / 2, -0.01, 0, w / 2, 0.02, h, 1), _box(-w / 2 + f, 0.02, f, w / 2 - f, 0.025, h - f, 0)]
    return Template("picture", parts, (w, 0.035, h))


def bounds(t: Template) -> tuple[np.ndarray, np.ndarray]:
    """Exact bounding box of a template's parts in its frame: lo [3], hi [3], metres."""
    c = np.array([p.center for p in t.parts], dtype=np.float64)
    h = np.array([p.half for p in t.parts], dtype=np.float64)
    return (c - h).min(0), (c + h).max(0)
