"""SynthRooms v2 layouts: bedrooms, living rooms, offices, dining rooms (and open living +
dining rooms when big) furnished the way people furnish them, at real sizes.

Beds and sofas stand against walls, bedside tables beside beds, chairs at tables (tucked in
or pulled out), a desk with a chair and a monitor, a TV on a stand facing the sofa, a coffee
table on a rug in front of it, pictures at eye height, shelves with books, plants in corners,
lamps (their bulbs become :class:`lighting.Fixture`s), ceiling lights, skirting boards and a
cornice. Placement (:mod:`rtgs2.synth.place_v2`) keeps footprints disjoint and a walkway
free for the camera path. Deterministic: one ``np.random.default_rng(seed)``, fixed draw order.
"""

from __future__ import annotations

import math

import numpy as np

from rtgs2.synth import furniture_v2 as fv
from rtgs2.synth.appearance import object_materials, room_style
from rtgs2.synth.config import LayoutConfig
from rtgs2.synth.furniture import Template, bounds
from rtgs2.synth.lighting import room_lights
from rtgs2.synth.place_v2 import GAP, Placer, count, to_world, width
from rtgs2.synth.room import Room, RoomBuilder
from rtgs2.synth.shell_v2 import ceiling_lights, corner_block, doors_windows, trim

V2_LAYOUT = LayoutConfig(room_x=(2.5, 10.0), room_y=(3.0, 7.0), room_z=(2.4, 3.2))  # the v2 preset's ranges
ROOM_KINDS = ("bedroom", "living", "office", "dining", "living_dining")
EYE_LEVEL = 1.5  # metres: height of a picture's centre
CEILING_MARGIN = 0.15  # metres kept free under the ceiling (and its cornice) by tall things


def _against(p: Placer, t: Template, zone: np.ndarray, corner: bool = False) -> tuple | None:
    """``t`` against a wall facing ``zone``: centred (or in a corner), else anywhere; (k, s, origin, yaw)."""
    w = width(t)
    for k in p.rng.permutation(4):
        s0, s1 = p.wall_range(int(k), zone)
        if s1 - s0 < w + 0.1:
            continue
        s = (s0 + w / 2 + GAP + 0.01) if corner else (s0 + s1) / 2 + p.rng.uniform(-0.3, 0.3)
        got = p.on_wall(t, int(k), float(s))
        if got:
            return int(k), float(s), *got
    return p.on_any_wall(t, zone=zone)


def _beside(p: Placer, k: int, s: float, span: float, make, sides=(-1, 1), mats: tuple | None = None) -> list[int]:
    """Objects from ``make()`` against wall ``k`` on the ``sides`` of a ``span`` wide object
    centred at ``s``; returns the indices of the surfaces they bring."""
    out = []
    for side in sides:
        t = make()
        n = len(p.surfaces)
        if p.on_wall(t, k, s + side * (span / 2 + 0.06 + width(t) / 2), mats=mats):
            out += range(n, len(p.surfaces))
    return out


def _pictures_above(p: Placer, k: int, s: float, top: float, span: float) -> None:
    """One large picture or a row of 2-3 centred above furniture ``top`` high, ``span`` wide."""
    n = 1 if p.rng.random() < 0.6 else count(p.rng, 2, 3)
    w = min(1.2, span * p.rng.uniform(0.5, 0.8)) / (1 if n == 1 else n * 1.3)
    room = p.lz - CEILING_MARGIN - 0.1 - top - 0.2
    if room < 0.3 or w < 0.3:
        return
    for i in range(n):
        t = fv.picture(p.rng, w=w, h=min(room, float(w * p.rng.uniform(0.6, 1.3))))
        h = bounds(t)[1][2]
        p.on_wall(t, k, s + (i - (n - 1) / 2) * w * 1.3, z=max(top + 0.2, EYE_LEVEL - h / 2))


def _rug_under(p: Placer, origin: np.ndarray, yaw: float, x: float, y: float, w: float, d: float, ignore: tuple) -> None:
    """A rug centred at (x, y) of the frame ``origin``/``yaw``; furniture ``ignore``d may stand on it."""
    for scale in (1.0, 0.8):
        if p.at(fv.rug(p.rng, w * scale, d * scale), to_world(origin, yaw, x, y), yaw, ignore=ignore, solid=False) is not None:
            return


