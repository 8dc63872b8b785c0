"""``rtgs2 eval``: score fusion models on the views of any data set ``open_dataset`` reads.

Per scene, the Gaussians are the data set's own ``.ply`` (SynthRooms, 3DGS output folders),
those given with ``gaussians`` (one ``.ply`` or recon output for a one-scene folder, or a
folder of ``<scene>.ply`` / ``<scene>/`` outputs), or else a reconstruction by ``rtgs2 recon``
(default settings; run it yourself for others and pass ``gaussians``) kept in
``<cache>/recon`` (:mod:`rtgs2.eval.scenes`); the models' classes meet the data's as
:mod:`rtgs2.eval.models` says. Each model's :class:`~rtgs2.pipeline.segmenter.Segmenter` then labels the
scored views (the held-out ones, every 8th, or all) at the data's own resolution.

Classes are matched by name (case, ``_`` and ``-`` aside) between a model's ``class_names``
and the data's label set: data classes a model does not know are not scored (IGNORE_LABEL)
and are listed; a model sharing no class with the data is refused. Scores:

- mIoU, mAcc, oAcc from a confusion matrix over all scored pixels (or the mean over images),
  means over the classes present in the ground truth. Pixels the Gaussians leave uncovered
  (the segmenter's UNLABELLED) count as wrong: a column of their own that no class owns.
- PSNR, SSIM and LPIPS (only when its weights are on disk) of the rendered Î against the
  data's images: the same Gaussians render the same Î for every model.
- FPS of the per-frame path (:func:`~rtgs2.pipeline.segmenter.measure_fps`), median over scenes.
- View consistency (:mod:`rtgs2.eval.consistency`) of the predictions, and of the ground
  truth (its ceiling: the data's depth where it has one, else the rendered depth).

Fine-tuned row (``finetune_steps``): the first model fine-tuned on each scene's training views
(in the model's classes), scored like the others.

ONNX rows (``onnx``): an ONNX file of one of the models (``rtgs2 export onnx --coarse``, float or
``--int8``), run by onnxruntime in the per-frame path (``Segmenter.from_files(..., onnx=)``), each a
row of its own after the models' (default name: its model's row and the file's kind, "full (int8
ONNX)"), so that an int8 file's mIoU reads beside its float model's. Its fixed image size must be
the scored views'.

Lifted labels (``lift``): the first model's labels of each scene's training views lifted onto the
Gaussians (:mod:`rtgs2.pipeline.lift`), rendered in the scored views and scored there (mIoU, mAcc,
oAcc, view consistency: row "lifted (3D labels)"); on SynthRooms also on the Gaussians themselves
against the room's true surfaces (:mod:`rtgs2.eval.lift_eval`).

``out`` gets ``eval.json`` (written first: it marks the folder as an eval output, so that a
folder holding anything else is refused), ``results.md``, ``results.json``,
``figures/<scene>.png`` and ``finetune/<scene>/`` (fine-tuning runs, resumable).
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from rtgs2.data.open import OpenedDataset
from rtgs2.data.views import LazyFrames, SceneViews
from rtgs2.eval.config import EvalConfig
from rtgs2.eval.consistency import view_agreement
from rtgs2.eval.figures import FigureView, write_figure
from rtgs2.eval.lift_eval import LiftTally, pool_lift, tally_lift
from rtgs2.eval.metrics import (
    confusion_with_unlabelled, lpips, lpips_available, per_image_segmentation_metrics, psnr, segmentation_metrics, ssim,
)  # fmt: skip
from rtgs2.eval.models import FINETUNED, Model, load_models
from rtgs2.eval.scenes import open_eval_data, reconstruct, scene_gaussians, scene_room, select_scenes
from rtgs2.eval.table import finite_or_none, write_results
from rtgs2.fusion.shift import FeatureShift
from rtgs2.pipeline.segmenter import MIN_ALPHA, FrameRate, Segmenter, measure_fps, model_feature_weights
from rtgs2.scene import Camera
from rtgs2.synth.room import Room
from rtgs2.utils.errors import UserError
from rtgs2.utils.git import git_commit
from rtgs2.utils.io import atomic_write_text
from rtgs2.utils.lock import OutputLock, check_output_folder
from rtgs2.utils.progress import ProgressReport

FORMAT = "rtgs2-eval-1"
MARKER = "eval.json"


@dataclass
class Tally:
    """One row's counts on one scene."""

    weights: Path  # the model's file (the fine-tuned row's differs by scene)
    per_view: list[np.ndarray] = field(default_factory=list)  # [K+1, K+1] confusion per view (module doc)
    agree: int = 0  # view consistency: agreeing pixels ...
    compared: int = 0  # ... of those compared
    fps: FrameRate | None = None
    network: str = ""  # what ran the network (Segmenter.network), known after the frames
    network_scale: int = 1  # the network read the views at 1/s of their size (Segmenter.scale_for)
    feature_shift: FeatureShift | None = None  # the scene's features against the model's training ones (Segmenter)
    fallback: str | None = None  # why an image-only fallback labelled in place of the row's model (Segmenter.fallback)


