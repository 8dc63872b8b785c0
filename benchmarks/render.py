"""Render speed: numba backend vs the pure-torch reference on procedural room scenes.

    .venv/bin/python benchmarks/render.py                 # full grid, appends to benchmarks/RESULTS.md
    .venv/bin/python benchmarks/render.py --sizes 50000 --no-append
    .venv/bin/python benchmarks/render.py --breakdown --sizes 200000 --resolutions 320x240

For each scene size, resolution and feature dimension D (0 = RGB + depth only) it renders
``views`` cameras of ``room_cameras`` ``repeats`` times each after one warm-up render per view,
and reports the median wall time, and the median CPU time over all threads (robust to other
jobs on the machine; about twice the wall time on two idle cores).

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
import os
import platform
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import tyro
from rich.console import Console
from rich.table import Table

from rtgs2.render import raster_inputs, render
from rtgs2.scene import Camera, GaussianScene
from scenes import room_cameras, room_scene  # benchmarks/scenes.py, beside this script

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
    """Instead of the speed table: CPU ms per pipeline stage, forward and backward (RGB loss)."""


@dataclass
class Row:
    n: int
    res: str
    d: int
    visible: float
    numba_ms: float  # median over all views
    numba_view0_ms: float  # median on the first view, the one the reference renders
    cpu_ms: float  # median CPU time (all threads) per render
    ref_ms: float | None  # reference, first view, estimate

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
                times, cpu, visible = [], [], []
                with torch.no_grad():
                    for cam in cams:
                        out = render(sc, cam, backend="numba")  # warm-up (and JIT compile on first use)
                        visible.append(int(out.visible.sum()))
                        times += [_time(lambda: render(sc, cam, backend="numba")) for _ in range(cfg.repeats)]
                        cpu += [_cpu_time(lambda: render(sc, cam, backend="numba")) for _ in range(cfg.repeats)]
                    ref_ms = None
                    if cfg.reference_crop > 0 and res in cfg.reference_resolutions and n <= cfg.reference_max_gaussians:
                        with console.status(f"reference, {n:,} Gaussians, {res}, D={d}"):
                            ref_ms = reference_estimate(sc, cams[0], cfg.reference_crop, visible[0])
                # The speed-up compares like with like: numba's median on the reference's view.
                row = Row(n, res, d, statistics.mean(visible), statistics.median(times),
                          statistics.median(times[: cfg.repeats]), statistics.median(cpu), ref_ms)  # fmt: skip
                console.log(f"{n:>9,} {res:>8} D={d:<2} numba {row.numba_ms:8.1f} ms ({row.fps:6.1f} FPS), CPU {row.cpu_ms:.1f} ms")
                rows.append(row)
    return rows


def breakdown(cfg: Config, console: Console) -> list[tuple[str, dict[str, float]]]:
    """Mean CPU ms per stage of the numba forward and backward kernels, per configuration."""
    from rtgs2.render.numba_backend import _f32, raster_camera, rasterize_backward, rasterize_forward

    results = []
    for n in cfg.sizes:
        scene = room_scene(n, cfg.seed, feature_dim=max(cfg.feature_dims))
        for res in cfg.resolutions:
            w, h = (int(v) for v in res.split("x"))
            for d in cfg.feature_dims:
                arrays = [_f32(t) for t in (scene.means, scene.quats, scene.log_scales, scene.opacity_logits, scene.sh)]
                feats = np.ascontiguousarray(_f32(scene.features)[:, :d]) if d else np.zeros((n, 0), np.float32)
                prof: dict[str, float] = {}
                runs = 0
                for k, cam in enumerate(room_cameras(cfg.views, cfg.seed, width=w, height=h)):
                    rc = raster_camera(raster_inputs(scene, cam))
                    for rep in range(cfg.repeats + 1):
                        p = prof if rep > 0 else None  # the first run of each view warms up
                        fwd = rasterize_forward(*arrays, feats, rc, profile=p)
                        v_acc = np.zeros_like(fwd.acc)
                        v_acc[..., :3] = 1.0 / fwd.acc[..., :3].size  # d(mean RGB)
                        rasterize_backward(fwd.state, arrays, rc, v_acc, np.zeros_like(fwd.alpha), profile=p)
                        runs += rep > 0
                stages = {k: v / runs for k, v in prof.items()}
                label = f"{n:,} Gaussians, {res}, D={d}"
                console.log(label + ": " + ", ".join(f"{k} {v:.1f}" for k, v in stages.items()))
                results.append((label, stages))
    return results


def breakdown_markdown(results: list[tuple[str, dict[str, float]]], load: str) -> str:
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    stages = list(results[0][1])
    lines = [
        f"\n## render stages (CPU ms, all threads) — {now}\n",
        "`benchmarks/render.py --breakdown`: mean CPU time per stage of the numba kernels, forward "
        f"and backward (loss = mean RGB); load average before the run: {load}. Wall time on two idle "
        "cores would be about half the CPU time of the parallel stages (sort and bin are serial).\n",
        "| configuration | " + " | ".join(stages) + " | total |",
        "| --- |" + " ---: |" * (len(stages) + 1),
    ]
    for label, st in results:
        lines.append(f"| {label} | " + " | ".join(f"{st[k]:.1f}" for k in stages) + f" | {sum(st.values()):.1f} |")
    return "\n".join(lines) + "\n"


def table(rows: list[Row]) -> Table:
    t = Table(title="render: numba vs reference (median wall time)")
    for col in ("Gaussians", "resolution", "D", "visible", "numba ms", "FPS", "CPU ms", "reference ms", "speed-up"):
        t.add_column(col, justify="right")
    for r in rows:
        t.add_row(
            f"{r.n:,}", r.res, str(r.d), f"{r.visible:,.0f}", f"{r.numba_ms:.1f}", f"{r.fps:.1f}", f"{r.cpu_ms:.1f}",
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
        "| Gaussians | resolution | D | visible | numba ms | FPS | CPU ms | reference ms (est.) | speed-up |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        ref = "-" if r.ref_ms is None else f"{r.ref_ms:,.0f}"
        sp = "-" if r.speedup is None else f"{r.speedup:,.0f}x"
        lines.append(
            f"| {r.n:,} | {r.res} | {r.d} | {r.visible:,.0f} | {r.numba_ms:.1f} | {r.fps:.1f} | {r.cpu_ms:.1f} | {ref} | {sp} |"
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
