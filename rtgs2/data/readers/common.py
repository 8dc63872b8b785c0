"""Helpers shared by the data set readers: file discovery, image/depth/label loading with size
checks, and the per-scene :class:`SceneInfo` that collects what a reader dropped or found odd."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from rtgs2.data.views import LabelMap, LazyFrames
from rtgs2.scene.camera import Camera
from rtgs2.utils.errors import ConfigError, MissingFileError, UserError

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".JPG", ".JPEG", ".PNG")
_ASPECT_TOL = 0.01  # relative aspect-ratio difference allowed when an image is resized to its camera


@dataclass
class SceneInfo:
    """What a reader knows about a scene besides its views.

    - ``format``            reader that produced it ("replica", "scannet", ...)
    - ``root``              the scene folder
    - ``dropped_frames``    {reason: count} of frames left out (e.g. ScanNet's inf poses)
    - ``warnings``          human-readable notes (missing optional data, assumptions taken)
    - ``unknown_label_ids`` {raw id: pixels} of raw label ids absent from the label map; filled
      as label frames are loaded (mapped to IGNORE_LABEL)
    - ``init_points``       file of points usable to initialise a reconstruction (COLMAP
      points3D, INRIA input.ply), if the folder has one
    """

    format: str
    root: Path
    dropped_frames: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    unknown_label_ids: Counter = field(default_factory=Counter)
    init_points: Path | None = None

    def drop(self, reason: str, count: int = 1) -> None:
        self.dropped_frames[reason] = self.dropped_frames.get(reason, 0) + count


def natural_key(s: str) -> list:
    """Sort key putting ``rgb_10`` after ``rgb_9``."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", str(s))]


def files_by_index(folder: Path, pattern: str) -> dict[int, Path]:
    """{frame index: file} for files in ``folder`` whose name fully matches ``pattern`` (one
    integer group), e.g. ``r"rgb_(\\d+)\\.png"``."""
    rx = re.compile(pattern)
    out: dict[int, Path] = {}
    for p in folder.iterdir() if folder.is_dir() else ():
        m = rx.fullmatch(p.name)
        if m:
            out[int(m.group(1))] = p
    return out


