"""Placement bookkeeping for SynthRooms v2 layouts (:mod:`rtgs2.synth.layout_v2`).

Like v1's ``_Placer``: floor objects keep disjoint axis-aligned footprints (plus ``GAP``), wall
objects disjoint intervals along their wall and in height (``layout._Walls``), small objects
disjoint rectangles on their support surface. New here: materials per class from
:mod:`rtgs2.synth.appearance`, lamps become :class:`lighting.Fixture`s, objects can be placed
relative to others (a chair tucked under a table is checked part by part), and every floor
object must leave a walkway: a square of ``WALK_CORE`` metres of floor where the camera of
:mod:`rtgs2.synth.cameras` may stand (``CLEARANCE`` from every footprint and wall).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from rtgs2.synth import furniture_v2 as fv
from rtgs2.synth.appearance import fit_rug, object_materials
from rtgs2.synth.cameras import CLEARANCE
from rtgs2.synth.furniture import Support, Template, bounds
from rtgs2.synth.layout import _Walls
from rtgs2.synth.lighting import Fixture
from rtgs2.synth.room import RoomBuilder

GAP = 0.04  # metres between neighbouring objects' boxes, and between furniture and walls
MAX_TRIES = 30  # random placement attempts per object before it is dropped
WALK_GRID = 0.1  # metres per cell of the walkway map
WALK_CORE = 0.5  # metres: side of the square of camera-standable floor every room keeps
ON_TOP_GAP = 0.02  # metres between small objects on a surface


@dataclass
class Surface:
    """A placed support: ``sup`` in the frame of ``origin`` [3] / ``yaw``; ``taken`` [x0, y0, x1, y1]
    rectangles of what already stands on it (support frame)."""

    sup: Support
    origin: np.ndarray
    yaw: float
    owner: str
    taken: list[np.ndarray] = field(default_factory=list)


def count(rng: np.random.Generator, lo: int, hi: int) -> int:
    """A random integer in [lo, hi], both included."""
    return int(rng.integers(lo, hi + 1))


def width(t: Template) -> float:
    """Width (metres, along its x) of template ``t``'s parts."""
    lo, hi = bounds(t)
    return float(hi[0] - lo[0])


def to_world(origin: np.ndarray, yaw: float, x: float, y: float, z: float = 0.0) -> np.ndarray:
    """The world point [3] at (x, y, z) in the frame of ``origin`` [3] rotated by ``yaw``."""
    c, s = math.cos(yaw), math.sin(yaw)
    return np.asarray(origin, float) + np.array([c * x - s * y, s * x + c * y, z])


def part_boxes(t: Template, origin: np.ndarray, yaw: float) -> np.ndarray:
    """[P, 6] world axis-aligned boxes (lo xyz, hi xyz) around ``t``'s parts when placed."""
    c, s = abs(math.cos(yaw)), abs(math.sin(yaw))
    ctr = np.array([to_world(origin, yaw, *p.center) for p in t.parts])
    h = np.array([p.half for p in t.parts])
    ext = np.stack([c * h[:, 0] + s * h[:, 1], s * h[:, 0] + c * h[:, 1], h[:, 2]], 1)
    return np.concatenate([ctr - ext, ctr + ext], 1)


def boxes_overlap(a: np.ndarray, b: np.ndarray, tol: float = 1e-3) -> bool:
    """Whether any box of ``a`` [P, 6] overlaps any of ``b`` [Q, 6] by more than ``tol`` metres."""
    lo = np.maximum(a[:, None, :3], b[None, :, :3])
    hi = np.minimum(a[:, None, 3:], b[None, :, 3:])
    return bool(((hi - lo) > tol).all(-1).any())