@dataclass
class SceneScores:
    """Everything scored on one scene."""

    name: str
    views: int
    width: int  # px, of the first scored view
    height: int
    psnr: list[float] = field(default_factory=list)  # per view, dB
    ssim: list[float] = field(default_factory=list)
    lpips: list[float] = field(default_factory=list)  # empty when LPIPS is unavailable
    gt_agree: int = 0  # view consistency of the ground truth: agreeing pixels ...
    gt_compared: int = 0  # ... of those compared
    tallies: dict[str, Tally] = field(default_factory=dict)  # by row name
    lift: LiftTally | None = None  # the first row's lifted labels (EvalConfig.lift)


def evaluate(
    data: str | Path,
    out: str | Path,
    weights: Sequence[str | Path] = (),
    *,
    names: Sequence[str] = (),
    label_set: str | Path | None = None,
    gaussians: str | Path | None = None,
    feature_weights: str | Path | None = None,
    config: EvalConfig = EvalConfig(),
    progress: bool = True,
    command: str | None = None,
    onnx: Sequence[str | Path] = (),
) -> dict:
    """Score the fusion models at ``weights`` (default: the shipped one) on the data set at
    ``data`` and write the results into ``out`` (module doc); returns what ``results.json`` holds
    (fractions in [0, 1]; None where a score is undefined or not measured).

    Args:
        names: one row name per model, then one per ONNX file (default: from each model's inputs:
            full, image only, Z only; an ONNX file's from its model's: "full (int8 ONNX)").
        onnx: ONNX files of the models at ``weights``, each scored as a row of its own (module doc).
        label_set: the data's label set (a shipped name or a LabelMap JSON); for a folder with
            its own (SynthRooms) a JSON whose ``raw_to_label`` maps the folder's label values.
        gaussians: where the scenes' Gaussians are (module doc; default: the data set's own).
        command: the command line that gives these results, recorded in them with the code's commit.
        feature_weights: the feature network giving Z (default: as the fusion model's card says).
    Raises:
        ValueError, FileNotFoundError: bad output folder, data, weights, names or Gaussians,
            all checked before any scoring.
        Rtgs2Error: a model sharing no class name with the data.
    """
    data, out = Path(data), Path(out)
    check_output_folder(out, MARKER, "an rtgs2 eval output", "; give a folder for the results")
    opened, data_names, data_lut = open_eval_data(data, label_set)
    models = load_models(weights, names, data_names, config.finetune_steps > 0, onnx)
    scenes = select_scenes(opened, config.scenes)
    plys = scene_gaussians(scenes, None if gaussians is None else Path(gaussians))
    for views in scenes:
        if views.labels is None:
            raise UserError(f"scene {views.name!r} of {data} has no label images to score against")
        if not views.indices(config.views):
            raise UserError(f"scene {views.name!r} of {data} has no {config.views} views to score")
        if config.lift and not views.indices("train"):
            raise UserError(f"scene {views.name!r} of {data} has no training views to lift labels from (lift)")
        sizes = {(views.cameras[i].height, views.cameras[i].width) for i in views.indices(config.views)}
        for model in models:
            if model.onnx_size is not None and sizes != {model.onnx_size}:
                (h, w), (fh, fw) = sorted(sizes - {model.onnx_size})[0], model.onnx_size
                raise UserError(
                    f"scene {views.name!r} of {data} has {w}x{h} views, the ONNX file {model.onnx} takes {fw}x{fh}: "
                    f"export it at the data's size (rtgs2 export onnx --width {w} --height {h})"
                )
    ft_features = None
    if config.finetune_steps and models[0].config["inputs"] != "image":
        # the features the model was trained on (its card's), not necessarily today's default
        ft_features = model_feature_weights(models[0].weights, feature_weights)
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    lpips_ok, lpips_note = lpips_available()
    with OutputLock(out, f"rtgs2 eval --data {data} --out {out}"):
        atomic_write_text(out / MARKER, json.dumps({"format": FORMAT, "data": str(data.resolve())}, indent=1) + "\n")
        scored = []
        for views in scenes:
            ply = plys[views.name] or reconstruct(data, views, progress)
            scene_rows = list(models)
            if config.finetune_steps:
                scene_rows.append(finetuned(views, ply, models[0], data, out, config, ft_features, data_lut, progress))
            room = scene_room(opened, views) if config.lift else None
            scored.append(score_scene(views, ply, scene_rows, data_lut, config, out, feature_weights, lpips_ok, progress, room))
        rows = models + ([_finetuned_row(models[0])] if config.finetune_steps else [])
        label_set_name = opened.label_set if label_set is None else str(label_set)
        results = finite_or_none(summarize(opened, data, label_set_name, rows, scored, config, None if lpips_ok else lpips_note))
        results.update(command=command, commit=git_commit())
        write_results(out, results)
    return results


