"""``rtgs2 lift``: labels on the Gaussians themselves, voted for by many labelled views.

A :class:`~rtgs2.pipeline.segmenter.Segmenter` labels each view (render, fusion network,
arg-max). Every labelled pixel p then votes for its class with each Gaussian's blending weight
there, w_i(p) = T_i(p)·alpha_i(p): the weight the renderer blended that Gaussian's colour with,
summed back onto the Gaussians by the renderer itself
(:func:`~rtgs2.render.api.gather_to_gaussians` of the one-hot label image). A Gaussian's label is
the class with the most vote weight over all views, its confidence that class's share of its
votes. Pixels the segmenter leaves UNLABELLED (alpha < MIN_ALPHA) do not vote; a Gaussian no
labelled pixel sees has no vote at all and gets label UNLABELLED (255) and confidence 0.

Views: an INRIA cameras.json, or :func:`coverage_cameras` (three orbits, module constants below),
placed in the scene turned z-up in metres (the networks' frame) as ``rtgs2 segment``'s orbit is.

Output: a copy of the input ``.ply`` with ``label`` (uchar, 255 = unlabelled) and
``label_confidence`` (float, 0-1) per Gaussian, every other property kept; and a copy for any
3DGS viewer coloured by class (SH DC set to the class colour, higher SH zeroed; unlabelled
Gaussians black, as unlabelled pixels are in label images), ``<out stem>_colored.ply`` beside it
by default. An existing output file is replaced only if an earlier lift wrote it (it has both
label properties); anything else is refused.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from rtgs2.features.inputs import SceneFrame
from rtgs2.fusion.io import fusion_weights_path
from rtgs2.pipeline.draw import class_label_map
from rtgs2.pipeline.cameras import (
    INSIDE_PITCH_DEG, INSIDE_RADIUS, SceneBox, check_views, file_cameras, inside_ring, orbit_frame, outside_ring,
    scene_box,
)  # fmt: skip
from rtgs2.pipeline.segmenter import UNLABELLED, SegmentedView, Segmenter
from rtgs2.pipeline.view_defaults import LIFT_VIEWS, VIEW_HEIGHT, VIEW_WIDTH
from rtgs2.render import gather_to_gaussians
from rtgs2.scene import Camera, GaussianScene
from rtgs2.scene.cameras_json import read_cameras_json
from rtgs2.scene.ply import vertex_property_names, write_ply_with_properties
from rtgs2.scene.sh import SH_C0
from rtgs2.utils.errors import MissingFileError, UserError
from rtgs2.utils.io import check_writable, refuse_folder
from rtgs2.utils.progress import ProgressReport

LABEL, CONFIDENCE = "label", "label_confidence"  # the PLY properties written


class Ring(NamedTuple):
    """A ring of cameras inside a room, at the segment orbit's eye height."""

    radius: float  # fraction of the room's shorter horizontal side
    pitch_deg: float  # up from horizontal
    inward: bool  # looking towards the centre, else away from it
    share: float  # of the views


INSIDE_RINGS = (
    Ring(INSIDE_RADIUS, INSIDE_PITCH_DEG, False, 0.4),  # the segment orbit: walls and furniture fronts
    Ring(0.35, -35.0, True, 0.4),  # back across the room and down: the floor and tops in the middle, the far side
    Ring(0.1, 30.0, False, 0.2),  # up: ceiling, upper walls, windows and pictures
)
OUTSIDE_ELEVATIONS_DEG = (10.0, 35.0, 60.0)  # around an object: rings this high above its centre, equal shares


class ViewLabeller(Protocol):
    """What lifting needs of a segmenter (:class:`Segmenter` is one): the Gaussians, the number of
    classes K, and a labelled view per camera."""

    scene: GaussianScene

    @property
    def num_classes(self) -> int: ...

    def segment(self, camera: Camera) -> SegmentedView: ...


@dataclass
class LiftedLabels:
    """Per-Gaussian labels voted for by views (module doc).

    - ``labels``     [N] uint8 class, UNLABELLED where no labelled pixel saw the Gaussian
    - ``confidence`` [N] float32 the winning class's share of the Gaussian's votes, 0 where unlabelled
    - ``votes``      [N, K] float32 vote weight per class, pixels (sum of blending weights)
    """

    labels: Tensor
    confidence: Tensor
    votes: Tensor

    @classmethod
    def from_votes(cls, votes: Tensor) -> LiftedLabels:  # votes [N, K] >= 0
        """Labels and confidences of vote weights [N, K]."""
        total = votes.sum(1)
        best, labels = votes.max(1)
        seen = total > 0
        labels = torch.where(seen, labels, UNLABELLED).to(torch.uint8)
        confidence = torch.where(seen, best / torch.where(seen, total, 1.0), 0.0)
        return cls(labels, confidence.float(), votes)

    @property
    def labelled_fraction(self) -> float:
        """Share of the Gaussians that got a label."""
        return float((self.labels != UNLABELLED).float().mean())


