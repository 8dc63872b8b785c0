"""Reconstruction speed: differentiable render (forward + backward, RGB) at 320x240.

    .venv/bin/python benchmarks/recon.py                    # appends to benchmarks/RESULTS.md
    .venv/bin/python benchmarks/recon.py --sizes 50000 --no-append

One training step's rendering work: render RGB with the means2d probe on (as densification
needs), an L1 loss against a fixed target, ``backward()`` to every scene parameter. Median wall
time over ``views`` x ``repeats`` steps after a warm-up step per view, split into forward and
backward. The reference (autograd through the pure-torch rasterizer) is timed on two middle
crops of the first view and extrapolated linearly in (pixels x visible Gaussians), as in
``benchmarks/render.py``.
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import tyro
from rich.console import Console
from rich.table import Table

from rtgs2.render import RasterSettings, render
from rtgs2.scene import Camera, GaussianScene
from scenes import room_cameras, room_scene  # benchmarks/scenes.py, beside this script

RESULTS = Path(__file__).with_name("RESULTS.md")
PARAMS = ("means", "quats", "log_scales", "opacity_logits", "sh")


@dataclass
class Config:
    sizes: list[int] = field(default_factory=lambda: [50_000, 200_000])
    """Numbers of Gaussians of the room scenes."""
    width: int = 320
    """Image width, pixels."""
    height: int = 240
    """Image height, pixels."""
    views: int = 3
    """Cameras per scene."""
    repeats: int = 5
    """Timed steps per view."""
    reference_crop: int = 36
    """Side of the larger window the reference is timed on (and a third of it), pixels; 0 skips it."""
    seed: int = 0
    """Room scene seed."""
    append: bool = True
    """Append the table to benchmarks/RESULTS.md."""


def step(scene: GaussianScene, cam: Camera, backend: str) -> tuple[float, float, int, float]:
    """One forward + backward; returns (forward ms, backward ms, visible Gaussians, CPU ms of all
    threads; unlike wall time, CPU time does not grow when other jobs take the cores)."""
    for name in PARAMS:
        getattr(scene, name).grad = None  # as an optimiser's zero_grad(set_to_none=True)
    c0, t0 = time.process_time(), time.perf_counter()
    out = render(scene, cam, backend=backend, settings=RasterSettings(track_means2d_grad=True))
    loss = (out.rgb - 0.5).abs().mean()
    t1 = time.perf_counter()
    loss.backward()
    t2, c2 = time.perf_counter(), time.process_time()
    return (t1 - t0) * 1e3, (t2 - t1) * 1e3, int(out.visible.sum()), (c2 - c0) * 1e3


def trainable(scene: GaussianScene) -> GaussianScene:
    return GaussianScene(**{k: getattr(scene, k).detach().clone().requires_grad_(True) for k in PARAMS})


def crop(cam: Camera, side: int) -> Camera:
    """The ``side`` x ``side`` window in the middle of ``cam``'s image, as a camera of its own."""
    K = cam.K.clone()
    K[0, 2] -= (cam.width - side) // 2
    K[1, 2] -= (cam.height - side) // 2
    return Camera(K, cam.world_to_cam, side, side)


def bench(cfg: Config, console: Console) -> list[dict]:
    rows = []
    for n in cfg.sizes:
        with console.status(f"building a room of {n:,} Gaussians"):
            scene = trainable(room_scene(n, cfg.seed).with_features(None))
        cams = room_cameras(cfg.views, cfg.seed, width=cfg.width, height=cfg.height)
        fwd, bwd, vis, cpu = [], [], [], []
        for cam in cams:
            vis.append(step(scene, cam, "numba")[2])  # warm-up (compiles on first use)
            for _ in range(cfg.repeats):
                f, b, _, c = step(scene, cam, "numba")
                fwd.append(f)
                bwd.append(b)
                cpu.append(c)
        total = [f + b for f, b in zip(fwd, bwd)]
        ref = view0 = None
        if cfg.reference_crop > 0:
            with console.status("reference forward + backward on two crops"):
                # Its time is a per-Gaussian part (projection, SH of all N) plus a part linear in
                # pixels x visible Gaussians: fit both from two crop sizes, extrapolate the second.
                pts = []
                for side in (cfg.reference_crop // 3, cfg.reference_crop):
                    runs = [step(scene, crop(cams[0], side), "reference") for _ in range(2)]
                    pts.append((side * side * runs[0][2], min(r[0] + r[1] for r in runs)))
                (w1, t1), (w2, t2) = pts
                if w2 > w1 and t2 > t1:  # else timing noise on a loaded machine: no estimate
                    ref = t2 + (t2 - t1) / (w2 - w1) * (cfg.width * cfg.height * vis[0] - w2)
            view0 = statistics.median(total[: cfg.repeats])
        row = dict(
            n=n, visible=statistics.mean(vis), fwd=statistics.median(fwd), bwd=statistics.median(bwd),
            total=statistics.median(total), ref=ref, speedup=None if ref is None else ref / view0,
            cpu=statistics.median(cpu),
        )  # fmt: skip
        console.log(f"{n:>9,}: forward {row['fwd']:.1f} ms + backward {row['bwd']:.1f} ms = {row['total']:.1f} ms")
        rows.append(row)
    return rows


def report(rows: list[dict], cfg: Config, console: Console, load: str) -> None:
    cols = ("Gaussians", "visible", "forward ms", "backward ms", "total ms", "CPU ms", "reference ms (est.)", "speed-up")
    table = Table(title=f"recon: forward + backward, RGB, {cfg.width}x{cfg.height} (median)")
    lines = [
        f"\n## recon forward + backward — {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC\n",
        f"`benchmarks/recon.py`, RGB at {cfg.width}x{cfg.height}, L1 loss, means2d probe on; "
        f"{os.cpu_count()} cores, load average before the run: {load}; {cfg.views} views x {cfg.repeats} "
        f"steps (median). Reference: autograd timed on middle crops of {cfg.reference_crop // 3} and "
        f"{cfg.reference_crop} px, extrapolated linearly in pixels x visible Gaussians.\n",
        "| " + " | ".join(cols) + " |",
        "|" + " ---: |" * len(cols),
    ]
    for c in cols:
        table.add_column(c, justify="right")
    for r in rows:
        cells = (
            f"{r['n']:,}", f"{r['visible']:,.0f}", f"{r['fwd']:.1f}", f"{r['bwd']:.1f}", f"{r['total']:.1f}", f"{r['cpu']:.1f}",
            "-" if r["ref"] is None else f"{r['ref']:,.0f}", "-" if r["speedup"] is None else f"{r['speedup']:,.0f}x",
        )  # fmt: skip
        table.add_row(*cells)
        lines.append("| " + " | ".join(cells) + " |")
    console.print(table)
    if cfg.append:
        with RESULTS.open("a") as f:
            f.write("\n".join(lines) + "\n")
        console.print(f"appended to {RESULTS}")


def main(cfg: Config) -> None:
    console = Console()
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    report(bench(cfg, console), cfg, console, load)


if __name__ == "__main__":
    torch.manual_seed(0)
    main(tyro.cli(Config))