def _chair_at(p: Placer, ch: Template, mats: tuple, table: tuple, side: tuple[int, int], along: float, pull: float) -> bool:
    """Chair ``ch`` facing the ``table`` (template, origin, yaw, footprint index) from ``side``,
    ``along`` metres off the side's centre, its front ``pull`` metres out (< 0: tucked under)."""
    t, o, yaw, idx = table
    lo, hi = bounds(t)
    front = bounds(ch)[1][1]
    for pl in (pull, 0.12, 0.3):
        sx, sy = side
        if sy:
            x, y, rel = along, (hi[1] + pl + front) if sy > 0 else (lo[1] - pl - front), math.pi if sy > 0 else 0.0
        else:
            x, y, rel = (hi[0] + pl + front) if sx > 0 else (lo[0] - pl - front), along, math.pi / 2 if sx > 0 else -math.pi / 2
        jit = p.rng.uniform(-0.15, 0.15) if pl > 0.05 else 0.0
        if p.at(ch, to_world(o, yaw, x, y), yaw + rel + jit, ignore=(idx,), near=[(t, o, yaw)], mats=mats) is not None:
            return True
    return False


def _bedroom(p: Placer, zone: np.ndarray) -> None:
    rng = p.rng
    small = min(zone[2] - zone[0], zone[3] - zone[1]) < 3.3
    mw = 0.9 if small and rng.random() < 0.7 else float(rng.choice(fv.BED_WIDTHS[1:]))
    bed, got = fv.bed(rng, mw), None
    for corner in ((mw < 1.2, False) if mw < 1.2 else (False, True)):
        got = _against(p, bed, zone, corner)
        if got:
            break
        bed = fv.bed(rng, 0.9)
    if got:
        k, s, o, yaw = got
        idx = len(p.rects) - 1
        lo, hi = bounds(bed)
        seed, mats = int(rng.integers(2**31)), object_materials("cabinet", rng, p.style)
        for i in _beside(p, k, s, hi[0] - lo[0], lambda: fv.cabinet(np.random.default_rng(seed), "bedside"), mats=mats):
            if rng.random() < 0.8:
                p.on_surface(fv.table_lamp(rng, max_h=min(0.55, p.clearance(i) - 0.02)), i, "back")
        _pictures_above(p, k, s, hi[2], hi[0] - lo[0])
        if rng.random() < 0.5:
            ry = hi[1] - rng.uniform(0.4, 0.7)  # under the foot end of the bed, reaching past it
            rw, rd = hi[0] - lo[0] + rng.uniform(0.6, 1.2), rng.uniform(1.4, 2.0)
            _rug_under(p, o, yaw, 0.0, ry, rw, rd, (idx,))
    p.on_any_wall(fv.cabinet(rng, "wardrobe", max_h=p.lz - CEILING_MARGIN - 0.1), zone=zone)
    if rng.random() < 0.6:
        p.on_any_wall(fv.cabinet(rng, "drawers"), zone=zone)
    if not small and rng.random() < 0.35:
        _desk(p, zone)
    if not small and rng.random() < 0.25:
        p.on_any_wall(fv.sofa(rng, 1), zone=zone)
    if rng.random() < 0.3:
        p.on_any_wall(fv.picture(rng, mirror=True), zone=zone, z=rng.uniform(0.4, 0.8))


def _desk(p: Placer, zone: np.ndarray) -> None:
    """A desk against a wall with an office or plain chair, monitors, a lamp, a laptop."""
    rng = p.rng
    t = fv.table(rng, "desk")
    got = p.on_any_wall(t, zone=zone)
    if not got:
        return
    _, _, o, yaw = got
    idx, sup = len(p.rects) - 1, len(p.surfaces) - 1
    ch = fv.chair(rng, office=rng.random() < 0.6, arms=False)
    mats = object_materials("chair", rng, p.style)
    along, pull = rng.uniform(-0.1, 0.1), rng.uniform(-0.2, 0.25)
    _chair_at(p, ch, mats, (t, o, yaw, idx), (0, 1), along, pull)
    for _ in range(count(rng, 1, 2) if rng.random() < 0.8 else 0):
        p.on_surface(fv.monitor(rng), sup, "back")
    if rng.random() < 0.5:
        p.on_surface(fv.table_lamp(rng, max_h=0.5), sup, "back")
    if rng.random() < 0.5:
        p.on_surface(fv.clutter(rng, kind="laptop"), sup)