def _finetuned_row(model: Model) -> Model:
    """The fine-tuned row: ``model``'s classes, weights set per scene."""
    return replace(model, name=FINETUNED)


def finetuned(
    views: SceneViews,
    ply: Path,
    model: Model,
    data: Path,
    out: Path,
    config: EvalConfig,
    feature_weights: Path | None,
    data_lut: np.ndarray,
    progress: bool,
) -> Model:
    """``model`` fine-tuned on the training views of ``views`` (labels in its classes) for
    ``config.finetune_steps`` steps in ``out/finetune/<scene>`` (resumed when there)."""
    # imported here: only this row trains, and scoring the other rows needs no training code
    from rtgs2.train.finetune import FINETUNE, finetune_views

    lut = torch.from_numpy(model.lut[data_lut])  # raw label value -> model class
    labels = views.labels
    mapped = LazyFrames(lambda i: lut[torch.as_tensor(labels[i]).long()], len(views))
    scene = replace(views, labels=mapped, gaussians=ply)
    last = finetune_views(
        scene, model.config["class_names"], model.weights, config.finetune_steps, out / "finetune" / views.name,
        cfg=replace(FINETUNE, seed=config.seed), data=data, feature_weights=feature_weights, progress=progress,
        reproduce=f"eval --data {data} --weights {model.weights} --finetune-steps {config.finetune_steps} --out OUT",
    )  # fmt: skip
    return replace(_finetuned_row(model), weights=last)


def _frame(x, camera: Camera, what: str, views: SceneViews, i: int) -> torch.Tensor:
    """Frame ``i``'s ``what`` as a CPU tensor, checked to be the camera's size."""
    t = torch.as_tensor(x)
    if tuple(t.shape[:2]) != (camera.height, camera.width):
        raise UserError(
            f"scene {views.name!r}, view {i}: the {what} is {list(t.shape[:2])} (H, W), its camera {camera.height}x{camera.width}"
        )
    return t


