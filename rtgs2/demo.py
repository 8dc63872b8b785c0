"""``rtgs2 demo``: render a loop through a procedural room with the numba backend.

Builds ``room_scene`` (with 32-channel stand-in features), renders a smooth closed camera path
inside it and writes, per view, ``rgb_XXX.png``, ``depth_XXX.png`` (colourised, near = dark) and
``features_XXX.png`` (the features' first three principal components as RGB), plus ``demo.gif``
with the three side by side. Prints the render FPS: the median over views, after a warm-up
render (which also compiles the numba kernels on first use).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import torch
from rich.console import Console
from rich.progress import track
from torch import Tensor

from rtgs2.render import render
from rtgs2.scene.synthetic import room_cameras, room_scene

DEMO_GAUSSIANS = 200_000  # the size of DESIGN §6's speed target
DEMO_FEATURES = 32
GIF_FPS = 8
BACKGROUND = (1.0, 1.0, 1.0)  # white where nothing was drawn (no wall is missing in the room)
# Colour stops of the depth map, near to far (dark blue, teal, yellow-green, pale yellow).
DEPTH_STOPS = np.array([[0.05, 0.03, 0.3], [0.1, 0.5, 0.55], [0.6, 0.85, 0.25], [1.0, 0.98, 0.75]])


@dataclass
class DemoResult:
    fps: float  # 1000 / median_ms
    median_ms: float  # median render time per view, milliseconds
    frames: list[Path]  # the PNGs written
    gif: Path


def colorize_depth(depth: Tensor, alpha: Tensor, near: float, far: float) -> np.ndarray:
    """[H, W] metres, [H, W] alpha -> [H, W, 3] uint8: depth through DEPTH_STOPS, white where empty."""
    t = ((depth - near) / max(far - near, 1e-6)).clamp(0, 1).numpy() * (len(DEPTH_STOPS) - 1)
    i = np.minimum(t.astype(int), len(DEPTH_STOPS) - 2)
    f = (t - i)[..., None]
    rgb = DEPTH_STOPS[i] * (1 - f) + DEPTH_STOPS[i + 1] * f
    rgb = np.where((alpha.numpy() > 0.5)[..., None], rgb, 1.0)
    return to_uint8(rgb)


def feature_pca(features: Tensor) -> tuple[Tensor, Tensor]:
    """Mean [D] and top-3 principal axes [D, 3] of per-Gaussian features [N, D]."""
    mean = features.mean(0)
    _, _, v = torch.linalg.svd(features - mean, full_matrices=False)
    return mean, v[:3].T


def to_uint8(x) -> np.ndarray:
    return (np.clip(np.asarray(x), 0, 1) * 255 + 0.5).astype(np.uint8)


def run_demo(
    out: Path,
    num_views: int = 24,
    width: int = 320,
    height: int = 240,
    seed: int = 0,
    num_gaussians: int = DEMO_GAUSSIANS,
) -> DemoResult:
    """Render ``num_views`` views (``width`` x ``height`` pixels) of the room of ``seed`` made of
    ``num_gaussians`` Gaussians into the folder ``out`` (see module doc)."""
    if min(num_views, width, height, num_gaussians) < 1:
        raise ValueError(
            f"num_views, width, height, num_gaussians must be >= 1, got {num_views}, {width}, {height}, {num_gaussians}"
        )
    console = Console()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with console.status(f"building a room of {num_gaussians:,} Gaussians (seed {seed})"):
        scene = room_scene(num_gaussians, seed, feature_dim=DEMO_FEATURES)
        cams = room_cameras(num_views, seed, width=width, height=height)
        mean, axes = feature_pca(scene.features)
    with console.status("warm-up render (compiles the numba kernels on first use)"), torch.no_grad():
        render(scene, cams[0], backend="numba", background=BACKGROUND)
    renders, times = [], []
    with torch.no_grad():
        for cam in track(cams, description="rendering", console=console):
            t = time.perf_counter()
            o = render(scene, cam, backend="numba", background=BACKGROUND)
            times.append((time.perf_counter() - t) * 1000.0)
            renders.append(o)
    # Shared scales over all views, so colours mean the same in every frame.
    drawn = torch.cat([o.depth[o.alpha > 0.5] for o in renders])
    near, far = (float(v) for v in torch.quantile(drawn[:: max(1, len(drawn) // 100_000)], torch.tensor([0.02, 0.98])))
    proj = [(o.features - mean * o.alpha.unsqueeze(-1)) @ axes for o in renders]
    lo, hi = (torch.quantile(torch.cat([p.reshape(-1, 3) for p in proj])[::7], q, dim=0) for q in (0.02, 0.98))
    frames, panels = [], []
    for k, (o, p) in enumerate(zip(renders, proj)):
        images = {
            "rgb": to_uint8(o.rgb.numpy()),
            "depth": colorize_depth(o.depth, o.alpha, near, far),
            "features": to_uint8(((p - lo) / (hi - lo).clamp_min(1e-6)).numpy()),
        }
        for name, img in images.items():
            path = out / f"{name}_{k:03d}.png"
            imageio.imwrite(path, img)
            frames.append(path)
        panels.append(np.concatenate(list(images.values()), axis=1))
    gif = out / "demo.gif"
    imageio.mimsave(gif, panels, duration=1.0 / GIF_FPS, loop=0)
    median = statistics.median(times)
    console.print(
        f"{num_views} views of {width}x{height}, {num_gaussians:,} Gaussians, RGB + depth + {DEMO_FEATURES} "
        f"features: median {median:.1f} ms per view = [bold]{1000 / median:.1f} FPS[/bold] (numba, CPU)"
    )
    console.print(f"wrote {len(frames)} PNGs and {gif}")
    return DemoResult(1000.0 / median, median, frames, gif)