def _living(p: Placer, zone: np.ndarray) -> None:
    rng = p.rng
    big = (zone[2] - zone[0]) * (zone[3] - zone[1]) > 18
    sofa = fv.sofa(rng, corner=bool(big and rng.random() < 0.4))
    got = _against(p, sofa, zone)
    if not got:  # a smaller one, then an armchair
        sofa = fv.sofa(rng, 2, False)
        got = _against(p, sofa, zone)
    if not got:
        p.on_any_wall(fv.sofa(rng, 1), zone=zone)
        return
    k, s, o, yaw = got
    lo, hi = bounds(sofa)
    group = [len(p.rects) - 1]
    front, (ox0, ox1) = sofa.seat_front, sofa.open_x
    ct = fv.table(rng, "coffee")
    clo, chi = bounds(ct)
    cx, cy = (ox0 + ox1) / 2, front + rng.uniform(0.35, 0.45) - clo[1]
    ci = p.at(ct, to_world(o, yaw, cx, cy), yaw)
    if ci is not None:
        group.append(ci)
        for side in (-1, 1)[: count(rng, 0, 2) if big else 0]:  # armchairs facing the coffee table from its ends
            a = fv.sofa(rng, 1)
            x = cx + side * (chi[0] + 0.4 + bounds(a)[1][1])
            r = p.at(a, to_world(o, yaw, x, cy), yaw + side * math.pi / 2)
            group += [r] if r is not None else []
        rw = min(ox1 - ox0 + 0.6, chi[0] - clo[0] + rng.uniform(0.8, 1.6))
        rd = min(2 * (cy - front - 0.05), chi[1] - clo[1] + rng.uniform(0.8, 1.4))
        _rug_under(p, o, yaw, cx, cy, rw, rd, tuple(group))
    # TV on a stand on the opposite wall, facing the sofa
    k2 = (k + 2) % 4
    stand = fv.cabinet(rng, "tv")
    sw, sh, st = width(stand), bounds(stand)[1][2], None
    for ds in (0.0, 0.5, -0.5, 1.0, -1.0, 1.5, -1.5):
        s2 = p.walls.length[k2] - s + ds  # walls k and k2 run in opposite directions
        if not p.walls.free(k2, s2 - sw / 2, s2 + sw / 2, 0.0, sh + 1.0):  # a window above leaves no room for the TV
            continue
        n = len(p.surfaces)
        if p.on_wall(stand, k2, s2):
            st = p.surfaces[n], s2
            break
    if st is not None and rng.random() < 0.5:
        p.on_surface(fv.monitor(rng, tv=True), len(p.surfaces) - 1, "centre")
    elif st is not None:
        tv = fv.monitor(rng, tv=True, wall=True)
        zb = st[0].sup.z + rng.uniform(0.15, 0.35)
        if zb + bounds(tv)[1][2] < p.lz - CEILING_MARGIN - 0.1:
            p.on_wall(tv, k2, st[1], z=zb)  # what stands on the stand stays below it (Placer.clearance)
    w = hi[0] - lo[0]
    lamp_side = -1 if rng.random() < 0.5 else 1
    _beside(p, k, s, w, lambda: fv.floor_lamp(rng), sides=(lamp_side,))
    if rng.random() < 0.5:  # a side table with a lamp at the other end
        for i in _beside(p, k, s, w, lambda: fv.table(rng, "side"), sides=(-lamp_side,)):
            p.on_surface(fv.table_lamp(rng, max_h=0.55), i, "centre")
    _pictures_above(p, k, s, hi[2], w)


