"""COLMAP sparse models, text and binary (colmap ``src/colmap/scene/reconstruction_io.cc``,
``scripts/python/read_write_model.py``).

``cameras`` (model, size, params), ``images`` (world-to-camera quaternion qw qx qy qz and
translation, OpenCV camera axes, camera id, file name) and ``points3D`` (xyz, rgb, error, track).
COLMAP's pixel centres are at +0.5 like rtgs2's. Only PINHOLE and SIMPLE_PINHOLE cameras are
accepted; other models need ``colmap image_undistorter`` first.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rtgs2.data.readers.base import SceneReader
from rtgs2.data.readers.common import SceneInfo, missing_images, natural_key, stride_select
from rtgs2.data.readers.common import load_rgb as _load_rgb
from rtgs2.data.views import LabelMap, LazyFrames, SceneViews
from rtgs2.scene.camera import Camera
from rtgs2.utils.errors import MissingFileError, UserError

FORMAT = "colmap"
MISSING = "no cameras.{bin,txt} + images.{bin,txt} in sparse/0/, sparse/ or the folder"
# model id -> (name, number of params), COLMAP src/colmap/sensor/models.h
CAMERA_MODELS = {
    0: ("SIMPLE_PINHOLE", 3), 1: ("PINHOLE", 4), 2: ("SIMPLE_RADIAL", 4), 3: ("RADIAL", 5),
    4: ("OPENCV", 8), 5: ("OPENCV_FISHEYE", 8), 6: ("FULL_OPENCV", 12), 7: ("FOV", 5),
    8: ("SIMPLE_RADIAL_FISHEYE", 4), 9: ("RADIAL_FISHEYE", 5), 10: ("THIN_PRISM_FISHEYE", 12),
}  # fmt: skip
MODEL_IDS = {name: (i, n) for i, (name, n) in CAMERA_MODELS.items()}


@dataclass
class ColmapCamera:
    model: str
    width: int
    height: int
    params: np.ndarray  # model parameters, pixels


@dataclass
class ColmapImage:
    name: str
    camera_id: int
    qvec: np.ndarray  # [4] wxyz, world-to-camera rotation
    tvec: np.ndarray  # [3] world-to-camera translation, metres


@dataclass
class ColmapPoints:
    """Sparse points, usable to initialise a reconstruction."""

    xyz: np.ndarray  # [P, 3] world metres
    rgb: np.ndarray  # [P, 3] uint8
    error: np.ndarray  # [P] reprojection error, pixels


def qvec_to_rotmat(q: np.ndarray) -> np.ndarray:
    """[3, 3] rotation of a (not necessarily unit) wxyz quaternion."""
    w, x, y, z = np.asarray(q, dtype=np.float64) / np.linalg.norm(q)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


class _Reader:
    """Bounds-checked little-endian reads naming the file on truncation."""

    def __init__(self, path: Path):
        self.path, self.buf, self.pos = path, path.read_bytes(), 0

    def read(self, fmt: str):
        size = struct.calcsize("<" + fmt)
        if self.pos + size > len(self.buf):
            raise UserError(f"{self.path}: truncated at byte {self.pos}")
        out = struct.unpack_from("<" + fmt, self.buf, self.pos)
        self.pos += size
        return out

    def cstring(self) -> str:
        end = self.buf.find(b"\0", self.pos)
        if end < 0:
            raise UserError(f"{self.path}: truncated image name at byte {self.pos}")
        s = self.buf[self.pos : end].decode("utf-8")
        self.pos = end + 1
        return s


def _data_lines(path: Path) -> list[str]:
    return [ln for ln in path.read_text().splitlines() if not ln.startswith("#")]


def read_cameras(model_dir: Path) -> dict[int, ColmapCamera]:
    """Cameras of ``cameras.bin`` (preferred) or ``cameras.txt``."""
    out = {}
    if (model_dir / "cameras.bin").is_file():
        r = _Reader(model_dir / "cameras.bin")
        for _ in range(r.read("Q")[0]):
            cid, mid, w, h = r.read("iiQQ")
            if mid not in CAMERA_MODELS:
                raise UserError(f"{r.path}: camera {cid} has unknown model id {mid}")
            name, n = CAMERA_MODELS[mid]
            out[cid] = ColmapCamera(name, w, h, np.array(r.read(f"{n}d")))
        return out
    path = model_dir / "cameras.txt"
    for ln in _data_lines(path):
        if not ln.strip():
            continue
        e = ln.split()
        if len(e) < 4 or e[1] not in MODEL_IDS or len(e) != 4 + MODEL_IDS[e[1]][1]:
            raise UserError(f"{path}: bad camera line {ln!r} (expected CAMERA_ID MODEL WIDTH HEIGHT PARAMS[])")
        try:
            out[int(e[0])] = ColmapCamera(e[1], int(e[2]), int(e[3]), np.array([float(v) for v in e[4:]]))
        except ValueError as err:
            raise UserError(f"{path}: bad camera line {ln!r} ({err})") from err
    return out


def read_images(model_dir: Path) -> list[ColmapImage]:
    """Registered images of ``images.bin`` (preferred) or ``images.txt`` (2D points skipped)."""
    out = []
    if (model_dir / "images.bin").is_file():
        r = _Reader(model_dir / "images.bin")
        for _ in range(r.read("Q")[0]):
            _, qw, qx, qy, qz, tx, ty, tz, cid = r.read("idddddddi")
            name = r.cstring()
            n2d = r.read("Q")[0]
            r.read(f"{n2d * 24}x")  # per 2D point: x, y (double), point3D id (int64)
            out.append(ColmapImage(name, cid, np.array([qw, qx, qy, qz]), np.array([tx, ty, tz])))
        return out
    path = model_dir / "images.txt"
    lines = _data_lines(path)
    # two lines per image; the second (2D points) may be empty, so pair lines by position
    for k in range(0, len(lines), 2):
        ln = lines[k]
        if not ln.strip():
            continue
        e = ln.split()
        try:
            vals = [float(v) for v in e[1:8]]
            out.append(ColmapImage(" ".join(e[9:]), int(e[8]), np.array(vals[:4]), np.array(vals[4:])))
        except (ValueError, IndexError) as err:
            raise UserError(f"{path}: bad image line {ln!r} ({err})") from err
    return out


def read_points3d(model_dir: Path) -> ColmapPoints:
    """``points3D.bin`` (preferred) or ``points3D.txt``: positions, colours, errors."""
    xyz, rgb, err = [], [], []
    if (model_dir / "points3D.bin").is_file():
        r = _Reader(model_dir / "points3D.bin")
        for _ in range(r.read("Q")[0]):
            _, x, y, z, cr, cg, cb, e = r.read("QdddBBBd")
            track = r.read("Q")[0]
            r.read(f"{track * 8}x")  # (image id, point2D index) int32 pairs
            xyz.append((x, y, z)), rgb.append((cr, cg, cb)), err.append(e)
    else:
        path = model_dir / "points3D.txt"
        if not path.is_file():
            raise MissingFileError(f"{model_dir}: no points3D.bin or points3D.txt")
        for ln in _data_lines(path):
            e = ln.split()
            if len(e) < 8:
                continue
            xyz.append([float(v) for v in e[1:4]]), rgb.append([int(v) for v in e[4:7]]), err.append(float(e[7]))
    return ColmapPoints(np.array(xyz, dtype=np.float64).reshape(-1, 3), np.array(rgb, dtype=np.uint8).reshape(-1, 3), np.array(err))


def _has_model(d: Path) -> bool:
    return any((d / f"cameras.{x}").is_file() for x in ("bin", "txt")) and any((d / f"images.{x}").is_file() for x in ("bin", "txt"))


def model_dir_of(path: Path) -> Path | None:
    for d in (path / "sparse" / "0", path / "sparse", path):
        if _has_model(d):
            return d
    return None


def is_scene(path: Path) -> bool:
    return path.is_dir() and model_dir_of(path) is not None


def pinhole_K(cam: ColmapCamera, where: str) -> np.ndarray:
    """[3, 3] K of a PINHOLE / SIMPLE_PINHOLE camera; other models raise asking for undistortion."""
    p = cam.params
    if cam.model == "PINHOLE":
        fx, fy, cx, cy = p
    elif cam.model == "SIMPLE_PINHOLE":
        fx, cx, cy = p
        fy = fx
    else:
        raise UserError(f"{where}: camera model {cam.model} has distortion; run `colmap image_undistorter` to get PINHOLE cameras")
    return np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1]])


def read_colmap_scene(path: Path, label_map: LabelMap | None = None, frame_stride: int = 1) -> tuple[SceneViews, SceneInfo]:
    """A COLMAP scene: ``<path>/sparse/0`` (or ``sparse/`` or ``path``) and images in ``<path>/images``.
    COLMAP has no labels: ``label_map`` must be None."""
    path = Path(path)
    if label_map is not None:
        raise ValueError(f"{path}: a COLMAP folder has no labels; a label map cannot apply")
    md = model_dir_of(path)
    if md is None:
        raise MissingFileError(f"{path}: not a COLMAP folder: {MISSING}")
    info = SceneInfo(FORMAT, path)
    if any((md / f"points3D.{x}").is_file() for x in ("bin", "txt")):
        info.init_points = next(md / f"points3D.{x}" for x in ("bin", "txt") if (md / f"points3D.{x}").is_file())
    cams = read_cameras(md)
    imgs = stride_select(sorted(read_images(md), key=lambda im: natural_key(im.name)), frame_stride)
    if not imgs:
        raise UserError(f"{md}: no registered images")
    cameras = []
    for im in imgs:
        where = f"{md} image {im.name!r}"
        if im.camera_id not in cams:
            raise UserError(f"{where}: camera {im.camera_id} not in cameras file")
        if not (np.isfinite(im.qvec).all() and np.isfinite(im.tvec).all()):
            raise UserError(f"{where}: pose has NaN/inf values")  # COLMAP never writes them
        c = cams[im.camera_id]
        w2c = np.eye(4)
        w2c[:3, :3], w2c[:3, 3] = qvec_to_rotmat(im.qvec), im.tvec
        try:
            cameras.append(Camera(pinhole_K(c, f"{md} camera {im.camera_id}"), w2c, c.width, c.height))
        except ValueError as e:
            raise UserError(f"{where}: {e}") from e
    files = [path / "images" / im.name for im in imgs]
    have = [f.is_file() for f in files]
    if all(have):
        images = LazyFrames(lambda i: _load_rgb(files[i], cameras[i].width, cameras[i].height), len(files))
    elif not any(have):
        info.warnings.append("no image files in images/: cameras only")
        images = missing_images(path.name, len(files), f"e.g. {files[0]} does not exist")
    else:
        missing = [str(f) for f, ok in zip(files, have) if not ok]
        raise MissingFileError(f"{path}: {len(missing)} of {len(files)} images missing, e.g. {missing[:3]}")
    views = SceneViews(name=path.name, cameras=cameras, images=images, frame_names=[im.name for im in imgs])
    return views, info


READER = SceneReader(name=FORMAT, is_scene=is_scene, missing=MISSING, read=read_colmap_scene, has_labels=False)
