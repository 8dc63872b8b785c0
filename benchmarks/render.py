"""Render speed: numba backend vs the pure-torch reference on procedural room scenes.

    .venv/bin/python benchmarks/render.py                 # full grid, appends to benchmarks/RESULTS.md
    .venv/bin/python benchmarks/render.py --sizes 50000 --no-append

For each scene size, resolution and feature dimension D (0 = RGB + depth only) it renders
``views`` cameras of ``room_cameras`` ``repeats`` times each after one warm-up render per view,
and reports the median wall time.

The reference evaluates every visible Gaussian at every pixel (a few million pixel-Gaussian
pairs per second here), so a full frame takes minutes. Its time is a per-Gaussian part
(projection and SH of all N) plus a part linear in pixels x visible Gaussians. It is timed on
two windows in the middle of the first view (``reference_crop`` and half that; same pose and
focal length, principal point shifted), and the line through the two points is extrapolated to
the full frame's pixels x visible Gaussians. The speed-up compares this estimate with numba's
median on the same view. Set ``reference_crop`` to 0 to skip the reference.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import tyro
from rich.console import Console
from rich.table import Table

from rtgs2.render import render
from rtgs2.scene import Camera, GaussianScene
from rtgs2.scene.synthetic import room_cameras, room_scene

RESULTS = Path(__file__).with_name("RESULTS.md")


@dataclass
class Config:
    sizes: list[int] = field(default_factory=lambda: [50_000, 200_000, 1_000_000])
    """Numbers of Gaussians of the room scenes."""
    resolutions: list[str] = field(default_factory=lambda: ["320x240", "640x480"])
    """Image sizes, WIDTHxHEIGHT pixels."""
    feature_dims: list[int] = field(default_factory=lambda: [0, 32])
    """Feature channels rendered besides RGB and depth."""
    views: int = 4
    """Cameras per configuration (a loop inside the room)."""
    repeats: int = 5
    """Timed renders per view."""
    reference_crop: int = 32
    """Side of the larger square window the reference is timed on (and half of it), pixels; 0 skips it."""
    seed: int = 0
    """Room scene seed."""
    append: bool = True
    """Append the table to benchmarks/RESULTS.md."""


@dataclass
class Row:
    n: int
    res: str
    d: int
    visible: float
    numba_ms: float  # median over all views
    numba_view0_ms: float  # median on the first view, the one the reference renders
    ref_ms: float | None  # reference, first view, one render

    @property
    def fps(self) -> float:
        return 1000.0 / self.numba_ms

    @property
    def speedup(self) -> float | None:
        return None if self.ref_ms is None else self.ref_ms / self.numba_view0_ms


def _time(fn) -> float:
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000.0


def crop(cam: Camera, side: int) -> Camera:
    """The ``side`` x ``side`` window in the middle of ``cam``'s image, as a camera of its own."""
    x0, y0 = (cam.width - side) // 2, (cam.height - side) // 2
    K = cam.K.clone()
    K[0, 2] -= x0
    K[1, 2] -= y0
    return Camera(K, cam.world_to_cam, side, side)


def reference_estimate(scene: GaussianScene, cam: Camera, side: int, visible_full: int) -> float:
    """Full-frame reference time, ms, extrapolated from renders of two middle crops (see module doc)."""
    pts = []
    for s in (side // 2, side):
        small = crop(cam, s)
        out = render(scene, small, backend="reference")
        pts.append((s * s * int(out.visible.sum()), _time(lambda: render(scene, small, backend="reference"))))
    (w1, t1), (w2, t2) = pts
    return t2 + (t2 - t1) / max(w2 - w1, 1) * (cam.width * cam.height * visible_full - w2)


def bench(cfg: Config, console: Console) -> list[Row]:
    rows = []
    for n in cfg.sizes:
        with console.status(f"building a room of {n:,} Gaussians"):
            scene = room_scene(n, cfg.seed, feature_dim=max(cfg.feature_dims))
        for res in cfg.resolutions:
            w, h = (int(v) for v in res.split("x"))
            cams = room_cameras(cfg.views, cfg.seed, width=w, height=h)
            for d in cfg.feature_dims:
                sc = scene.with_features(scene.features[:, :d].contiguous() if d else None)
                times, visible = [], []
                with torch.no_grad():
                    for cam in cams:
                        out = render(sc, cam, backend="numba")  # warm-up (and JIT compile on first use)
                        visible.append(int(out.visible.sum()))
                        times += [_time(lambda: render(sc, cam, backend="numba")) for _ in range(cfg.repeats)]
                    ref_ms = None
                    if cfg.reference_crop > 0:
                        with console.status(f"reference, {n:,} Gaussians, {res}, D={d}"):
                            ref_ms = reference_estimate(sc, cams[0], cfg.reference_crop, visible[0])
                # The speed-up compares like with like: numba's median on the reference's view.
                row = Row(n, res, d, statistics.mean(visible), statistics.median(times),
                          statistics.median(times[: cfg.repeats]), ref_ms)  # fmt: skip
                console.log(f"{n:>9,} {res:>8} D={d:<2} numba {row.numba_ms:8.1f} ms  ({row.fps:6.1f} FPS)")
                rows.append(row)
    return rows


def table(rows: list[Row]) -> Table:
    t = Table(title="render: numba vs reference (median wall time)")
    for col in ("Gaussians", "resolution", "D", "visible", "numba ms", "FPS", "reference ms", "speed-up"):
        t.add_column(col, justify="right")
    for r in rows:
        t.add_row(
            f"{r.n:,}", r.res, str(r.d), f"{r.visible:,.0f}", f"{r.numba_ms:.1f}", f"{r.fps:.1f}",
            "-" if r.ref_ms is None else f"{r.ref_ms:,.0f}",
            "-" if r.speedup is None else f"{r.speedup:,.0f}x",
        )  # fmt: skip
    return t


def markdown(rows: list[Row], cfg: Config, load: str) -> str:
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    import numba

    lines = [
        f"\n## render — {now}\n",
        f"`benchmarks/render.py`, {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"numba {numba.__version__} ({numba.get_num_threads()} threads), torch {torch.__version__} "
        f"({torch.get_num_threads()} threads); load average before the run: {load}. "
        f"{cfg.views} views x {cfg.repeats} repeats per row (median). Reference: timed on middle crops of "
        f"{cfg.reference_crop // 2} and {cfg.reference_crop} px of the first view, extrapolated linearly in "
        "pixels x visible Gaussians (its work); speed-up against numba's median on that view.\n",
        "| Gaussians | resolution | D | visible | numba ms | FPS | reference ms | speed-up |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        ref = "-" if r.ref_ms is None else f"{r.ref_ms:,.0f}"
        sp = "-" if r.speedup is None else f"{r.speedup:,.0f}x"
        lines.append(f"| {r.n:,} | {r.res} | {r.d} | {r.visible:,.0f} | {r.numba_ms:.1f} | {r.fps:.1f} | {ref} | {sp} |")
    return "\n".join(lines) + "\n"


def main(cfg: Config) -> None:
    console = Console()
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    rows = bench(cfg, console)
    console.print(table(rows))
    if cfg.append:
        with RESULTS.open("a") as f:
            f.write(markdown(rows, cfg, load))
        console.print(f"appended to {RESULTS}")


if __name__ == "__main__":
    main(tyro.cli(Config))