def require_same_frames(kind: str, found: dict[int, Path], expected: Sequence[int], folder: Path) -> None:
    """Raise FileNotFoundError naming the first missing frames of ``kind`` in ``folder``."""
    missing = [i for i in expected if i not in found]
    if missing:
        raise MissingFileError(
            f"{folder}: {len(missing)} {kind} frames missing (e.g. index {missing[:5]}) for {len(expected)} colour frames"
        )


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) of an image file, read from its header only."""
    try:
        with Image.open(path) as im:
            return im.size
    except (OSError, ValueError) as e:
        raise UserError(f"{path}: cannot read image ({e})") from e


def _open_array(path: Path) -> np.ndarray:
    if not path.is_file():
        raise MissingFileError(f"missing frame file: {path}")
    try:
        with Image.open(path) as im:
            return np.asarray(im)
    except (OSError, ValueError) as e:
        raise UserError(f"{path}: cannot read image ({e})") from e


def _check_size(path: Path, arr: np.ndarray, width: int, height: int, what: str) -> None:
    if arr.shape[:2] != (height, width):
        raise UserError(f"{path}: {what} is {arr.shape[1]}x{arr.shape[0]}, expected {width}x{height} (as the other frames)")


def _resize_allowed(path: Path, w0: int, h0: int, width: int, height: int) -> bool:
    if (w0, h0) == (width, height):
        return False
    if abs(w0 / h0 - width / height) > _ASPECT_TOL * width / height:
        raise UserError(f"{path}: image is {w0}x{h0}, camera is {width}x{height}: aspect ratios differ")
    return True


def load_rgb(path: Path, width: int, height: int, resize: bool = False) -> Tensor:
    """[H, W, 3] float32 RGB in [0, 1]; with ``resize`` an image of the same aspect ratio is
    resized (bilinear, antialiased) to width x height, otherwise a size mismatch raises."""
    if not path.is_file():
        raise MissingFileError(f"missing frame file: {path}")
    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
    except (OSError, ValueError) as e:
        raise UserError(f"{path}: cannot read image ({e})") from e
    if resize and _resize_allowed(path, im.width, im.height, width, height):
        im = im.resize((width, height), Image.BILINEAR)
    arr = np.asarray(im, dtype=np.float32) / 255.0
    _check_size(path, arr, width, height, "image")
    return torch.from_numpy(arr)


def load_depth_png(path: Path, width: int, height: int, metres_per_unit: float) -> Tensor:
    """[H, W] float32 metres from a 16-bit depth PNG (value * ``metres_per_unit``; 0 stays 0 = unknown)."""
    arr = _open_array(path)
    if arr.ndim != 2:
        raise UserError(f"{path}: depth image must be single-channel, got shape {arr.shape}")
    _check_size(path, arr, width, height, "depth")
    return torch.from_numpy(arr.astype(np.float32) * np.float32(metres_per_unit))


def load_raw_labels(path: Path, width: int, height: int) -> np.ndarray:
    """[H, W] int64 raw label ids from a single-channel PNG (8 or 16 bit)."""
    arr = _open_array(path)
    if arr.ndim != 2:
        raise UserError(f"{path}: label image must be single-channel, got shape {arr.shape}")
    _check_size(path, arr, width, height, "label image")
    return arr.astype(np.int64)


def label_loader(
    paths: Sequence[Path],
    label_map: LabelMap,
    info: SceneInfo,
    width: int,
    height: int,
    raw_transform: Callable[[np.ndarray], np.ndarray] | None = None,
) -> LazyFrames[Tensor]:
    """Lazy [H, W] uint8 labels: raw ids (optionally passed through ``raw_transform``) mapped by
    ``label_map``; unknown raw ids are counted in ``info.unknown_label_ids`` and become ignore."""

    def load(i: int) -> Tensor:
        raw = load_raw_labels(paths[i], width, height)
        if raw_transform is not None:
            raw = raw_transform(raw)
        labels, unknown = label_map.map_raw(raw)
        info.unknown_label_ids.update(unknown)
        return torch.from_numpy(np.ascontiguousarray(labels))

    return LazyFrames(load, len(paths))


def missing_images(scene: str, n: int, why: str) -> LazyFrames[Tensor]:
    """Images of a cameras-only scene: accessing one raises a clear FileNotFoundError."""

    def load(i: int) -> Tensor:
        raise MissingFileError(f"scene {scene!r} has cameras but no images ({why})")

    return LazyFrames(load, n)


def finite_pose(mat: np.ndarray) -> bool:
    return bool(np.isfinite(mat).all())


def read_matrix(path: Path, shape: tuple[int, int] = (4, 4)) -> np.ndarray:
    """A whitespace-separated matrix text file (e.g. a ScanNet pose); ValueError names the file."""
    if not path.is_file():
        raise MissingFileError(f"missing file: {path}")
    try:
        m = np.loadtxt(path, dtype=np.float64)
    except ValueError as e:
        raise UserError(f"{path}: not a matrix of numbers ({e})") from e
    if m.size != shape[0] * shape[1]:
        raise UserError(f"{path}: expected a {shape[0]}x{shape[1]} matrix, got {m.size} numbers")
    return m.reshape(shape)


OPENGL_TO_OPENCV = np.diag([1.0, -1.0, -1.0, 1.0])  # flip camera y and z (right-multiplied on c2w)


def camera_from_c2w(K: np.ndarray, c2w: np.ndarray, width: int, height: int, where: str) -> Camera:
    """Camera from an OpenCV camera-to-world; ValueError names ``where`` (file / frame) on a bad pose."""
    try:
        return Camera.from_cam_to_world(K, c2w, width, height)
    except ValueError as e:
        raise UserError(f"{where}: invalid camera ({e})") from e


def scene_dirs(path: Path, is_scene: Callable[[Path], bool], depth: int = 2) -> list[Path]:
    """``[path]`` if it is a scene folder, else the scene folders below it (up to ``depth``
    levels), in natural order."""
    if is_scene(path):
        return [path]
    if depth == 0 or not path.is_dir():
        return []
    out: list[Path] = []
    for child in sorted((c for c in path.iterdir() if c.is_dir() and not c.name.startswith(".")), key=lambda p: natural_key(p.name)):
        out.extend(scene_dirs(child, is_scene, depth - 1))
    return out


def check_frame_stride(frame_stride: int) -> None:
    """Raise ``ValueError`` naming ``frame_stride`` unless it is a positive integer."""
    if isinstance(frame_stride, bool) or not isinstance(frame_stride, int) or frame_stride < 1:
        raise ConfigError(None, "frame_stride", f"must be a positive integer (keep every n-th frame), got {frame_stride!r}")


def stride_select(items: list, frame_stride: int) -> list:
    """Every ``frame_stride``-th item, from the first."""
    check_frame_stride(frame_stride)
    return items[::frame_stride]
