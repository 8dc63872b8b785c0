"""A picture of per-Gaussian features (the paper's Figure 1, top row): the features' first
three principal components as colours, splatted from a few views beside the RGB renders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from rtgs2.features.inputs import SceneFrame, robust_extent
from rtgs2.render import render
from rtgs2.scene.camera import Camera
from rtgs2.scene.gaussians import GaussianScene
from rtgs2.scene.paths import orbit
from rtgs2.utils.io import atomic_open


def pca_colours(features: Tensor) -> Tensor:  # [N, D] -> [N, 3] in [0, 1]
    """Project features on their 3 principal axes; each axis mapped to [0, 1] by its 1st-99th
    percentiles (so a few outliers do not wash the picture out)."""
    f = features.double()
    f = f - f.mean(0)
    sub = f[:: max(1, len(f) // 100_000)]
    _, _, v = torch.linalg.svd(sub, full_matrices=False)
    axes = v[:3].T  # [D, 3]
    # SVD signs are arbitrary: fix them so that the same features give the same colours.
    axes = axes * torch.sign(axes[axes.abs().argmax(0), torch.arange(3)])
    p = f @ axes
    q = torch.quantile(p[:: max(1, len(p) // 100_000)], torch.tensor([0.01, 0.99], dtype=torch.float64), dim=0)
    return ((p - q[0]) / (q[1] - q[0]).clamp_min(1e-12)).clamp(0, 1).float()


def preview_cameras(scene: GaussianScene, frame: SceneFrame, num_views: int = 4, width: int = 320, height: int = 240) -> list[Camera]:
    """Cameras on an elevated orbit around the scene, in the file's frame (its up axis)."""
    from rtgs2.features.inputs import UP_AXES

    means = scene.means.detach().double()
    centre = means.median(0).values.numpy()
    extent = robust_extent(scene.means)
    up = np.array(UP_AXES[frame.up], dtype=np.float64)
    cams = orbit(centre, 0.9 * extent, 0.6 * extent, num_views, width=width, height=height, up=tuple(up))
    if frame.up == "+z":
        return cams
    # orbit() circles in the xy plane about +z: turn the rig so that its up is the file's up.
    rot = frame.rotation().numpy().T  # network frame -> file frame
    out = []
    for c in cams:
        eye = centre + rot @ (c.center.numpy() - centre)
        out.append(Camera.look_at(eye, centre, tuple(up), fov_x_deg=c.fov_x_deg, width=width, height=height))
    return out


def write_preview(
    scene: GaussianScene,
    features: Tensor,  # [N, D]
    path: str | Path,
    frame: SceneFrame = SceneFrame(),
    cameras: list[Camera] | None = None,
) -> Path:
    """A PNG: the RGB renders (top row) and the PCA-coloured feature renders (bottom row)."""
    cams = cameras if cameras is not None else preview_cameras(scene, frame)
    colours = pca_colours(features)
    rows = [[], []]
    with torch.no_grad():
        for cam in cams:
            out = render(scene, cam, features=colours)
            rows[0].append(out.rgb.clamp(0, 1).numpy())
            rows[1].append(out.features.clamp(0, 1).numpy())
    sheet = np.concatenate([np.concatenate(r, axis=1) for r in rows], axis=0)
    with atomic_open(path, "wb") as f:
        from PIL.PngImagePlugin import PngInfo

        info = PngInfo()
        info.add_text("Software", "rtgs2 features")  # so a rerun may replace it, and nothing else
        Image.fromarray((sheet * 255).round().astype(np.uint8)).save(f, format="PNG", pnginfo=info)
    return Path(path)
