"""viser's client camera <-> :class:`~rtgs2.scene.Camera`.

viser reports a camera as ``position`` (its centre, world metres), ``wxyz`` (the unit quaternion
of R in ``p_world = R p_camera + position``) and ``fov`` (vertical field of view, radians) for a
canvas of ``image_width`` x ``image_height`` pixels. Its camera axes are OpenCV's (x right,
y down, z forward), the same as rtgs2's :class:`~rtgs2.scene.Camera`, so the pose carries over
without a flip.
"""

from __future__ import annotations

import math

import numpy as np

from rtgs2.scene import Camera


def quat_to_matrix(wxyz: np.ndarray) -> np.ndarray:  # [4] -> [3, 3]
    """Rotation matrix of a quaternion (w, x, y, z); normalised first, as viser's may drift from unit."""
    q = np.asarray(wxyz, dtype=np.float64)
    n = np.linalg.norm(q)
    if q.shape != (4,) or not np.isfinite(n) or n < 1e-12:
        raise ValueError(f"wxyz must be a non-zero quaternion of 4 finite numbers, got {q.tolist()}")
    w, x, y, z = q / n
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


def camera_from_viser(
    position: np.ndarray,  # [3] camera centre, world metres
    wxyz: np.ndarray,  # [4] camera-to-world rotation (OpenCV axes)
    fov_y: float,  # vertical field of view, radians
    width: int,  # image width, pixels
    height: int,  # image height, pixels
) -> Camera:
    """The rtgs2 camera seeing what viser's camera sees, rendered at ``width`` x ``height``
    (square pixels, principal point at the image centre, as three.js draws it)."""
    if not 0 < fov_y < math.pi:
        raise ValueError(f"fov_y must be in (0, pi) radians, got {fov_y}")
    f = height / (2 * math.tan(fov_y / 2))
    K = np.array([[f, 0, width / 2], [0, f, height / 2], [0, 0, 1]])
    c2w = np.eye(4)
    c2w[:3, :3] = quat_to_matrix(wxyz)
    c2w[:3, 3] = np.asarray(position, dtype=np.float64)
    return Camera.from_cam_to_world(K, c2w, width, height)

