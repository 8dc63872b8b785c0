"""Procedural room layouts: from a seed, a room with doors, windows, furniture against the
walls and in the middle, pictures, and small things on tables and shelves.

Placement keeps objects apart: floor objects by their axis-aligned footprints (plus a
margin), wall objects (doors, windows, pictures) by intervals along their wall and in
height, small objects by rectangles on their support surface. Templates keep their parts
inside their bounding boxes (``furniture.bounds``), so disjoint boxes mean no interpenetration.
"""

from __future__ import annotations

import math

import numpy as np

from rtgs2.synth import furniture as fu
from rtgs2.synth.config import LayoutConfig
from rtgs2.synth.materials import draw_material, material_pool
from rtgs2.synth.room import Lights, Room, RoomBuilder

GAP = 0.04  # metres between neighbouring objects' boxes, and between furniture and walls
MAX_TRIES = 30  # random placement attempts per object before it is dropped
ROOM_TYPES = ("living", "bedroom", "office", "dining")


class _Walls:
    """The four walls: wall k runs along ``along[k]`` from ``origin[k]`` with inward normal."""

    def __init__(self, lx: float, ly: float):
        self.origin = np.array([[0, 0], [lx, 0], [lx, ly], [0, ly]], float)
        self.along = np.array([[1, 0], [0, 1], [-1, 0], [0, -1]], float)
        self.length = np.array([lx, ly, lx, ly])
        self.yaw = np.array([0.0, math.pi / 2, math.pi, -math.pi / 2])  # object +y -> inward normal
        self.spans: list[list[tuple[float, float, float, float]]] = [[], [], [], []]  # (s0, s1, z0, z1)

    def free(self, k: int, s0: float, s1: float, z0: float, z1: float) -> bool:
        if s0 < 0 or s1 > self.length[k]:
            return False
        return all(s1 + GAP <= a or s0 - GAP >= b or z1 <= c or z0 >= d for a, b, c, d in self.spans[k])


