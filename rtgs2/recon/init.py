"""Initial Gaussians: a point cloud from depth maps (as SfM points would be), scales from the
nearest neighbours, and the scene extent that scales the position learning rate."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from scipy.spatial import cKDTree
from torch import Tensor

from rtgs2.recon.checks import check_image, check_points
from rtgs2.scene.camera import Camera
from rtgs2.scene.gaussians import GaussianScene
from rtgs2.utils.errors import UserError

KNN = 3  # initial std-dev = mean distance to the 3 nearest neighbours (3DGS simple_knn)
MIN_KNN_DIST = 1e-7  # metres; duplicate points would otherwise get log(0) scales
EXTENT_MARGIN = 1.1  # 3DGS getNerfppNorm: radius = 1.1 x the largest camera distance from their mean


def points_from_depth(
    cameras: Sequence[Camera],  # V cameras
    images: Sequence[Tensor],  # V x [H, W, 3] RGB in [0, 1]
    depths: Sequence[Tensor],  # V x [H, W] camera z, metres; 0 or non-finite = unknown
    max_points: int,
    seed: int,
) -> tuple[Tensor, Tensor]:  # [M, 3] world metres, [M, 3] RGB in [0, 1]
    """Back-project every pixel with a known depth to a coloured world point, then keep a
    uniformly drawn subset of at most ``max_points`` (seeded) points.

    Raises:
        ValueError: no views, mismatched lengths or sizes, non-finite pixels, no valid depth.
    """
    if len(cameras) == 0:
        raise ValueError("points_from_depth: zero views")
    if not len(images) == len(depths) == len(cameras):
        raise ValueError(f"points_from_depth: {len(cameras)} cameras, {len(images)} images, {len(depths)} depths")
    if max_points <= 0:
        raise ValueError(f"points_from_depth: max_points must be positive, got {max_points}")
    pts, cols = [], []
    for v, cam in enumerate(cameras):
        img = check_image(images[v], cam, v)
        d = torch.as_tensor(depths[v]).detach().to(torch.float64)
        if tuple(d.shape) != (cam.height, cam.width):
            raise ValueError(f"depth {v} has shape {list(d.shape)}, its camera is {cam.height}x{cam.width} (H x W)")
        ok = torch.isfinite(d) & (d > 0)
        origin, dirs = cam.pixel_rays()  # dirs have camera z = 1, so origin + d * dir is at depth d
        pts.append((origin + dirs[ok] * d[ok].unsqueeze(-1)).to(torch.float32))
        cols.append(img.to(torch.float32)[ok])
    points, colors = torch.cat(pts), torch.cat(cols)
    if len(points) == 0:
        raise UserError("points_from_depth: no pixel has a valid depth (all zero or non-finite)")
    if len(points) > max_points:
        gen = torch.Generator().manual_seed(seed)
        pick = torch.randperm(len(points), generator=gen)[:max_points].sort().values
        points, colors = points[pick], colors[pick]
    return points, colors


def knn_scales(points: Tensor) -> Tensor:  # [M, 3] -> [M] metres
    """Mean distance of each point to its ``KNN`` nearest other points (clamped away from 0)."""
    p = points.detach().cpu().double().numpy()
    k = min(KNN, len(p) - 1)
    if k == 0:  # one point: no neighbour to measure; give it unit size
        return torch.ones(1, dtype=points.dtype)
    dist, _ = cKDTree(p).query(p, k=k + 1)  # the first neighbour is the point itself
    d = np.sqrt(np.maximum(np.mean(dist[:, 1:] ** 2, axis=1), MIN_KNN_DIST**2))  # RMS as simple_knn
    return torch.from_numpy(d).to(points.dtype)


def initial_scene(
    points: Tensor,  # [M, 3] world metres
    colors: Tensor,  # [M, 3] RGB in [0, 1]
    sh_degree: int,
    opacity: float,
) -> GaussianScene:
    """Isotropic Gaussians at ``points``: std-dev from :func:`knn_scales`, identity rotation,
    the given opacity, SH DC from ``colors`` and zero higher bands."""
    points, colors = check_points(points, colors)
    n = len(points)
    scales = knn_scales(points).unsqueeze(-1).expand(n, 3)
    quats = torch.zeros(n, 4, dtype=points.dtype)
    quats[:, 0] = 1
    scene = GaussianScene.from_activated(points, scales, quats, torch.full((n,), opacity), colors.clamp(0, 1))
    return scene.with_sh_degree(sh_degree)


def scene_extent(cameras: Sequence[Camera], points: Tensor) -> float:
    """Radius of the scene, metres: 1.1 x the largest camera distance from the cameras' mean
    (3DGS); the points' radius around their mean when the cameras nearly coincide."""
    centers = torch.stack([c.center for c in cameras])
    radius = EXTENT_MARGIN * float((centers - centers.mean(0)).norm(dim=1).max())
    if radius < 1e-6:
        p = points.detach().double()
        radius = EXTENT_MARGIN * float((p - p.mean(0)).norm(dim=1).max())
    return max(radius, 1e-6)
