"""The shell of a SynthRooms v2 room (:mod:`rtgs2.synth.layout_v2`): a corner block, doors and
open doorways, windows with curtains, ceiling lights, skirting boards and the cornice."""

from __future__ import annotations

import numpy as np

from rtgs2.synth import furniture_v2 as fv
from rtgs2.synth.appearance import object_materials
from rtgs2.synth.furniture import Template, _box, bounds
from rtgs2.synth.layout import _corner_spans
from rtgs2.synth.place_v2 import GAP, Placer, count, to_world, width

SKIRTING_T = 0.015  # metres, thickness of skirting boards
CURTAIN_GAP = 0.04  # metres between a curtain and its wall (clear of the skirting)
PENDANT_CLEAR = 2.15  # metres: a pendant's bottom stays above the camera path's obstacle height (2.05 m)


def corner_block(p: Placer, material) -> None:
    """A structural block (class 'wall', full height, 0.6-1.5 m a side) in a random corner:
    the room becomes L-shaped."""
    rng, lx, ly, lz = p.rng, p.lx, p.ly, p.lz
    a, c = rng.uniform(0.6, min(1.5, lx / 3)), rng.uniform(0.6, min(1.5, ly / 3))
    x0, x1 = (0.0, a) if rng.random() < 0.5 else (lx - a, lx)
    y0, y1 = (0.0, c) if rng.random() < 0.5 else (ly - c, ly)
    p.b.add_box("wall", (x0, y0, 0.0), (x1, y1, lz), material)
    p.blocks.append(np.array([x0, y0, x1, y1]))
    p.reserve(np.array([x0, y0, x1, y1, lz]))
    for k, (s0, s1) in enumerate(_corner_spans(x0, x1, y0, y1, lx, ly)):
        if s1 > s0:
            p.walls.spans[k].append((s0, s1, -1.0, lz + 1.0))

def ceiling_lights(p: Placer) -> None:
    """1 light in small rooms, 2-4 in big ones, spread along the long axis, flush or (in high
    rooms, above the camera's head) pendants; none over a corner block or another light."""
    rng = p.rng
    area = p.lx * p.ly
    n = 1 if area < 12 else (2 if area < 25 else count(rng, 3, 4))
    long_x = p.lx >= p.ly
    seed, mats = int(rng.integers(2**31)), object_materials("lamp", rng, p.style)
    max_drop = p.lz - PENDANT_CLEAR - 0.33  # keep a pendant's bottom above the camera's obstacle height
    pendant = max_drop > 0.15 and rng.random() < 0.3
    for i in range(n):
        u, v = (i + 0.5) / n, 0.5 + rng.uniform(-0.1, 0.1)
        x, y = (u * p.lx, v * p.ly) if long_x else (v * p.lx, u * p.ly)
        if any(q[0] - 0.5 < x < q[2] + 0.5 and q[1] - 0.5 < y < q[3] + 0.5 for q in p.blocks):
            continue
        if any(f.kind == "ceiling" and np.hypot(f.pos[0] - x, f.pos[1] - y) < 1.0 for f in p.fixtures):
            continue
        t = fv.ceiling_light(np.random.default_rng(seed), pendant=pendant, drop=max(0.1, max_drop))
        h = bounds(t)[1][2]
        r = p.footprint(t, np.array([x, y, p.lz - h]), 0.0)
        if any(q[4] > p.lz - h - 0.05 and not (r[2] <= q[0] or r[0] >= q[2] or r[3] <= q[1] or r[1] >= q[3]) for q in p.rects):
            continue
        p.add(t, np.array([x, y, p.lz - h]), 0.0, mats, light="ceiling")


