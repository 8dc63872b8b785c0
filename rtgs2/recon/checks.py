"""Checks of the reconstruction's inputs, run before any optimisation: each raises a
``ValueError`` / ``TypeError`` naming the view or argument, what was expected and what came."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from rtgs2.scene.camera import Camera
from rtgs2.utils.errors import UserError

PIXEL_RANGE_SLACK = 1e-3  # images saved as float can overshoot [0, 1] by rounding; 255-scale cannot hide


def check_image(image, camera: Camera, index: int) -> Tensor:  # -> [H, W, 3] float32
    """View ``index``'s image as a float32 [H, W, 3] tensor, checked against its camera."""
    img = torch.as_tensor(image).detach()
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"image {index} must have shape [H, W, 3], got {list(img.shape)}")
    if (img.shape[0], img.shape[1]) != (camera.height, camera.width):
        raise ValueError(
            f"image {index} is {img.shape[1]}x{img.shape[0]} (W x H) but its camera is {camera.width}x{camera.height}"
        )
    if not img.is_floating_point():
        raise ValueError(f"image {index} must be float RGB in [0, 1], got dtype {img.dtype}")
    img = img.to(torch.float32)
    bad = ~torch.isfinite(img)
    if bool(bad.any()):
        raise ValueError(f"image {index} has {int(bad.any(-1).sum())} pixels with non-finite values")
    lo, hi = float(img.min()), float(img.max())
    if lo < -PIXEL_RANGE_SLACK or hi > 1 + PIXEL_RANGE_SLACK:
        raise ValueError(f"image {index} must be RGB in [0, 1], got values in [{lo:.4g}, {hi:.4g}]")
    return img.clamp(0, 1)


def check_views(cameras: Sequence[Camera], images: Sequence) -> list[Tensor]:
    """All views checked and loaded: V >= 1, one image per camera, one shared image size."""
    if len(cameras) == 0:
        raise ValueError("zero views: fitting needs at least one posed image")
    if len(images) != len(cameras):
        raise ValueError(f"{len(images)} images for {len(cameras)} cameras")
    for v, cam in enumerate(cameras):
        if not isinstance(cam, Camera):
            raise TypeError(f"camera {v} must be a rtgs2.scene.Camera, got {type(cam).__name__}")
    w0, h0 = cameras[0].width, cameras[0].height
    for v, cam in enumerate(cameras):
        if (cam.width, cam.height) != (w0, h0):
            raise UserError(f"camera {v} is {cam.width}x{cam.height} but camera 0 is {w0}x{h0}: views must share a size")
    return [check_image(images[v], cam, v) for v, cam in enumerate(cameras)]


def check_points(points, colors) -> tuple[Tensor, Tensor]:  # -> [M, 3], [M, 3] float32
    """The initial cloud: M >= 1 finite points, one colour in [0, 1] per point."""
    p = torch.as_tensor(points).detach().to(torch.float32)
    c = torch.as_tensor(colors).detach().to(torch.float32)
    if p.ndim != 2 or p.shape[1] != 3:
        raise ValueError(f"init_points must have shape [M, 3], got {list(p.shape)}")
    if len(p) == 0:
        raise ValueError("init_points is empty: the initial cloud needs at least one point")
    if tuple(c.shape) != tuple(p.shape):
        raise ValueError(f"init_colors must have shape {list(p.shape)} (one RGB per point), got {list(c.shape)}")
    for name, t in (("init_points", p), ("init_colors", c)):
        bad = ~torch.isfinite(t).all(-1)
        if bool(bad.any()):
            raise ValueError(f"{name} has {int(bad.sum())} rows with non-finite values")
    if float(c.min()) < -PIXEL_RANGE_SLACK or float(c.max()) > 1 + PIXEL_RANGE_SLACK:
        raise ValueError(f"init_colors must be RGB in [0, 1], got values in [{float(c.min()):.4g}, {float(c.max()):.4g}]")
    return p, c
