"""Writers of small data set folders in the exact on-disk layouts the readers expect (tests only).

The source is a tiny analytic room (box walls, floor, ceiling and two boxes of furniture)
ray-cast exactly, with known cameras, images, depth and labels. Each writer stores it the way
the original tool does (Semantic-NeRF Replica, ScanNet SensReader export, ScanNet++ DSLR,
INRIA trainer output, COLMAP text/binary, nerfstudio) so the readers can be checked against it.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from scipy.spatial.transform import Rotation

from rtgs2.scene import Camera, GaussianScene, write_cameras_json, write_ply

CLASSES = ["wall", "floor", "ceiling", "table", "cabinet"]
ROOM = (np.array([0.0, 0.0, 0.0]), np.array([4.0, 3.0, 2.5]))  # z up
BOXES = [  # (lo, hi, class)
    (np.array([1.6, 1.0, 0.0]), np.array([2.6, 1.8, 0.8]), 3),
    (np.array([3.3, 0.2, 0.0]), np.array([3.9, 1.0, 1.4]), 4),
]
# Raw id each format stores for a source class (by name; covers CLASSES and the SynthRooms classes).
# Replica class ids (Semantic-NeRF info_semantic.json / RT-GS2 id2name.yaml)
REPLICA_RAW = {"wall": 93, "floor": 40, "ceiling": 31, "door": 37, "window": 97, "table": 80, "chair": 20, "sofa": 76,
               "bed": 7, "cabinet": 18, "shelf": 71, "lamp": 47, "picture": 59, "rug": 98, "plant": 44, "monitor": 52,
               "clutter": 15}  # fmt: skip
# NYU40 ids of the classes (ScanNet's nyu40id column); ceiling (22), lamp (35), rug (20), monitor (25) and
# clutter / plant (40) are outside the 20 benchmark classes
SCANNET_NYU = {"wall": 1, "floor": 2, "ceiling": 22, "door": 8, "window": 9, "table": 7, "chair": 5, "sofa": 6, "bed": 4,
               "cabinet": 3, "shelf": 10, "lamp": 35, "picture": 11, "rug": 20, "plant": 40, "monitor": 25, "clutter": 40}  # fmt: skip
SCANNET_RAW_BASE = 100  # this fixture's tsv gives class k the raw ScanNet id 100 + k
SCANNET_UNKNOWN_RAW = 999  # painted in a patch of frame 1, absent from the tsv
# ScanNet++ top-100 indices ("rug" is not among the top 100: 255 = ignore)
TOP100 = {"wall": 0, "floor": 2, "ceiling": 1, "door": 4, "window": 14, "table": 3, "chair": 9, "sofa": 23, "bed": 25,
          "cabinet": 6, "shelf": 18, "lamp": 72, "picture": 39, "rug": 255, "plant": 29, "monitor": 17, "clutter": 15}  # fmt: skip


def raw_lut(src: SourceScene, table: dict[str, int], dtype=np.uint8) -> np.ndarray:
    """[C] raw id of each source class under ``table``."""
    return np.array([table[n] for n in src.class_names], dtype=dtype)


def scannet_raw_lut(src: SourceScene) -> np.ndarray:
    return np.arange(len(src.class_names), dtype=np.uint16) + SCANNET_RAW_BASE


# Raw id written for each source label value (last entry: unlabelled source pixels, value 255)
def replica_lut(src: SourceScene) -> np.ndarray:
    return np.append(raw_lut(src, REPLICA_RAW), 0).astype(np.uint8)  # Replica void = 0


def scannet_nyu_lut(src: SourceScene) -> np.ndarray:
    return np.append(raw_lut(src, SCANNET_NYU), 0).astype(np.uint8)  # unannotated -> raw 0 -> NYU40 0


def top100_lut(src: SourceScene) -> np.ndarray:
    return np.append(raw_lut(src, TOP100), 255).astype(np.uint8)  # toolkit ignore = 255


def apply_lut(lut: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Raw ids of source labels (255 -> the lut's last entry)."""
    return lut[np.minimum(labels, len(lut) - 1)]


