"""``rtgs2 demo``: build a SynthRooms scene and render a walk through it with its labels.

Builds one SynthRooms room from ``seed`` with surface-sampled Gaussians (seconds, no data set
needed), gives every Gaussian its class as a one-hot feature padded to 32 channels (the size of
the view-independent features of DESIGN §2, so the timed work is RGB + depth + 32 features),
renders the room's camera loop with the numba backend and writes, per view, ``rgb_XXX.png``,
``depth_XXX.png`` (colourised, near = dark) and ``labels_XXX.png`` (the arg-max of the rendered
label features, in the SynthRooms class colours; black where nothing was drawn), plus
``demo.gif`` with the three side by side. Prints the render FPS: the median over views, after a
warm-up render (which also compiles the numba kernels on first use).

Until the segmentation networks exist the labels are the Gaussians' own (ground truth), so the
demo shows the render path that segmentation will run on, not a prediction.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import torch
import torch.nn.functional as F
from rich.console import Console
from rich.progress import track
from torch import Tensor

from rtgs2.data.readers.synthrooms import synthrooms_label_map
from rtgs2.render import render
from rtgs2.synth.build import make_scene
from rtgs2.synth.config import preset_config
from rtgs2.synth.gaussians import surface_gaussians

DEMO_FEATURES = 32  # channels blended per pixel: the feature size of the full pipeline
DEMO_SPACING = 0.03  # metres between surface Gaussians: ~150-250k Gaussians for a room
GIF_FPS = 8
MIN_ALPHA = 0.5  # pixels less covered than this show no label
# Colour stops of the depth map, near to far (dark blue, teal, yellow-green, pale yellow).
DEPTH_STOPS = np.array([[0.05, 0.03, 0.3], [0.1, 0.5, 0.55], [0.6, 0.85, 0.25], [1.0, 0.98, 0.75]])


@dataclass
class DemoResult:
    fps: float  # 1000 / median_ms
    median_ms: float  # median render time per view, milliseconds
    frames: list[Path]  # the PNGs written
    gif: Path
    num_gaussians: int


def colorize_depth(depth: Tensor, alpha: Tensor, near: float, far: float) -> np.ndarray:
    """[H, W] metres, [H, W] alpha -> [H, W, 3] uint8: depth through DEPTH_STOPS, white where empty."""
    t = ((depth - near) / max(far - near, 1e-6)).clamp(0, 1).numpy() * (len(DEPTH_STOPS) - 1)
    i = np.minimum(t.astype(int), len(DEPTH_STOPS) - 2)
    f = (t - i)[..., None]
    rgb = DEPTH_STOPS[i] * (1 - f) + DEPTH_STOPS[i + 1] * f
    rgb = np.where((alpha.numpy() > 0.5)[..., None], rgb, 1.0)
    return to_uint8(rgb)


def to_uint8(x) -> np.ndarray:
    return (np.clip(np.asarray(x), 0, 1) * 255 + 0.5).astype(np.uint8)


def run_demo(
    out: Path,
    num_views: int = 24,
    width: int = 320,
    height: int = 240,
    seed: int = 0,
    spacing: float = DEMO_SPACING,
) -> DemoResult:
    """Render ``num_views`` views (``width`` x ``height`` pixels) of the SynthRooms room of ``seed``,
    Gaussians ``spacing`` metres apart, into the folder ``out`` (see module doc)."""
    if min(num_views, width, height) < 1 or not spacing > 0:
        raise ValueError(f"num_views, width, height, spacing must be positive, got {num_views}, {width}, {height}, {spacing}")
    console = Console()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    label_map = synthrooms_label_map()
    if label_map.num_classes > DEMO_FEATURES:
        raise ValueError(f"{label_map.num_classes} classes do not fit in {DEMO_FEATURES} feature channels")
    with console.status(f"building SynthRooms room {seed}"):
        room, cams = make_scene(seed, preset_config("mini", num_views=num_views, width=width, height=height))
        scene, prim = surface_gaussians(room, spacing)
        labels = torch.from_numpy(room.label[prim].astype(np.int64))
        scene = scene.with_features(F.one_hot(labels, DEMO_FEATURES).float())
    with console.status("warm-up render (compiles the numba kernels on first use)"), torch.no_grad():
        render(scene, cams[0], backend="numba")
    renders, times = [], []
    with torch.no_grad():
        for cam in track(cams, description="rendering", console=console):
            t = time.perf_counter()
            o = render(scene, cam, backend="numba")
            times.append((time.perf_counter() - t) * 1000.0)
            renders.append(o)
    # Shared depth scale over all views, so colours mean the same in every frame.
    drawn = torch.cat([o.depth[o.alpha > MIN_ALPHA] for o in renders])
    near, far = (float(v) for v in torch.quantile(drawn[:: max(1, len(drawn) // 100_000)], torch.tensor([0.02, 0.98])))
    frames, panels = [], []
    for k, o in enumerate(renders):
        images = {
            "rgb": to_uint8(o.rgb.numpy()),
            "depth": colorize_depth(o.depth, o.alpha, near, far),
            "labels": label_map.colorize(rendered_labels(o.features, o.alpha)),
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
        f"{num_views} views of {width}x{height}, {scene.num_gaussians:,} Gaussians, RGB + depth + {DEMO_FEATURES} "
        f"features: median {median:.1f} ms per view = [bold]{1000 / median:.1f} FPS[/bold] (numba, CPU)"
    )
    console.print(f"wrote {len(frames)} PNGs and {gif}")
    return DemoResult(1000.0 / median, median, frames, gif, scene.num_gaussians)


def rendered_labels(features: Tensor, alpha: Tensor) -> np.ndarray:
    """[H, W, D] blended one-hot labels, [H, W] alpha -> [H, W] uint8 arg-max (255 where alpha is low)."""
    lab = features.argmax(-1).to(torch.uint8)
    return torch.where(alpha > MIN_ALPHA, lab, torch.full_like(lab, 255)).numpy()