def score_scene(
    views: SceneViews,
    ply: Path,
    rows: Sequence[Model],
    data_lut: np.ndarray,
    config: EvalConfig,
    out: Path,
    feature_weights: str | Path | None,
    with_lpips: bool,
    progress: bool,
    room: Room | None = None,
) -> SceneScores:
    """Label the scored views of one scene with each row's model; count, time and draw them; with
    ``config.lift``, lift the first row's labels (scored in 3D against ``room`` when given)."""
    idx = views.indices(config.views)
    cams = [views.cameras[i] for i in idx]
    shown = sorted({round(x) for x in np.linspace(0, len(idx) - 1, min(config.figure_views, len(idx)))})
    figure = {p: FigureView() for p in shown}
    scores = SceneScores(views.name, len(idx), cams[0].width, cams[0].height)
    gt_depths, gt_labels, truth = [], [], []  # truth: the first row's ground truth, in its classes
    with ProgressReport(f"eval {views.name}", len(rows) * len(idx), enabled=progress) as bar:
        for r, model in enumerate(rows):
            compiled = config.compile_network and model.onnx is None  # an ONNX row runs as its file is
            seg = Segmenter.from_files(
                ply, model.weights, feature_weights=feature_weights, onnx=model.onnx, onnx_threads=config.num_threads or None,
                compile_network=compiled, precision=config.precision if compiled else "float32",
                # an ONNX file reads its own size; the fine-tuned model learnt the views at their own size
                network_scale=1 if model.onnx is not None or model.name == FINETUNED else config.network_scale,
                image_fallback=config.image_fallback,
            )  # fmt: skip
            if seg.fallback and progress:
                print(f"eval {views.name}, {model.name}: {seg.fallback}")
            k = model.num_classes
            tally = Tally(model.weights)
            depths, preds = [], []
            for p, (i, cam) in enumerate(zip(idx, cams)):
                view = seg.segment(cam)
                data_labels = data_lut[_frame(views.labels[i], cam, "label image", views, i).numpy()]
                gt = model.lut[data_labels]
                pred = view.labels.numpy()
                tally.per_view.append(confusion_with_unlabelled(pred, gt, k))
                depth = torch.where(view.alpha >= MIN_ALPHA, view.depth, 0.0)
                depths.append(depth)
                preds.append(view.labels)
                if r == 0:  # the image and the ground truth are the same for every row
                    image = _frame(views.images[i], cam, "image", views, i).float()
                    rgb = view.rgb.clamp(0, 1)
                    scores.psnr.append(float(psnr(rgb, image)))
                    scores.ssim.append(float(ssim(rgb, image)))
                    if with_lpips:
                        scores.lpips.append(float(lpips(rgb, image)))
                    has_depth = views.depths is not None
                    gt_depths.append(_frame(views.depths[i], cam, "depth map", views, i) if has_depth else depth)
                    gt_labels.append(data_labels)
                    truth.append(gt)
                if p in figure:
                    if r == 0:
                        figure[p].set_truth(image, gt, model.config["class_names"])
                    figure[p].add(model.name, model.config["class_names"], gt, pred)
                bar.advance()
            tally.agree, tally.compared = view_agreement(cams, depths, preds)
            tally.fps = measure_fps(seg, cams, frames=config.fps_frames, warmup=config.fps_warmup)
            tally.network = seg.network + (", image-only fallback" if seg.fallback else "")
            tally.feature_shift, tally.fallback = seg.feature_shift, seg.fallback
            tally.network_scale = seg.scale_for(cams[0].height, cams[0].width)
            scores.tallies[model.name] = tally
            if r == 0:
                first = seg
    if config.lift:  # after the bar: lifting shows its own, and one shows at a time
        train = [views.cameras[i] for i in views.indices("train")]
        room_lut = None if room is None else rows[0].lut[data_lut]  # room class id -> the model's class
        scores.lift = tally_lift(first, train, cams, truth_labels=truth, room=room, room_lut=room_lut, progress=progress)
    scores.gt_agree, scores.gt_compared = view_agreement(cams, gt_depths, gt_labels)
    if figure:
        write_figure(out / "figures" / f"{views.name}.png", [figure[p] for p in shown], [idx[p] for p in shown])
    return scores


def _mean(values: Sequence[float]) -> float | None:
    return float(np.mean(values)) if values else None


def _fraction(agree: int, compared: int) -> float:
    return agree / compared if compared else float("nan")


