"""``rtgs2 data check``: per-scene frame counts, label histogram, unknown label ids, and a
multi-view pose check that catches a wrong camera convention on real data.

Pose check: back-project a view's depth to world points, project them into a neighbouring view
and compare their predicted depth with that view's depth map; the median relative error over
co-visible pixels is ~0 (sensor noise, occlusion edges) for correct poses and large, or without
co-visible pixels at all, when the camera axes are wrong (e.g. OpenGL read as OpenCV).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from rtgs2.data.check_config import DataCheckConfig
from rtgs2.data.open import OpenedDataset, open_dataset
from rtgs2.data.readers.common import OPENGL_TO_OPENCV, SceneInfo
from rtgs2.data.views import IGNORE_LABEL, SceneViews
from rtgs2.scene.camera import Camera
from rtgs2.utils.io import atomic_write_text
from rtgs2.utils.lock import check_output_folder

MARKER = "data_check.json"  # written first into an output folder: a rerun may write there again, nothing else
POSE_REL_TOL = 0.05  # median |z_pred - z_obs| / z_obs above this flags a pose problem. Measured on the
# test fixtures (64x48 box room, SynthRooms mini): 0.003-0.005 with correct poses (nearest-pixel
# sampling on slanted surfaces), 0.08-0.50 with OpenGL or world-to-camera poses read as OpenCV
# camera-to-world; real RGB-D adds ~0.01-0.03 (sensor noise, occlusion edges; not measured here)
MIN_COVISIBLE = 0.05  # fraction of a view's valid depth pixels seen by its neighbour; below it the pair says nothing
NEIGHBOUR_SPAN = 15  # a view's neighbour is searched among the views up to this many places away
MIN_OVERLAP = 0.3  # ... and must see at least this fraction of the view's depth points in its frustum
ALT_FACTOR = 3.0  # poses that fit this many times better in another convention are flagged
NEAR = 1e-3  # metres: points closer to a camera than this are treated as behind it
# Conventions a pose file is commonly misread in, as maps of the world_to_cam read -> the one meant.
# Pairs only see relative poses; OpenGL axes conjugate them by OPENGL_TO_OPENCV (its own inverse:
# flip camera y and z), which leaves motion along and rotation about camera x unchanged, so
# neighbours are chosen where the two differ most.
ALTERNATIVES = {
    "OpenGL camera axes (flip y and z)": lambda w2c: OPENGL_TO_OPENCV @ w2c,
    "world-to-camera matrices (invert them)": lambda w2c: np.linalg.inv(w2c),
}


@dataclass
class PairCheck:
    """Reprojection of view ``src``'s depth into view ``dst``."""

    src: int
    dst: int
    covisible: float  # fraction of src valid-depth pixels landing on valid dst depth
    median_rel_error: float  # median |z_pred - z_dst| / z_dst over those pixels (nan if none)


@dataclass
class SceneCheck:
    """What ``check_scene`` found in one scene."""

    name: str
    num_frames: int
    num_train: int
    num_test: int
    dropped_frames: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    label_histogram: dict[str, int] = field(default_factory=dict)  # class name (or "ignore") -> pixels
    unknown_label_ids: dict[int, int] = field(default_factory=dict)  # raw id -> pixels, in the frames read
    pairs: list[PairCheck] = field(default_factory=list)
    pose_error: float | None = None  # median over pairs of median_rel_error
    pose_ok: bool | None = None  # None when the scene has no depth
    pose_note: str = ""  # why the pose check failed
    alt_errors: dict[str, float] = field(default_factory=dict)  # pose_error if the poses were read in another convention

    @property
    def pose_verdict(self) -> str:
        if self.pose_ok is None:
            return "skipped (no depth)"
        return "ok" if self.pose_ok else f"FAILED: {self.pose_note}"