GL = np.diag([1.0, -1.0, -1.0, 1.0])


@dataclass
class SourceScene:
    """Ground truth of the analytic room: V views at W x H."""

    cameras: list[Camera]
    images: np.ndarray  # [V, H, W, 3] float32 in [0, 1]
    depths: np.ndarray  # [V, H, W] float32 metres
    labels: np.ndarray  # [V, H, W] uint8 index into class_names (255 = no label)
    class_names: list[str] = field(default_factory=lambda: list(CLASSES))
    analytic: bool = True  # can be re-rendered at another resolution by raycast()


def source_from_views(views, num_views: int = 8) -> SourceScene:
    """A source scene from the first ``num_views`` views of a SynthRooms ``SceneViews``."""
    n = min(num_views, len(views))
    return SourceScene(
        list(views.cameras[:n]),
        np.stack([views.images[i].numpy() for i in range(n)]),
        np.stack([views.depths[i].numpy() for i in range(n)]),
        np.stack([views.labels[i].numpy() for i in range(n)]),
        list(views.label_map.names),
        analytic=False,
    )


def _texture(points: np.ndarray, cls: np.ndarray) -> np.ndarray:
    """[M, 3] smooth colours (low frequency so JPEG and resizing stay close to the source)."""
    base = np.array([[0.7, 0.6, 0.5], [0.4, 0.3, 0.2], [0.9, 0.9, 0.85], [0.6, 0.2, 0.2], [0.2, 0.4, 0.6]])[cls]
    wave = 0.12 * np.sin(1.7 * points[:, :1] + 2.3 * points[:, 1:2] + 1.1 * points[:, 2:3] + np.array([0.0, 1.0, 2.0]))
    return np.clip(base + wave, 0, 1).astype(np.float32)


