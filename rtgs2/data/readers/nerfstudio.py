"""nerfstudio / Blender ``transforms*.json`` (nerfstudio ``data/dataparsers/nerfstudio_dataparser.py``,
``blender_dataparser.py``).

``transform_matrix`` is camera-to-world in OpenGL camera axes (x right, y up, z back): right-
multiplying by diag(1, -1, -1, 1) gives OpenCV axes. Intrinsics are ``fl_x, fl_y, cx, cy, w, h``
(top level or per frame) in nerfstudio's +0.5 pixel-centre convention (its rays go through
pixel + 0.5), or ``camera_angle_x`` (Blender) with the principal point at the image centre.
Distorted camera models are refused: a pinhole renderer must not be fed distorted images.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rtgs2.data.readers.base import SceneReader
from rtgs2.data.readers.common import (
    OPENGL_TO_OPENCV,
    SceneInfo,
    camera_from_c2w,
    image_size,
    load_depth_png,
    load_rgb,
    missing_images,
    natural_key,
    stride_select,
)
from rtgs2.data.views import LabelMap, LazyFrames, SceneViews
from rtgs2.utils.errors import MissingFileError, UserError

FORMAT = "nerfstudio"
MISSING = "no transforms.json (or Blender transforms_{train,val,test}.json)"
DISTORTION_KEYS = ("k1", "k2", "k3", "k4", "p1", "p2")
PINHOLE_MODELS = {"OPENCV", "PINHOLE", "SIMPLE_PINHOLE", "PERSPECTIVE"}  # OPENCV: only with zero distortion
DEFAULT_METRES_PER_DEPTH_UNIT = 1e-3  # nerfstudio's depth_unit_scale_factor default: depth PNGs in millimetres
BLENDER_SPLITS = {"train": "train", "val": "test", "test": "test"}


@dataclass
class Frame:
    """One parsed frame: image path, OpenCV camera-to-world, intrinsics (+0.5 centres)."""

    name: str
    image: Path
    c2w: np.ndarray  # [4, 4] OpenCV axes
    K: np.ndarray  # [3, 3] pixels
    width: int
    height: int
    depth: Path | None = None
    metres_per_depth_unit: float = DEFAULT_METRES_PER_DEPTH_UNIT  # the json's depth_unit_scale_factor
    split: str | None = None


def _resolve_image(base: Path, file_path: str) -> Path:
    p = base / file_path
    if not p.suffix and not p.exists():  # Blender writes "./train/r_0" without extension
        for ext in (".png", ".jpg"):
            if p.with_suffix(ext).exists():
                return p.with_suffix(ext)
    return p


def _intrinsics(meta: dict, frame: dict, image: Path, where: str) -> tuple[np.ndarray, int, int]:
    get = lambda k: frame.get(k, meta.get(k))
    model = get("camera_model") or "OPENCV"
    if "FISHEYE" in str(model).upper():
        raise UserError(
            f"{where}: camera_model {model} is a fisheye model; undistort the images first "
            "(ScanNet++: `python -m dslr.undistort` writes undistorted_images/ and transforms_undistorted.json)"
        )
    if str(model).upper() not in PINHOLE_MODELS:
        raise UserError(f"{where}: camera_model {model} is not a pinhole model ({sorted(PINHOLE_MODELS)} with zero distortion)")
    dist = {k: float(get(k)) for k in DISTORTION_KEYS if get(k) is not None and float(get(k)) != 0.0}
    if dist:
        raise UserError(f"{where}: distortion coefficients {dist} are not zero; undistort the images first (a pinhole camera is needed)")
    w, h = get("w"), get("h")
    if w is None or h is None:
        if not image.is_file():
            raise UserError(f"{where}: no w/h in the json and no image {image} to take the size from")
        w, h = image_size(image)
    w, h = int(w), int(h)
    if get("fl_x") is not None:
        fx = float(get("fl_x"))
        fy = float(get("fl_y")) if get("fl_y") is not None else fx
    elif get("camera_angle_x") is not None:
        fx = 0.5 * w / math.tan(0.5 * float(get("camera_angle_x")))
        fy = 0.5 * h / math.tan(0.5 * float(get("camera_angle_y"))) if get("camera_angle_y") is not None else fx
    else:
        raise UserError(f"{where}: no intrinsics (need fl_x/fl_y or camera_angle_x)")
    cx = float(get("cx")) if get("cx") is not None else w / 2
    cy = float(get("cy")) if get("cy") is not None else h / 2
    return np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1]]), w, h


def parse_transforms(path: Path, image_root: Path | None = None, keys: tuple[str, ...] = ("frames",)) -> list[Frame]:
    """Frames of a transforms json (entries under each of ``keys``), OpenCV axes, natural order.

    ``image_root``: folder that ``file_path`` is relative to (default: the json's folder).
    Raises ValueError naming the file and frame for a bad pose (NaN/inf, not rigid), distorted
    or fisheye cameras, or missing intrinsics.
    """
    path = Path(path)
    try:
        meta = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise UserError(f"{path}: not valid JSON ({e})") from e
    base = image_root or path.parent
    frames = []
    for key in keys:
        for n, fr in enumerate(meta.get(key, [])):
            where = f"{path} {key}[{n}]"
            if "file_path" not in fr or "transform_matrix" not in fr:
                raise UserError(f"{where}: needs file_path and transform_matrix")
            img = _resolve_image(base, fr["file_path"])
            c2w = np.asarray(fr["transform_matrix"], dtype=np.float64)
            if c2w.shape == (3, 4):
                c2w = np.vstack([c2w, [0, 0, 0, 1.0]])
            if c2w.shape != (4, 4):
                raise UserError(f"{where}: transform_matrix must be 4x4, got {list(c2w.shape)}")
            if not np.isfinite(c2w).all():  # nerfstudio files never hold NaN/inf: corrupt input
                raise UserError(f"{where}: transform_matrix has NaN/inf values")
            K, w, h = _intrinsics(meta, fr, img, where)
            depth = fr.get("depth_file_path")
            frames.append(
                Frame(
                    name=Path(fr["file_path"]).name,
                    image=img,
                    c2w=c2w @ OPENGL_TO_OPENCV,
                    K=K,
                    width=w,
                    height=h,
                    depth=(base / depth) if depth else None,
                    metres_per_depth_unit=float(meta.get("depth_unit_scale_factor", DEFAULT_METRES_PER_DEPTH_UNIT)),
                )
            )
    if not frames:
        raise UserError(f"{path}: no frames under {list(keys)}")
    return sorted(frames, key=lambda f: natural_key(f.name))


def _json_of(path: Path) -> list[Path]:
    if (path / "transforms.json").is_file():
        return [path / "transforms.json"]
    return [path / f"transforms_{s}.json" for s in BLENDER_SPLITS if (path / f"transforms_{s}.json").is_file()]


def is_scene(path: Path) -> bool:
    return path.is_dir() and bool(_json_of(path))


def views_from_frames(name: str, frames: list[Frame], info: SceneInfo, split: list[str] | None = None) -> SceneViews:
    """SceneViews of parsed frames (images resized to the camera size when the aspect matches)."""
    cams = [camera_from_c2w(f.K, f.c2w, f.width, f.height, f"{info.root} frame {f.name}") for f in frames]
    have = [f.image.is_file() for f in frames]
    if all(have):
        images = LazyFrames(lambda i: load_rgb(frames[i].image, frames[i].width, frames[i].height, resize=True), len(frames))
    elif not any(have):
        info.warnings.append("no image files: cameras only")
        images = missing_images(name, len(frames), f"e.g. {frames[0].image} does not exist")
    else:
        missing = [str(f.image) for f, ok in zip(frames, have) if not ok]
        raise MissingFileError(f"{info.root}: {len(missing)} of {len(frames)} images missing, e.g. {missing[:3]}")
    depths = None
    if all(f.depth is not None for f in frames):
        depths = LazyFrames(
            lambda i: load_depth_png(frames[i].depth, frames[i].width, frames[i].height, frames[i].metres_per_depth_unit), len(frames)
        )
    return SceneViews(name=name, cameras=cams, images=images, depths=depths, split=split, frame_names=[f.name for f in frames])


def read_nerfstudio_scene(path: Path, label_map: LabelMap | None = None, frame_stride: int = 1) -> tuple[SceneViews, SceneInfo]:
    """A nerfstudio (``transforms.json``) or Blender (``transforms_{train,val,test}.json``) scene.
    nerfstudio has no labels: ``label_map`` must be None."""
    path = Path(path)
    if label_map is not None:
        raise ValueError(f"{path}: a nerfstudio folder has no labels; a label map cannot apply")
    jsons = _json_of(path)
    if not jsons:
        raise MissingFileError(f"{path}: not a nerfstudio folder: {MISSING}")
    info = SceneInfo(FORMAT, path)
    if jsons[0].name == "transforms.json":
        frames = stride_select(parse_transforms(jsons[0]), frame_stride)
        return views_from_frames(path.name, frames, info), info
    frames = []  # Blender: the files give the split (val counts as test)
    for j in jsons:
        part = parse_transforms(j)
        sub = j.stem.split("_", 1)[1]
        for f in part:
            f.split, f.name = BLENDER_SPLITS[sub], f"{sub}/{f.name}"
        frames += stride_select(part, frame_stride)
    info.warnings.append("Blender layout: split taken from transforms_{train,val,test}.json (val counts as test)")
    return views_from_frames(path.name, frames, info, split=[f.split for f in frames]), info


READER = SceneReader(name=FORMAT, is_scene=is_scene, missing=MISSING, read=read_nerfstudio_scene, has_labels=False)
