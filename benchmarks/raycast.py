"""SynthRooms ray casting speed: brute force (``raycast.cast``) vs the uniform grid (``accel.cast_grid``).

    .venv/bin/python benchmarks/raycast.py               # appends to benchmarks/RESULTS.md
    .venv/bin/python benchmarks/raycast.py --no-append --repeats 1

Rooms: the v1 room of ``v1_seed`` (``layout.generate_room``) and a furnished room of about
``parts`` primitives (objects of 4-12 parts each: legs, slabs, cushions, small items on top,
as v2 furniture is built), both walked by the same ray sets: the ``resolution`` primary rays
of a camera at eye height looking across the room (unbounded), and AO-like rays, ``ao_per_pixel``
per primary hit, from the hit point (off the surface by raycast.SHADOW_OFFSET) into the
cosine-weighted hemisphere of its normal with t_max ``ao_t_max``. Each method casts each set
once to warm up (numba compiles or loads its cache) and then ``repeats`` times; the table gives
the median wall time as rays per second, on ``threads`` numba threads. Grid variants: the
defaults (``accel.build_grid``, ``cast_grid`` with mailboxing), without mailboxing, and with the shell boxes tested per ray
(``big_fraction`` 0.05) rather than binned. Every variant's hits are checked equal to brute force.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np
import tyro

from rtgs2.scene.camera import Camera
from rtgs2.synth.accel import build_grid, cast_grid
from rtgs2.synth.furniture import BOX, CYLINDER, ELLIPSOID, Part, Template
from rtgs2.synth.layout import generate_room
from rtgs2.synth.materials import Material
from rtgs2.synth.raycast import SHADOW_OFFSET, cast
from rtgs2.synth.room import Lights, Room, RoomBuilder

RESULTS = Path(__file__).with_name("RESULTS.md")
EYE_HEIGHT = 1.5  # metres
GREY = Material((0.5, 0.5, 0.5), (0.5, 0.5, 0.5), 0, 0.1, 0, 0.0, 10.0, 0)  # materials do not affect casting


@dataclass
class Config:
    v1_seed: int = 0
    """Seed of the v1 room."""
    parts: int = 500
    """Primitives of the furnished room (about)."""
    resolution: str = "320x240"
    """Primary rays, WIDTHxHEIGHT."""
    ao_per_pixel: int = 4
    """AO rays per primary hit."""
    ao_t_max: float = 0.5
    """Metres; length of the AO rays."""
    repeats: int = 3
    """Timed casts per method and ray set (median)."""
    threads: int = 2
    """numba threads."""
    append: bool = True
    """Append the table to benchmarks/RESULTS.md."""


def furnished_room(parts: int, seed: int = 0) -> Room:
    """A 7 x 6 x 2.8 m room of about ``parts`` primitives: objects of 4-12 parts (cylinder legs,
    a box slab, ellipsoid cushions, small items on the slab) at random floor spots and yaws."""
    rng = np.random.default_rng(seed)
    size = np.array([7.0, 6.0, 2.8])
    b = RoomBuilder(tuple(size), GREY, GREY, GREY)
    n = 0
    while n < parts:
        w, d, h = rng.uniform(0.4, 1.6), rng.uniform(0.3, 0.9), rng.uniform(0.4, 1.2)
        ps = [Part(BOX, (0.0, 0.0, h - 0.02), (w / 2, d / 2, 0.02))]
        ps += [Part(CYLINDER, (sx * (w / 2 - 0.04), sy * (d / 2 - 0.04), (h - 0.04) / 2), (0.02, 0.02, (h - 0.04) / 2)) for sx in (-1, 1) for sy in (-1, 1)]
        for _ in range(int(rng.integers(0, 8))):
            r = rng.uniform(0.03, 0.15, 3)
            kind = int(rng.choice([BOX, CYLINDER, ELLIPSOID]))
            ps.append(Part(kind, (rng.uniform(-w / 2 + r[0], w / 2 - r[0]), rng.uniform(-d / 2 + r[1], d / 2 - r[1]), h + r[2]), tuple(r)))
        origin = (rng.uniform(0.8, size[0] - 0.8), rng.uniform(0.8, size[1] - 0.8), 0.0)
        b.add(Template("table", ps, (w, d, h)), origin, float(rng.uniform(-math.pi, math.pi)), (GREY, GREY))
        n += len(ps)
    return b.build(Lights(np.array([[3.5, 3.0, 2.6]]), np.ones((1, 3)), np.full(3, 0.2)))


def ray_sets(room: Room, cfg: Config) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Named (orig [R, 3], dirs [R, 3], t_max [R]) ray sets: primary and AO."""
    w, h = (int(v) for v in cfg.resolution.split("x"))
    lx, ly, _ = room.size
    cam = Camera.look_at((0.15 * lx, 0.2 * ly, EYE_HEIGHT), (0.8 * lx, 0.7 * ly, 0.6), width=w, height=h)
    o, d = cam.pixel_rays()
    dirs = d.numpy().reshape(-1, 3)
    eye = np.broadcast_to(o.numpy(), dirs.shape)
    t, prim, nrm = cast(room, eye, dirs)
    hit = prim >= 0
    pts = eye[hit] + t[hit, None] * dirs[hit] + nrm[hit] * SHADOW_OFFSET
    k = cfg.ao_per_pixel
    n = np.repeat(nrm[hit], k, axis=0)
    rng = np.random.default_rng(0)
    u = rng.normal(size=n.shape)
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    ao = n + u  # normal + a uniform unit vector: cosine-weighted about the normal
    ao /= np.linalg.norm(ao, axis=1, keepdims=True) + 1e-12
    return {
        f"primary {w}x{h}": (eye, dirs, np.full(len(dirs), np.inf)),
        f"AO t_max {cfg.ao_t_max} m": (np.repeat(pts, k, axis=0), ao, np.full(len(ao), cfg.ao_t_max)),
    }