def raycast(cam: Camera) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact image [H, W, 3], depth [H, W] (camera z, metres) and labels [H, W] of the room."""
    o, d = cam.pixel_rays()  # d has camera z = 1, so the ray parameter is the depth
    o, d = o.numpy(), d.numpy().reshape(-1, 3)
    with np.errstate(divide="ignore", invalid="ignore"):
        lo, hi = (ROOM[0] - o) / d, (ROOM[1] - o) / d
        t_axis = np.maximum(lo, hi)  # inside the room: exit distance per axis
        axis = np.argmin(t_axis, axis=1)
        t = t_axis[np.arange(len(d)), axis]
        cls = np.where(axis < 2, 0, np.where(d[:, 2] < 0, 1, 2))
        for blo, bhi, c in BOXES:
            a, b = (blo - o) / d, (bhi - o) / d
            tn, tf = np.minimum(a, b).max(axis=1), np.maximum(a, b).min(axis=1)
            hit = (tn <= tf) & (tn > 0) & (tn < t)
            t, cls = np.where(hit, tn, t), np.where(hit, c, cls)
    pts = o + d * t[:, None]
    h, w = cam.height, cam.width
    return _texture(pts, cls).reshape(h, w, 3), t.reshape(h, w).astype(np.float32), cls.reshape(h, w).astype(np.uint8)


def make_source(num_views: int = 10, width: int = 64, height: int = 48) -> SourceScene:
    """Cameras on a smooth arc at 1.4 m, 90 degree hfov (as Replica), panning ~12 degrees per view."""
    cams = []
    for k in range(num_views):
        a = np.radians(-40 + 12 * k)
        eye = np.array([1.0 + 0.12 * k, 2.2 - 0.05 * k, 1.4])
        target = eye + np.array([np.cos(a), -np.sin(a) * 0.8 - 0.3, -0.25])
        cams.append(Camera.look_at(eye, target, fov_x_deg=90.0, width=width, height=height))
    out = [raycast(c) for c in cams]
    return SourceScene(cams, np.stack([o[0] for o in out]), np.stack([o[1] for o in out]), np.stack([o[2] for o in out]))


# -- small file helpers ------------------------------------------------------------------------
def _png(path: Path, arr: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def _rgb8(img: np.ndarray) -> np.ndarray:
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)


def _mm(depth: np.ndarray) -> np.ndarray:
    return np.round(depth * 1000).astype(np.uint16)


def _c2w(cam: Camera, convention: str) -> np.ndarray:
    """The pose a file stores: OpenCV camera-to-world, OpenGL camera-to-world, or (a common
    mistake) the world-to-camera matrix ("w2c")."""
    if convention == "w2c":
        return cam.world_to_cam.numpy()
    c2w = cam.cam_to_world.numpy()
    return c2w @ GL if convention == "opengl" else c2w


# -- Replica (Semantic-NeRF) -------------------------------------------------------------------
def write_replica(src: SourceScene, root: Path, scene: str = "room_0", convention: str = "opencv", split_at: int = 6) -> Path:
    """``<root>/<scene>/Sequence_{1,2}/{rgb,depth,semantic_class}/`` + ``traj_w_c.txt``; views
    [0, split_at) go to Sequence_1. ``convention="opengl"`` writes poses in the wrong axes."""
    seqs = {"Sequence_1": range(split_at), "Sequence_2": range(split_at, len(src.cameras))}
    lut = replica_lut(src)
    for seq, views in seqs.items():
        d = root / scene / seq
        rows = []
        for i, v in enumerate(views):
            _png(d / "rgb" / f"rgb_{i}.png", _rgb8(src.images[v]))
            _png(d / "depth" / f"depth_{i}.png", _mm(src.depths[v]))
            _png(d / "semantic_class" / f"semantic_class_{i}.png", apply_lut(lut, src.labels[v]))
            _png(d / "semantic_class" / f"vis_sem_class_{i}.png", _rgb8(src.images[v]))  # colourised: must be skipped
            rows.append(" ".join(f"{x:.10f}" for x in _c2w(src.cameras[v], convention).ravel()))
        (d / "traj_w_c.txt").write_text("\n".join(rows) + "\n")
    return root / scene


# -- ScanNet (SensReader export) ---------------------------------------------------------------
def write_scannet(src: SourceScene, root: Path, scene: str = "scene0000_00", inf_pose: int | None = 3, colour_scale: int = 2) -> Path:
    """SensReader layout with colour at ``colour_scale`` x the depth/label size, OpenCV intrinsics,
    one ``-inf`` pose (frame ``inf_pose``) and one unknown raw label patch (frame 1)."""
    d = root / scene
    w, h = src.cameras[0].width, src.cameras[0].height
    cw, ch = w * colour_scale, h * colour_scale
    for i, cam in enumerate(src.cameras):
        img = raycast(cam.resized(cw, ch))[0] if colour_scale != 1 else src.images[i]
        (d / "color").mkdir(parents=True, exist_ok=True)
        Image.fromarray(_rgb8(img)).save(d / "color" / f"{i}.jpg", quality=95)
        _png(d / "depth" / f"{i}.png", _mm(src.depths[i]))
        raw = apply_lut(np.append(scannet_raw_lut(src), 0).astype(np.uint16), src.labels[i])  # 0 = unannotated
        if i == 1:
            raw[:4, :4] = SCANNET_UNKNOWN_RAW
        _png(d / "label-filt" / f"{i}.png", raw)
        pose = cam.cam_to_world.numpy()
        if i == inf_pose:
            pose = np.full((4, 4), -np.inf)
        (d / "pose").mkdir(exist_ok=True)
        np.savetxt(d / "pose" / f"{i}.txt", pose)
    K = np.eye(4)
    c = src.cameras[0].resized(cw, ch)
    K[0, 0], K[1, 1], K[0, 2], K[1, 2] = c.fx, c.fy, c.cx - 0.5, c.cy - 0.5  # OpenCV integer centres
    (d / "intrinsic").mkdir(exist_ok=True)
    np.savetxt(d / "intrinsic" / "intrinsic_color.txt", K)
    header = "id\traw_category\tcategory\tcount\tnyu40id\teigen13id\tnyuClass\tnyu40class\teigen13class\tModelNet40\tModelNet10\tShapeNetCore55\tsynsetoffset\twnsynsetid\twnsynsetkey\tmpcat40\tmpcat40index"
    rows = [f"{r}\t{n}\t{n}\t1\t{SCANNET_NYU[n]}\t0\t{n}\t{n}\t\t\t\t\t\t\t\t\t" for r, n in zip(scannet_raw_lut(src), src.class_names)]
    (root / "scannetv2-labels.combined.tsv").write_text("\n".join([header] + rows) + "\n")
    return d


# -- nerfstudio / ScanNet++ --------------------------------------------------------------------
def _ns_frame(src: SourceScene, i: int, name: str, convention: str) -> dict:
    return {"file_path": name, "transform_matrix": _c2w(src.cameras[i], convention).tolist()}


def _intrinsics_json(cam: Camera, model: str = "OPENCV") -> dict:
    return {"camera_model": model, "fl_x": cam.fx, "fl_y": cam.fy, "cx": cam.cx, "cy": cam.cy, "w": cam.width, "h": cam.height}


def write_nerfstudio(src: SourceScene, root: Path, convention: str = "opengl", with_depth: bool = True, angle_only: bool = False) -> Path:
    """``transforms.json`` + ``images/`` (+ ``depth/`` mm PNGs). ``convention="opencv"`` writes the
    wrong axes; ``angle_only`` stores ``camera_angle_x`` and no w/h (Blender style)."""
    meta = (
        {"camera_angle_x": 2 * np.arctan(src.cameras[0].width / (2 * src.cameras[0].fx))}
        if angle_only
        else _intrinsics_json(src.cameras[0])
    )
    frames = []
    for i in range(len(src.cameras)):
        name = f"images/frame_{i + 1:05d}.png"
        _png(root / name, _rgb8(src.images[i]))
        fr = _ns_frame(src, i, name, convention)
        if with_depth:
            _png(root / f"depth/frame_{i + 1:05d}.png", _mm(src.depths[i]))
            fr["depth_file_path"] = f"depth/frame_{i + 1:05d}.png"
        frames.append(fr)
    meta["frames"] = frames
    root.mkdir(parents=True, exist_ok=True)
    (root / "transforms.json").write_text(json.dumps(meta, indent=1))
    return root


def write_scannetpp(src: SourceScene, root: Path, scene: str = "0a5c013435", undistorted: bool = True, label_scale: int = 1) -> Path:
    """ScanNet++ DSLR: undistorted images + ``transforms_undistorted.json`` (frames / test_frames),
    toolkit semantics ``dslr/semantics/<image>.png`` (top-100 index) at 1/``label_scale`` size;
    ``undistorted=False`` writes only the fisheye ``transforms.json``."""
    d = root / scene / "dslr"
    names = [f"DSC{i + 1:05d}.JPG" for i in range(len(src.cameras))]
    test = set(range(2, len(names), 4))
    cam0 = src.cameras[0]
    if not undistorted:
        meta = _intrinsics_json(cam0, "OPENCV_FISHEYE") | {"k1": 0.01, "k2": -0.002, "k3": 0.0, "k4": 0.0}
        meta["frames"] = [_ns_frame(src, i, n, "opengl") for i, n in enumerate(names)]
        (d / "nerfstudio").mkdir(parents=True, exist_ok=True)
        (d / "nerfstudio" / "transforms.json").write_text(json.dumps(meta))
        return root / scene
    meta = _intrinsics_json(cam0, "PINHOLE") | {"k1": 0.0, "k2": 0.0, "k3": 0.0, "k4": 0.0}
    meta["frames"] = [_ns_frame(src, i, n, "opengl") for i, n in enumerate(names) if i not in test]
    meta["test_frames"] = [_ns_frame(src, i, n, "opengl") for i, n in enumerate(names) if i in test]
    lut = top100_lut(src)
    lw, lh = cam0.width // label_scale, cam0.height // label_scale
    for i, n in enumerate(names):
        (d / "undistorted_images").mkdir(parents=True, exist_ok=True)
        Image.fromarray(_rgb8(src.images[i])).save(d / "undistorted_images" / n, format="JPEG", quality=95)
        lab = src.labels[i] if label_scale == 1 else raycast(src.cameras[i].resized(lw, lh))[2]
        _png(d / "semantics" / f"{n}.png", apply_lut(lut, lab))  # toolkit: semantics/<scene>/<image name>.png
    (d / "nerfstudio").mkdir(parents=True, exist_ok=True)
    (d / "nerfstudio" / "transforms_undistorted.json").write_text(json.dumps(meta, indent=1))
    return root / scene


# -- INRIA trainer output ----------------------------------------------------------------------
def tiny_gaussians(n: int = 20, seed: int = 0) -> GaussianScene:
    g = torch.Generator().manual_seed(seed)
    return GaussianScene(
        means=torch.rand(n, 3, generator=g) * torch.tensor([4.0, 3.0, 2.5]),
        quats=torch.nn.functional.normalize(torch.randn(n, 4, generator=g), dim=1),
        log_scales=torch.full((n, 3), -3.0),
        opacity_logits=torch.zeros(n),
        sh=torch.rand(n, 1, 3, generator=g) - 0.5,
    )


def write_gaussian_output(src: SourceScene, root: Path, with_images: bool = True, with_semantic: bool = True) -> Path:
    """``point_cloud/iteration_{7000,30000}/point_cloud.ply`` (different scenes), ``cameras.json``
    (shuffled order), ``images/{idx}_{seq}.png`` and raw Replica-id ``semantic/`` as the RT-GS2
    re-packed layout."""
    write_ply(tiny_gaussians(10, seed=1), root / "point_cloud" / "iteration_7000" / "point_cloud.ply")
    write_ply(tiny_gaussians(20, seed=2), root / "point_cloud" / "iteration_30000" / "point_cloud.ply")
    names = [f"{i}_{1 + i % 2}" for i in range(len(src.cameras))]
    order = np.random.default_rng(0).permutation(len(names))
    write_cameras_json([src.cameras[i] for i in order], root / "cameras.json", names=[names[i] for i in order])
    lut = replica_lut(src)
    for i, n in enumerate(names):
        if with_images:
            _png(root / "images" / f"{n}.png", _rgb8(src.images[i]))
        if with_semantic:
            _png(root / "semantic" / f"{n}.png", apply_lut(lut, src.labels[i]))
    return root


# -- COLMAP ------------------------------------------------------------------------------------
def _qt(cam: Camera) -> tuple[np.ndarray, np.ndarray]:
    w2c = cam.world_to_cam.numpy()
    x, y, z, w = Rotation.from_matrix(w2c[:3, :3]).as_quat()
    return np.array([w, x, y, z]), w2c[:3, 3]


def write_colmap(src: SourceScene, root: Path, binary: bool = False, model: str = "PINHOLE", num_points: int = 50) -> Path:
    """``sparse/0/{cameras,images,points3D}.{txt|bin}`` + ``images/``; ``model`` SIMPLE_PINHOLE,
    PINHOLE or OPENCV (zero distortion, still refused)."""
    md = root / "sparse" / "0"
    md.mkdir(parents=True, exist_ok=True)
    c = src.cameras[0]
    params = {"PINHOLE": [c.fx, c.fy, c.cx, c.cy], "SIMPLE_PINHOLE": [c.fx, c.cx, c.cy], "OPENCV": [c.fx, c.fy, c.cx, c.cy, 0, 0, 0, 0]}[
        model
    ]
    model_id = {"SIMPLE_PINHOLE": 0, "PINHOLE": 1, "OPENCV": 4}[model]
    names = [f"img_{i:03d}.png" for i in range(len(src.cameras))]
    for i, n in enumerate(names):
        _png(root / "images" / n, _rgb8(src.images[i]))
    xyz, (v, r, col) = _colmap_points(src, num_points)
    rgb = _rgb8(src.images[v, r, col])
    if binary:
        with open(md / "cameras.bin", "wb") as f:
            f.write(struct.pack("<Q", 1) + struct.pack("<iiQQ", 1, model_id, c.width, c.height) + struct.pack(f"<{len(params)}d", *params))
        with open(md / "images.bin", "wb") as f:
            f.write(struct.pack("<Q", len(names)))
            for i, n in enumerate(names):
                q, t = _qt(src.cameras[i])
                f.write(struct.pack("<idddddddi", i + 1, *q, *t, 1) + n.encode() + b"\0")
                f.write(struct.pack("<Q", 1) + struct.pack("<ddq", 1.5, 2.5, -1))  # one 2D point, untriangulated
        with open(md / "points3D.bin", "wb") as f:
            f.write(struct.pack("<Q", num_points))
            f.writelines(
                struct.pack("<QdddBBBd", k + 1, *xyz[k], *rgb[k], 0.5) + struct.pack("<Q", 1) + struct.pack("<ii", int(v[k]) + 1, 0)
                for k in range(num_points)
            )
        return root
    (md / "cameras.txt").write_text(
        "# Camera list with one line of data per camera:\n"
        + f"1 {model} {c.width} {c.height} "
        + " ".join(f"{float(x):.17g}" for x in params)
        + "\n"
    )
    lines = ["# Image list with two lines of data per image:", "#   IMAGE_ID, QW, QX, QY, QZ, TX, TY, TZ, CAMERA_ID, NAME"]
    for i, n in enumerate(names):
        q, t = _qt(src.cameras[i])
        lines += [f"{i + 1} " + " ".join(f"{float(x):.17g}" for x in [*q, *t]) + f" 1 {n}", "" if i % 2 else "1.5 2.5 -1"]
    (md / "images.txt").write_text("\n".join(lines) + "\n")
    pts = [
        f"{k + 1} {xyz[k][0]:.17g} {xyz[k][1]:.17g} {xyz[k][2]:.17g} {rgb[k][0]} {rgb[k][1]} {rgb[k][2]} 0.5 {v[k] + 1} 0"
        for k in range(num_points)
    ]
    (md / "points3D.txt").write_text("# 3D point list\n" + "\n".join(pts) + "\n")
    return root


def _colmap_points(src: SourceScene, num_points: int) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """[P, 3] surface points seen at random pixels (seeded) and their (view, row, col)."""
    rng = np.random.default_rng(0)
    c = src.cameras[0]
    v = rng.integers(0, len(src.cameras), num_points)
    r, col = rng.integers(0, c.height, num_points), rng.integers(0, c.width, num_points)
    rays = {k: src.cameras[k].pixel_rays() for k in set(v.tolist())}
    xyz = np.stack(
        [rays[v[m]][0].numpy() + rays[v[m]][1][r[m], col[m]].numpy() * src.depths[v[m], r[m], col[m]] for m in range(num_points)]
    )
    return xyz, (v, r, col)


def colmap_points_truth(src: SourceScene, num_points: int = 50) -> np.ndarray:
    """[P, 3] the points :func:`write_colmap` writes (same seed)."""
    return _colmap_points(src, num_points)[0]