def reproject(
    cam_src: Camera,
    depth_src: torch.Tensor,  # [H, W] metres, 0 = unknown
    cam_dst: Camera,
    step: int = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Back-project ``depth_src`` (every ``step``-th pixel with a depth) and project into ``cam_dst``.

    Returns:
        src_pix [M, 2] int (row, col) of the source pixels, uv [M, 2] float dst image
        coordinates (+0.5 centres; non-finite for points on the dst camera plane), z [M] depth
        in the dst camera, metres.
    """
    src_pix, uv, z = cam_src.reproject(depth_src, cam_dst, step=step)
    return src_pix.numpy(), uv.numpy(), z.numpy()


def compare_depth(uv: np.ndarray, z: np.ndarray, cam_dst: Camera, depth_dst: torch.Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sample ``depth_dst`` at the nearest pixel of each projection in front of the camera.

    Returns (valid [M] bool, dst pixel [M, 2] int (row, col), relative error [M] (nan where invalid)).
    """
    dd = depth_dst.detach().cpu().numpy()
    row, col, ok = (t.numpy() for t in cam_dst.pixel_at(torch.from_numpy(uv), torch.from_numpy(z), NEAR))
    obs = np.zeros_like(z)
    obs[ok] = dd[row[ok], col[ok]]
    ok &= obs > 0
    err = np.full_like(z, np.nan)
    err[ok] = np.abs(z[ok] - obs[ok]) / obs[ok]
    return ok, np.stack([row, col], axis=1), err


def _mirror_gap(a: Camera, b: Camera, typical_depth: float) -> float:
    """How differently the a -> b motion looks in OpenCV and OpenGL axes: rotation angle between
    R and F R F (radians) plus the y, z translation over ``typical_depth`` (metres; F = diag(1, -1, -1))."""
    rel = b.world_to_cam.numpy() @ a.cam_to_world.numpy()
    R, t = rel[:3, :3], rel[:3, 3]
    F = OPENGL_TO_OPENCV[:3, :3]
    cos = np.clip((np.trace(R.T @ F @ R @ F) - 1) / 2, -1, 1)
    return float(np.arccos(cos) + 2 * np.hypot(t[1], t[2]) / typical_depth)


def choose_neighbour(views: SceneViews, i: int, span: int = NEIGHBOUR_SPAN) -> int | None:
    """The view within ``span`` places of ``i`` (or among its ``span`` nearest camera centres) that
    sees at least MIN_OVERLAP of view i's depth points and whose relative pose differs most between
    OpenCV and OpenGL axes (None if none does)."""
    cams = views.cameras
    depth = views.depths[i]
    valid = depth[depth > 0]
    if valid.numel() == 0:
        return None
    typical_depth = float(valid.median())  # metres
    step = max(1, cams[i].width // 64)  # ~64 columns of points are enough to measure overlap
    centres = torch.stack([c.center for c in cams])
    nearest = torch.argsort((centres - centres[i]).norm(dim=1))[1 : span + 1].tolist()  # unordered captures
    best, best_gap = None, -1.0
    for j in sorted(set(range(max(0, i - span), min(len(cams), i + span + 1))) | set(nearest)):
        if j == i:
            continue
        _, uv, z = cams[i].reproject(depth, cams[j], step=step)
        inside = cams[j].pixel_at(uv, z, NEAR)[2]
        if len(z) and float(inside.double().mean()) >= MIN_OVERLAP:
            gap = _mirror_gap(cams[i], cams[j], typical_depth)
            if gap > best_gap:
                best, best_gap = j, gap
    return best


def check_pose_pair(views: SceneViews, src: int, dst: int, step: int | None = None) -> tuple[PairCheck, dict]:
    """Pose check of one pair (every ``step``-th source pixel; default about 320 columns); also
    returns the arrays needed to draw it."""
    cs, cd = views.cameras[src], views.cameras[dst]
    step = step or max(1, round(cs.width / 320))
    ds, dd = views.depths[src], views.depths[dst]
    src_pix, uv, z = reproject(cs, ds, cd, step)
    ok, dst_pix, err = compare_depth(uv, z, cd, dd)
    n = len(z)
    med = float(np.median(err[ok])) if ok.any() else float("nan")
    alt = {}
    for name, fix in ALTERNATIVES.items():
        try:
            a_s, a_d = (Camera(c.K, fix(c.world_to_cam.numpy()), c.width, c.height) for c in (cs, cd))
        except ValueError:  # not a rigid transform in that reading
            continue
        _, auv, az = reproject(a_s, ds, a_d, step)
        aok, _, aerr = compare_depth(auv, az, a_d, dd)
        alt[name] = float(np.median(aerr[aok])) if aok.sum() >= MIN_COVISIBLE * n else float("inf")
    arrays = {"src_pix": src_pix, "dst_pix": dst_pix, "ok": ok, "err": err, "step": step, "alt": alt}
    return PairCheck(src, dst, float(ok.sum() / n) if n else 0.0, med), arrays


def _label_histogram(views: SceneViews, max_frames: int) -> dict[str, int]:
    n = len(views)
    idx = np.unique(np.linspace(0, n - 1, min(n, max_frames)).round().astype(int))
    counts = np.zeros(256, dtype=np.int64)
    for i in idx:
        counts += np.bincount(views.labels[i].numpy().ravel(), minlength=256)
    names = views.label_map.names if views.label_map is not None else [str(k) for k in range(IGNORE_LABEL)]
    hist = {names[k] if k < len(names) else f"label {k}": int(c) for k, c in enumerate(counts) if c and k != IGNORE_LABEL}
    if counts[IGNORE_LABEL]:
        hist["ignore"] = int(counts[IGNORE_LABEL])
    return hist


def check_scene(
    views: SceneViews, info: SceneInfo | None = None, cfg: DataCheckConfig = DataCheckConfig()
) -> tuple[SceneCheck, list[tuple[PairCheck, dict]]]:
    """Frame counts, label histogram (over up to ``cfg.max_label_frames`` evenly spaced frames),
    unknown label ids and the pose check over ``cfg.num_pairs`` evenly spaced views."""
    info = info or SceneInfo("unknown", Path("."))
    out = SceneCheck(
        views.name, len(views), len(views.indices("train")), len(views.indices("test")),
        dict(info.dropped_frames), list(info.warnings),
    )  # fmt: skip
    if views.labels is not None:
        out.label_histogram = _label_histogram(views, cfg.max_label_frames)
        out.unknown_label_ids = dict(sorted(info.unknown_label_ids.items()))
    drawn = []
    if views.depths is not None and len(views) > 1:
        srcs = np.unique(np.linspace(0, len(views) - 1, min(cfg.num_pairs, len(views))).round().astype(int))
        for s in srcs:
            d = choose_neighbour(views, int(s))
            if d is not None:
                drawn.append(check_pose_pair(views, int(s), d))
        out.pairs = [p for p, _ in drawn]
        use = [k for k, p in enumerate(out.pairs) if p.covisible >= MIN_COVISIBLE]
        # too few co-visible pixels everywhere is itself the symptom of cameras looking the wrong way
        out.pose_error = float(np.median([out.pairs[k].median_rel_error for k in use])) if use else float("inf")
        for name in ALTERNATIVES:
            errs = [drawn[k][1]["alt"].get(name, float("inf")) for k in use]
            out.alt_errors[name] = float(np.median(errs)) if errs else float("inf")
        best = min(out.alt_errors, key=out.alt_errors.get) if out.alt_errors else None
        better = best is not None and out.alt_errors[best] < POSE_REL_TOL and out.alt_errors[best] * ALT_FACTOR < out.pose_error
        out.pose_ok = bool(drawn) and len(use) * 2 >= len(out.pairs) and out.pose_error < POSE_REL_TOL and not better
        if better:
            out.pose_note = (
                f"the poses fit {out.pose_error / max(out.alt_errors[best], 1e-9):.0f}x better read as {best} "
                f"(median depth disagreement {out.alt_errors[best]:.1%} instead of {out.pose_error:.1%})"
            )
        elif not drawn or not use:
            out.pose_note = "no view pair shares enough depth pixels (wrong camera convention, or views too far apart)"
        elif out.pose_error >= POSE_REL_TOL:
            out.pose_note = (
                f"median depth disagreement {out.pose_error:.1%} > {POSE_REL_TOL:.0%}: check the camera convention "
                "(OpenCV vs OpenGL axes), the pose direction (camera-to-world vs world-to-camera) and the depth units"
            )
        elif not out.pose_ok:
            out.pose_note = f"only {len(use)} of {len(out.pairs)} view pairs share enough pixels (>= {MIN_COVISIBLE:.0%})"
    return out, drawn


def _image_or_gray(views: SceneViews, i: int) -> np.ndarray:
    try:
        return views.images[i].numpy()
    except FileNotFoundError:
        c = views.cameras[i]
        return np.full((c.height, c.width, 3), 0.5, dtype=np.float32)


def _error_colour(err: np.ndarray) -> np.ndarray:
    """[M] relative errors -> [M, 3] colours: green (0) to red (>= 2 * POSE_REL_TOL)."""
    t = np.clip(err / (2 * POSE_REL_TOL), 0, 1)[:, None]
    return (1 - t) * np.array([0.1, 0.8, 0.1]) + t * np.array([0.9, 0.1, 0.1])


def draw_pairs(views: SceneViews, drawn: list[tuple[PairCheck, dict]], path: Path, max_rows: int = 3, height: int = 160) -> Path:
    """PNG with one row per pair: source, destination, source warped into destination, error map."""
    rows = []
    for pair, a in drawn[:max_rows]:
        src, dst = _image_or_gray(views, pair.src), _image_or_gray(views, pair.dst)
        warped = np.zeros_like(dst)
        errmap = np.full_like(dst, 0.3)
        ok = a["ok"]
        sr, sc = a["src_pix"][ok, 0], a["src_pix"][ok, 1]
        dr, dc = a["dst_pix"][ok, 0], a["dst_pix"][ok, 1]
        colour = _error_colour(a["err"][ok])
        for dy in range(a["step"]):  # fill the step x step block each sampled pixel stands for
            for dx in range(a["step"]):
                r, c = np.minimum(dr + dy, dst.shape[0] - 1), np.minimum(dc + dx, dst.shape[1] - 1)
                warped[r, c] = src[np.minimum(sr + dy, src.shape[0] - 1), np.minimum(sc + dx, src.shape[1] - 1)]
                errmap[r, c] = colour
        tiles = []
        for t in (src, dst, warped, errmap):
            im = Image.fromarray((np.clip(t, 0, 1) * 255).astype(np.uint8))
            tiles.append(np.asarray(im.resize((max(1, round(im.width * height / im.height)), height), Image.NEAREST)))
        rows.append(np.concatenate(tiles, axis=1))
    if not rows:
        raise ValueError(f"scene {views.name!r}: no pairs to draw")
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.png")
    Image.fromarray(np.concatenate(rows, axis=0)).save(tmp)
    tmp.replace(path)
    return path


def check_dataset(ds: OpenedDataset, out_dir: Path | None = None, cfg: DataCheckConfig = DataCheckConfig()) -> list[SceneCheck]:
    """:func:`check_scene` on every scene; with ``out_dir``, a ``<scene>_reprojection.png`` each."""
    checks = []
    for views in ds.scenes:
        chk, drawn = check_scene(views, ds.infos.get(views.name), cfg)
        if out_dir is not None and drawn:
            draw_pairs(views, drawn, Path(out_dir) / f"{views.name}_reprojection.png")
        checks.append(chk)
    return checks


def run_data_check(path: Path, out_dir: Path, label_set: str | None = None, split_scenes: str | None = None,
                   cfg: DataCheckConfig = DataCheckConfig()) -> list[SceneCheck]:  # fmt: skip
    """Open ``path``, check every scene, print a report (rich) and write reprojection PNGs to ``out_dir``."""
    from rich.console import Console
    from rich.table import Table

    check_output_folder(out_dir, MARKER, "an rtgs2 data check output")
    console = Console()
    ds = open_dataset(path, label_set=label_set, split_scenes=split_scenes, frame_stride=cfg.frame_stride)
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / MARKER, json.dumps({"data": str(Path(path).resolve()), "format": ds.format}) + "\n")
    console.print(f"[bold]{path}[/]: format {ds.format}, {len(ds.scenes)} scenes, label set {ds.label_set}")
    for split, names in ds.scene_split.items():
        console.print(
            f"  split {split}: {len(names)} scenes" + (f", missing {ds.missing_scenes[split]}" if split in ds.missing_scenes else "")
        )
    checks = check_dataset(ds, out_dir, cfg)
    table = Table("scene", "frames", "train", "test", "dropped", "pose err (median rel)", "pose check")
    for c in checks:
        err = "-" if c.pose_error is None else f"{c.pose_error:.4f}"
        table.add_row(
            c.name, str(c.num_frames), str(c.num_train), str(c.num_test), str(sum(c.dropped_frames.values())), err, c.pose_verdict
        )
    console.print(table)
    for c in checks:
        if c.label_histogram:
            top = sorted(c.label_histogram.items(), key=lambda kv: -kv[1])[:12]
            console.print(f"{c.name} labels (top): " + ", ".join(f"{k} {v}" for k, v in top))
        if c.unknown_label_ids:
            console.print(f"[yellow]{c.name}: raw label ids absent from the label set (mapped to ignore): {c.unknown_label_ids}[/]")
        for w in c.warnings:
            console.print(f"[yellow]{c.name}: {w}[/]")
    console.print(f"reprojection images in {out_dir}")
    return checks
