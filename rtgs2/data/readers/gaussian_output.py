"""Output folder of the INRIA 3DGS trainer (graphdeco-inria/gaussian-splatting ``train.py``).

``point_cloud/iteration_<N>/point_cloud.ply`` (the highest N is used), ``cameras.json``
(``utils/camera_utils.py::camera_to_JSON``: OpenCV camera-to-world, principal point at the
centre), ``input.ply`` (the SfM points it started from) and ``cfg_args`` (with the
``source_path`` of the training images). Images are taken from ``<folder>/images/`` or
``<source_path>/images/`` when present. The RT-GS2 code re-packs scenes into this layout with
``images/{idx}_{seq}.png`` and raw semantic PNGs in ``semantic/``: those are read as labels.
"""

from __future__ import annotations

import re
from pathlib import Path

from rtgs2.data.readers.common import (
    IMAGE_EXTS,
    SceneInfo,
    label_loader,
    missing_images,
    natural_key,
    stride_select,
)
from rtgs2.data.readers.base import SceneReader
from rtgs2.data.readers.common import load_rgb as _load_rgb
from rtgs2.data.views import LabelMap, LazyFrames, SceneViews
from rtgs2.scene.cameras_json import read_cameras_json_named
from rtgs2.utils.errors import MissingFileError, UserError

FORMAT = "gaussian_output"
_ITER = re.compile(r"iteration_(\d+)")
_SOURCE = re.compile(r"source_path\s*=\s*'([^']*)'")


def latest_ply(path: Path) -> Path | None:
    """``point_cloud/iteration_<N>/point_cloud.ply`` with the highest N (None if there is none)."""
    its = []
    for d in (path / "point_cloud").glob("iteration_*"):
        m = _ITER.fullmatch(d.name)
        if m and (d / "point_cloud.ply").is_file():
            its.append((int(m.group(1)), d / "point_cloud.ply"))
    return max(its)[1] if its else None


def is_scene(path: Path) -> bool:
    return (path / "cameras.json").is_file() and latest_ply(path) is not None


def _image_dirs(path: Path) -> list[Path]:
    dirs = [path / "images"]
    cfg = path / "cfg_args"
    if cfg.is_file():
        m = _SOURCE.search(cfg.read_text())
        if m:
            dirs.append(Path(m.group(1)) / "images")
    return [d for d in dirs if d.is_dir()]


def _by_stem(folder: Path, exts=IMAGE_EXTS) -> dict[str, Path]:
    return {p.stem: p for p in folder.iterdir() if p.suffix in exts} if folder.is_dir() else {}


def read_gaussian_scene(path: Path, label_map: LabelMap | None, frame_stride: int = 1) -> tuple[SceneViews, SceneInfo]:
    """One trainer output folder: cameras (natural order of ``img_name``), images and labels if present."""
    info = SceneInfo(FORMAT, path)
    if (path / "input.ply").is_file():
        info.init_points = path / "input.ply"
    named = stride_select(sorted(read_cameras_json_named(path / "cameras.json"), key=lambda t: natural_key(t[0])), frame_stride)
    if not named:
        raise UserError(f"{path / 'cameras.json'}: no cameras")
    names = [n for n, _ in named]
    cams = [c for _, c in named]
    images = None
    for d in _image_dirs(path):
        found = _by_stem(d)
        if all(Path(n).stem in found for n in names):
            files = [found[Path(n).stem] for n in names]
            # the trainer may have downscaled: resize images of the same aspect to the camera size
            images = LazyFrames(lambda i, files=files: _load_rgb(files[i], cams[i].width, cams[i].height, resize=True), len(files))
            break
        info.warnings.append(f"{d}: images for only {sum(Path(n).stem in found for n in names)} of {len(names)} cameras; not used")
    if images is None:
        info.warnings.append("no images: cameras only")
        images = missing_images(path.name, len(cams), "no images/ folder matching cameras.json")
    labels = None
    sem = _by_stem(path / "semantic", (".png",))
    if label_map is not None and sem:
        missing = [n for n in names if Path(n).stem not in sem]
        if missing:
            raise MissingFileError(f"{path / 'semantic'}: no label PNG for {len(missing)} cameras, e.g. {missing[:3]}")
        sizes = {(c.width, c.height) for c in cams}
        if len(sizes) > 1:
            raise UserError(f"{path}: labelled cameras must share one image size, got {sorted(sizes)}")
        w, h = sizes.pop()
        labels = label_loader([sem[Path(n).stem] for n in names], label_map, info, w, h)
    elif sem:
        info.warnings.append("semantic/ found but no label set chosen: labels not read")
    views = SceneViews(
        name=path.name,
        cameras=cams,
        images=images,
        labels=labels,
        label_map=label_map if labels is not None else None,
        frame_names=names,
        gaussians=latest_ply(path),
    )
    return views, info


# Labels only with an explicit label set: the re-packed folders hold any data set's raw ids.
READER = SceneReader(
    name=FORMAT,
    is_scene=is_scene,
    missing="no cameras.json + point_cloud/iteration_<N>/point_cloud.ply",
    read=read_gaussian_scene,
)
