"""Scores of labels lifted onto the Gaussians (:mod:`rtgs2.pipeline.lift`), in 3D and in 2D.

3D (SynthRooms, whose rooms are known exactly): each Gaussian's true class is that of the nearest
point of a dense sampling of the room's visible surfaces (:func:`rtgs2.synth.gaussians.surface_samples`,
TRUTH_SPACING apart). Per-Gaussian accuracy and mIoU, plain, weighted by opacity (a faint
Gaussian matters less to what is seen) and weighted by visibility (each Gaussian's vote weight:
how much the lifting views saw of it); Gaussians left unlabelled count as wrong.

Surface-sampled scenes (SynthRooms ``surface`` mode, the tests' ``mini``) have Gaussians on every
face of every primitive, hidden ones too (a wall behind a cabinet a centimetre away, the floor
under a rug): such a Gaussian gets the few, faint votes of the pixels it adds its bit to, which
show the occluder; and in low-resolution views thin parts (legs, picture edges) share their pixels
with what lies behind. So plain accuracy stays below 1 even with perfect 2D labels (measured on
mini's test room, lifted from its 14 training views at 160x120: 0.87 of the labelled Gaussians)
while the visibility-weighted one is 0.96. Fitted scenes keep few hidden Gaussians.

2D (any data set): on scored views, the lifted labels are rendered (one-hot features blended
with the renderer's weights, arg-max; UNLABELLED where alpha < MIN_ALPHA or no labelled Gaussian
shows) and compared with the per-view predictions of the same segmenter: mIoU of both against the
ground truth when there is one, their pixel agreement, and the view consistency
(:mod:`rtgs2.eval.consistency`) of each; the consistency gain is lifted minus per-view.

:func:`tally_lift` does all of it for one scene and one segmenter, :func:`evaluate_lift` returns it as plain numbers;
``rtgs2 eval --lift`` pools the tallies of its scenes (:func:`pool_lift`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from scipy.spatial import cKDTree
from torch import Tensor

from rtgs2.data.views import IGNORE_LABEL
from rtgs2.eval.consistency import view_agreement
from rtgs2.eval.metrics import confusion_with_unlabelled, per_image_segmentation_metrics, segmentation_metrics
from rtgs2.pipeline.lift import LiftedLabels, ViewLabeller, lift_labels
from rtgs2.pipeline.segmenter import MIN_ALPHA, UNLABELLED
from rtgs2.render import render
from rtgs2.scene import Camera, GaussianScene
from rtgs2.synth.gaussians import inside_any, surface_samples
from rtgs2.synth.room import Room

# Metres between the ground-truth surface samples: under half the spacing of SynthRooms' own
# surface Gaussians (0.05 m in mini), so that a Gaussian on a surface is nearest to that surface
# except within ~1 cm of where two surfaces meet; a room of ~150 m^2 of surface gives ~400k samples.
TRUTH_SPACING = 0.02
# Samples within this many metres of the inside of another primitive lie where two touch (a pane's
# back on its wall, a bed's bottom on the floor): no view sees them, so they are no ground truth.
CONTACT_TOL = 1e-3


def gaussian_truth(
    room: Room,
    means: Tensor | np.ndarray,  # [N, 3] world metres
    spacing: float = TRUTH_SPACING,
) -> tuple[np.ndarray, np.ndarray]:  # [N] uint8 class, [N] metres
    """Each Gaussian's true class: that of the nearest point of ``room``'s visible surfaces (samples
    ``spacing`` metres apart, those on faces where two primitives touch left out), and its
    distance to that point (large for floaters)."""
    pts, _, _, prim = surface_samples(room, spacing)
    shown = ~inside_any(room, pts, prim, -CONTACT_TOL)
    dist, idx = cKDTree(pts[shown]).query(np.asarray(torch.as_tensor(means).detach().cpu().double()))
    return room.label[prim[shown][idx]].astype(np.uint8), dist


def gaussian_scores(
    pred: Tensor | np.ndarray,  # [N] uint8 lifted labels, UNLABELLED where none
    truth: Tensor | np.ndarray,  # [N] uint8 true classes, IGNORE_LABEL = not scored
    num_classes: int,
    *,
    opacity: Tensor | np.ndarray | None = None,  # [N] in (0, 1)
    visibility: Tensor | np.ndarray | None = None,  # [N] >= 0, e.g. the vote weight of each Gaussian, pixels
) -> dict:
    """Per-Gaussian scores (fractions in [0, 1]) over the scored Gaussians: ``accuracy`` and
    ``miou``; ``labelled``, the share with a label (the others count as wrong: a column of their
    own that no class owns) and ``accuracy_labelled``, the accuracy over those alone; with
    ``opacity``, ``accuracy_opacity`` and ``miou_opacity``, each Gaussian weighted by its opacity;
    with ``visibility``, ``accuracy_visible`` and ``miou_visible`` weighted by it (Gaussians hidden
    behind others, which the views barely see and which show in no render, weigh little)."""
    p = np.asarray(pred).astype(np.int64)
    t = np.asarray(truth).astype(np.int64)
    if p.shape != t.shape or p.ndim != 1:
        raise ValueError(f"pred and truth must have the same shape [N], got {list(p.shape)} and {list(t.shape)}")
    k = num_classes
    keep = t != IGNORE_LABEL
    if ((p >= k) & (p != UNLABELLED)).any() or (t[keep] >= k).any():
        raise ValueError(f"labels must lie in 0..{k - 1} (or be {UNLABELLED})")
    p = np.where(p == UNLABELLED, k, p)
    flat = t[keep] * (k + 1) + p[keep]
    seen = keep & (p != k)
    out = {
        "labelled": float((p[keep] != k).mean()) if keep.any() else float("nan"),
        "accuracy_labelled": float((p[seen] == t[seen]).mean()) if seen.any() else float("nan"),
    }
    for suffix, weight in (("", None), ("_opacity", opacity), ("_visible", visibility)):
        if suffix and weight is None:
            continue
        w = None if weight is None else np.asarray(weight, dtype=np.float64)
        if w is not None and w.shape != p.shape:
            raise ValueError(f"the{suffix.replace('_', ' ')} weights must have shape {list(p.shape)}, got {list(w.shape)}")
        counts = np.bincount(flat, weights=None if w is None else w[keep], minlength=(k + 1) ** 2)
        m = segmentation_metrics(counts.reshape(k + 1, k + 1))
        out[f"accuracy{suffix}"], out[f"miou{suffix}"] = m["oacc"], m["miou"]
    return out


def render_labels(
    scene: GaussianScene,
    labels: Tensor,  # [N] uint8 per-Gaussian class, UNLABELLED where none
    num_classes: int,
    camera: Camera,
) -> tuple[Tensor, Tensor]:  # [H, W] uint8, [H, W] metres
    """Per-Gaussian labels seen by ``camera``: the arg-max of their one-hot vectors blended by the
    renderer, UNLABELLED where alpha < MIN_ALPHA (as the segmenter's labels) or no labelled Gaussian
    shows; and the rendered depth, 0 where alpha < MIN_ALPHA."""
    k = num_classes
    onehot = F.one_hot(labels.long().clamp_max(k), k + 1)[:, :k].to(scene.means.dtype).to(scene.device)
    with torch.no_grad():
        out = render(scene, camera, features=onehot, sh_degree=0)
    score, lab = out.features.max(-1)
    show = (out.alpha >= MIN_ALPHA) & (score > 0)
    depth = torch.where(out.alpha >= MIN_ALPHA, out.depth, 0.0)
    return torch.where(show, lab, UNLABELLED).to(torch.uint8).cpu(), depth.cpu()


@dataclass
class LiftTally:
    """What :func:`tally_lift` measured on one scene; the 2D scores as pixel counts, which add up
    over scenes to pooled scores (as ``rtgs2 eval`` pools its rows)."""

    lift_views: int | None  # views the labels were lifted from (None: lifted labels given)
    views: int  # score views
    gaussians: dict | None  # 3D scores (:func:`gaussian_scores` plus median_truth_distance_m), None without a room
    # [K+1, K+1] confusion per score view (column K: UNLABELLED), of the per-view predictions and of
    # the rendered lifted labels; empty without ground truth
    per_view: list[np.ndarray] = field(default_factory=list)
    lifted: list[np.ndarray] = field(default_factory=list)
    agree: int = 0  # pixels where both are labelled and agree ...
    both: int = 0  # ... of those where both are labelled
    consistency_per_view: tuple[int, int] = (0, 0)  # (agreeing, compared) pixels (view_agreement) of the per-view predictions
    consistency_lifted: tuple[int, int] = (0, 0)  # the same for the rendered lifted labels

    def scores(self) -> dict:
        """:func:`evaluate_lift`'s plain numbers."""
        truth = bool(self.lifted)
        per_view, lifted = fraction(*self.consistency_per_view), fraction(*self.consistency_lifted)
        views = {
            "views": self.views,
            "miou_per_view": segmentation_metrics(np.sum(self.per_view, axis=0))["miou"] if truth else None,
            "miou_lifted": segmentation_metrics(np.sum(self.lifted, axis=0))["miou"] if truth else None,
            "agreement": fraction(self.agree, self.both),
            "consistency_per_view": per_view,
            "consistency_lifted": lifted,
            "consistency_gain": lifted - per_view,
        }
        return {"lift_views": self.lift_views, "gaussians": self.gaussians, "views": views}


def fraction(part: int, whole: int) -> float:
    """``part / whole``, NaN when ``whole`` is 0."""
    return part / whole if whole else float("nan")


def tally_lift(
    segmenter: ViewLabeller,
    lift_cameras: Sequence[Camera],
    score_cameras: Sequence[Camera],
    *,
    truth_labels: Sequence[Tensor | np.ndarray] | None = None,  # per score camera [H, W] uint8, IGNORE_LABEL = ignore
    room: Room | None = None,
    room_lut: np.ndarray | None = None,  # [256] uint8: room class id -> the segmenter's class
    truth_spacing: float = TRUTH_SPACING,  # metres
    lifted: LiftedLabels | None = None,
    progress: bool = False,
) -> LiftTally:
    """Lift ``segmenter``'s labels from ``lift_cameras`` (or take ``lifted``) and score them (module doc).

    Args:
        score_cameras: views scored in 2D (held-out views, say).
        truth_labels: their ground truth in the segmenter's classes; without it no 2D mIoU.
        room: the SynthRooms room of the scene; without it no 3D scores.
        room_lut: maps the room's class ids to the segmenter's classes (IGNORE_LABEL: not
            scored); default: the same ids.
        truth_spacing: of the surface samples giving the 3D truth (:func:`gaussian_truth`).
        progress: show a progress bar while lifting.
    Raises:
        ValueError: no score camera, or ground truth not one per score camera.
    """
    if not score_cameras:
        raise ValueError("lifted labels need at least one score camera to be scored on")
    if truth_labels is not None and len(truth_labels) != len(score_cameras):
        raise ValueError(f"{len(truth_labels)} ground-truth label images for {len(score_cameras)} score cameras")
    k = segmenter.num_classes
    scene = segmenter.scene
    lift_views = len(lift_cameras) if lifted is None else None
    if lifted is None:
        lifted = lift_labels(segmenter, lift_cameras, progress=progress)
    gaussians = None
    if room is not None:
        truth, dist = gaussian_truth(room, scene.means, truth_spacing)
        if room_lut is not None:
            truth = np.asarray(room_lut, dtype=np.uint8)[truth]
        scores = gaussian_scores(
            lifted.labels, truth, k, opacity=scene.opacities.detach().cpu(), visibility=lifted.votes.sum(1)
        )  # fmt: skip
        gaussians = {**scores, "median_truth_distance_m": float(np.median(dist))}

    tally = LiftTally(lift_views, len(score_cameras), gaussians)
    per_view, lifted_views, depths = [], [], []
    for v, cam in enumerate(score_cameras):
        pred = segmenter.segment(cam).labels
        lab, depth = render_labels(scene, lifted.labels, k, cam)
        per_view.append(pred)
        lifted_views.append(lab)
        depths.append(depth)
        labelled = (pred != UNLABELLED) & (lab != UNLABELLED)
        tally.agree += int((pred[labelled] == lab[labelled]).sum())
        tally.both += int(labelled.sum())
        if truth_labels is not None:
            gt = np.asarray(truth_labels[v])
            tally.per_view.append(confusion_with_unlabelled(pred.numpy(), gt, k))
            tally.lifted.append(confusion_with_unlabelled(lab.numpy(), gt, k))
    tally.consistency_per_view = view_agreement(score_cameras, depths, per_view)
    tally.consistency_lifted = view_agreement(score_cameras, depths, lifted_views)
    return tally


def evaluate_lift(
    segmenter: ViewLabeller,
    lift_cameras: Sequence[Camera],
    score_cameras: Sequence[Camera],
    *,
    truth_labels: Sequence[Tensor | np.ndarray] | None = None,  # per score camera [H, W] uint8, IGNORE_LABEL = ignore
    room: Room | None = None,
    room_lut: np.ndarray | None = None,  # [256] uint8: room class id -> the segmenter's class
    truth_spacing: float = TRUTH_SPACING,  # metres
    lifted: LiftedLabels | None = None,
) -> dict:
    """:func:`tally_lift` (same arguments) as plain numbers.

    Returns:
        ``{"lift_views" (None with ``lifted``), "gaussians": {...} | None, "views": {...}}`` with fractions in [0, 1]
        (NaN where undefined): ``gaussians`` as :func:`gaussian_scores` plus ``median_truth_distance_m``;
        ``views``: ``miou_per_view``, ``miou_lifted`` (None without truth), ``agreement`` (pixels
        where both are labelled and agree, of those where both are labelled),
        ``consistency_per_view``, ``consistency_lifted``, ``consistency_gain``.
    Raises:
        ValueError: no score camera, or ground truth not one per score camera.
    """
    return tally_lift(
        segmenter, lift_cameras, score_cameras, truth_labels=truth_labels, room=room, room_lut=room_lut,
        truth_spacing=truth_spacing, lifted=lifted,
    ).scores()  # fmt: skip


def pool_lift(tallies: dict[str, LiftTally], average: str) -> dict:
    """The ``lift`` section of ``rtgs2 eval``'s results from the tallies of its scenes (by name), all
    with ground truth (fractions in [0, 1], NaN where undefined).

    Args:
        average: "pixels" (one confusion matrix over all pixels) or "images" (the mean over images),
            as ``EvalConfig.average``.
    Returns:
        ``miou``, ``macc``, ``oacc``, ``view_consistency`` of the rendered lifted labels and
        ``view_consistency_per_view`` of the per-view predictions, pooled over the scenes as the
        table's rows are; ``consistency_gain`` (lifted minus per-view); ``agreement``; ``gaussians``:
        the 3D scores, means over the scenes that have them (None if none has); ``scenes``: each
        scene's :meth:`LiftTally.scores`.
    """
    if not tallies or any(not t.lifted for t in tallies.values()):
        raise ValueError("pool_lift needs at least one scene, each scored against ground truth")
    lifted = [c for t in tallies.values() for c in t.lifted]
    seg = segmentation_metrics(np.sum(lifted, axis=0)) if average == "pixels" else per_image_segmentation_metrics(lifted)
    per_view = fraction(*np.sum([t.consistency_per_view for t in tallies.values()], axis=0).tolist())
    consistent = fraction(*np.sum([t.consistency_lifted for t in tallies.values()], axis=0).tolist())
    rooms = [t.gaussians for t in tallies.values() if t.gaussians is not None]
    return {
        "miou": seg["miou"], "macc": seg["macc"], "oacc": seg["oacc"], "view_consistency": consistent,
        "view_consistency_per_view": per_view, "consistency_gain": consistent - per_view,
        "agreement": fraction(sum(t.agree for t in tallies.values()), sum(t.both for t in tallies.values())),
        "gaussians": {key: float(np.mean([g[key] for g in rooms])) for key in rooms[0]} if rooms else None,
        "scenes": {name: t.scores() for name, t in tallies.items()},
    }  # fmt: skip
