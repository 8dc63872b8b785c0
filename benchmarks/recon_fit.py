"""Reconstruction quality and time: fit a known room scene from ~100 posed views.

    .venv/bin/python benchmarks/recon_fit.py                       # prints, appends to RESULTS.md
    .venv/bin/python benchmarks/recon_fit.py --iterations 500 --no-append

The ground truth is ``room_scene`` (the render benchmarks' room) seen by ``room_cameras`` on a
loop; every 8th view is held out (DESIGN §5). ``fit_gaussians`` starts, as SynthRooms does,
from back-projected depth of the training views, and runs with the paper's settings scaled
to ``iterations`` (``ReconConfig`` defaults). Reported: wall time of the fit, mean PSNR and
SSIM on the held-out views at the initialisation and after the fit, and the Gaussian count.
The renderer is ``auto``: numba on the CPU when its backward pass is present, else the
pure-torch reference (then only tiny settings finish in reasonable time).
"""

from __future__ import annotations

import datetime as dt
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch
import tyro
from rich.console import Console
from rich.table import Table

from rtgs2.recon import ReconConfig, fit_gaussians, points_from_depth
from rtgs2.recon.init import initial_scene
from rtgs2.recon.losses import psnr, ssim
from rtgs2.render import render, resolve_backend
from rtgs2.scene import Camera, GaussianScene
from scenes import room_cameras, room_scene  # benchmarks/scenes.py, beside this script

RESULTS = Path(__file__).with_name("RESULTS.md")
HOLDOUT_EVERY = 8  # every 8th view is a test view (DESIGN §5)


@dataclass
class Config:
    gaussians: int = 50_000
    """Gaussians of the ground-truth room."""
    views: int = 100
    """Views on the loop (every 8th held out)."""
    width: int = 160
    """Image width, pixels."""
    height: int = 120
    """Image height, pixels."""
    iterations: int = 2_000
    """Fit steps (the paper's schedule scaled to this)."""
    init_points: int = 20_000
    """Initial points drawn from the training views' depth."""
    threads: int = 2
    """torch threads of the fit."""
    seed: int = 0
    """Scene and fit seed."""
    recon: ReconConfig = ReconConfig(max_gaussians=60_000)
    """Further fit settings (iterations, seed, threads above override these). Capped: at this
    resolution the paper's gradient threshold (tuned for ~1 MP images) would densify without end."""
    append: bool = True
    """Append a row to benchmarks/RESULTS.md."""


def held_out_quality(scene: GaussianScene, cams: list[Camera], imgs: list[torch.Tensor], backend: str) -> tuple[float, float]:
    """Mean PSNR (dB) and SSIM of ``scene`` on black against ``imgs``."""
    p = s = 0.0
    with torch.no_grad():
        for cam, img in zip(cams, imgs):
            out = render(scene, cam, backend=backend).rgb.clamp(0, 1)  # type: ignore[arg-type]
            p += float(psnr(out, img))
            s += float(ssim(out, img))
    return p / len(cams), s / len(cams)


def main(cfg: Config) -> None:
    torch.set_num_threads(cfg.threads)
    backend = resolve_backend("auto", "cpu")
    gt = room_scene(cfg.gaussians, cfg.seed)
    cams = room_cameras(cfg.views, cfg.seed, width=cfg.width, height=cfg.height)
    with torch.no_grad():
        outs = [render(gt, c, backend=backend) for c in cams]  # type: ignore[arg-type]
    test = [i for i in range(len(cams)) if i % HOLDOUT_EVERY == 0]
    train = [i for i in range(len(cams)) if i % HOLDOUT_EVERY != 0]
    imgs = [o.rgb.clamp(0, 1) for o in outs]
    pts, cols = points_from_depth(
        [cams[i] for i in train], [imgs[i] for i in train], [outs[i].depth for i in train], cfg.init_points, cfg.seed
    )
    rc = replace(cfg.recon, iterations=cfg.iterations, seed=cfg.seed, num_threads=cfg.threads, backend=backend)
    test_cams, test_imgs = [cams[i] for i in test], [imgs[i] for i in test]
    init = initial_scene(pts, cols, rc.sh_degree, rc.init_opacity)
    init_psnr, init_ssim = held_out_quality(init, test_cams, test_imgs, backend)
    t0 = time.perf_counter()
    scene = fit_gaussians([cams[i] for i in train], [imgs[i] for i in train], rc, pts, cols, progress=True)
    seconds = time.perf_counter() - t0
    fit_psnr, fit_ssim = held_out_quality(scene, test_cams, test_imgs, backend)

    table = Table(title=f"fit {len(train)} views ({len(test)} held out), {cfg.width}x{cfg.height}, backend {backend}")
    for col in ("GT Gaussians", "iterations", "fit s", "ms/step", "init PSNR", "PSNR", "SSIM", "Gaussians"):
        table.add_column(col, justify="right")
    row = [
        f"{cfg.gaussians:,}", str(cfg.iterations), f"{seconds:.0f}", f"{1000 * seconds / cfg.iterations:.0f}",
        f"{init_psnr:.2f}", f"{fit_psnr:.2f}", f"{fit_ssim:.3f}", f"{scene.num_gaussians:,}",
    ]  # fmt: skip
    table.add_row(*row)
    Console().print(table)
    if cfg.append:
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        lines = [
            f"\n## recon fit ({stamp}, {os.cpu_count()} CPUs, {cfg.threads} torch threads, backend {backend})\n",
            f"Known room, {len(train)} training / {len(test)} held-out views at {cfg.width}x{cfg.height}, "
            f"init {cfg.init_points:,} depth points (held-out PSNR {init_psnr:.2f} dB, SSIM {init_ssim:.3f}).\n",
            f"`.venv/bin/python benchmarks/recon_fit.py --iterations {cfg.iterations} --gaussians {cfg.gaussians} "
            f"--recon.max-gaussians {cfg.recon.max_gaussians}`\n\n",
            "| GT Gaussians | iterations | fit s | ms/step | held-out PSNR dB | SSIM | Gaussians |\n",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
            f"| {row[0]} | {row[1]} | {row[2]} | {row[3]} | {row[5]} | {row[6]} | {row[7]} |\n",
        ]
        with open(RESULTS, "a") as f:
            f.writelines(lines)


if __name__ == "__main__":
    main(tyro.cli(Config))