def lift_labels(segmenter: ViewLabeller, cameras: Sequence[Camera], *, progress: bool = False) -> LiftedLabels:
    """Label ``segmenter.scene``'s Gaussians by the weighted votes of the views ``cameras`` (module doc)."""
    if not cameras:
        raise ValueError("lift_labels needs at least one camera")
    k = segmenter.num_classes
    votes = torch.zeros(segmenter.scene.num_gaussians, k)
    with ProgressReport("lift views", len(cameras), enabled=progress) as bar:
        for cam in cameras:
            view = segmenter.segment(cam)
            # UNLABELLED is clamped to the extra class K, whose column is dropped: such pixels do not vote.
            onehot = F.one_hot(view.labels.long().clamp_max(k), k + 1)[..., :k].float()
            votes += gather_to_gaussians(segmenter.scene, cam, onehot).sums.cpu()
            bar.advance()
    return LiftedLabels.from_votes(votes)


@dataclass
class Coverage:
    """Automatic cameras meant to see every surface of a scene (turned z-up): rings inside a room or around an object."""

    mode: str  # "inside" or "outside"
    where: str  # the rings' centre, or their distance from it
    rings: list[str]  # one description per ring
    cameras: list[Camera]

    def describe(self) -> str:
        where = "inside the scene" if self.mode == "inside" else "around the scene"
        return f"{len(self.cameras)} views {where} ({self.where}) on {len(self.rings)} rings: " + "; ".join(self.rings)


def coverage_cameras(
    scene: GaussianScene, num_views: int, width: int, height: int, frame: SceneFrame = SceneFrame()
) -> Coverage:
    """``num_views`` cameras (``width`` x ``height`` px) on several rings, so that most surfaces are
    seen by some view (placed in ``frame``, z up, metres, and returned as cameras of the file; a
    room or an object as :func:`~rtgs2.pipeline.cameras.orbit_cameras` decides). Inside a room,
    INSIDE_RINGS at eye height; around an object, rings at OUTSIDE_ELEVATIONS_DEG at the orbit's
    distance. Views are shared among the rings by their shares (a ring left with none is dropped);
    rings are turned against each other, so that their cameras do not line up.
    """
    check_views(num_views, width, height, "views")
    box = scene_box(scene, frame)
    coverage = _inside(box, num_views, width, height) if box.is_room else _outside(box, num_views, width, height)
    coverage.cameras = file_cameras(coverage.cameras, frame)
    return coverage


def _split(num_views: int, shares: Sequence[float]) -> list[int]:
    """``num_views`` shared in proportion to ``shares`` (rounded, summing to ``num_views``)."""
    edges = np.round(np.cumsum([0.0, *shares]) / sum(shares) * num_views).astype(int)
    return np.diff(edges).tolist()


def _inside(box: SceneBox, num_views: int, width: int, height: int) -> Coverage:
    centre = box.eye_centre()
    rings, cams = [], []
    counts = _split(num_views, [r.share for r in INSIDE_RINGS])
    for j, (ring, n) in enumerate(zip(INSIDE_RINGS, counts)):
        if n == 0:
            continue
        radius = ring.radius * box.min_side
        phase = math.pi * j / (3 * n)
        cams += inside_ring(centre, radius, ring.pitch_deg, n, width, height, inward=ring.inward, phase=phase)
        look = "in towards the centre" if ring.inward else "out"
        rings.append(f"{n} at radius {radius:.2f} m looking {look}, pitch {ring.pitch_deg:+.0f}°")
    x, y, z = centre
    return Coverage("inside", f"centre ({x:.2f}, {y:.2f}, {z:.2f}) m", rings, cams)


def _outside(box: SceneBox, num_views: int, width: int, height: int) -> Coverage:
    distance = box.outside_distance(width, height)
    rings, cams = [], []
    counts = _split(num_views, [1.0] * len(OUTSIDE_ELEVATIONS_DEG))
    for j, (elev, n) in enumerate(zip(OUTSIDE_ELEVATIONS_DEG, counts)):
        if n == 0:
            continue
        cams += outside_ring(box.centre, distance, elev, n, width, height, phase=math.pi * j / (3 * n))
        rings.append(f"{n} at {elev:.0f}° elevation")
    return Coverage("outside", f"{distance:.2f} m from its centre", rings, cams)


@dataclass
class LiftResult:
    """What :func:`lift_scene` wrote."""

    out: Path  # the labelled .ply
    colored: Path  # the copy coloured by class
    lifted: LiftedLabels
    class_names: list[str]
    coverage: Coverage | None  # None with a cameras.json
    frame: SceneFrame  # the scene's units and up axis the features were computed in

    def describe(self) -> str:
        n = len(self.lifted.labels)
        seen = self.lifted.labels != UNLABELLED
        conf = float(self.lifted.confidence[seen].mean()) if bool(seen.any()) else float("nan")
        return (
            f"{int(seen.sum())} of {n} Gaussians labelled ({self.lifted.labelled_fraction:.1%}; the rest, never seen, "
            f"{UNLABELLED}), mean confidence {conf:.2f}: {self.out}, coloured by class: {self.colored}"
        )