def _dining(p: Placer, zone: np.ndarray) -> None:
    rng = p.rng
    zw, zd = zone[2] - zone[0], zone[3] - zone[1]
    seats = 6 if zw * zd > 16 and rng.random() < 0.6 else 4
    yaw = 0.0 if zw >= zd else math.pi / 2
    got = None
    for seats in (seats, 4, 4):
        t = fv.table(rng, "dining", seats)
        o = np.array([(zone[0] + zone[2]) / 2 + rng.uniform(-0.3, 0.3), (zone[1] + zone[3]) / 2 + rng.uniform(-0.3, 0.3), 0.0])
        got = p.at(t, o, yaw)
        if got is not None:
            break
    if got is None:
        return
    top = p.surfaces[-1].sup
    lo, hi = bounds(t)
    table = (t, o, yaw, got)
    seed, mats = int(rng.integers(2**31)), object_materials("chair", rng, p.style)
    arms = rng.random() < 0.15
    tw, td = hi[0] - lo[0], hi[1] - lo[1]
    per = 3 if seats == 6 and tw > 1.75 else 2
    places = [((0, sy), (i - (per - 1) / 2) * tw / per) for sy in (1, -1) for i in range(per)]
    if seats == 6 and per == 2:  # one at each end
        places += [((1, 0), 0.0), ((-1, 0), 0.0)]
    if tw < 1.25:  # square / round: one chair per side
        places = [((0, 1), 0.0), ((0, -1), 0.0), ((1, 0), 0.0), ((-1, 0), 0.0)]
    group = [got]
    for side, along in places:
        n = len(p.rects)
        if _chair_at(p, fv.chair(np.random.default_rng(seed), arms=arms), mats, table, side, along, rng.uniform(-0.2, 0.25)):
            group.append(n)
    if rng.random() < 0.6:
        _rug_under(p, o, yaw, 0.0, 0.0, tw + rng.uniform(1.2, 1.6), td + rng.uniform(1.2, 1.6), tuple(group))
    n_pend = 0 if rng.random() < 0.25 else (1 if tw < 1.5 else 2)
    bottom = hi[2] + rng.uniform(0.65, 0.85)
    lamp_seed = int(rng.integers(2**31))
    lmats = object_materials("lamp", rng, p.style)
    for i in range(n_pend):
        lt = fv.ceiling_light(np.random.default_rng(lamp_seed), pendant=True, drop=max(0.1, p.lz - bottom - 0.33))
        x = (i - (n_pend - 1) / 2) * tw / n_pend
        p.add(lt, to_world(o, yaw, x, 0.0, p.lz - bounds(lt)[1][2]), yaw, lmats, light="ceiling")
        top.clearance = min(top.clearance, p.lz - bounds(lt)[1][2] - hi[2] - 0.05)  # things on the table stay below
    sb = fv.cabinet(rng, "sideboard")
    got = p.on_any_wall(sb, zone=zone)
    if got:
        if rng.random() < 0.6:
            p.on_surface(fv.table_lamp(rng), len(p.surfaces) - 1, "back")
        _pictures_above(p, got[0], got[1], bounds(sb)[1][2], width(sb))


