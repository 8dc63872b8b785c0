"""The grid ray caster (synth/accel.py) returns what the brute-force one (synth/raycast.py) does."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

import rtgs2.synth.accel as accel
import rtgs2.synth.raycast as raycast
from rtgs2.synth.accel import build_grid, cast_grid, primitive_bounds
from rtgs2.synth.furniture import BOX, CYLINDER, ELLIPSOID, Part, Template
from rtgs2.synth.layout import generate_room
from rtgs2.synth.materials import Material
from rtgs2.synth.raycast import cast
from rtgs2.synth.room import Lights, Room, RoomBuilder

PLAIN = Material((0.5, 0.5, 0.5), (0.5, 0.5, 0.5), 0, 0.1, 0, 0.0, 10.0, 0)
RAYS = 20_000
T_ATOL = 1e-9  # metres; also the gap in t under which two primitives count as tied
TIE_FRACTION = 1e-3  # rays allowed another (tied) primitive than brute force


def clutter_room(n: int = 500, seed: int = 0) -> Room:
    """A 7 x 5 x 3 m room with ``n`` random small primitives of every kind and yaw (they may
    overlap, so some rays start inside primitives), plus a thin rug and a tall shelf slab."""
    rng = np.random.default_rng(seed)
    size = np.array([7.0, 5.0, 3.0])
    b = RoomBuilder(tuple(size), PLAIN, PLAIN, PLAIN)
    for _ in range(n):
        kind = int(rng.integers(0, 3))
        half = tuple(rng.uniform(0.02, 0.3, 3))
        t = Template("clutter", [Part(kind, (0.0, 0.0, 0.0), half)], (1, 1, 1))
        b.add(t, tuple(rng.uniform(0.1, 0.9, 3) * size), float(rng.uniform(-np.pi, np.pi)), (PLAIN, PLAIN))
    b.add(Template("rug", [Part(BOX, (0.0, 0.0, 0.005), (2.0, 1.5, 0.005))], (4, 3, 0.01)), (3.5, 2.5, 0.0), 0.3, (PLAIN, PLAIN))
    b.add(Template("shelf", [Part(BOX, (0.0, 0.0, 1.5), (0.02, 2.0, 1.5))], (0.04, 4, 3)), (6.0, 2.5, 0.0), 0.0, (PLAIN, PLAIN))
    return b.build(Lights(np.array([[3.5, 2.5, 2.7]]), np.ones((1, 3)), np.full(3, 0.2)))


ROOMS = {"v1_seed0": lambda: generate_room(0), "v1_seed1": lambda: generate_room(1), "v1_seed7": lambda: generate_room(7), "clutter500": clutter_room}
# (cell edge, big fraction, mailbox): the defaults, without the mailbox, coarse cells with the shell
# tested per ray, fine cells (a primitive in many cells, each tested again without the mailbox)
GRIDS = {
    "default": (accel.GRID_CELL, accel.BIG_FRACTION, True),
    "no_mailbox": (accel.GRID_CELL, accel.BIG_FRACTION, False),
    "coarse_big": (0.6, 0.05, True),
    "fine_no_mailbox": (0.1, 1.0, False),
}


@pytest.fixture(scope="module", params=list(ROOMS))
def room(request) -> Room:
    return ROOMS[request.param]()


def random_dirs(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` directions [n, 3] of random lengths 0.5-2 (cast does not need unit vectors)."""
    d = rng.normal(size=(n, 3))
    return d / np.linalg.norm(d, axis=1, keepdims=True) * rng.uniform(0.5, 2.0, (n, 1))