class Placer:
    """Places templates into a :class:`RoomBuilder` without overlaps (see the module docstring)."""

    def __init__(self, rng: np.random.Generator, builder: RoomBuilder, style):
        self.rng, self.b, self.style = rng, builder, style
        self.lx, self.ly, self.lz = (float(v) for v in builder.size)
        self.walls = _Walls(self.lx, self.ly)
        self.rects: list[np.ndarray] = []  # [x0, y0, x1, y1, top] reserved floor (objects, keep-out zones)
        self.surfaces: list[Surface] = []
        self.fixtures: list[Fixture] = []
        self.window_normals: list[np.ndarray] = []
        self.door_spans: list[tuple[int, float, float]] = []  # (wall, s0, s1) without skirting
        self.blocks: list[np.ndarray] = []  # [x0, y0, x1, y1] corner blocks
        self.hung: list[np.ndarray] = []  # [x0, y0, z0, x1, y1, z1] world boxes of wall objects (sills reach 18 cm out)
        xs, ys = np.arange(WALK_GRID / 2, self.lx, WALK_GRID), np.arange(WALK_GRID / 2, self.ly, WALK_GRID)
        self._gx, self._gy = np.meshgrid(xs, ys, indexing="ij")
        g, c = (self._gx, self._gy), CLEARANCE
        self._free = (g[0] > c) & (g[0] < self.lx - c) & (g[1] > c) & (g[1] < self.ly - c)

    # -- geometry -------------------------------------------------------------------------------
    def normal(self, k: int) -> np.ndarray:
        """Inward unit normal [2] of wall ``k``."""
        a = self.walls.along[k]
        return np.array([-a[1], a[0]])

    def wall_pose(self, t: Template, k: int, s: float, z: float = 0.0, gap: float = GAP) -> tuple[np.ndarray, float]:
        """Origin [3] and yaw that put ``t``'s back ``gap`` metres off wall ``k``, centred at ``s``."""
        lo, hi = bounds(t)
        xy = self.walls.origin[k] + self.walls.along[k] * (s - (lo[0] + hi[0]) / 2) + self.normal(k) * (gap - lo[1])
        return np.array([xy[0], xy[1], z]), float(self.walls.yaw[k])

    def wall_range(self, k: int, zone: np.ndarray | None) -> tuple[float, float]:
        """The stretch (s0, s1) of wall ``k`` that faces ``zone`` [x0, y0, x1, y1] (all of it if None)."""
        if zone is None:
            return 0.0, float(self.walls.length[k])
        a = [
            float(np.dot(np.array(p) - self.walls.origin[k], self.walls.along[k]))
            for p in ((zone[0], zone[1]), (zone[2], zone[3]))
        ]
        return max(0.0, min(a)), min(float(self.walls.length[k]), max(a))

    @staticmethod
    def footprint(t: Template, origin: np.ndarray, yaw: float) -> np.ndarray:
        """[x0, y0, x1, y1, top] world footprint of ``t`` placed at ``origin`` / ``yaw``."""
        b = part_boxes(t, origin, yaw)
        return np.array([b[:, 0].min(), b[:, 1].min(), b[:, 3].max(), b[:, 4].max(), b[:, 5].max()])

    def floor_ok(self, r: np.ndarray, wall_gap: float = GAP, ignore: tuple[int, ...] = ()) -> bool:
        """Inside the room (``wall_gap`` off the walls) and ``GAP`` from every reserved footprint."""
        e = 1e-9
        if r[0] < wall_gap - e or r[1] < wall_gap - e or r[2] > self.lx - wall_gap + e or r[3] > self.ly - wall_gap + e:
            return False
        return all(
            r[2] + GAP <= q[0] or r[0] - GAP >= q[2] or r[3] + GAP <= q[1] or r[1] - GAP >= q[3]
            for i, q in enumerate(self.rects)
            if i not in ignore
        )

    def hits_hung(self, box: np.ndarray) -> bool:
        """Whether world box ``box`` [6] overlaps a wall object (e.g. a window sill of the
        neighbouring wall, near a corner)."""
        return bool(self.hung) and boxes_overlap(box[None], np.array(self.hung))

    def _blocked(self, r: np.ndarray) -> np.ndarray:
        """Walkway cells [Gx, Gy] within the camera's CLEARANCE of footprint ``r``."""
        dx = np.maximum(np.maximum(r[0] - self._gx, self._gx - r[2]), 0)
        dy = np.maximum(np.maximum(r[1] - self._gy, self._gy - r[3]), 0)
        return dx * dx + dy * dy <= CLEARANCE**2

    def walkable(self, r: np.ndarray) -> bool:
        """Whether, with footprint ``r`` added, some WALK_CORE square of cells is still standable."""
        free = self._free & ~self._blocked(r)
        k = int(round(WALK_CORE / WALK_GRID))
        s = np.pad(free.astype(np.int32), ((1, 0), (1, 0))).cumsum(0).cumsum(1)
        win = s[k:, k:] - s[:-k, k:] - s[k:, :-k] + s[:-k, :-k]
        return bool((win == k * k).any())

    # -- committing -----------------------------------------------------------------------------
    def add(self, t: Template, origin: np.ndarray, yaw: float, mats: tuple | None = None, light: str = "lamp") -> tuple:
        """Add ``t`` to the room (materials drawn for its class unless given); record its
        supports and its light (a Fixture of kind ``light``). Returns its materials."""
        mats = mats if mats is not None else object_materials(t.cls, self.rng, self.style)
        if t.cls == "rug":  # a patterned rug's border runs along its own edges
            mats = tuple(fit_rug(m, t.size[0], t.size[1]) for m in mats)
        self.b.add(t, origin, yaw, mats)
        for sup in t.supports:
            self.surfaces.append(Surface(sup, np.asarray(origin, float), yaw, t.cls))
        lp = fv.light_point(t)
        if lp is not None:
            pos = to_world(origin, yaw, *lp[0])
            self.fixtures.append(Fixture(pos, light, lp[1]))
        return mats

    def reserve(self, r: np.ndarray, solid: bool = True) -> int:
        """Reserve footprint ``r`` (a keep-out zone if not ``solid``); returns its index."""
        self.rects.append(np.asarray(r, float))
        if solid:
            self._free &= ~self._blocked(r)
        return len(self.rects) - 1

    def at(
        self, t: Template, origin: np.ndarray, yaw: float, *, ignore: tuple[int, ...] = (), solid: bool = True,
        wall_gap: float = GAP, near: list[tuple[Template, np.ndarray, float]] = (), mats: tuple | None = None,
    ) -> int | None:  # fmt: skip
        """Put ``t`` on the floor at ``origin`` / ``yaw`` if its footprint is free (footprints in
        ``ignore`` excepted: then its parts must clear those of the ``near`` placed templates)
        and the walkway survives. Returns its footprint's index."""
        r = self.footprint(t, origin, yaw)
        if not self.floor_ok(r, wall_gap, ignore) or self.hits_hung(np.array([r[0], r[1], 0.0, r[2], r[3], r[4]])):
            return None
        if solid and not self.walkable(r):
            return None
        mine = part_boxes(t, origin, yaw)
        if any(boxes_overlap(mine, part_boxes(*n)) for n in near):
            return None
        self.add(t, origin, yaw, mats)
        return self.reserve(r, solid)

    def on_wall(
        self, t: Template, k: int, s: float, *, z: float | None = None, gap: float = GAP, mats: tuple | None = None,
        solid: bool = True,
    ) -> tuple[np.ndarray, float] | None:  # fmt: skip
        """Put ``t`` against wall ``k`` centred at ``s``: on the floor (``z`` None), else hung
        with its frame at height ``z`` (no footprint). Returns its origin and yaw."""
        lo, hi = bounds(t)
        z0 = 0.0 if z is None else z
        if not self.walls.free(k, s - (hi[0] - lo[0]) / 2, s + (hi[0] - lo[0]) / 2, z0 + lo[2], z0 + hi[2]):
            return None
        origin, yaw = self.wall_pose(t, k, s, z0, gap if z is None else 0.0)
        if z is None:
            if self.at(t, origin, yaw, mats=mats, solid=solid, wall_gap=min(gap, GAP)) is None:
                return None
        else:
            pb = part_boxes(t, origin, yaw)
            box = np.concatenate([pb[:, :3].min(0), pb[:, 3:].max(0)])
            floor = [np.array([q[0], q[1], 0.0, q[2], q[3], q[4]]) for q in self.rects]
            if self.hits_hung(box) or (floor and boxes_overlap(box[None], np.array(floor))):
                return None
            self.add(t, origin, yaw, mats)
            self.hung.append(box)
        self.walls.spans[k].append((s - (hi[0] - lo[0]) / 2, s + (hi[0] - lo[0]) / 2, z0 + lo[2], z0 + hi[2]))
        return origin, yaw

    def on_any_wall(
        self, t: Template, walls: list[int] | None = None, zone: np.ndarray | None = None, *, z: float | None = None,
        mats: tuple | None = None,
    ) -> tuple[int, float, np.ndarray, float] | None:  # fmt: skip
        """``on_wall`` at random places of ``walls`` (all) facing ``zone``; returns (k, s, origin, yaw)."""
        lo, hi = bounds(t)
        w = hi[0] - lo[0]
        for _ in range(MAX_TRIES):
            k = int(self.rng.integers(0, 4)) if walls is None else walls[int(self.rng.integers(0, len(walls)))]
            s0, s1 = self.wall_range(k, zone)
            if s1 - s0 < w + 0.1:
                continue
            s = self.rng.uniform(s0 + w / 2 + 0.05, s1 - w / 2 - 0.05)
            got = self.on_wall(t, k, s, z=z, mats=mats)
            if got:
                return k, s, *got
        return None

    def in_corner(self, t: Template) -> bool:
        """Put ``t`` into a free room corner (tried in random order)."""
        lo, hi = bounds(t)
        for k in self.rng.permutation(4):
            for s in (GAP + (hi[0] - lo[0]) / 2 + 0.01, self.walls.length[k] - GAP - (hi[0] - lo[0]) / 2 - 0.01):
                if self.on_wall(t, int(k), float(s)):
                    return True
        return False

    def clearance(self, i: int) -> float:
        """Free height (metres) above surface ``i``: its own, less what hangs over it (a sill, a TV)."""
        f = self.surfaces[i]
        corners = np.array([to_world(f.origin, f.yaw, x, y) for x in (f.sup.x0, f.sup.x1) for y in (f.sup.y0, f.sup.y1)])
        lo, hi = corners.min(0), corners.max(0)
        z = f.origin[2] + f.sup.z
        caps = [
            h[2] - z
            for h in self.hung if h[2] >= z - 1e-6 and h[0] < hi[0] and h[3] > lo[0] and h[1] < hi[1] and h[4] > lo[1]
        ]
        return min([f.sup.clearance - 0.01] + [c - 0.01 for c in caps]) + 0.01

    def on_surface(self, t: Template, i: int, where: str = "any") -> bool:
        """Put ``t`` on surface ``i`` ('any' spot, 'back' edge, 'centre') clear of what is there."""
        f = self.surfaces[i]
        if not t.parts:
            return False
        lo, hi = bounds(t)
        if hi[2] - lo[2] > self.clearance(i) - 0.01:
            return False
        x0, x1, y0, y1 = f.sup.x0 - lo[0], f.sup.x1 - hi[0], f.sup.y0 - lo[1], f.sup.y1 - hi[1]
        if x0 > x1 or y0 > y1:
            return False
        for _ in range(10):
            x = (x0 + x1) / 2 + self.rng.uniform(-0.05, 0.05) * (x1 - x0) if where == "centre" else self.rng.uniform(x0, x1)
            y = y0 if where == "back" else ((y0 + y1) / 2 if where == "centre" else self.rng.uniform(y0, y1))
            r = np.array([x + lo[0], y + lo[1], x + hi[0], y + hi[1]])
            g = ON_TOP_GAP
            if any(not (r[2] + g <= q[0] or r[0] - g >= q[2] or r[3] + g <= q[1] or r[1] - g >= q[3]) for q in f.taken):
                continue
            f.taken.append(r)
            self.add(t, to_world(f.origin, f.yaw, x, y, f.sup.z), f.yaw)
            return True
        return False