def doors_windows(p: Placer, trim_top: float) -> None:
    """1-2 doors (some open doorways) with a clear floor in front; 1-3 windows with sills at
    0.7-0.95 m, some with curtains down to the floor on both sides."""
    rng = p.rng
    for _ in range(1 + (p.lx + p.ly > 12 and rng.random() < 0.5)):
        t = fv.door(rng, open_doorway=rng.random() < 0.25)
        got = p.on_any_wall(t, z=0.0)
        if got:
            k, s, o, yaw = got
            lo, hi = bounds(t)
            corners = [to_world(o, yaw, x, y) for x in (lo[0], hi[0]) for y in (hi[1], hi[1] + 0.9)]
            c = np.array(corners)
            p.reserve(np.array([c[:, 0].min(), c[:, 1].min(), c[:, 0].max(), c[:, 1].max(), 0.0]), solid=False)
            p.door_spans.append((k, s - (hi[0] - lo[0]) / 2, s + (hi[0] - lo[0]) / 2))
    for _ in range(count(rng, 1, 3)):
        z = rng.uniform(0.7, 0.95)
        hmax = p.lz - 0.3 - z - 0.2
        t = fv.window(rng, h=min(rng.uniform(0.9, 1.5), hmax))
        mats = object_materials("window", rng, p.style)  # its curtains share them (slot 3)
        got = p.on_any_wall(t, z=z, mats=mats)
        if not got:
            continue
        k, s, _, _ = got
        nrm = np.array([*p.normal(k), 0.0])
        if not any(np.array_equal(nrm, q) for q in p.window_normals):  # one per wall holding windows
            p.window_normals.append(nrm)
        if rng.random() < 0.5:
            seed, w = int(rng.integers(2**31)), rng.uniform(0.25, 0.45)
            for side in (-1, 1):
                c = fv.curtain(np.random.default_rng(seed), w, trim_top - 0.02)
                p.on_wall(c, k, s + side * (width(t) / 2 + GAP + 0.005 + w / 2), gap=CURTAIN_GAP, mats=mats)


def trim(p: Placer, mats: tuple, skirting: float, cornice: float) -> None:
    """Skirting boards ``skirting`` m high along the walls and the corner blocks (not across
    doors) and, if ``cornice`` > 0, a cornice that high and deep under the ceiling: one 'wall'
    object in world coordinates with the wall's trim material (slot 1)."""
    parts = []
    lx, ly, lz = p.lx, p.ly, p.lz
    blocked = [[] for _ in range(4)]
    for q in p.blocks:
        for k, (a, b) in enumerate(_corner_spans(q[0], q[2], q[1], q[3], lx, ly)):
            if b > a:
                blocked[k].append((a, b))

    def strip(k: int, s0: float, s1: float, z0: float, z1: float, t: float) -> None:
        a, n = p.walls.origin[k] + p.walls.along[k] * s0, p.normal(k)
        b = p.walls.origin[k] + p.walls.along[k] * s1 + n * t
        parts.append(_box(min(a[0], b[0]), min(a[1], b[1]), z0, max(a[0], b[0]), max(a[1], b[1]), z1, 1))

    for k in range(4):
        cuts = sorted(blocked[k] + [(a, b) for kk, a, b in p.door_spans if kk == k])
        s = 0.0
        for a, b in cuts + [(p.walls.length[k], p.walls.length[k])]:
            if a - s > 0.02:
                strip(k, s, a, 0.0, skirting, SKIRTING_T)
            s = max(s, b)
        if cornice > 0:
            s = 0.0
            for a, b in sorted(blocked[k]) + [(p.walls.length[k], p.walls.length[k])]:
                if a - s > 0.02:
                    strip(k, s, a, lz - cornice, lz, cornice)
                s = max(s, b)
    for q in p.blocks:  # the block's faces that stand in the room
        for z0, z1, t in ((0.0, skirting, SKIRTING_T), (lz - cornice, lz, cornice))[: 2 if cornice > 0 else 1]:
            if q[2] < lx:
                parts.append(_box(q[2], q[1], z0, q[2] + t, q[3], z1, 1))
            if q[0] > 0:
                parts.append(_box(q[0] - t, q[1], z0, q[0], q[3], z1, 1))
            if q[3] < ly:
                parts.append(_box(q[0], q[3], z0, q[2], q[3] + t, z1, 1))
            if q[1] > 0:
                parts.append(_box(q[0], q[1] - t, z0, q[2], q[1], z1, 1))
    p.b.add(Template("wall", parts, (lx, ly, lz)), np.zeros(3), 0.0, mats)
