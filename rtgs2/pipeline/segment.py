"""``rtgs2 segment``: label views of any 3DGS ``.ply`` with a fusion model and write them out.

The cameras come from an INRIA ``cameras.json`` or from an automatic orbit (:func:`orbit_cameras`),
placed in the scene turned z-up and scaled to metres (the networks' frame, :func:`orbit_frame`) and handed
back as cameras of the file (:func:`file_cameras`).
Features are taken from the file's ``f_vi_*`` or extracted once and cached (:class:`Segmenter`).
Output folder (a new or empty one, or an earlier ``segment`` output; only its own files are
written or replaced)::

    segment.json       scene, weights, cameras, frames, pixels per class, FPS (written first)
    frame_<kkkk>.png   rendered image | label overlay (classes in the model's class colours)
    segment.gif        the frames in a loop, with a legend of the classes seen

FPS is the median per-frame time of render + network + arg-max over the frames, after one
untimed warm-up frame (numba compilation), as :func:`~rtgs2.pipeline.segmenter.measure_fps`.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image

from rtgs2.data.views import IGNORE_LABEL
from rtgs2.features.inputs import SceneFrame
from rtgs2.fusion.io import fusion_weights_path
from rtgs2.pipeline.draw import class_label_map, gif_frame, legend, overlay, to_uint8, write_gif
from rtgs2.pipeline.segmenter import FrameRate, FrameTimer, Segmenter
from rtgs2.scene import Camera, GaussianScene, orbit
from rtgs2.scene.cameras_json import read_cameras_json
from rtgs2.utils.io import atomic_write_text
from rtgs2.utils.lock import check_output_folder

MARKER = "segment.json"
FORMAT = "rtgs2-segment-1"
ORBIT_VIEWS = 36  # views of the automatic orbit when neither cameras nor a count are given
GIF_FPS = 8
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


@dataclass
class SegmentResult:
    """What :func:`segment_scene` wrote and measured."""

    frames: list[Path]  # frame_<kkkk>.png
    gif: Path
    summary: Path  # segment.json
    frame_rate: FrameRate
    class_pixels: dict[str, int]  # pixels per class name over all frames ("unlabelled" included)
    orbit: Orbit | None  # None with a cameras.json
    frame: SceneFrame  # the scene's units and up axis the features were computed in


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
    """A ``ValueError`` when no camera has any Gaussian centre of ``scene`` in its view (frames
    would be empty): cameras of another frame, units or scene."""
    means = scene.means.detach().cpu()
    if not any(bool(cam.in_frustum(means).any()) for cam in cameras):
        raise ValueError(
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
        ValueError: a scene with no extent (all centres at one point, or not finite).
    """
    means = (scene.means.detach().cpu().double().numpy() * frame.metres_per_unit) @ frame.rotation().numpy().T
    lo, hi = np.quantile(means, BOX_QUANTILES, axis=0)
    size = hi - lo
    if not np.isfinite(size).all() or size.max() <= 0:
        raise ValueError(f"the scene has no extent to place an orbit in (box {lo.tolist()} to {hi.tolist()})")
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