class _Placer:
    def __init__(self, rng: np.random.Generator, builder: RoomBuilder, pool):
        self.rng, self.b, self.pool = rng, builder, pool
        lx, ly, _ = builder.size
        self.walls = _Walls(lx, ly)
        self.rects: list[np.ndarray] = []  # floor footprints [x0, y0, x1, y1]
        self.supports: list[tuple[fu.Support, np.ndarray, float, list[np.ndarray]]] = []
        self.tables: list[tuple[np.ndarray, float, fu.Template, bool]] = []

    # -- geometry helpers ---------------------------------------------------------------------
    @staticmethod
    def footprint(t: fu.Template, origin: np.ndarray, yaw: float) -> np.ndarray:
        lo, hi = fu.bounds(t)
        xs, ys = np.array([lo[0], hi[0], hi[0], lo[0]]), np.array([lo[1], lo[1], hi[1], hi[1]])
        c, s = math.cos(yaw), math.sin(yaw)
        wx, wy = origin[0] + c * xs - s * ys, origin[1] + s * xs + c * ys
        return np.array([wx.min(), wy.min(), wx.max(), wy.max()])

    def floor_free(self, r: np.ndarray, wall_gap: float) -> bool:
        lx, ly, _ = self.b.size
        if r[0] < wall_gap - 1e-9 or r[1] < wall_gap - 1e-9 or r[2] > lx - wall_gap + 1e-9 or r[3] > ly - wall_gap + 1e-9:
            return False
        return all(r[2] + GAP <= q[0] or r[0] - GAP >= q[2] or r[3] + GAP <= q[1] or r[1] - GAP >= q[3] for q in self.rects)

    def mats(self):
        return draw_material(self.pool, self.rng), draw_material(self.pool, self.rng)

    def _record(self, t: fu.Template, origin: np.ndarray, yaw: float) -> None:
        for sup in t.supports:
            self.supports.append((sup, origin, yaw, []))

    # -- placement ----------------------------------------------------------------------------
    def on_wall(self, t: fu.Template, z0: float | None = None, floor: bool = True, wall: int | None = None) -> tuple | None:
        """Put ``t`` with its back against a wall (``z0``: height of its frame, None = floor)."""
        lo, hi = fu.bounds(t)
        w = hi[0] - lo[0]
        gap = GAP if floor else 0.0
        for _ in range(MAX_TRIES):
            k = int(self.rng.integers(0, 4)) if wall is None else wall
            if self.walls.length[k] < w + 0.1:
                continue
            s = self.rng.uniform(w / 2 + 0.05, self.walls.length[k] - w / 2 - 0.05)
            z = 0.0 if z0 is None else z0
            if not self.walls.free(k, s - w / 2, s + w / 2, z + lo[2], z + hi[2]):
                continue
            base = self.walls.origin[k] + self.walls.along[k] * (s - (lo[0] + hi[0]) / 2)
            normal = np.array([-self.walls.along[k][1], self.walls.along[k][0]])
            xy = base + normal * (gap - lo[1])
            origin = np.array([xy[0], xy[1], z])
            yaw = float(self.walls.yaw[k])
            if floor:
                r = self.footprint(t, origin, yaw)
                if not self.floor_free(r, 0.0):
                    continue
                self.rects.append(r)
            self.walls.spans[k].append((s - w / 2, s + w / 2, z + lo[2], z + hi[2]))
            self.b.add(t, origin, yaw, self.mats())
            self._record(t, origin, yaw)
            return origin, yaw, k
        return None

    def in_middle(self, t: fu.Template, yaw_jitter: float = 0.3) -> tuple | None:
        lx, ly, _ = self.b.size
        for _ in range(MAX_TRIES):
            yaw = float(self.rng.integers(0, 4)) * math.pi / 2 + self.rng.uniform(-yaw_jitter, yaw_jitter)
            origin = np.array([self.rng.uniform(0.5, lx - 0.5), self.rng.uniform(0.5, ly - 0.5), 0.0])
            r = self.footprint(t, origin, yaw)
            if self.floor_free(r, 0.6):  # leave a walkway along the walls
                self.rects.append(r)
                self.b.add(t, origin, yaw, self.mats())
                self._record(t, origin, yaw)
                return origin, yaw
        return None

    def at(self, t: fu.Template, origin: np.ndarray, yaw: float) -> bool:
        r = self.footprint(t, origin, yaw)
        if not self.floor_free(r, GAP):
            return False
        self.rects.append(r)
        self.b.add(t, origin, yaw, self.mats())
        return True

    def chairs_around(self, origin: np.ndarray, yaw: float, table: fu.Template, n: int, front_only: bool) -> None:
        """Up to ``n`` chairs facing the table from its sides (its front only for a desk)."""
        lo, hi = fu.bounds(table)
        sides = [(0, 1)] if front_only else [(0, 1), (0, -1), (1, 0), (-1, 0)]
        self.rng.shuffle(sides)
        c, s = math.cos(yaw), math.sin(yaw)
        placed = 0
        for sx, sy in sides * 2:
            if placed >= n:
                return
            ch = fu.chair(self.rng)
            clo, chi = fu.bounds(ch)
            d = chi[1] - clo[1]
            gap = self.rng.uniform(0.05, 0.2)
            if sy:
                cw = chi[0] - clo[0]
                x = self.rng.uniform(lo[0] + cw / 2, hi[0] - cw / 2) if hi[0] - lo[0] > cw else 0.0
                y = hi[1] + gap + d / 2 if sy > 0 else lo[1] - gap - d / 2
                rel = math.pi if sy > 0 else 0.0
            else:
                y = self.rng.uniform(lo[1] + d / 2, hi[1] - d / 2) if hi[1] - lo[1] > d else 0.0
                x = hi[0] + gap + d / 2 if sx > 0 else lo[0] - gap - d / 2
                rel = math.pi / 2 if sx > 0 else -math.pi / 2
            o = origin + np.array([c * x - s * y, s * x + c * y, 0.0])
            placed += self.at(ch, o, yaw + rel)

    def on_support(self, t: fu.Template, k: int, prefer_back: bool = False) -> bool:
        """Put ``t`` on support surface ``k`` without overlapping what is already there."""
        sup, origin, yaw, taken = self.supports[k]
        lo, hi = fu.bounds(t)
        if hi[2] - lo[2] > sup.clearance - 0.02:
            return False
        for _ in range(10):
            x0, x1 = sup.x0 - lo[0], sup.x1 - hi[0]
            y0, y1 = sup.y0 - lo[1], sup.y1 - hi[1]
            if x0 > x1 or y0 > y1:
                return False
            x = self.rng.uniform(x0, x1)
            y = y0 + 0.02 if prefer_back else self.rng.uniform(y0, y1)
            r = np.array([x + lo[0], y + lo[1], x + hi[0], y + hi[1]])
            if any(not (r[2] + 0.02 <= q[0] or r[0] - 0.02 >= q[2] or r[3] + 0.02 <= q[1] or r[1] - 0.02 >= q[3]) for q in taken):
                continue
            taken.append(r)
            c, s = math.cos(yaw), math.sin(yaw)
            o = origin + np.array([c * x - s * y, s * x + c * y, sup.z])
            self.b.add(t, o, yaw, self.mats())
            return True
        return False


