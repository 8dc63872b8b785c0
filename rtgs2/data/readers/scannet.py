"""ScanNet exported from ``.sens`` by ScanNet's SensReader (ScanNet/ScanNet ``SensReader/python``).

Per scene: ``color/{i}.jpg`` (1296x968), ``depth/{i}.png`` (uint16 millimetres, 640x480),
``pose/{i}.txt`` (4x4 camera-to-world, OpenCV axes; some frames are ``-inf``: tracking lost,
dropped here), ``intrinsic/intrinsic_color.txt`` (4x4; OpenCV integer pixel centres) and, for
annotated scenes, ``label-filt/{i}.png`` (raw ScanNet ids, from ``<scene>_2d-label-filt.zip``).
``scannetv2-labels.combined.tsv`` (columns ``id`` ... ``nyu40id``) maps raw ids to NYU40; the
label set then maps NYU40 to the 20 benchmark classes. Colour is resized to the label/depth size
with the intrinsics scaled; the depth camera is taken to be the colour camera, as GSNeRF and
Semantic-Ray do (the pose check measures how well that holds).
"""

from __future__ import annotations

import csv
from pathlib import Path

from rtgs2.data.readers.common import (
    SceneInfo,
    camera_from_c2w,
    files_by_index,
    finite_pose,
    image_size,
    label_loader,
    load_depth_png,
    load_rgb,
    read_matrix,
    require_same_frames,
    stride_select,
)
from rtgs2.data.readers.base import SceneReader
from rtgs2.data.views import IGNORE_LABEL, LabelMap, LazyFrames, SceneViews
from rtgs2.utils.errors import MissingFileError, UserError

FORMAT = "scannet"
DEFAULT_LABEL_SET = "scannet_20"
METRES_PER_DEPTH_UNIT = 1e-3  # depth PNGs hold uint16 millimetres
LABEL_TSV = "scannetv2-labels.combined.tsv"
UNANNOTATED_ID = 0  # label-filt value of pixels without annotation (absent from the tsv)


def is_scene(path: Path) -> bool:
    return (path / "color").is_dir() and (path / "pose").is_dir() and (path / "intrinsic" / "intrinsic_color.txt").is_file()


def read_label_tsv(path: Path) -> dict[int, int]:
    """{raw ScanNet id: NYU40 id} from ``scannetv2-labels.combined.tsv``."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    if not rows or "id" not in rows[0] or "nyu40id" not in rows[0]:
        raise UserError(f"{path}: expected a tab-separated header with 'id' and 'nyu40id' columns")
    out = {}
    for n, r in enumerate(rows, 2):
        try:
            out[int(r["id"])] = int(r["nyu40id"])
        except (TypeError, ValueError) as e:
            raise UserError(f"{path}:{n}: bad id/nyu40id {r.get('id')!r}/{r.get('nyu40id')!r}") from e
    return out


def find_label_tsv(scene: Path) -> Path | None:
    """The tsv in the scene folder or up to two folders above (data set roots keep one copy)."""
    for d in (scene, scene.parent, scene.parent.parent):
        if (d / LABEL_TSV).is_file():
            return d / LABEL_TSV
    return None


def compose_raw_map(nyu_map: LabelMap, raw_to_nyu: dict[int, int]) -> LabelMap:
    """LabelMap from raw ScanNet ids: raw -> NYU40 (tsv) -> label (``nyu_map``); raw 0 -> ignore."""
    r2l = {raw: nyu_map.raw_to_label.get(nyu, IGNORE_LABEL) for raw, nyu in raw_to_nyu.items()}
    r2l.setdefault(UNANNOTATED_ID, IGNORE_LABEL)
    return LabelMap(list(nyu_map.names), nyu_map.colors.copy(), r2l)


def read_scannet_scene(scene: Path, label_map: LabelMap | None, frame_stride: int = 1) -> tuple[SceneViews, SceneInfo]:
    """One ScanNet scene; ``label_map`` maps NYU40 ids (e.g. the ``scannet_20`` set)."""
    info = SceneInfo(FORMAT, scene)
    color = files_by_index(scene / "color", r"(\d+)\.jpg")
    if not color:
        raise MissingFileError(f"{scene / 'color'}: no <i>.jpg frames")
    idx = sorted(color)
    poses = files_by_index(scene / "pose", r"(\d+)\.txt")
    require_same_frames("pose", poses, idx, scene / "pose")
    depth = files_by_index(scene / "depth", r"(\d+)\.png")
    labels = files_by_index(scene / "label-filt", r"(\d+)\.png")
    if depth:
        require_same_frames("depth", depth, idx, scene / "depth")
    else:
        info.warnings.append("no depth/ frames")
    use_labels = label_map is not None and bool(labels)
    if use_labels:
        require_same_frames("label-filt", labels, idx, scene / "label-filt")
    elif label_map is not None:
        info.warnings.append("no label-filt/ frames: scene has no labels")

    cw, ch = image_size(color[idx[0]])
    sizes = {}
    if use_labels:
        sizes["label-filt"] = image_size(labels[idx[0]])
    if depth:
        sizes["depth"] = image_size(depth[idx[0]])
    if len(set(sizes.values())) > 1:
        raise UserError(f"{scene}: label and depth sizes differ: {sizes}")
    w, h = next(iter(sizes.values()), (cw, ch))

    K = read_matrix(scene / "intrinsic" / "intrinsic_color.txt")[:3, :3].copy()
    K[0, 2] += 0.5  # OpenCV integer pixel centres -> rtgs2's +0.5 centres (FORMATS.md)
    K[1, 2] += 0.5
    K[0] *= w / cw  # +0.5-centred intrinsics scale exactly with the image size
    K[1] *= h / ch

    cams, keep = [], []
    for i in stride_select(idx, frame_stride):
        c2w = read_matrix(poses[i])
        if not finite_pose(c2w):  # SensReader writes -inf where tracking was lost
            info.drop("non-finite pose")
            continue
        cams.append(camera_from_c2w(K, c2w, w, h, str(poses[i])))
        keep.append(i)
    if not cams:
        raise UserError(f"{scene}: every frame has a non-finite pose")
    if info.dropped_frames:
        info.warnings.append(f"dropped {info.dropped_frames['non-finite pose']} frames with non-finite poses")

    lm = None
    if use_labels:
        tsv = find_label_tsv(scene)
        if tsv is None:
            raise MissingFileError(f"{scene}: label-filt/ needs {LABEL_TSV} in the scene folder or a folder above it")
        lm = compose_raw_map(label_map, read_label_tsv(tsv))
    views = SceneViews(
        name=scene.name,
        cameras=cams,
        images=LazyFrames(lambda k: load_rgb(color[keep[k]], w, h, resize=True), len(keep)),
        labels=label_loader([labels[i] for i in keep], lm, info, w, h) if lm is not None else None,
        depths=LazyFrames(lambda k: load_depth_png(depth[keep[k]], w, h, METRES_PER_DEPTH_UNIT), len(keep)) if depth else None,
        label_map=label_map if lm is not None else None,
        frame_names=[str(i) for i in keep],
    )
    return views, info


READER = SceneReader(
    name=FORMAT,
    is_scene=is_scene,
    missing="no <scene>/color/, pose/ and intrinsic/intrinsic_color.txt",
    read=read_scannet_scene,
    label_dataset="scannet",
    default_label_set=DEFAULT_LABEL_SET,
)
