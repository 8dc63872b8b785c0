"""``rtgs2 segment``: label views of any 3DGS ``.ply`` with a fusion model and write them out.

The cameras come from an INRIA ``cameras.json`` or from an automatic orbit
(:func:`rtgs2.pipeline.cameras.orbit_cameras`).
Features are taken from the file's ``f_vi_*`` or extracted once and cached (:class:`Segmenter`).
Output folder (a new or empty one, or an earlier ``segment`` output; only its own files are
written or replaced)::

    segment.json       scene, weights (and ONNX file), cameras, frames, pixels per class, FPS (written first)
    frame_<kkkk>.png   rendered image | label overlay (classes in the model's class colours)
    segment.gif        the frames in a loop, with a legend of the classes seen

FPS is the median per-frame time of render + network + arg-max over the frames, after one
untimed warm-up frame (numba compilation), as :func:`~rtgs2.pipeline.segmenter.measure_fps`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image

from rtgs2.data.views import IGNORE_LABEL
from rtgs2.features.inputs import SceneFrame
from rtgs2.fusion.io import fusion_weights_path
from rtgs2.pipeline.cameras import Orbit, check_cameras_see, check_views, orbit_cameras, orbit_frame
from rtgs2.pipeline.draw import class_label_map, gif_frame, legend, overlay, to_uint8, write_gif
from rtgs2.pipeline.segmenter import FrameRate, FrameTimer, Segmenter
from rtgs2.pipeline.view_defaults import ORBIT_VIEWS, VIEW_HEIGHT, VIEW_WIDTH
from rtgs2.render import PER_FRAME
from rtgs2.scene.cameras_json import read_cameras_json
from rtgs2.utils.errors import UserError
from rtgs2.utils.io import atomic_write_text
from rtgs2.utils.lock import check_output_folder

MARKER = "segment.json"
FORMAT = "rtgs2-segment-1"
GIF_FPS = 8
@dataclass
class SegmentResult:
    """What :func:`segment_scene` wrote and measured."""

    frames: list[Path]  # frame_<kkkk>.png
    gif: Path
    summary: Path  # segment.json
    frame_rate: FrameRate
    class_pixels: dict[str, int]  # pixels per class name over all frames ("unlabelled" included)
    orbit: Orbit | None  # None with a cameras.json
    frame: SceneFrame  # the scene's units and up axis the features were computed in
    fallback: str | None = None  # why and which image-only model labelled in place of the one asked for (Segmenter.fallback)


def segment_scene(
    scene: str | Path,
    out: str | Path,
    *,
    cameras: str | Path | None = None,
    views: int | None = None,
    width: int = VIEW_WIDTH,
    height: int = VIEW_HEIGHT,
    weights: str | Path | None = None,
    feature_weights: str | Path | None = None,
    device: str = "cpu",
    metres_per_unit: float | None = None,
    up: str = "+z",
    exact_render: bool = False,
    onnx: str | Path | None = None,
    compile_network: bool = False,
    precision: str = "float32",
    network_scale: int | str = "auto",
    image_fallback: bool = True,
) -> SegmentResult:
    """Segment views of the 3DGS ``scene`` (.ply) into the folder ``out`` (module doc).

    Args:
        cameras: an INRIA cameras.json giving the views (at its image sizes); else an orbit.
        views: views on the automatic orbit (:func:`orbit_cameras`; default ORBIT_VIEWS), as
            ``rtgs2 lift``'s ``views`` counts its automatic views.
        width, height: image size of the orbit's views, pixels.
        weights: fusion model (default: the shipped one).
        feature_weights: feature network for scenes without fitting ``f_vi_*`` (default: the
            one on the fusion model's card, else the shipped one).
        metres_per_unit, up: the file's units and up axis (:meth:`Segmenter.from_files`; default
            chosen from the scene's size, z up); the result's ``frame`` says which the features
            used. The orbit is placed in :func:`orbit_frame`.
        exact_render: render with the numba backend's exact blend kernel, Z averaged to the
            network's resolution afterwards (the per-frame path before its own kernel: to compare).
        onnx: run the network from this ONNX file of the model at ``weights`` (``rtgs2 export onnx
            --coarse``, float or int8) with onnxruntime; its image size must be the cameras'.
        compile_network: run the torch network compiled (``torch.compile``; ``Segmenter``).
        precision: the compiled network's arithmetic: float32, bfloat16 or auto (``Segmenter``).
        network_scale: the network reads each view at 1/s of its size, "auto" (2 at 640x480) or
            an integer, 1 = whole (``Segmenter``).
        image_fallback: label with the model's image-only fallback where the scene's features are
            out of its training distribution (``Segmenter.from_files``; the result's ``fallback`` says when).

    Raises:
        ValueError: both ``cameras`` and ``views``, bad sizes, a cameras.json that does not parse
            or lists no camera, an output path that is a file or a folder holding other things.
        FileNotFoundError: the scene, cameras, or weights are missing.
    """
    out = Path(out)
    check_output_folder(out, MARKER, "an rtgs2 segment output")
    if cameras is not None and views is not None:
        raise UserError("give either --cameras (a cameras.json) or --views (a number of automatic views), not both")
    cams = None
    if cameras is not None:
        cams = read_cameras_json(cameras)
        if not cams:
            raise UserError(f"{cameras}: lists no camera")
    else:
        views = ORBIT_VIEWS if views is None else views
        check_views(views, width, height, "views")  # before loading anything
    weights = fusion_weights_path(weights)
    settings = replace(PER_FRAME, frame_kernel=not exact_render)
    segmenter = Segmenter.from_files(
        scene, weights, feature_weights=feature_weights, device=device, metres_per_unit=metres_per_unit, up=up,
        render_settings=settings, onnx=onnx, compile_network=compile_network, precision=precision,
        network_scale=network_scale, image_fallback=image_fallback,
    )  # fmt: skip
    orbit_ = None
    if cams is None:
        orbit_ = orbit_cameras(segmenter.scene, views, width, height, orbit_frame(metres_per_unit, up))
        orbit_.metres_given = metres_per_unit is not None
        cams = orbit_.cameras
    check_cameras_see(segmenter.scene, cams, scene)  # before anything is written
    segmenter.check_cameras(cams)
    names = segmenter.label_names
    label_map = class_label_map(names)

    old = _previous_frames(out)
    record = {
        "format": FORMAT,
        "finished": False,
        "scene": str(Path(scene).resolve()),
        "weights": str(weights.resolve()),
        "onnx": str(Path(onnx).resolve()) if onnx is not None else None,
        "network": segmenter.network,
        "cameras": str(Path(cameras).resolve()) if cameras is not None else None,
        "orbit": {k: v for k, v in asdict(orbit_).items() if k != "cameras"} if orbit_ else None,
        "frame": asdict(segmenter.frame),
        "feature_shift": asdict(segmenter.feature_shift) if segmenter.feature_shift is not None else None,
        "fallback": segmenter.fallback,
        "class_names": names,
    }
    # Until this run finishes, the list holds the earlier run's frames and all of this run's, so
    # that a rerun after a kill still knows every frame file written here.
    mine = {f"frame_{k:04d}.png" for k in range(len(cams))}
    record["frames"] = sorted(set(old) | mine)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / MARKER, json.dumps(record, indent=1))
    for name in set(old) - mine:  # an earlier run's frames that this run does not rewrite
        (out / name).unlink(missing_ok=True)

    segmenter.segment(cams[0])  # warm-up, untimed: numba compiles its kernels on first use
    counts = np.zeros(256, np.int64)
    frames, panels, timer = [], [], FrameTimer()
    for k, cam in enumerate(cams):
        view = timer.segment(segmenter, cam)
        labels = view.labels.numpy()
        counts += np.bincount(labels.ravel(), minlength=256)
        image = to_uint8(view.rgb)
        panel = np.concatenate([image, overlay(image, labels, label_map)], 1)
        frames.append(out / f"frame_{k:04d}.png")
        Image.fromarray(panel).save(frames[-1])
        panels.append(gif_frame(panel))
    rate = timer.rate(cams[0])

    seen = [k for k in range(label_map.num_classes) if counts[k] > 0]
    gif = out / "segment.gif"
    if len({p.shape for p in panels}) == 1:
        write_gif(gif, panels, GIF_FPS, legend(label_map, seen, panels[0].shape[1]))
    else:  # cameras of several image sizes: each frame on a canvas of the largest
        h, w = max(p.shape[0] for p in panels), max(p.shape[1] for p in panels)
        canvases = [np.pad(p, ((0, h - p.shape[0]), (0, w - p.shape[1]), (0, 0))) for p in panels]
        write_gif(gif, canvases, GIF_FPS, legend(label_map, seen, w))
    class_pixels = {label_map.names[k]: int(counts[k]) for k in range(label_map.num_classes)}
    class_pixels["unlabelled"] = int(counts[IGNORE_LABEL])
    record.update(
        finished=True,
        frames=[p.name for p in frames],
        gif=gif.name,
        class_pixels=class_pixels,
        frame_rate={**asdict(rate), "note": "median over the frames after one warm-up frame; render + network + arg-max"},
        device=device,
        network=segmenter.network,  # known once a frame ran: a compile that failed fell back to eager
        network_scale=segmenter.scale_for(cams[0].height, cams[0].width),  # of the first view's size
    )
    atomic_write_text(out / MARKER, json.dumps(record, indent=1))
    return SegmentResult(frames, gif, out / MARKER, rate, class_pixels, orbit_, segmenter.frame, segmenter.fallback)


def _previous_frames(out: Path) -> list[str]:
    """The frame files an earlier segment run listed in ``out``'s segment.json (names only)."""
    try:
        listed = json.loads((out / MARKER).read_text()).get("frames", [])
    except (OSError, ValueError, AttributeError):
        return []
    return [n for n in listed if isinstance(n, str) and n.startswith("frame_") and "/" not in n and "\\" not in n]
