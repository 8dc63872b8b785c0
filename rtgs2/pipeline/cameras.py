"""Automatic cameras for a 3DGS scene of any trainer: an orbit inside a room or around an object,
placed in the scene turned z-up and scaled to metres (the networks' frame, :func:`orbit_frame`) and
handed back as cameras of the file (:func:`file_cameras`); checks that cameras see the scene.
Used by ``rtgs2 segment``, ``rtgs2 lift`` (its coverage rings) and ``rtgs2 view``."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from rtgs2.features.inputs import SceneFrame
from rtgs2.scene import Camera, GaussianScene, orbit
from rtgs2.utils.errors import ConfigError, UserError

# The orbit: the scene's box is that of its Gaussians' centres between these quantiles per axis,
# so that a few floaters far out (common in real captures) do not stretch it.
BOX_QUANTILES = (0.02, 0.98)
ROOM_MIN_SIDE_M = 2.0  # a box at least this wide (both horizontal sides) and this tall is a room to stand in
EYE_HEIGHT_M = 1.5  # inside a room: eyes this far above the floor ...
EYE_HEIGHT_MAX = 0.6  # ... but at most this fraction of the way to the ceiling
INSIDE_RADIUS = 0.2  # inside: circle radius as a fraction of the room's shorter horizontal side
INSIDE_PITCH_DEG = -15.0  # inside: look slightly down, so the floor and furniture are in view as well as walls
INSIDE_FOV_DEG = 90.0  # inside: the field of view of Replica-like sequences (and of SynthRooms)
OUTSIDE_FOV_DEG = 60.0  # outside: a normal lens
OUTSIDE_ELEVATION_DEG = 30.0  # outside: cameras this far above the object's centre, seen from it
OUTSIDE_MARGIN = 1.05  # outside: distance beyond the one at which the object's bounding sphere fills the view


@dataclass
class Orbit:
    """Automatic cameras around (``outside``) or inside (``inside``) a scene, z up."""

    mode: Literal["inside", "outside"]
    centre: tuple[float, float, float]  # in :func:`orbit_frame` (z up): the point circled (inside: at eye height)
    radius: float  # orbit_frame metres: horizontal distance of the cameras from the centre's vertical axis
    cameras: list[Camera]
    metres_given: bool = True  # False: the orbit frame took 1 file unit as 1 m (no --metres-per-unit)

    def describe(self) -> str:
        where = "inside the scene, looking outwards" if self.mode == "inside" else "around the scene, looking at"
        x, y, z = self.centre
        # without --metres-per-unit the orbit is placed in the file's own units (see orbit_frame):
        # say so, rather than calling them metres beside the features' rescaled metres
        unit = " m" if self.metres_given else ""
        where_units = "" if self.metres_given else " in the file's units"
        return (
            f"orbit of {len(self.cameras)} views {where} its centre ({x:.2f}, {y:.2f}, {z:.2f}){unit}, "
            f"radius {self.radius:.2f}{unit}{where_units} (z up; --cameras for other views)"
        )


def orbit_cameras(
    scene: GaussianScene, num_views: int, width: int, height: int, frame: SceneFrame = SceneFrame()
) -> Orbit:
    """``num_views`` cameras (``width`` x ``height`` px) on a circle about the scene's vertical
    axis through its centre, placed in ``frame`` (the scene turned z-up, in metres: the networks' frame)
    and returned as cameras of the file (:func:`file_cameras`).

    A box at least ROOM_MIN_SIDE_M wide on both horizontal sides and as tall is taken for a room:
    the cameras stand inside it at eye height, on a small circle about its centre, and look
    outwards (a little down) at the walls, a 90° field of view. Anything smaller is an object:
    the cameras circle it from outside, 30° above its centre, looking at the centre, at the
    distance where a sphere holding it (its reach from the vertical axis, its half height) fills
    a 60° view. Other paths: pass a cameras.json.
    """
    check_views(num_views, width, height, "orbit")
    box = scene_box(scene, frame)
    if box.is_room:
        centre, radius = box.eye_centre(), INSIDE_RADIUS * box.min_side
        cams = inside_ring(centre, radius, INSIDE_PITCH_DEG, num_views, width, height)
        return Orbit("inside", tuple(centre.tolist()), float(radius), file_cameras(cams, frame))
    distance = box.outside_distance(width, height)
    cams = outside_ring(box.centre, distance, OUTSIDE_ELEVATION_DEG, num_views, width, height)
    radius = float(distance * math.cos(math.radians(OUTSIDE_ELEVATION_DEG)))
    return Orbit("outside", tuple(box.centre.tolist()), radius, file_cameras(cams, frame))


def check_cameras_see(scene: GaussianScene, cameras: list[Camera], name: str | Path) -> None:
    """A ``UserError`` when no camera has any Gaussian centre of ``scene`` in its view (frames
    would be empty): cameras of another frame, units or scene."""
    means = scene.means.detach().cpu()
    if not any(bool(cam.in_frustum(means).any()) for cam in cameras):
        raise UserError(
            f"none of the {len(cameras)} cameras sees any Gaussian of {name}: are they in the scene's frame "
            "(its units and up axis) and of this scene?"
        )


def orbit_frame(metres_per_unit: float | None, up: str) -> SceneFrame:
    """The frame automatic cameras are placed in: the file's ``up`` axis and the given units, else
    1 unit = 1 m. Not the features' automatic scale: that makes every scene room-sized for the
    network, and would put the cameras inside small objects."""
    return SceneFrame(1.0 if metres_per_unit is None else metres_per_unit, up)


def file_cameras(cameras: list[Camera], frame: SceneFrame) -> list[Camera]:
    """``cameras`` placed in ``frame``'s z-up metre frame (``x_net = s R x_file``) as cameras of
    the file: world_to_cam [A, t] becomes [A R, t / s]. Dividing the camera frame by s moves no
    pixel (projection divides by depth); depth then comes out in the file's units."""
    to_net = torch.eye(4, dtype=torch.float64)
    to_net[:3, :3] = frame.rotation()
    out = []
    for c in cameras:
        w2c = c.world_to_cam @ to_net
        w2c[:3, 3] /= frame.metres_per_unit
        out.append(Camera(c.K, w2c, c.width, c.height))
    return out


@dataclass
class SceneBox:
    """Where a scene's Gaussians are, turned z-up in metres: the box of their centres between
    BOX_QUANTILES per axis."""

    lo: np.ndarray  # [3] world metres
    hi: np.ndarray  # [3] world metres
    means: np.ndarray  # [N, 3] float64 centres, metres

    @property
    def size(self) -> np.ndarray:  # [3] metres
        return self.hi - self.lo

    @property
    def centre(self) -> np.ndarray:  # [3] metres
        return (self.lo + self.hi) / 2

    @property
    def min_side(self) -> float:
        """The shorter horizontal side, metres."""
        return float(min(self.size[0], self.size[1]))

    @property
    def is_room(self) -> bool:
        """At least ROOM_MIN_SIDE_M on every side: a room to stand in (else an object to circle)."""
        return bool(self.size.min() >= ROOM_MIN_SIDE_M)

    def eye_centre(self) -> np.ndarray:  # [3] metres
        """The box's horizontal centre at eye height: EYE_HEIGHT_M above the floor, at most
        EYE_HEIGHT_MAX of the way to the ceiling."""
        z = self.lo[2] + min(EYE_HEIGHT_M, EYE_HEIGHT_MAX * self.size[2])
        return np.array([self.centre[0], self.centre[1], z])

    def outside_distance(self, width: int, height: int) -> float:
        """Metres from the centre at which a sphere holding the scene (its reach from the vertical
        axis, its half height) fills an OUTSIDE_FOV_DEG view of ``width`` x ``height``, times OUTSIDE_MARGIN."""
        reach = np.quantile(np.linalg.norm(self.means[:, :2] - self.centre[:2], axis=1), BOX_QUANTILES[1])  # round objects
        fov_x = math.radians(OUTSIDE_FOV_DEG)
        fov_y = 2 * math.atan(math.tan(fov_x / 2) * height / width)
        return OUTSIDE_MARGIN * math.hypot(reach, self.size[2] / 2) / math.sin(min(fov_x, fov_y) / 2)


def scene_box(scene: GaussianScene, frame: SceneFrame = SceneFrame()) -> SceneBox:
    """The :class:`SceneBox` of ``scene`` in ``frame`` (z up, metres).

    Raises:
        UserError: a scene with no extent (all centres at one point, or not finite).
    """
    means = (scene.means.detach().cpu().double().numpy() * frame.metres_per_unit) @ frame.rotation().numpy().T
    lo, hi = np.quantile(means, BOX_QUANTILES, axis=0)
    size = hi - lo
    if not np.isfinite(size).all() or size.max() <= 0:
        raise UserError(f"the scene has no extent to place an orbit in (box {lo.tolist()} to {hi.tolist()})")
    return SceneBox(lo, hi, means)


def inside_ring(
    centre: np.ndarray,  # [3] world metres, at the cameras' height
    radius: float,  # metres
    pitch_deg: float,  # up from horizontal (negative: looking down)
    num_views: int,
    width: int,
    height: int,
    *,
    inward: bool = False,
    phase: float = 0.0,  # radians: angle of the first camera about the vertical axis
) -> list[Camera]:
    """Cameras on a horizontal circle about ``centre``, evenly spaced, each looking away from the
    centre (``inward``: towards it), pitched by ``pitch_deg``; INSIDE_FOV_DEG wide."""
    tilt = math.tan(math.radians(pitch_deg))
    cams = []
    for a in phase + 2 * math.pi * np.arange(num_views) / num_views:
        out = np.array([math.cos(a), math.sin(a), 0.0])
        eye = centre + radius * out
        look = -out if inward else out
        cams.append(Camera.look_at(eye, eye + look + [0, 0, tilt], fov_x_deg=INSIDE_FOV_DEG, width=width, height=height))
    return cams


def outside_ring(
    centre: np.ndarray,  # [3] world metres: the point looked at
    distance: float,  # metres from the centre
    elevation_deg: float,  # of the cameras above the centre, seen from it
    num_views: int,
    width: int,
    height: int,
    *,
    phase: float = 0.0,  # radians: angle of the first camera about the vertical axis
) -> list[Camera]:
    """Cameras evenly spaced on a circle ``distance`` from ``centre`` at ``elevation_deg``, each
    looking at the centre; OUTSIDE_FOV_DEG wide."""
    elev = math.radians(elevation_deg)
    return orbit(
        centre, distance * math.cos(elev), distance * math.sin(elev), num_views,
        fov_x_deg=OUTSIDE_FOV_DEG, width=width, height=height, start_deg=math.degrees(phase),
    )  # fmt: skip


def check_views(num_views: int, width: int, height: int, what: str) -> None:
    """Refuse a view count that is not a positive int (``what`` names it in the message) and a
    non-positive image size (pixels), before anything slow is loaded."""
    if not isinstance(num_views, int) or isinstance(num_views, bool) or num_views < 1:
        raise ConfigError(None, what, f"must be a positive number of views, got {num_views!r}")
    for name, value in (("width", width), ("height", height)):
        if value < 1:
            raise ConfigError(None, name, f"must be positive, got {value}")