def _segmentation(confusions: Sequence[np.ndarray], average: str) -> dict:
    """miou, macc, oacc of confusion matrices (the last class, uncovered pixels, has no
    ground truth and so no score) and IoU / accuracy per class, over all pixels or per image."""
    pooled = segmentation_metrics(np.sum(confusions, axis=0))
    means = pooled if average == "pixels" else per_image_segmentation_metrics(confusions)
    per_class = {"iou": pooled["per_class"]["iou"][:-1], "acc": pooled["per_class"]["acc"][:-1]}
    return {"miou": means["miou"], "macc": means["macc"], "oacc": means["oacc"], "per_class": per_class}


def summarize(
    opened: OpenedDataset,
    data: Path,
    label_set: str | None,
    rows: Sequence[Model],
    scored: Sequence[SceneScores],
    config: EvalConfig,
    lpips_note: str | None,
) -> dict:
    """The content of ``results.json`` (fractions in [0, 1]; NaN where a score is undefined)."""
    image = {
        "psnr": _mean([v for s in scored for v in s.psnr]),
        "ssim": _mean([v for s in scored for v in s.ssim]),
        "lpips": _mean([v for s in scored for v in s.lpips]) if lpips_note is None else None,
    }
    out_rows = {}
    for model in rows:
        tallies = [s.tallies[model.name] for s in scored]
        seg = _segmentation([c for t in tallies for c in t.per_view], config.average)
        rates = [t.fps for t in tallies if t.fps is not None]
        per_scene = {}
        for s, t in zip(scored, tallies):
            one = _segmentation(t.per_view, config.average)
            per_scene[s.name] = {
                "miou": one["miou"], "macc": one["macc"], "oacc": one["oacc"],
                "view_consistency": _fraction(t.agree, t.compared), "fps": t.fps.fps if t.fps else None,
                "psnr": _mean(s.psnr), "ssim": _mean(s.ssim), "lpips": _mean(s.lpips) if lpips_note is None else None,
                "weights": str(t.weights), "network": t.network,
                "feature_shift": asdict(t.feature_shift) if t.feature_shift is not None else None, "fallback": t.fallback,
            }  # fmt: skip
        out_rows[model.name] = {
            "miou": seg["miou"], "macc": seg["macc"], "oacc": seg["oacc"], **image,
            "fps": statistics.median(r.fps for r in rates) if rates else None,
            "view_consistency": _fraction(sum(t.agree for t in tallies), sum(t.compared for t in tallies)),
            "weights": str(model.weights) if model.name != FINETUNED else None,
            "onnx": str(model.onnx) if model.onnx is not None else None,
            "network": tallies[0].network if tallies else None,
            "network_scale": tallies[0].network_scale if tallies else None,  # (of the first scene's views)
            "inputs": model.config["inputs"], "size": model.config["size"],
            "ignored_classes": model.ignored, "absent_classes": model.absent,
            "per_class": {
                n: {"iou": iou, "acc": acc}
                for n, iou, acc in zip(model.config["class_names"], seg["per_class"]["iou"], seg["per_class"]["acc"])
            },
            "scenes": per_scene,
        }  # fmt: skip
    rate = next((s.tallies[rows[0].name].fps for s in scored), None)
    return {
        "format": FORMAT,
        "data": str(data),
        "data_format": opened.format,
        "label_set": label_set,
        "views": config.views,
        "averaging": config.average,
        "scenes": {s.name: {"views": s.views, "width": s.width, "height": s.height} for s in scored},
        "fps_setup": {
            "frames": config.fps_frames, "warmup": config.fps_warmup, "threads": rate.threads if rate else None,
            "path": "render (image, Z, depth) + fusion network + arg-max per frame, features precomputed",
        },  # fmt: skip
        "lpips_unavailable": lpips_note,
        "ground_truth_view_consistency": _fraction(sum(s.gt_agree for s in scored), sum(s.gt_compared for s in scored)),
        "ground_truth_view_consistency_scenes": {s.name: _fraction(s.gt_agree, s.gt_compared) for s in scored},
        "finetune_steps": config.finetune_steps,
        "finetuned_from": rows[0].name if config.finetune_steps else None,
        "lift": {"row": rows[0].name, **pool_lift({s.name: s.lift for s in scored}, config.average)} if config.lift else None,
        "figures": [f"figures/{s.name}.png" for s in scored] if config.figure_views else [],
        "rows": out_rows,
    }

