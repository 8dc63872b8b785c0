"""The INRIA trainer's ``cameras.json`` (graphdeco-inria ``utils/camera_utils.py::camera_to_JSON``).

Each entry: ``id, img_name, width, height, position`` (camera centre, world),
``rotation`` (camera-to-world 3×3, OpenCV axes), ``fx, fy``. The principal point is the
image centre (the INRIA trainer assumes it), i.e. ``cx = width/2`` with +0.5 pixel centres.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from rtgs2.scene.camera import Camera
from rtgs2.utils.errors import MissingFileError, UserError
from rtgs2.utils.io import atomic_write_text


def read_cameras_json(path: str | Path) -> list[Camera]:
    """Cameras of an INRIA ``cameras.json``, in file order; ``ValueError`` names a bad entry."""
    return [cam for _, cam in read_cameras_json_named(path)]


def read_cameras_json_named(path: str | Path) -> list[tuple[str, Camera]]:
    """Like :func:`read_cameras_json`, with each camera's ``img_name``."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path} is a folder: give its cameras.json file")
    if not path.is_file():
        raise MissingFileError(f"no such cameras.json: {path}")
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise UserError(f"{path}: not a cameras.json (not UTF-8 text: a binary file?)") from None
    except json.JSONDecodeError as e:
        raise UserError(f"{path}: not valid JSON ({e})") from e
    if not isinstance(entries, list):
        raise UserError(f"{path}: expected a list of cameras, got {type(entries).__name__}")
    out = []
    for i, e in enumerate(entries):
        what = f"{path}: camera entry {i}"
        if not isinstance(e, dict):
            raise UserError(f"{what} is a {type(e).__name__}, not an object")
        missing = [k for k in ("width", "height", "fx", "fy", "rotation", "position") if k not in e]
        if missing:
            raise UserError(f"{what} lacks {', '.join(missing)}")
        try:
            w, h = int(e["width"]), int(e["height"])
            rotation = torch.tensor(e["rotation"], dtype=torch.float64)
            position = torch.tensor(e["position"], dtype=torch.float64)
            fx, fy = float(e["fx"]), float(e["fy"])
        except (TypeError, ValueError, RuntimeError) as err:
            raise UserError(f"{what} has a value that is not a number or a list of numbers ({err})") from None
        if rotation.shape != (3, 3) or position.shape != (3,):
            raise UserError(
                f"{what}: rotation must be 3x3 and position 3 numbers, got shapes {list(rotation.shape)} and {list(position.shape)}"
            )
        K = torch.tensor([[fx, 0, w / 2], [0, fy, h / 2], [0, 0, 1]], dtype=torch.float64)
        c2w = torch.eye(4, dtype=torch.float64)
        c2w[:3, :3], c2w[:3, 3] = rotation, position
        try:
            out.append((str(e.get("img_name", i)), Camera.from_cam_to_world(K, c2w, w, h)))
        except ValueError as err:
            raise UserError(f"{what} is invalid: {err}") from None
    return out


def write_cameras_json(cameras: list[Camera], path: str | Path, names: list[str] | None = None) -> None:
    """Write cameras in the INRIA layout (principal points must be at the image centre)."""
    entries = []
    for i, cam in enumerate(cameras):
        if abs(cam.cx - cam.width / 2) > 1e-6 or abs(cam.cy - cam.height / 2) > 1e-6:
            raise ValueError(f"camera {i}: cameras.json cannot store an off-centre principal point")
        c2w = cam.cam_to_world
        entries.append(
            {
                "id": i,
                "img_name": names[i] if names else f"{i:05d}",
                "width": cam.width,
                "height": cam.height,
                "position": c2w[:3, 3].tolist(),
                "rotation": c2w[:3, :3].tolist(),
                "fx": cam.fx,
                "fy": cam.fy,
            }
        )
    atomic_write_text(path, json.dumps(entries, indent=1))
