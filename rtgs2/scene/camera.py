"""Pinhole cameras in the OpenCV convention (x right, y down, z forward).

``K`` is in pixels with pixel centres at +0.5: the centre of pixel (row i, column j) is at
image coordinates (j + 0.5, i + 0.5), so the middle of a W-pixel-wide image is x = W/2
(as in COLMAP, nerfstudio, gsplat and the INRIA cameras).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

_RIGID_TOL = 1e-3  # orthonormality tolerance of the rotation block; float32 poses from files reach ~1e-6


def _as_tensor(x, shape: tuple[int, ...], name: str) -> Tensor:
    t = torch.as_tensor(np.asarray(x, dtype=np.float64) if not isinstance(x, Tensor) else x)
    t = t.detach().to(torch.float64).cpu()
    if tuple(t.shape) != shape:
        raise ValueError(f"{name} must have shape {list(shape)}, got {list(t.shape)}")
    return t


@dataclass
class Camera:
    """A pinhole camera.

    - ``K``            [3, 3] intrinsics, pixels (pixel centres at +0.5)
    - ``world_to_cam`` [4, 4] rigid transform, world metres -> camera metres (OpenCV axes)
    - ``width``, ``height`` image size, pixels

    Matrices are kept as float64 CPU tensors (a camera is small; renderers cast as needed).
    Construction raises ``ValueError`` on non-finite or degenerate intrinsics, a non-rigid
    pose, or a non-positive image size.
    """

    K: Tensor
    world_to_cam: Tensor
    width: int
    height: int

    def __post_init__(self) -> None:
        self.K = _as_tensor(self.K, (3, 3), "K")
        self.world_to_cam = _as_tensor(self.world_to_cam, (4, 4), "world_to_cam")
        self.width, self.height = int(self.width), int(self.height)
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"image size must be positive, got {self.width}x{self.height}")
        if not bool(torch.isfinite(self.K).all()):
            raise ValueError(f"K has non-finite values: {self.K.tolist()}")
        if not bool(torch.isfinite(self.world_to_cam).all()):
            raise ValueError(f"world_to_cam has non-finite values: {self.world_to_cam.tolist()}")
        if not (self.fx > 0 and self.fy > 0):
            raise ValueError(f"focal lengths must be positive, got fx={self.fx}, fy={self.fy}")
        if self.K[0, 1] != 0 or self.K[1, 0] != 0 or self.K[2, 0] != 0 or self.K[2, 1] != 0 or self.K[2, 2] != 1:
            raise ValueError(f"K must be [[fx,0,cx],[0,fy,cy],[0,0,1]] (no skew), got {self.K.tolist()}")
        check_rigid(self.world_to_cam, "world_to_cam")

    # -- intrinsics ---------------------------------------------------------------------------
    @property
    def fx(self) -> float:
        return float(self.K[0, 0])

    @property
    def fy(self) -> float:
        return float(self.K[1, 1])

    @property
    def cx(self) -> float:
        return float(self.K[0, 2])

    @property
    def cy(self) -> float:
        return float(self.K[1, 2])

    @property
    def fov_x_deg(self) -> float:
        return math.degrees(2 * math.atan(self.width / (2 * self.fx)))

    @property
    def fov_y_deg(self) -> float:
        return math.degrees(2 * math.atan(self.height / (2 * self.fy)))

    # -- extrinsics ---------------------------------------------------------------------------
    @property
    def cam_to_world(self) -> Tensor:
        """[4, 4] camera-to-world (OpenCV axes)."""
        return invert_rigid(self.world_to_cam)

    @property
    def center(self) -> Tensor:
        """[3] camera centre in world coordinates, metres."""
        R, t = self.world_to_cam[:3, :3], self.world_to_cam[:3, 3]
        return -R.T @ t

    @property
    def forward(self) -> Tensor:
        """[3] viewing direction (camera +z) in world coordinates."""
        return self.world_to_cam[2, :3].clone()

    # -- constructors -------------------------------------------------------------------------
    @staticmethod
    def intrinsics(fov_x_deg: float, width: int, height: int) -> Tensor:
        """[3, 3] K for a horizontal field of view, square pixels, principal point at the centre."""
        if not 0 < fov_x_deg < 180:
            raise ValueError(f"fov_x_deg must be in (0, 180), got {fov_x_deg}")
        f = width / (2 * math.tan(math.radians(fov_x_deg) / 2))
        return torch.tensor([[f, 0, width / 2], [0, f, height / 2], [0, 0, 1]], dtype=torch.float64)

    @classmethod
    def look_at(
        cls,
        eye,  # [3] camera centre, world metres
        target,  # [3] point to look at
        up=(0.0, 0.0, 1.0),  # [3] the world's up direction
        fov_x_deg: float = 90.0,
        width: int = 320,
        height: int = 240,
    ) -> Camera:
        """Camera at ``eye`` looking at ``target``, image "up" towards the world's ``up``."""
        eye_t = _as_tensor(eye, (3,), "eye")
        fwd = _as_tensor(target, (3,), "target") - eye_t
        if fwd.norm() < 1e-12:
            raise ValueError("look_at: eye and target coincide")
        fwd = fwd / fwd.norm()
        right = torch.linalg.cross(fwd, _as_tensor(up, (3,), "up"))
        if right.norm() < 1e-9:
            raise ValueError("look_at: viewing direction is parallel to up")
        right = right / right.norm()
        down = torch.linalg.cross(fwd, right)
        R_c2w = torch.stack([right, down, fwd], dim=1)
        w2c = torch.eye(4, dtype=torch.float64)
        w2c[:3, :3] = R_c2w.T
        w2c[:3, 3] = -R_c2w.T @ eye_t
        return cls(cls.intrinsics(fov_x_deg, width, height), w2c, width, height)

    @classmethod
    def from_cam_to_world(cls, K, cam_to_world, width: int, height: int) -> Camera:
        """Camera from a [4, 4] (or [3, 4]) camera-to-world pose in OpenCV axes."""
        c2w = torch.as_tensor(np.asarray(cam_to_world, dtype=np.float64))
        if c2w.shape == (3, 4):
            c2w = torch.cat([c2w, torch.tensor([[0, 0, 0, 1.0]], dtype=torch.float64)])
        c2w = _as_tensor(c2w, (4, 4), "cam_to_world")
        if not bool(torch.isfinite(c2w).all()):
            raise ValueError(f"cam_to_world has non-finite values: {c2w.tolist()}")
        check_rigid(c2w, "cam_to_world")
        return cls(K, invert_rigid(c2w), width, height)

    def resized(self, width: int, height: int) -> Camera:
        """Same pose, intrinsics scaled to a new image size."""
        sx, sy = width / self.width, height / self.height
        K = self.K.clone()
        K[0] *= sx
        K[1] *= sy
        K[2] = torch.tensor([0, 0, 1.0], dtype=torch.float64)
        return Camera(K, self.world_to_cam.clone(), width, height)

    # -- geometry -----------------------------------------------------------------------------
    def world_to_camera_points(self, points: Tensor) -> Tensor:
        """[N, 3] world points -> [N, 3] camera-frame points (same dtype as input)."""
        w2c = self.world_to_cam.to(points)
        return points @ w2c[:3, :3].T + w2c[:3, 3]

    def project(self, points: Tensor) -> tuple[Tensor, Tensor]:
        """Project world points.

        Args:
            points: [N, 3] world metres.
        Returns:
            uv [N, 2] image coordinates in pixels (+0.5 pixel centres), z [N] camera depth, metres.
        """
        pc = self.world_to_camera_points(points)
        K = self.K.to(points)
        z = pc[:, 2]
        uv = pc[:, :2] / z.unsqueeze(-1) * torch.stack([K[0, 0], K[1, 1]]) + torch.stack([K[0, 2], K[1, 2]])
        return uv, z

    def in_frustum(self, points: Tensor, near: float = 0.01, margin: float = 0.0) -> Tensor:
        """[N] bool: in front of the near plane and inside the image (grown by ``margin`` pixels)."""
        uv, z = self.project(points)
        return (
            (z > near)
            & (uv[:, 0] >= -margin)
            & (uv[:, 0] <= self.width + margin)
            & (uv[:, 1] >= -margin)
            & (uv[:, 1] <= self.height + margin)
        )

    def pixel_rays(self, step: int = 1) -> tuple[Tensor, Tensor]:
        """Rays through pixel centres (of every ``step``-th row and column: pixels (step*i, step*j)).

        Returns:
            origin [3] and directions [H', W', 3] in world frame (float64; H' = ceil(H / step),
            W' = ceil(W / step)), scaled so that the camera-frame z component is 1 (so
            ``origin + t * dir`` has depth t).
        """
        if step < 1:
            raise ValueError(f"step must be >= 1, got {step}")
        j = torch.arange(0, self.width, step, dtype=torch.float64) + 0.5
        i = torch.arange(0, self.height, step, dtype=torch.float64) + 0.5
        v, u = torch.meshgrid(i, j, indexing="ij")
        d_cam = torch.stack([(u - self.cx) / self.fx, (v - self.cy) / self.fy, torch.ones_like(u)], dim=-1)
        R_c2w = self.world_to_cam[:3, :3].T
        return self.center, d_cam @ R_c2w.T

    def unproject(self, depth: Tensor, step: int = 1) -> Tensor:
        """Back-project a depth map to world points: the inverse of :meth:`project` at every pixel.

        Args:
            depth: [H, W] camera z of each pixel's centre, metres (the z of :meth:`project`, not
                the distance along the ray).
            step: back-project only every ``step``-th row and column (pixels (step*i, step*j)).
        Returns:
            [H', W', 3] float64 world points, metres (H' = ceil(H / step), W' = ceil(W / step)):
            the point of pixel (i, j) projects to (j + 0.5, i + 0.5) at camera depth
            ``depth[i, j]``. Pixels of depth 0 (unknown) land on the camera centre: mask them
            with ``depth > 0``.
        """
        d = torch.as_tensor(depth).detach()
        if tuple(d.shape) != (self.height, self.width):
            raise ValueError(f"depth must have shape [{self.height}, {self.width}] (H, W of the camera), got {list(d.shape)}")
        origin, dirs = self.pixel_rays(step)  # dirs have camera z = 1, so origin + d * dir is at depth d
        return origin + dirs * d[::step, ::step].to(device="cpu", dtype=torch.float64).unsqueeze(-1)

    def reproject(
        self,
        depth: Tensor,  # [H, W] camera z of this camera's pixels, metres; 0 or non-finite = unknown
        other: Camera,
        keep: Tensor | None = None,  # [H, W] bool: pixels to reproject (default: all of known depth)
        step: int = 1,
    ) -> tuple[Tensor, Tensor, Tensor]:  # [M, 2] long (row, col), [M, 2] px, [M] metres
        """This camera's pixels of known depth (every ``step``-th row and column, within ``keep``)
        seen from ``other``: their (row, col) here, their image coordinates in ``other`` (+0.5
        centres; non-finite on its camera plane) and their camera z there."""
        d = torch.as_tensor(depth).detach().to(device="cpu", dtype=torch.float64)
        known = torch.isfinite(d) & (d > 0)
        if keep is not None:
            known &= torch.as_tensor(keep).to("cpu")
        known = known[::step, ::step]
        world = self.unproject(torch.where(torch.isfinite(d), d, 0.0), step)
        rows, cols = torch.nonzero(known, as_tuple=True)
        uv, z = other.project(world[rows, cols])
        return torch.stack([rows, cols], 1) * step, uv, z

    def pixel_at(self, uv: Tensor, z: Tensor, near: float = 0.0) -> tuple[Tensor, Tensor, Tensor]:
        """The pixel holding each projection ``uv`` [M, 2] (+0.5 centres: pixel (i, j) covers
        [j, j+1) x [i, i+1), so the nearest pixel is the floor) at camera z ``z`` [M]: rows [M]
        and cols [M] long (-1 where not in the image), and inside [M] bool (in the image, in front
        of the camera: z > ``near`` metres)."""
        ok = torch.isfinite(uv).all(1) & (z > near)
        col = torch.where(ok, uv[:, 0], torch.full_like(uv[:, 0], -1.0)).floor()
        row = torch.where(ok, uv[:, 1], torch.full_like(uv[:, 1], -1.0)).floor()
        ok &= (col >= 0) & (col < self.width) & (row >= 0) & (row < self.height)
        return torch.where(ok, row, -1.0).long(), torch.where(ok, col, -1.0).long(), ok


def check_rigid(T: Tensor, name: str) -> None:
    """Raise ``ValueError`` unless T [4, 4] is a rigid transform (rotation, translation, 0001)."""
    R = T[:3, :3]
    err = float((R @ R.T - torch.eye(3, dtype=T.dtype)).abs().max())
    if err > _RIGID_TOL:
        raise ValueError(f"{name} is not a rigid transform: |R R^T - I| = {err:.2e}")
    if float(torch.linalg.det(R)) < 0:
        raise ValueError(f"{name} has a reflection (det R < 0); check the axis convention")
    if not torch.allclose(T[3], torch.tensor([0, 0, 0, 1.0], dtype=T.dtype)):
        raise ValueError(f"{name} bottom row must be [0, 0, 0, 1], got {T[3].tolist()}")


def invert_rigid(T: Tensor) -> Tensor:
    """Inverse of a rigid [4, 4] transform."""
    R, t = T[:3, :3], T[:3, 3]
    out = torch.eye(4, dtype=T.dtype)
    out[:3, :3] = R.T
    out[:3, 3] = -R.T @ t
    return out