def lift_scene(
    scene: str | Path,
    out: str | Path,
    *,
    cameras: str | Path | None = None,
    views: int | None = None,
    width: int = VIEW_WIDTH,
    height: int = VIEW_HEIGHT,
    weights: str | Path | None = None,
    feature_weights: str | Path | None = None,
    colored: str | Path | None = None,
    device: str = "cpu",
    progress: bool = True,
    metres_per_unit: float | None = None,
    up: str = "+z",
) -> LiftResult:
    """Label the Gaussians of the 3DGS ``scene`` (.ply) from many views and write ``out`` and
    ``colored`` (module doc).

    Args:
        cameras: an INRIA cameras.json giving the views (at its image sizes); else :func:`coverage_cameras`.
        views: views of the automatic coverage (default LIFT_VIEWS).
        width, height: image size of the automatic views, pixels.
        weights: fusion model (default: the shipped one).
        feature_weights: feature network for scenes without fitting ``f_vi_*`` (as ``rtgs2 segment``).
        colored: the class-coloured copy (default ``<out stem>_colored.ply`` beside ``out``).
        metres_per_unit, up: the file's units and up axis (as ``rtgs2 segment``); the result's
            ``frame`` says which the features used; the coverage is placed in
            :func:`~rtgs2.pipeline.cameras.orbit_frame`.

    Raises:
        ValueError: both ``cameras`` and ``views``, bad sizes, a cameras.json that does not parse or
            lists no camera, outputs that are not new ``.ply`` paths (or earlier lift outputs).
        FileNotFoundError: the scene, cameras or weights are missing.
    """
    scene, out = Path(scene), Path(out)
    colored = Path(colored) if colored is not None else out.with_name(f"{out.stem}_colored.ply")
    refuse_folder(scene, "scene")
    if not scene.is_file():
        raise MissingFileError(f"scene {scene} not found")
    _check_outputs(scene, out, colored)
    if cameras is not None and views is not None:
        raise UserError("give either --cameras (a cameras.json) or --views (a number of automatic views), not both")
    cams = None
    if cameras is not None:
        cams = read_cameras_json(cameras)
        if not cams:
            raise UserError(f"{cameras}: lists no camera")
    else:
        check_views(LIFT_VIEWS if views is None else views, width, height, "views")  # before loading anything
    segmenter = Segmenter.from_files(
        scene, fusion_weights_path(weights), feature_weights=feature_weights, device=device,
        metres_per_unit=metres_per_unit, up=up,
    )  # fmt: skip
    coverage = None
    if cams is None:
        num_views = LIFT_VIEWS if views is None else views
        coverage = coverage_cameras(segmenter.scene, num_views, width, height, orbit_frame(metres_per_unit, up))
        cams = coverage.cameras
    if segmenter.fallback and progress:
        print(f"lift: {segmenter.fallback}")
    lifted = lift_labels(segmenter, cams, progress=progress)
    names = segmenter.label_names
    labels = lifted.labels.numpy()
    write_ply_with_properties(scene, {LABEL: labels, CONFIDENCE: lifted.confidence.numpy().astype(np.float32)}, out)
    write_ply_with_properties(out, class_color_dc(labels, names), colored, zeroed=("f_rest_",))
    return LiftResult(out, colored, lifted, names, coverage, segmenter.frame)


def class_color_dc(labels: np.ndarray, class_names: Sequence[str]) -> dict[str, np.ndarray]:  # labels [N] uint8
    """``f_dc_0..2`` [N] float32 that render each Gaussian in its class's colour (``class_label_map``;
    UNLABELLED black): SH DC = (colour - 0.5) / SH_C0, the inverse of the renderer's colour rule."""
    rgb = class_label_map(list(class_names)).colorize(labels).astype(np.float32) / 255.0  # [N, 3]
    dc = (rgb - 0.5) / SH_C0
    return {f"f_dc_{c}": dc[:, c].astype(np.float32) for c in range(3)}


def _check_outputs(scene: Path, out: Path, colored: Path) -> None:
    """Both outputs are ``.ply`` paths, distinct, not the input, and new or earlier lift outputs (module doc)."""
    if out.resolve() == colored.resolve():
        raise UserError(f"the labelled and the coloured outputs are both {out}: give --colored another path")
    for path in (out, colored):
        if path.is_dir():
            raise UserError(f"output {path} is a folder: give a .ply file path")
        if path.suffix.lower() != ".ply":
            raise UserError(f"output {path} must be a .ply file")
        if path.exists() and path.resolve() == scene.resolve():
            raise UserError(f"output {path} is the input scene: write the labels to another file")
        if path.exists() and not _is_lift_output(path):
            raise UserError(
                f"output {path} exists and is not an earlier rtgs2 lift output: choose a new file (nothing was written)"
            )
        check_writable(path, "output")  # now, not after rendering every view


def _is_lift_output(path: Path) -> bool:
    """Whether ``path`` is a PLY file whose vertices have both label properties (its header says)."""
    return {LABEL, CONFIDENCE} <= (vertex_property_names(path) or set())
