"""``rtgs2 demo``: segment a SynthRooms room no model has seen, and score it against its ground truth.

The room is built exactly as the data set's rooms of preset DEMO_PRESET are (v2: the v2 room
generator, 64 views of 320x240 along a hand-held loop at eye height, a 3DGS fitted by
``rtgs2.recon`` for 200 steps to the 56 training views, at most 100k Gaussians), from data set
seed DEMO_DATA_SEED: the presets' rooms come from seed 0 and the further rooms of v3x3 from seeds
1 and 2 (TRAINED_SEEDS), so this one is none of the rooms the shipped models were trained or
tested on. Fitted rather than surface-sampled Gaussians, because
the model was trained on fitted ones and their artefacts are part of what it must cope with.
Building it costs about 1.5 min on 2 cores (the v2 build: 40 scenes in 61 min; the first demo
took 76 s in all, 2026-12-05). Only once: the room is cached in ``<cache>/demo/``, the features of its
Gaussians in ``<cache>/features``, and a second run takes seconds.

``num_views`` views evenly spaced along the room's loop are segmented with the fusion model
(the shipped one unless ``weights`` is given); the folder ``out`` receives

    demo.gif           image | prediction | ground truth for each view, looping, with a legend
    contact_sheet.png  rows image / prediction / ground truth for SHEET_VIEWS of the views, legend
    metrics.json       mIoU, mean class accuracy, pixel accuracy, IoU per class, FPS, scene, weights

and mIoU, pixel accuracy and FPS are printed. The scores count every ground-truth pixel (a pixel
the model leaves unlabelled is wrong); FPS is the median per-frame time of render + network +
arg-max after one untimed warm-up frame.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image
from rich.console import Console
from rich.progress import track

from rtgs2.data.readers.synthrooms import DONE, list_scenes, open_scene, synthrooms_label_map
from rtgs2.data.segmentation import confusion_with_unlabelled, segmentation_metrics
from rtgs2.data.views import IGNORE_LABEL
from rtgs2.demo_config import DEMO_DATA_SEED, DEMO_PRESET, DEMO_VIEWS, TRAINED_SEEDS
from rtgs2.fusion.io import fusion_weights_path
from rtgs2.pipeline.draw import gif_frame, legend, to_uint8, write_gif
from rtgs2.pipeline.segmenter import FrameRate, FrameTimer, Segmenter
from rtgs2.synth.build import build_synthrooms, scene_list, scene_seeds
from rtgs2.synth.config import PRESETS, preset_config
from rtgs2.utils.cache import cache_root
from rtgs2.utils.errors import ConfigError, Rtgs2Error
from rtgs2.utils.io import atomic_write_text
from rtgs2.utils.lock import check_output_folder

SHEET_VIEWS = 6  # columns of the contact sheet
GIF_FPS = 8
MARKER = "demo.gif"  # the first file a demo writes into its folder


@dataclass
class DemoResult:
    """What :func:`run_demo` wrote and measured."""

    metrics: dict  # miou, macc, oacc (fractions in [0, 1]) and per_class, as segmentation_metrics
    frame_rate: FrameRate
    gif: Path
    contact_sheet: Path
    metrics_file: Path
    scene: Path  # the cached scene folder (SynthRooms layout)


def demo_scene(preset: str = DEMO_PRESET, seed: int = DEMO_DATA_SEED, console: Console | None = None, **overrides) -> Path:
    """The folder of the demo's room: the one scene of the SynthRooms data set ``preset`` with
    data set seed ``seed`` and ``overrides`` (:class:`~rtgs2.synth.config.SynthConfig` fields),
    built on first use into ``<cache>/demo/<preset>-<hash of the config>`` and reused after."""
    cfg = preset_config(preset, num_scenes=1, seed=seed, **overrides)
    # the rooms of every data set seed a shipped model trained on (a further build has at most
    # the preset's count of rooms; a room depends only on the seed and its index)
    own = {s for trained in TRAINED_SEEDS for s in scene_seeds(replace(PRESETS[preset], seed=trained))}
    if scene_seeds(cfg)[0] in own:
        raise ConfigError(
            None, "seed", f"must give a room outside SynthRooms {preset} (seed {seed} gives one of the rooms of seeds "
            f"{', '.join(map(str, TRAINED_SEEDS))}, which the shipped models were trained on)",
        )  # fmt: skip
    key = hashlib.sha256(json.dumps(cfg.to_json(), sort_keys=True).encode()).hexdigest()[:12]
    root = cache_root() / "demo" / f"{preset}-{key}"
    if console is not None and not (root / scene_list(cfg)[0]["name"] / DONE).is_file():
        what = "a 3DGS fit: about 2 min on 2 cores" if cfg.gaussians == "fitted" else "surface Gaussians"
        console.print(f"building the demo room once ({cfg.num_views} views of {cfg.width}x{cfg.height}, {what}) into {root}")
    build_synthrooms(root, preset, progress=console is not None, num_scenes=1, seed=seed, **overrides)
    return list_scenes(root)[0]


def run_demo(
    out: str | Path = Path("outputs/demo"),
    weights: str | Path | None = None,
    *,
    feature_weights: str | Path | None = None,
    num_views: int = DEMO_VIEWS,
    preset: str = DEMO_PRESET,
    seed: int = DEMO_DATA_SEED,
    compile_network: bool = True,
    precision: str = "auto",
    **overrides,
) -> DemoResult:
    """Build (or reuse) the demo room, segment ``num_views`` of its views into ``out`` and score
    them (module doc). ``preset``, ``seed`` and ``overrides`` choose the room (:func:`demo_scene`;
    tests use small ones). ``compile_network``: the network runs compiled (``Segmenter``; the
    warm-up frame compiles it), in ``precision`` (float32, bfloat16, auto: ``Segmenter``).

    Raises:
        FileNotFoundError: no weights (the shipped file is missing and ``weights`` not given).
        ValueError: bad ``num_views`` or ``seed``; ``out`` is a file or a folder holding other things.
        Rtgs2Error: the model does not predict SynthRooms' classes.
    """
    if not isinstance(num_views, int) or isinstance(num_views, bool) or num_views < 1:
        raise ConfigError(None, "num_views", f"must be a positive integer, got {num_views!r}")
    out = Path(out)
    check_output_folder(out, MARKER, "an rtgs2 demo output")
    weights = fusion_weights_path(weights)  # before the build: a missing model should not cost minutes
    console = Console()
    scene_dir = demo_scene(preset, seed, console, **overrides)
    label_map = synthrooms_label_map()
    views = open_scene(scene_dir, label_map)
    if num_views > len(views):
        raise ConfigError(None, "num_views", f"must be at most the room's {len(views)} views, got {num_views}")
    with console.status("loading the model and the room's features (extracted on first use, then cached)"):
        segmenter = Segmenter.from_files(
            views.gaussians, weights, feature_weights=feature_weights, compile_network=compile_network,
            precision=precision,
        )
    if segmenter.fallback:
        console.print(f"fallback: {segmenter.fallback}")
    names = segmenter.label_names
    if len(names) != label_map.num_classes or (segmenter.class_names and names != label_map.names):
        raise Rtgs2Error(
            f"{weights} predicts {len(names)} classes ({', '.join(names[:4])}, ...); the demo scores SynthRooms' "
            f"{label_map.num_classes} ({', '.join(label_map.names[:4])}, ...): pass a model trained on SynthRooms"
        )

    picks = np.linspace(0, len(views), num_views, endpoint=False).astype(int).tolist()  # the path is a loop
    compiling = ""
    if compile_network:
        bf16 = segmenter.network == "torch compiled bfloat16"  # before the first frame: what was asked for
        how = "bfloat16, ahead of time: ~50 s" if bf16 else "torch.compile: ~1 min"
        compiling = f" and the network ({how} the first time)"
    with console.status(f"warm-up frame (compiles the numba kernels{compiling} on first use)"):
        segmenter.segment(views.cameras[picks[0]])
    k = label_map.num_classes
    confusion = np.zeros((k + 1, k + 1), np.int64)  # predicted column k: pixels left unlabelled
    shown: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # image, prediction, truth per view
    timer = FrameTimer()
    for i in track(picks, description="segmenting", console=console):
        view = timer.segment(segmenter, views.cameras[i])
        pred, truth = view.labels.numpy(), views.labels[i].numpy()
        confusion += confusion_with_unlabelled(pred, truth, k)
        shown.append((to_uint8(view.rgb), pred, truth))
    rate = timer.rate(views.cameras[picks[0]])
    scores = segmentation_metrics(confusion)
    scores["per_class"] = {key: values[:k] for key, values in scores["per_class"].items()}

    seen = sorted({int(c) for _, p, t in shown for c in np.union1d(p, t)} - {IGNORE_LABEL})
    panels = [gif_frame(np.concatenate([img, label_map.colorize(p), label_map.colorize(t)], 1)) for img, p, t in shown]
    out.mkdir(parents=True, exist_ok=True)
    gif = out / MARKER
    write_gif(gif, panels, GIF_FPS, legend(label_map, seen, panels[0].shape[1]))
    cols = [shown[j] for j in np.linspace(0, len(shown), min(SHEET_VIEWS, len(shown)), endpoint=False).astype(int)]
    sheet = np.concatenate(
        [
            np.concatenate([img for img, _, _ in cols], 1),
            np.concatenate([label_map.colorize(p) for _, p, _ in cols], 1),
            np.concatenate([label_map.colorize(t) for _, _, t in cols], 1),
        ],
        0,
    )
    sheet = np.concatenate([sheet, legend(label_map, seen, sheet.shape[1])], 0)
    contact = out / "contact_sheet.png"
    Image.fromarray(sheet).save(contact)
    record = {
        "miou": scores["miou"],
        "macc": scores["macc"],
        "oacc": scores["oacc"],
        "iou_per_class": {n: _finite(v) for n, v in zip(label_map.names, scores["per_class"]["iou"])},
        "frame_rate": asdict(rate),
        "views": picks,
        "scene": str(scene_dir),
        "num_gaussians": segmenter.scene.num_gaussians,
        "weights": str(weights.resolve()),
        "network": segmenter.network,  # after the frames: a compile that failed ran eagerly
        "note": "scores over every ground-truth pixel of the views (unlabelled = wrong); classes absent from "
        "the ground truth have iou null and are left out of the means; FPS: median after one warm-up frame",
    }
    metrics_file = out / "metrics.json"
    atomic_write_text(metrics_file, json.dumps(record, indent=1))
    console.print(
        f"unseen SynthRooms room, {num_views} views: [bold]mIoU {scores['miou']:.1%}[/bold], pixel accuracy "
        f"{scores['oacc']:.1%}, mean class accuracy {scores['macc']:.1%}"
    )
    console.print(f"{segmenter.scene.num_gaussians:,} Gaussians, network {segmenter.network}: [bold]{rate.describe()}[/bold]")
    console.print(f"wrote {gif}, {contact} and {metrics_file}")
    return DemoResult(scores, rate, gif, contact, metrics_file, scene_dir)


def _finite(x: float) -> float | None:
    """``x``, or None for NaN (JSON has no NaN)."""
    return None if math.isnan(x) else x
