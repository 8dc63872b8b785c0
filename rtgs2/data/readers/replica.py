"""Replica as rendered by Semantic-NeRF (Harry-Zhi/semantic_nerf).

Layout (Semantic-NeRF ``SSR/datasets/replica``): ``<scene>/Sequence_{1,2}/`` with
``rgb/rgb_{i}.png``, ``depth/depth_{i}.png`` (uint16 millimetres),
``semantic_class/semantic_class_{i}.png`` (uint8 class id; the folder also holds colourised
``vis_sem_class_{i}.png``, skipped) and ``traj_w_c.txt`` (row i = 16 numbers, the 4x4
camera-to-world of frame i, OpenCV camera axes). Both sequences share the scene's world frame
and are read as one scene. Images are 640x480 rendered with a 90 degree horizontal field of
view: fx = fy = 320, cx = 319.5, cy = 239.5 in OpenCV's integer-centre pixels.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from rtgs2.data.readers.common import (
    SceneInfo,
    camera_from_c2w,
    files_by_index,
    image_size,
    label_loader,
    load_depth_png,
    load_rgb,
    natural_key,
    require_same_frames,
    stride_select,
)
from rtgs2.data.readers.base import SceneReader
from rtgs2.data.views import LabelMap, LazyFrames, SceneViews
from rtgs2.utils.errors import MissingFileError, UserError

FORMAT = "replica"
DEFAULT_LABEL_SET = "replica_rtgs2_46"
HFOV_DEG = 90.0  # Semantic-NeRF's Replica renders (fx = W/2)
METRES_PER_DEPTH_UNIT = 1e-3  # depth PNGs hold uint16 millimetres
_SEQ = re.compile(r"Sequence_(\d+)")


def _sequences(scene: Path) -> list[Path]:
    seqs = [p for p in scene.iterdir() if p.is_dir() and _SEQ.fullmatch(p.name) and (p / "traj_w_c.txt").is_file()]
    return sorted(seqs, key=lambda p: natural_key(p.name))


def is_scene(path: Path) -> bool:
    return path.is_dir() and bool(_sequences(path))


def replica_intrinsics(width: int, height: int) -> np.ndarray:
    """[3, 3] K of Semantic-NeRF's Replica renders at ``width`` x ``height``, +0.5 pixel centres.

    Semantic-NeRF writes cx = (W-1)/2 = 319.5 (OpenCV integer pixel centres); rtgs2 puts pixel
    centres at +0.5, so cx = 319.5 + 0.5 = W/2 (likewise cy). fx = W / (2 tan(hfov/2)) = W/2.
    (Semantic-Ray and GSNeRF hard-code cy = 229.5, a typo not copied here.)
    """
    f = width / (2 * np.tan(np.radians(HFOV_DEG) / 2))
    return np.array([[f, 0, (width - 1) / 2 + 0.5], [0, f, (height - 1) / 2 + 0.5], [0, 0, 1]])


def read_trajectory(path: Path) -> np.ndarray:
    """[F, 4, 4] camera-to-world poses of ``traj_w_c.txt``; ValueError names a bad line."""
    rows = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            vals = np.array([float(v) for v in line.split()])
        except ValueError as e:
            raise UserError(f"{path}:{n}: not numbers ({e})") from e
        if vals.size != 16:
            raise UserError(f"{path}:{n}: expected 16 numbers (a 4x4 camera-to-world), got {vals.size}")
        if not np.isfinite(vals).all():
            # Semantic-NeRF trajectories never hold NaN/inf: a corrupt file, not a frame to drop
            raise UserError(f"{path}:{n}: pose has NaN/inf values")
        rows.append(vals.reshape(4, 4))
    if not rows:
        raise UserError(f"{path}: empty trajectory")
    return np.stack(rows)


def read_replica_scene(scene: Path, label_map: LabelMap | None, frame_stride: int = 1) -> tuple[SceneViews, SceneInfo]:
    """One Replica scene (all sequences). Labels mapped by ``label_map`` (None: no labels)."""
    info = SceneInfo(FORMAT, scene)
    cams, rgb, depth, sem, names = [], [], [], [], []
    for seq in _sequences(scene):
        rgb_f = files_by_index(seq / "rgb", r"rgb_(\d+)\.png")
        if not rgb_f:
            raise MissingFileError(f"{seq / 'rgb'}: no rgb_<i>.png frames")
        idx = sorted(rgb_f)
        traj = read_trajectory(seq / "traj_w_c.txt")
        if len(traj) != len(idx) or idx[-1] >= len(traj):
            raise UserError(f"{seq}: {len(traj)} poses in traj_w_c.txt for {len(idx)} rgb frames (indices {idx[0]}..{idx[-1]})")
        depth_f = files_by_index(seq / "depth", r"depth_(\d+)\.png")
        sem_f = files_by_index(seq / "semantic_class", r"semantic_class_(\d+)\.png")  # vis_sem_class_* do not match
        if depth_f:
            require_same_frames("depth", depth_f, idx, seq / "depth")
        if sem_f and label_map is not None:
            require_same_frames("semantic_class", sem_f, idx, seq / "semantic_class")
        w, h = image_size(rgb_f[idx[0]])
        K = replica_intrinsics(w, h)
        for i in stride_select(idx, frame_stride):
            cams.append(camera_from_c2w(K, traj[i], w, h, f"{seq / 'traj_w_c.txt'} row {i + 1}"))
            rgb.append(rgb_f[i])
            depth.append(depth_f.get(i))
            sem.append(sem_f.get(i))
            names.append(f"{seq.name}/rgb_{i}")
    sizes = {(c.width, c.height) for c in cams}
    if len(sizes) > 1:
        raise UserError(f"{scene}: sequences have different image sizes {sorted(sizes)}")
    w, h = cams[0].width, cams[0].height
    has_depth = all(p is not None for p in depth)
    has_labels = label_map is not None and all(p is not None for p in sem)
    if label_map is not None and not has_labels:
        info.warnings.append(f"{sum(p is None for p in sem)} of {len(sem)} frames have no semantic_class/ file: scene read without labels")
    views = SceneViews(
        name=scene.name,
        cameras=cams,
        images=LazyFrames(lambda i: load_rgb(rgb[i], w, h), len(rgb)),
        labels=label_loader(sem, label_map, info, w, h) if has_labels else None,
        depths=LazyFrames(lambda i: load_depth_png(depth[i], w, h, METRES_PER_DEPTH_UNIT), len(depth)) if has_depth else None,
        label_map=label_map if has_labels else None,
        frame_names=names,
    )
    return views, info


READER = SceneReader(
    name=FORMAT,
    is_scene=is_scene,
    missing="no <scene>/Sequence_<k>/traj_w_c.txt",
    read=read_replica_scene,
    label_dataset="replica",
    default_label_set=DEFAULT_LABEL_SET,
)