def _count(rng: np.random.Generator, lo: int, hi: int) -> int:
    return int(rng.integers(lo, hi + 1))


def generate_room(seed: int, cfg: LayoutConfig = LayoutConfig()) -> Room:
    """The room of ``seed`` (same seed -> same room). Deterministic, pure numpy."""
    rng = np.random.default_rng(seed)
    pool = material_pool(cfg.material_pool_seed, cfg.material_pool_size)
    lx, ly, lz = rng.uniform(*cfg.room_x), rng.uniform(*cfg.room_y), rng.uniform(*cfg.room_z)
    b = RoomBuilder((lx, ly, lz), draw_material(pool, rng), draw_material(pool, rng), draw_material(pool, rng))
    p = _Placer(rng, b, pool)
    columns: list[np.ndarray] = []
    if rng.random() < 0.35:  # a structural corner block makes the room L-shaped
        a, c = rng.uniform(0.8, min(1.6, lx / 3)), rng.uniform(0.8, min(1.6, ly / 3))
        x0, x1 = (0.0, a) if rng.random() < 0.5 else (lx - a, lx)
        y0, y1 = (0.0, c) if rng.random() < 0.5 else (ly - c, ly)
        b.add_box("wall", (x0, y0, 0.0), (x1, y1, lz), b.wall_material)
        columns.append(np.array([x0, y0, x1, y1]))
        p.rects.append(columns[-1])
        for k, (s0, s1) in enumerate(_corner_spans(x0, x1, y0, y1, lx, ly)):
            if s1 > s0:
                p.walls.spans[k].append((s0, s1, -1.0, lz + 1.0))

    for _ in range(1 if rng.random() < 0.7 else 2):
        d = fu.door(rng)
        placed = p.on_wall(d, floor=False)
        if placed:  # keep the floor in front of the door clear
            origin, yaw, _ = placed
            lo, hi = fu.bounds(d)
            keep = fu.Template("door", [fu._box(lo[0], 0, 0, hi[0], 0.9, 2.0)], (0, 0, 0))
            p.rects.append(p.footprint(keep, origin, yaw))
    for _ in range(_count(rng, 0, 3)):
        w = fu.window(rng)
        p.on_wall(w, z0=rng.uniform(0.8, max(0.85, lz - 0.3 - fu.bounds(w)[1][2])), floor=False)

    kind = ROOM_TYPES[int(rng.integers(0, len(ROOM_TYPES)))]
    if kind == "bedroom" or rng.random() < 0.15:
        p.on_wall(fu.bed(rng))
    if kind == "living" or rng.random() < 0.2:
        t = fu.sofa(rng)
        p.on_wall(t) if rng.random() < 0.7 else p.in_middle(t)
    n_desks = {"office": _count(rng, 1, 3), "bedroom": _count(rng, 0, 1)}.get(kind, _count(rng, 0, 1))
    for _ in range(n_desks):
        t = fu.table(rng, desk=True)
        placed = p.on_wall(t)
        if placed:
            p.tables.append((placed[0], placed[1], t, True))
            p.chairs_around(placed[0], placed[1], t, 1, front_only=True)
            if rng.random() < 0.8:
                p.on_support(fu.monitor(rng), len(p.supports) - 1, prefer_back=True)
    if rng.random() < 0.6:  # before the middle tables, or it rarely finds room
        p.in_middle(fu.rug(rng), 0.2)
    n_tables = {"dining": 1, "living": _count(rng, 0, 1)}.get(kind, _count(rng, 0, 1))
    for _ in range(n_tables):
        t = fu.table(rng)
        placed = p.in_middle(t)
        if placed:
            p.tables.append((placed[0], placed[1], t, False))
            p.chairs_around(placed[0], placed[1], t, _count(rng, 1, 6 if kind == "dining" else 3), front_only=False)
    for _ in range(_count(rng, 1, 3)):
        p.on_wall(fu.cabinet(rng))
    for _ in range(_count(rng, 0, 2) + (kind == "living")):
        p.on_wall(fu.shelf(rng))
    for _ in range(_count(rng, 0, 2)):
        t = fu.floor_lamp(rng)
        p.on_wall(t) if rng.random() < 0.6 else p.in_middle(t, math.pi)
    for _ in range(_count(rng, 1, 3)):
        t = fu.plant(rng)
        p.on_wall(t) if rng.random() < 0.6 else p.in_middle(t, math.pi)
    for _ in range(_count(rng, 0, 3)):
        t = fu.floor_box(rng)
        p.on_wall(t) if rng.random() < 0.5 else p.in_middle(t, math.pi)
    for _ in range(_count(rng, 1, 4)):
        t = fu.picture(rng)
        p.on_wall(t, z0=rng.uniform(1.1, max(1.15, lz - 0.3 - fu.bounds(t)[1][2])), floor=False)
    for k in range(len(p.supports)):  # small things on every surface
        sup = p.supports[k][0]
        for _ in range(_count(rng, 0, 4 if sup.clearance < 0.6 else 3)):
            item = fu.clutter(rng, max_size=min(0.3, sup.clearance - 0.03)) if sup.clearance > 0.1 else None
            if item is not None:
                p.on_support(item, k)
        if sup.clearance > 0.6 and rng.random() < 0.25:
            p.on_support(fu.table_lamp(rng), k)
    return b.build(_lights(rng, lx, ly, lz, columns))