def timed(fn: Callable[[], tuple], repeats: int) -> tuple[float, tuple]:
    """Median wall seconds of ``repeats`` calls after a warm-up call, and the last result."""
    out = fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def main(cfg: Config) -> None:
    numba.set_num_threads(cfg.threads)
    rooms = {f"v1 seed {cfg.v1_seed}": generate_room(cfg.v1_seed), f"furnished ~{cfg.parts}": furnished_room(cfg.parts)}
    rows = []
    for rname, room in rooms.items():
        t = time.perf_counter()
        grids = {"grid": build_grid(room), "grid + shell per ray": build_grid(room, big_fraction=0.05)}
        build_ms = (time.perf_counter() - t) / len(grids) * 1e3
        g = grids["grid"]
        info = f"{room.num_primitives} prims, {'x'.join(map(str, g.dims))} cells, {len(g.cell_items) / room.num_primitives:.1f} cells/prim, build {build_ms:.1f} ms"
        methods: dict[str, Callable] = {"brute force": lambda o, d, tm: cast(room, o, d, tm)}
        methods["grid"] = lambda o, d, tm: cast_grid(room, grids["grid"], o, d, tm)
        methods["grid, no mailbox"] = lambda o, d, tm: cast_grid(room, grids["grid"], o, d, tm, mailbox=False)
        methods["grid + shell per ray"] = lambda o, d, tm: cast_grid(room, grids["grid + shell per ray"], o, d, tm)
        for sname, (o, d, tm) in ray_sets(room, cfg).items():
            ref = None
            for mname, fn in methods.items():
                sec, out = timed(lambda: fn(o, d, tm), cfg.repeats)
                if ref is None:
                    ref, brute = out, sec
                same = all(np.array_equal(a, b) for a, b in zip(out, ref))
                rows.append((rname, info, sname, len(o), mname, f"{len(o) / sec / 1e6:.2f}", f"{brute / sec:.1f}", "yes" if same else "NO"))
                print(" | ".join(map(str, rows[-1])), flush=True)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    head = (
        f"## raycast: brute force vs uniform grid — {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC\n\n"
        f"`benchmarks/raycast.py`, {cfg.threads} numba threads, median of {cfg.repeats} after a warm-up; "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load average at the end: {load}. "
        f"Primary rays from a camera at {EYE_HEIGHT} m across the room; AO rays: {cfg.ao_per_pixel} per primary hit, "
        f"cosine-weighted about the normal, t_max {cfg.ao_t_max} m. Speed-up over brute force on the same rays; "
        "'same' = outputs bit-equal to brute force.\n\n"
        "| room | grid | rays | count | method | M rays/s | speed-up | same |\n"
        "| --- | --- | --- | ---: | --- | ---: | ---: | --- |\n"
    )
    table = head + "".join(f"| {r} | {i} | {s} | {n:,} | {m} | {v} | {x} | {ok} |\n" for r, i, s, n, m, v, x, ok in rows)
    print(table)
    if cfg.append:
        with RESULTS.open("a") as f:
            f.write("\n" + table)


if __name__ == "__main__":
    main(tyro.cli(Config))
