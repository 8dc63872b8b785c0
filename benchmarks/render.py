"""Render speed: numba backend vs the pure-torch reference on procedural rooms and real 3DGS files.

    .venv/bin/python benchmarks/render.py                 # full grid, appends to benchmarks/RESULTS.md
    .venv/bin/python benchmarks/render.py --sizes 50000 --no-append
    .venv/bin/python benchmarks/render.py --no-rooms --resolutions 320x240 8x6 --breakdown
    .venv/bin/python benchmarks/render.py --real-scenes --sizes 200000      # rooms only

Scenes: procedural rooms of ``sizes`` Gaussians (``views`` cameras of ``room_cameras``) and the
real 3DGS files of ``real_scenes`` (by default the Mip-Splatting donut of ``../shared/assets``,
45,624 Gaussians, SH 0), each seen by ``views`` cameras on an orbit that frames it
(``orbit_framing``); their D feature channels are seeded Gaussian noise. For each scene,
resolution and feature dimension D (0 = RGB + depth only) it renders every camera ``repeats``
times after one warm-up render, and reports the median wall time, and the median CPU time over
all threads (about twice the wall time on two idle cores: idle OpenMP workers spin).

The reference evaluates every visible Gaussian at every pixel (a few million pixel-Gaussian
pairs per second here), so a full frame takes minutes. Its time is a per-Gaussian part
(projection and SH of all N) plus a part linear in pixels x visible Gaussians. It is timed on
two windows in the middle of the first view (``reference_crop`` and a third of that; same pose
and focal length, principal point shifted; best of two renders each), and the line through the
two points is extrapolated to the full frame's pixels x visible Gaussians. The speed-up compares this estimate with numba's
median on the same view. Set ``reference_crop`` to 0 to skip the reference.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import tyro
from rich.console import Console
from rich.table import Table

from rtgs2.render import PER_FRAME, raster_inputs, render
from rtgs2.scene import Camera, GaussianScene, orbit, read_ply
from scenes import room_cameras, room_scene  # benchmarks/scenes.py, beside this script

RESULTS = Path(__file__).with_name("RESULTS.md")
DONUT = Path(__file__).resolve().parents[2] / "shared" / "assets" / "donut" / "point_cloud.ply"  # ../shared beside the checkout


@dataclass
class Config:
    sizes: list[int] = field(default_factory=lambda: [50_000, 200_000, 1_000_000])
    """Numbers of Gaussians of the room scenes."""
    rooms: bool = True
    """Render the procedural rooms of ``sizes``."""
    real_scenes: list[Path] = field(default_factory=lambda: [DONUT])
    """3DGS .ply files rendered besides the rooms, on orbits that frame them (a missing one is skipped)."""
    resolutions: list[str] = field(default_factory=lambda: ["320x240", "640x480"])
    """Image sizes, WIDTHxHEIGHT pixels."""
    feature_dims: list[int] = field(default_factory=lambda: [0, 32])
    """Feature channels rendered besides RGB and depth."""
    views: int = 4
    """Cameras per configuration (a loop inside the room)."""
    repeats: int = 5
    """Timed renders per view."""
    reference_crop: int = 42
    """Side of the larger square window the reference is timed on (and a third of it), pixels; 0 skips it."""
    reference_resolutions: list[str] = field(default_factory=lambda: ["320x240"])
    """Resolutions at which the reference is timed (each estimate costs tens of seconds)."""
    reference_max_gaussians: int = 200_000
    """Largest scene the reference is timed on."""
    seed: int = 0
    """Room scene seed."""
    append: bool = True
    """Append the table to benchmarks/RESULTS.md."""
    breakdown: bool = False
    """Instead of the speed table: wall ms per pipeline stage, forward and backward (RGB loss)."""
    paths: list[str] = field(default_factory=lambda: ["exact"])
    """exact (render()'s defaults: Z at full size, INRIA's stop) and/or per-frame (the segmenter's:
    Z at a quarter of the size, PER_FRAME's early stop)."""


@dataclass
class Row:
    scene: str
    n: int
    res: str
    d: int
    visible: float
    numba_ms: float  # median over all views
    numba_view0_ms: float  # median on the first view, the one the reference renders
    cpu_ms: float  # median CPU time (all threads) per render
    ref_ms: float | None  # reference, first view, estimate
    path: str = "exact"

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


def _cpu_time(fn) -> float:
    """CPU time of ``fn`` summed over this process's threads, ms: unlike wall time it does not grow
    when other jobs take the cores (it would be about 2x the wall time on two idle cores)."""
    t = time.process_time()
    fn()
    return (time.process_time() - t) * 1000.0


def crop(cam: Camera, side: int) -> Camera:
    """The ``side`` x ``side`` window in the middle of ``cam``'s image, as a camera of its own."""
    x0, y0 = (cam.width - side) // 2, (cam.height - side) // 2
    K = cam.K.clone()
    K[0, 2] -= x0
    K[1, 2] -= y0
    return Camera(K, cam.world_to_cam, side, side)


def reference_note(crop: int) -> str:
    """How the reference column was obtained, for the RESULTS.md header."""
    if crop <= 0:
        return "Reference: not timed (--reference-crop 0)."
    return (
        f"Reference: timed on middle crops of {crop // 3} and {crop} px of the first view, extrapolated "
        "linearly in pixels x visible Gaussians (its work); speed-up against numba's median on that view."
    )


def reference_estimate(scene: GaussianScene, cam: Camera, side: int, visible_full: int) -> float | None:
    """Full-frame reference time, ms, extrapolated from renders of two middle crops (see module doc);
    None when timing noise (a loaded machine) makes the larger crop not slower than the smaller."""
    pts = []
    for s in (side // 3, side):
        small = crop(cam, s)
        out = render(scene, small, backend="reference")
        ms = min(_time(lambda: render(scene, small, backend="reference")) for _ in range(2))
        pts.append((s * s * int(out.visible.sum()), ms))
    (w1, t1), (w2, t2) = pts
    if not (w2 > w1 and t2 > t1):
        return None
    return t2 + (t2 - t1) / (w2 - w1) * (cam.width * cam.height * visible_full - w2)


@dataclass
class BenchScene:
    """A scene to time, with features of the largest D asked for, and its cameras at any size."""

    name: str
    scene: GaussianScene
    cameras: Callable[[int, int], list[Camera]]  # (width, height) -> cameras


def orbit_framing(scene: GaussianScene, views: int, width: int, height: int) -> list[Camera]:
    """``views`` cameras on a circle around a real (object-sized, z-up) scene, 50 degrees wide,
    all looking at its median point: radius 1.5x and height 1x the size of its 1-99% quantile box.
    For the donut (0.2 m across) that is 0.3 m out and 0.2 m up: it fills about half the width."""
    q = torch.quantile(scene.means.double(), torch.tensor([0.01, 0.5, 0.99], dtype=torch.float64), dim=0)
    size = float((q[2] - q[0]).max())
    return orbit(q[1].numpy(), 1.5 * size, size, views, fov_x_deg=50.0, width=width, height=height, start_deg=-90.0)


def bench_scenes(cfg: Config, console: Console) -> Iterator[BenchScene]:
    """The rooms of ``cfg.sizes`` (if ``cfg.rooms``), then the real scenes found, one at a time."""
    dmax = max(cfg.feature_dims)
    for n in cfg.sizes if cfg.rooms else []:
        with console.status(f"building a room of {n:,} Gaussians"):
            scene = room_scene(n, cfg.seed, feature_dim=dmax)
        yield BenchScene("room", scene, lambda w, h: room_cameras(cfg.views, cfg.seed, width=w, height=h))
    for path in cfg.real_scenes:
        if not path.is_file():
            console.log(f"[yellow]skipped {path}: no such file[/yellow]")
            continue
        scene = read_ply(path)
        feats = torch.randn(scene.num_gaussians, dmax, generator=torch.Generator().manual_seed(cfg.seed))
        scene = scene.with_features(feats if dmax else None)
        yield BenchScene(path.parent.name, scene, lambda w, h, sc=scene: orbit_framing(sc, cfg.views, w, h))


def with_dim(scene: GaussianScene, d: int) -> GaussianScene:
    """The scene with its first ``d`` feature channels (none for d = 0)."""
    return scene.with_features(scene.features[:, :d].contiguous() if d else None)


def bench(cfg: Config, console: Console) -> list[Row]:
    rows = []
    for bs in bench_scenes(cfg, console):
        n = bs.scene.num_gaussians
        for res in cfg.resolutions:
            w, h = (int(v) for v in res.split("x"))
            cams = bs.cameras(w, h)
            for d, path in itertools.product(cfg.feature_dims, cfg.paths):
                sc = with_dim(bs.scene, d)
                kw = {"feature_stride": 4, "settings": PER_FRAME} if path == "per-frame" else {}
                times, cpu, visible = [], [], []
                with torch.no_grad():
                    for cam in cams:
                        out = render(sc, cam, backend="numba", **kw)  # warm-up (and JIT compile on first use)
                        visible.append(int(out.visible.sum()))
                        times += [_time(lambda: render(sc, cam, backend="numba", **kw)) for _ in range(cfg.repeats)]
                        cpu += [_cpu_time(lambda: render(sc, cam, backend="numba", **kw)) for _ in range(cfg.repeats)]
                    ref_ms = None
                    if (cfg.reference_crop > 0 and res in cfg.reference_resolutions and n <= cfg.reference_max_gaussians
                            and path == "exact"):  # fmt: skip
                        with console.status(f"reference, {bs.name} of {n:,} Gaussians, {res}, D={d}"):
                            ref_ms = reference_estimate(sc, cams[0], cfg.reference_crop, visible[0])
                # The speed-up compares like with like: numba's median on the reference's view.
                row = Row(bs.name, n, res, d, statistics.mean(visible), statistics.median(times),
                          statistics.median(times[: cfg.repeats]), statistics.median(cpu), ref_ms, path)  # fmt: skip
                console.log(
                    f"{bs.name} {n:>9,} {res:>8} D={d:<2} {path} numba {row.numba_ms:8.1f} ms ({row.fps:6.1f} FPS), CPU {row.cpu_ms:.1f} ms"
                )
                rows.append(row)
    return rows


def breakdown(cfg: Config, console: Console) -> list[tuple[str, dict[str, float]]]:
    """Mean wall ms per stage of the numba forward and backward kernels, per configuration, and of
    ``render()`` (no gradient): its time beyond the forward stages is the Python glue."""
    from rtgs2.render.numba_backend import _arrays, raster_camera, rasterize_backward, rasterize_forward

    results = []
    for bs in bench_scenes(cfg, console):
        for res in cfg.resolutions:
            w, h = (int(v) for v in res.split("x"))
            cams = bs.cameras(w, h)
            for d in cfg.feature_dims:
                sc = with_dim(bs.scene, d)
                prof: dict[str, float] = {}
                renders = []
                runs = 0
                for cam in cams:
                    inputs = raster_inputs(sc, cam)
                    arrays, feats = _arrays(inputs)
                    rc = raster_camera(inputs)
                    for rep in range(cfg.repeats + 1):
                        p = prof if rep > 0 else None  # the first run of each view warms up
                        fwd = rasterize_forward(*arrays, feats, rc, profile=p)
                        v_acc = np.zeros_like(fwd.acc)
                        v_acc[..., :3] = 1.0 / fwd.acc[..., :3].size  # d(mean RGB)
                        rasterize_backward(fwd.state, arrays, rc, v_acc, np.zeros_like(fwd.alpha), profile=p)
                        with torch.no_grad():
                            ms = _time(lambda: render(sc, cam, backend="numba"))
                        if rep > 0:
                            renders.append(ms)
                            runs += 1
                stages = {k: v / runs for k, v in prof.items()}
                forward = sum(v for k, v in stages.items() if "backward" not in k)
                stages["render()"] = statistics.mean(renders)
                stages["glue"] = stages["render()"] - forward
                label = f"{bs.name}, {bs.scene.num_gaussians:,} Gaussians, {res}, D={d}"
                console.log(label + ": " + ", ".join(f"{k} {v:.2f}" for k, v in stages.items()))
                results.append((label, stages))
    return results


def breakdown_markdown(results: list[tuple[str, dict[str, float]]], load: str) -> str:
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    stages = list(results[0][1])
    lines = [
        f"\n## render stages (wall ms) — {now}\n",
        "`benchmarks/render.py --breakdown`: mean wall time per stage of the numba kernels, forward "
        "and backward (loss = mean RGB), each stage with its allocations; `render()` is the whole "
        "no-gradient call and `glue` its time beyond the forward stages (Python, checks, copies); "
        f"`total` sums the stages, forward and backward. Load average before the run: {load}.\n",
        "| configuration | " + " | ".join(stages) + " | total |",
        "| --- |" + " ---: |" * (len(stages) + 1),
    ]
    for label, st in results:
        total = sum(v for k, v in st.items() if k not in ("render()", "glue"))
        lines.append(f"| {label} | " + " | ".join(f"{st[k]:.2f}" for k in stages) + f" | {total:.2f} |")
    return "\n".join(lines) + "\n"


def table(rows: list[Row]) -> Table:
    t = Table(title="render: numba vs reference (median wall time)")
    for col in ("scene", "Gaussians", "resolution", "D", "visible", "numba ms", "FPS", "CPU ms", "reference ms", "speed-up"):
        t.add_column(col, justify="right")
    for r in rows:
        t.add_row(
            r.scene, f"{r.n:,}", r.res, str(r.d), f"{r.visible:,.0f}", f"{r.numba_ms:.1f}", f"{r.fps:.1f}", f"{r.cpu_ms:.1f}",
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
        f"{cfg.views} views x {cfg.repeats} repeats per row (median). " + reference_note(cfg.reference_crop) + "\n",
        "Path: exact = render()'s defaults; per-frame = the segmenter's (Z at 1/4 of the size, a pixel stops at T <= 1/255).\n",
        "| scene | Gaussians | resolution | D | path | visible | numba ms | FPS | CPU ms | reference ms (est.) | speed-up |",
        "| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        ref = "-" if r.ref_ms is None else f"{r.ref_ms:,.0f}"
        sp = "-" if r.speedup is None else f"{r.speedup:,.0f}x"
        lines.append(
            f"| {r.scene} | {r.n:,} | {r.res} | {r.d} | {r.path} | {r.visible:,.0f} | {r.numba_ms:.1f} | {r.fps:.1f} | "
            f"{r.cpu_ms:.1f} | {ref} | {sp} |"
        )
    return "\n".join(lines) + "\n"


def main(cfg: Config) -> None:
    console = Console()
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    if cfg.breakdown:
        text = breakdown_markdown(breakdown(cfg, console), load)
        console.print(text)
        if cfg.append:
            with RESULTS.open("a") as f:
                f.write(text)
        return
    rows = bench(cfg, console)
    console.print(table(rows))
    if cfg.append:
        with RESULTS.open("a") as f:
            f.write(markdown(rows, cfg, load))
        console.print(f"appended to {RESULTS}")


if __name__ == "__main__":
    main(tyro.cli(Config))
