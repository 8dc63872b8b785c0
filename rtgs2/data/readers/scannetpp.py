"""ScanNet++ DSLR (scannetpp/scannetpp toolkit).

Per scene ``<id>/dslr/``: ``resized_images/*.JPG`` (fisheye), ``nerfstudio/transforms.json``
(``camera_model: OPENCV_FISHEYE``; ``frames`` and ``test_frames``; OpenGL camera axes). The
toolkit's ``python -m dslr.undistort`` writes ``undistorted_images/`` and
``nerfstudio/transforms_undistorted.json`` (PINHOLE, cx = w/2, cy = h/2), which this reader
requires: fisheye images are refused. 2D labels are not released; the toolkit's
``semantic/prep/semantics_2d.py`` writes ``semantics/<scene>/<image name>.png`` (uint8 index into
``top100.txt``, 255 = ignore); put them in ``<scene>/dslr/semantics/`` or ``<scene>/semantics/``
(or ``<root>/semantics/<scene>/``). Labels of another size than the images (the RT-GS2 code
resizes masks to 640x480) make the images and intrinsics resize to the label size.

The transforms' world frame is COLMAP's with rows 0/1 swapped and row 2 negated (toolkit
``common/utils/nerfstudio.py``): a proper rotation shared by all frames, so views stay
consistent; a mesh in COLMAP's frame needs the same permutation to line up with them.
"""

from __future__ import annotations

import json
from pathlib import Path

from rtgs2.data.readers.base import SceneReader
from rtgs2.data.readers.common import SceneInfo, image_size, label_loader, stride_select
from rtgs2.data.readers.nerfstudio import Frame, parse_transforms, views_from_frames
from rtgs2.data.views import LabelMap, SceneViews
from rtgs2.utils.errors import MissingFileError, UserError

FORMAT = "scannetpp"
DEFAULT_LABEL_SET = "scannetpp_top100"
FRAME_KEYS = ("frames", "test_frames")  # test_frames are the NVS benchmark views, same images folder


def is_scene(path: Path) -> bool:
    return (path / "dslr" / "nerfstudio").is_dir()


def _transforms(scene: Path) -> tuple[Path, Path]:
    ns = scene / "dslr" / "nerfstudio"
    und = ns / "transforms_undistorted.json"
    if und.is_file():
        return und, scene / "dslr" / "undistorted_images"
    raw = ns / "transforms.json"
    if not raw.is_file():
        raise MissingFileError(f"{ns}: neither transforms_undistorted.json nor transforms.json")
    try:
        model = json.loads(raw.read_text()).get("camera_model", "")
    except json.JSONDecodeError as e:
        raise UserError(f"{raw}: not valid JSON ({e})") from e
    if "FISHEYE" in str(model).upper():
        raise UserError(
            f"{raw}: ScanNet++ DSLR images are fisheye ({model}); run the toolkit's undistortion "
            "(`python -m dslr.undistort dslr/configs/undistort.yml`) to get dslr/undistorted_images/ "
            "and dslr/nerfstudio/transforms_undistorted.json"
        )
    return raw, scene / "dslr" / "resized_images"


def _semantics_dir(scene: Path) -> Path | None:
    for d in (scene / "dslr" / "semantics", scene / "semantics", scene.parent / "semantics" / scene.name):
        if d.is_dir():
            return d
    return None


def _label_file(folder: Path, f: Frame) -> Path | None:
    for name in (f"{f.name}.png", f"{Path(f.name).stem}.png"):  # toolkit writes "<image name>.png"
        if (folder / name).is_file():
            return folder / name
    return None


def _fit_to_labels(frames: list[Frame], label_size: tuple[int, int]) -> None:
    lw, lh = label_size
    for f in frames:
        if (f.width, f.height) != (lw, lh):
            f.K = f.K.copy()
            f.K[0] *= lw / f.width  # +0.5-centred intrinsics scale exactly with the image
            f.K[1] *= lh / f.height
            f.width, f.height = lw, lh


def read_scannetpp_scene(scene: Path, label_map: LabelMap | None, frame_stride: int = 1) -> tuple[SceneViews, SceneInfo]:
    """One ScanNet++ scene (undistorted DSLR); labels mapped by ``label_map`` (top-100 indices)."""
    info = SceneInfo(FORMAT, scene)
    tf, images = _transforms(scene)
    frames = stride_select(parse_transforms(tf, image_root=images, keys=FRAME_KEYS), frame_stride)
    sem_dir = _semantics_dir(scene) if label_map is not None else None
    label_paths = None
    if sem_dir is not None:
        found = [_label_file(sem_dir, f) for f in frames]
        missing = [f.name for f, p in zip(frames, found) if p is None]
        if missing:
            raise MissingFileError(f"{sem_dir}: no label PNG for {len(missing)} of {len(frames)} images, e.g. {missing[:3]}")
        label_paths = found
        _fit_to_labels(frames, image_size(found[0]))
    elif label_map is not None:
        info.warnings.append("no semantics/ folder (toolkit semantics_2d output): scene has no labels")
    views = views_from_frames(scene.name, frames, info)
    if label_paths is not None:
        w, h = frames[0].width, frames[0].height
        views.labels = label_loader(label_paths, label_map, info, w, h)
        views.label_map = label_map
    return views, info


READER = SceneReader(
    name=FORMAT,
    is_scene=is_scene,
    missing="no <scene>/dslr/nerfstudio/",
    read=read_scannetpp_scene,
    label_dataset="scannetpp",
    default_label_set=DEFAULT_LABEL_SET,
)