def _office(p: Placer, zone: np.ndarray) -> None:
    rng = p.rng
    area = (zone[2] - zone[0]) * (zone[3] - zone[1])
    for _ in range(count(p.rng, 1, min(3, 1 + int(area // 12)))):
        _desk(p, zone)
    for _ in range(count(rng, 0, 2)):
        p.on_any_wall(fv.cabinet(rng, "drawers" if rng.random() < 0.7 else "sideboard"), zone=zone)
    if area > 14 and rng.random() < 0.4:
        p.on_any_wall(fv.sofa(rng, int(rng.integers(1, 3)), False), zone=zone)
    if rng.random() < 0.3:
        rw, rd = rng.uniform(1.4, 2.2), rng.uniform(1.0, 1.6)
        _rug_under(p, np.zeros(3), 0.0, (zone[0] + zone[2]) / 2, (zone[1] + zone[3]) / 2, rw, rd, ())


SHELVES = {"bedroom": (0, 1), "living": (1, 2), "office": (1, 3), "dining": (0, 1)}


def _furnish_walls(p: Placer, kind: str, zone: np.ndarray) -> None:
    """What any room of ``kind`` gets besides its main furniture: shelves, plants in corners,
    floor clutter, pictures at eye height, a stool now and then."""
    rng = p.rng
    area = (zone[2] - zone[0]) * (zone[3] - zone[1])
    if area > 20 and rng.random() < 0.6:  # big rooms get a reading corner: armchair and floor lamp
        a = fv.sofa(rng, 1)
        got = p.on_any_wall(a, zone=zone)
        if got:
            _beside(p, got[0], got[1], width(a), lambda: fv.floor_lamp(rng), sides=(1 if rng.random() < 0.5 else -1,))
    for _ in range(count(rng, *SHELVES[kind]) + int(area // 25)):
        p.on_any_wall(fv.shelf(rng, max_h=p.lz - CEILING_MARGIN - 0.1), zone=zone)
    for _ in range(count(rng, 1, 3)):
        p.in_corner(fv.plant(rng))
    for _ in range(count(rng, 0, 2)):
        p.on_any_wall(fv.floor_clutter(rng), zone=zone)
    if rng.random() < 0.15:
        p.on_any_wall(fv.chair(rng, stool=True), zone=zone)
    for _ in range(count(rng, 1, 3)):
        t = fv.picture(rng, h=None)
        h = bounds(t)[1][2]
        if EYE_LEVEL + h / 2 < p.lz - CEILING_MARGIN - 0.1:
            p.on_any_wall(t, zone=zone, z=EYE_LEVEL - h / 2 + rng.uniform(-0.1, 0.1))


def _small_things(p: Placer) -> None:
    """Books on shelves; vases, bowls, books, plants on tables and cabinets."""
    rng = p.rng
    for i in range(len(p.surfaces)):
        f = p.surfaces[i]
        cl = p.clearance(i)
        if cl < 0.08:
            continue
        if f.owner == "shelf" and rng.random() < 0.75:
            w = (f.sup.x1 - f.sup.x0) * rng.uniform(0.3, 0.9)
            p.on_surface(fv.book_row(rng, w, cl - 0.02, f.sup.y1 - f.sup.y0), i, "back")
        for _ in range(count(rng, 0, 2 if f.owner == "shelf" else 3)):
            if rng.random() < 0.15 and cl > 0.3:
                p.on_surface(fv.plant(rng, small=True), i)
            else:
                p.on_surface(fv.clutter(rng, max_h=min(0.4, cl - 0.02)), i)


def _room_kind(rng: np.random.Generator, area: float) -> str:
    """Bedrooms and offices fit anywhere; living and dining rooms need 10-11 m2, open living +
    dining rooms 28 m2."""
    ok = [k for k, a in zip(ROOM_KINDS, (0, 10, 0, 11, 28)) if area >= a]
    return ok[int(rng.integers(0, len(ok)))]


FURNISH = {"bedroom": _bedroom, "living": _living, "office": _office, "dining": _dining}


def generate_room_v2(seed: int, cfg: LayoutConfig = V2_LAYOUT) -> Room:
    """The v2 room of ``seed`` (same seed -> same room; ``cfg``'s material pool is unused:
    materials come from :mod:`rtgs2.synth.appearance`)."""
    return generate_room_v2_kind(seed, cfg)[0]


def generate_room_v2_kind(seed: int, cfg: LayoutConfig = V2_LAYOUT) -> tuple[Room, str]:
    """:func:`generate_room_v2` and the room's kind (one of ROOM_KINDS)."""
    rng = np.random.default_rng(seed)
    lx, ly, lz = rng.uniform(*cfg.room_x), rng.uniform(*cfg.room_y), rng.uniform(*cfg.room_z)
    style = room_style(rng)
    wall = object_materials("wall", rng, style)
    floor, ceiling = object_materials("floor", rng, style)[0], object_materials("ceiling", rng, style)[0]
    b = RoomBuilder((lx, ly, lz), wall[0], floor, ceiling)
    p = Placer(rng, b, style)
    skirting = rng.uniform(0.08, 0.12)
    cornice = rng.uniform(0.04, 0.09) if rng.random() < 0.5 else 0.0
    if min(lx, ly) >= 3.5 and rng.random() < 0.3:  # a structural corner block makes the room L-shaped
        corner_block(p, wall[0])
    doors_windows(p, lz - cornice)
    kind = _room_kind(rng, lx * ly)
    whole = np.array([0.0, 0.0, lx, ly])
    if kind == "living_dining":  # living part on one side of the long axis, dining on the other
        f = rng.uniform(0.5, 0.6)
        if lx >= ly:
            zones = [np.array([0.0, 0.0, f * lx, ly]), np.array([f * lx, 0.0, lx, ly])]
        else:
            zones = [np.array([0.0, 0.0, lx, f * ly]), np.array([0.0, f * ly, lx, ly])]
        if rng.random() < 0.5:
            zones = zones[::-1]
        _living(p, zones[0])
        _dining(p, zones[1])
        _furnish_walls(p, "living", whole)
    else:
        FURNISH[kind](p, whole)
        _furnish_walls(p, kind, whole)
    ceiling_lights(p)
    _small_things(p)
    trim(p, wall, skirting, cornice)
    return b.build(room_lights(rng, b.size, p.fixtures, p.window_normals)), kind