def segment_scene(
    scene: str | Path,
    out: str | Path,
    *,
    cameras: str | Path | None = None,
    orbit: int | None = None,
    width: int = 320,
    height: int = 240,
    weights: str | Path | None = None,
    feature_weights: str | Path | None = None,
    device: str = "cpu",
    metres_per_unit: float | None = None,
    up: str = "+z",
) -> SegmentResult:
    """Segment views of the 3DGS ``scene`` (.ply) into the folder ``out`` (module doc).

    Args:
        cameras: an INRIA cameras.json giving the views (at its image sizes); else an orbit.
        orbit: views on the automatic orbit (:func:`orbit_cameras`; default ORBIT_VIEWS).
        width, height: image size of the orbit's views, pixels.
        weights: fusion model (default: the shipped one).
        feature_weights: feature network for scenes without fitting ``f_vi_*`` (default: the
            one on the fusion model's card, else the shipped one).
        metres_per_unit, up: the file's units and up axis (:meth:`Segmenter.from_files`; default
            chosen from the scene's size, z up); the result's ``frame`` says which the features
            used. The orbit is placed in :func:`orbit_frame`.

    Raises:
        ValueError: both ``cameras`` and ``orbit``, bad sizes, a cameras.json that does not parse
            or lists no camera, an output path that is a file or a folder holding other things.
        FileNotFoundError: the scene, cameras, or weights are missing.
    """
    out = Path(out)
    check_output_folder(out, MARKER, "an rtgs2 segment output")
    if cameras is not None and orbit is not None:
        raise ValueError("give either --cameras (a cameras.json) or --orbit (a number of views), not both")
    cams = None
    if cameras is not None:
        cams = read_cameras_json(cameras)
        if not cams:
            raise ValueError(f"{cameras}: lists no camera")
    else:
        orbit = ORBIT_VIEWS if orbit is None else orbit
        check_views(orbit, width, height, "orbit")  # before loading anything
    weights = fusion_weights_path(weights)
    segmenter = Segmenter.from_files(
        scene, weights, feature_weights=feature_weights, device=device, metres_per_unit=metres_per_unit, up=up
    )
    orbit_ = None
    if cams is None:
        orbit_ = orbit_cameras(segmenter.scene, orbit, width, height, orbit_frame(metres_per_unit, up))
        orbit_.metres_given = metres_per_unit is not None
        cams = orbit_.cameras
    check_cameras_see(segmenter.scene, cams, scene)  # before anything is written
    names = segmenter.label_names
    label_map = class_label_map(names)

    old = _previous_frames(out)
    record = {
        "format": FORMAT,
        "finished": False,
        "scene": str(Path(scene).resolve()),
        "weights": str(weights.resolve()),
        "cameras": str(Path(cameras).resolve()) if cameras is not None else None,
        "orbit": {k: v for k, v in asdict(orbit_).items() if k != "cameras"} if orbit_ else None,
        "frame": asdict(segmenter.frame),
        "class_names": names,
    }
    # Until this run finishes, the list holds the earlier run's frames and all of this run's, so
    # that a rerun after a kill still knows every frame file written here.
    mine = {f"frame_{k:04d}.png" for k in range(len(cams))}
    record["frames"] = sorted(set(old) | mine)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / MARKER, json.dumps(record, indent=1))
    for name in set(old) - mine:  # an earlier run's frames that this run does not rewrite
        (out / name).unlink(missing_ok=True)

    segmenter.segment(cams[0])  # warm-up, untimed: numba compiles its kernels on first use
    counts = np.zeros(256, np.int64)
    frames, panels, timer = [], [], FrameTimer()
    for k, cam in enumerate(cams):
        view = timer.segment(segmenter, cam)
        labels = view.labels.numpy()
        counts += np.bincount(labels.ravel(), minlength=256)
        image = to_uint8(view.rgb)
        panel = np.concatenate([image, overlay(image, labels, label_map)], 1)
        frames.append(out / f"frame_{k:04d}.png")
        Image.fromarray(panel).save(frames[-1])
        panels.append(gif_frame(panel))
    rate = timer.rate(cams[0])

    seen = [k for k in range(label_map.num_classes) if counts[k] > 0]
    gif = out / "segment.gif"
    if len({p.shape for p in panels}) == 1:
        write_gif(gif, panels, GIF_FPS, legend(label_map, seen, panels[0].shape[1]))
    else:  # cameras of several image sizes: each frame on a canvas of the largest
        h, w = max(p.shape[0] for p in panels), max(p.shape[1] for p in panels)
        canvases = [np.pad(p, ((0, h - p.shape[0]), (0, w - p.shape[1]), (0, 0))) for p in panels]
        write_gif(gif, canvases, GIF_FPS, legend(label_map, seen, w))
    class_pixels = {label_map.names[k]: int(counts[k]) for k in range(label_map.num_classes)}
    class_pixels["unlabelled"] = int(counts[IGNORE_LABEL])
    record.update(
        finished=True,
        frames=[p.name for p in frames],
        gif=gif.name,
        class_pixels=class_pixels,
        frame_rate={**asdict(rate), "note": "median over the frames after one warm-up frame; render + network + arg-max"},
        device=device,
    )
    atomic_write_text(out / MARKER, json.dumps(record, indent=1))
    return SegmentResult(frames, gif, out / MARKER, rate, class_pixels, orbit_, segmenter.frame)


def check_views(num_views: int, width: int, height: int, what: str) -> None:
    """Refuse a view count that is not a positive int (``what`` names it in the message) and a
    non-positive image size (pixels), before anything slow is loaded."""
    if not isinstance(num_views, int) or isinstance(num_views, bool) or num_views < 1:
        raise ValueError(f"{what} must be a positive number of views, got {num_views!r}")
    if min(width, height) < 1:
        raise ValueError(f"width and height must be positive, got {width}x{height}")


def _previous_frames(out: Path) -> list[str]:
    """The frame files an earlier segment run listed in ``out``'s segment.json (names only)."""
    try:
        listed = json.loads((out / MARKER).read_text()).get("frames", [])
    except (OSError, ValueError, AttributeError):
        return []
    return [n for n in listed if isinstance(n, str) and n.startswith("frame_") and "/" not in n and "\\" not in n]