def ray_sets(room: Room, grid: accel.Grid, seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Named (orig [R, 3], dirs [R, 3], t_max [R]) ray sets."""
    rng = np.random.default_rng(seed)
    size = room.size
    out = {}
    o = rng.uniform(0, 1, (RAYS, 3)) * size
    d = random_dirs(rng, RAYS)
    tm = np.where(rng.random(RAYS) < 0.5, np.inf, rng.uniform(0.05, 3.0, RAYS))
    out["inside"] = (o, d, tm)
    # from the surfaces those rays hit, no offset (ties with RAY_EPS and touching primitives)
    t, prim, n = cast(room, o, d)
    hit = prim >= 0
    so = o[hit] + t[hit, None] * d[hit]
    sd = random_dirs(rng, len(so))
    sd = np.where((np.einsum("ij,ij->i", sd, n[hit]) < 0)[:, None] & (rng.random((len(so), 1)) < 0.7), -sd, sd)
    out["from_surfaces"] = (so, sd, np.where(rng.random(len(so)) < 0.5, np.inf, 0.5))
    # from outside the grid box: towards the room, and some away from it
    k = RAYS // 4
    centre = size / 2
    far = centre + random_dirs(rng, k) / 2 * rng.uniform(1.5, 4.0, (k, 1)) * np.linalg.norm(size)
    to = centre + rng.uniform(-0.6, 0.6, (k, 3)) * size - far
    to[: k // 5] *= -1
    out["outside"] = (far, to, np.full(k, np.inf))
    # axis-parallel: one or two direction components exactly zero, some origins on cell planes
    ao = rng.uniform(0, 1, (k, 3)) * size
    on_plane = rng.random((k, 3)) < 0.3
    planes = grid.origin + np.round((ao - grid.origin) / grid.cell) * grid.cell
    ao = np.where(on_plane, planes, ao)
    ad = random_dirs(rng, k)
    zero = rng.random((k, 3)) < 0.45
    zero[zero.all(axis=1), 0] = False
    ad[zero] = 0.0
    out["axis_parallel"] = (ao, ad, np.full(k, np.inf))
    # t_max below the first hit: nothing may be found
    t2, p2, _ = cast(room, o[:k], d[:k])
    out["t_max_short"] = (o[:k], d[:k], np.where(p2 >= 0, t2 * rng.uniform(0.1, 0.999, k), 1.0))
    return out


def assert_same_hits(room: Room, grid: accel.Grid, o: np.ndarray, d: np.ndarray, tm: np.ndarray, mailbox: bool) -> None:
    t0, p0, n0 = cast(room, o, d, tm)
    t1, p1, n1 = cast_grid(room, grid, o, d, tm, mailbox=mailbox)
    assert p1.dtype == p0.dtype and t1.shape == t0.shape and n1.shape == n0.shape
    np.testing.assert_allclose(t1, t0, rtol=0, atol=T_ATOL)
    other = p1 != p0
    assert other.mean() < TIE_FRACTION, f"{other.sum()} of {len(p0)} rays hit another primitive"
    # another primitive only where both are hit at (nearly) the same t
    assert (p0[other] >= 0).all() and (p1[other] >= 0).all()
    same = ~other
    np.testing.assert_allclose(n1[same], n0[same], rtol=0, atol=1e-9)


@pytest.mark.parametrize("grid_cfg", list(GRIDS))
def test_grid_hits_equal_brute_force(room, grid_cfg):
    cell, big, mailbox = GRIDS[grid_cfg]
    grid = build_grid(room, cell=cell, big_fraction=big)
    if grid_cfg == "coarse_big":
        assert len(grid.big) >= 6  # the shell boxes are tested per ray here
    for name, (o, d, tm) in ray_sets(room, grid).items():
        try:
            assert_same_hits(room, grid, o, d, tm, mailbox)
        except AssertionError as e:
            raise AssertionError(f"ray set {name}: {e}") from e
        if name == "t_max_short":
            assert (cast_grid(room, grid, o, d, tm)[1] == -1).all()


def test_single_origin_and_empty_batches():
    room = clutter_room(50)
    grid = build_grid(room)
    eye = np.array([3.5, 2.5, 1.5])
    d = random_dirs(np.random.default_rng(1), 100)
    for got, want in zip(cast_grid(room, grid, eye, d), cast(room, eye, d)):
        np.testing.assert_array_equal(got, want)
    t, p, n = cast_grid(room, grid, eye, np.zeros((0, 3)))
    assert t.shape == (0,) and p.shape == (0,) and n.shape == (0, 3)


def test_grid_layout():
    room = generate_room(0)
    grid = build_grid(room)
    assert grid.num_cells <= accel.GRID_MAX_CELLS and (grid.dims <= accel.GRID_MAX_DIM).all()
    assert len(grid.cell_start) == grid.num_cells + 1 and grid.cell_start[-1] == len(grid.cell_items)
    assert grid.cell_items.dtype == np.int32 and len(grid.big) == 0
    lo, hi = primitive_bounds(room)
    np.testing.assert_allclose(grid.origin, lo.min(axis=0) - accel.AABB_PAD)
    np.testing.assert_allclose(grid.origin + grid.dims * grid.cell, hi.max(axis=0) + accel.AABB_PAD)
    # every primitive is listed in the cell holding its centre, in index order per cell
    idx = np.floor((room.center - grid.origin) / grid.cell).astype(int)
    cells = (idx[:, 2] * grid.dims[1] + idx[:, 1]) * grid.dims[0] + idx[:, 0]
    for m, c in enumerate(cells):
        items = grid.cell_items[grid.cell_start[c] : grid.cell_start[c + 1]]
        assert m in items and (np.diff(items) > 0).all()
    # a tiny cell size is capped
    assert build_grid(room, cell=0.01).num_cells <= accel.GRID_MAX_CELLS


def test_bounds_contain_rotated_primitives():
    room = clutter_room(200, seed=3)
    lo, hi = primitive_bounds(room)
    rng = np.random.default_rng(0)
    for m in range(room.num_primitives):
        # points of the primitive's surface (box corners / ellipse and ellipsoid samples), in world
        if room.kind[m] == BOX:
            local = np.array(np.meshgrid([-1, 1], [-1, 1], [-1, 1])).reshape(3, -1).T * room.half[m]
        else:
            u = rng.normal(size=(256, 3))
            u /= np.linalg.norm(u, axis=1, keepdims=True)
            if room.kind[m] == CYLINDER:
                u[:, 2] = np.sign(u[:, 2])
                u[:, :2] /= np.linalg.norm(u[:, :2], axis=1, keepdims=True)
            local = u * room.half[m]
        c, s = np.cos(room.yaw[m]), np.sin(room.yaw[m])
        world = room.center[m] + np.stack([c * local[:, 0] - s * local[:, 1], s * local[:, 0] + c * local[:, 1], local[:, 2]], 1)
        assert (world >= lo[m] - 1e-12).all() and (world <= hi[m] + 1e-12).all(), (m, room.kind[m])
    assert {BOX, CYLINDER, ELLIPSOID} <= set(room.kind.tolist())


def test_kernel_cache_stamp_covers_what_it_compiles_in():
    """accel.py inlines raycast.py's intersection routines and furniture's kind codes: the cache
    stamp of its kernels is the hash of all three files (rtgs2.utils.numba_cache)."""
    from rtgs2.synth import furniture
    from rtgs2.utils.numba_cache import source_stamp

    digest = hashlib.sha256()
    for f in (accel.__file__, raycast.__file__, furniture.__file__):
        digest.update(Path(f).read_bytes())
    assert accel.INLINED_SOURCES == source_stamp(accel.__file__) == digest.hexdigest()
    assert accel.closest_hits_grid._cache._impl.locator.get_source_stamp() == digest.hexdigest()