def _corner_spans(x0, x1, y0, y1, lx, ly):
    """Intervals that a corner block covers along walls 0-3 (see ``_Walls``)."""
    spans = [(0.0, 0.0)] * 4  # (start, end) along each wall; empty where the block is not
    if y0 <= 0.0:
        spans[0] = (x0, x1)
    if x1 >= lx:
        spans[1] = (y0, y1)
    if y1 >= ly:
        spans[2] = (lx - x1, lx - x0)
    if x0 <= 0.0:
        spans[3] = (ly - y1, ly - y0)
    return spans


def _lights(rng: np.random.Generator, lx: float, ly: float, lz: float, blocked: list[np.ndarray]) -> Lights:
    """1-3 ceiling lights (outside the ``blocked`` [x0, y0, x1, y1] columns); warm or cool, dim
    or bright, and a coloured ambient term."""
    n = _count(rng, 1, 3)
    pos = np.zeros((n, 3))
    for i in range(n):
        while True:
            x, y = rng.uniform(0.4, lx - 0.4), rng.uniform(0.4, ly - 0.4)
            if all(not (q[0] - 0.2 < x < q[2] + 0.2 and q[1] - 0.2 < y < q[3] + 0.2) for q in blocked):
                break
        pos[i] = x, y, lz - rng.uniform(0.25, 0.45)
    temp = rng.uniform(-1, 1, n)[:, None]  # -1 cool .. +1 warm
    tint = np.array([1.0, 0.95, 0.9]) + temp * np.array([0.12, 0.0, -0.18])
    color = tint * rng.uniform(0.6, 1.4, (n, 1)) * 1.6 / math.sqrt(n)
    ambient = rng.uniform(0.12, 0.3) * (np.array([1.0, 1.0, 1.0]) + rng.uniform(-0.08, 0.08, 3))
    return Lights(pos, color, ambient)
