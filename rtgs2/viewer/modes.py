"""One picture per viewer mode: what a camera sees as RGB, label overlay, feature PCA or depth,
each an ``[H, W, 3]`` uint8 image at the camera's size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from rtgs2.features.inputs import SceneFrame
from rtgs2.features.preview import pca_colours
from rtgs2.pipeline.draw import class_label_map, overlay, to_uint8
from rtgs2.pipeline.segmenter import MIN_ALPHA, Segmenter, scene_features
from rtgs2.render import render
from rtgs2.scene import Camera, GaussianScene
from rtgs2.utils.errors import MissingFileError

RGB, LABELS, PCA, DEPTH = "RGB", "labels", "feature PCA", "depth"
MODES = (RGB, LABELS, PCA, DEPTH)
DEPTH_QUANTILES = (0.02, 0.98)  # near/far of the colour map per frame: a few stray splats do not flatten it
DEPTH_CMAP = "turbo"


class ModeRenderer:
    """Pictures of one scene in each available mode.

    Args:
        scene: the Gaussians (their ``features``, if any, are not blended for RGB and depth).
        segmenter: labels the views; None disables the labels mode.
        features: [N, D] per-Gaussian features for the PCA mode; None disables it.
        notes: why a mode is off, shown to the user (mode -> sentence).
        frame: the scene's units and up axis its features were computed in; the viewer keeps that axis up.
    """

    def __init__(
        self,
        scene: GaussianScene,
        segmenter: Segmenter | None = None,
        features: Tensor | None = None,  # [N, D]
        notes: dict[str, str] | None = None,
        frame: SceneFrame = SceneFrame(),
    ):
        self.scene = scene.with_features(None)  # RGB and depth need no feature channels: cheaper to render
        self.segmenter = segmenter
        self.pca = pca_colours(features) if features is not None else None  # [N, 3] in [0, 1], once per scene
        self.notes = dict(notes or {})
        self.frame = frame
        if segmenter is not None:
            self.label_map = class_label_map(segmenter.label_names)

    @property
    def modes(self) -> list[str]:
        """The modes this scene can be shown in, labels first when available."""
        off = {LABELS} if self.segmenter is None else set()
        off |= {PCA} if self.pca is None else set()
        return [m for m in (LABELS, RGB, PCA, DEPTH) if m not in off]

    @torch.no_grad()
    def render(self, mode: str, camera: Camera) -> np.ndarray:  # [H, W, 3] uint8
        """``camera``'s view in ``mode`` (one of :attr:`modes`)."""
        if mode not in self.modes:
            raise ValueError(f"mode {mode!r} is not available here (available: {', '.join(self.modes)})")
        if mode == LABELS:
            view = self.segmenter.segment(camera)
            return overlay(to_uint8(view.rgb), view.labels.numpy(), self.label_map)
        if mode == PCA:
            return to_uint8(render(self.scene, camera, features=self.pca).features)
        out = render(self.scene, camera)
        if mode == RGB:
            return to_uint8(out.rgb)
        return depth_colours(out.depth.numpy(), out.alpha.numpy())


def depth_colours(depth: np.ndarray, alpha: np.ndarray) -> np.ndarray:  # [H, W], [H, W] -> [H, W, 3] uint8
    """Depth (metres) through a colour map, near blue to far red, stretched over this frame's
    covered pixels (alpha >= MIN_ALPHA); uncovered pixels are black."""
    from matplotlib import colormaps

    covered = alpha >= MIN_ALPHA
    out = np.zeros((*depth.shape, 3), dtype=np.uint8)
    if not covered.any():
        return out
    near, far = np.quantile(depth[covered], DEPTH_QUANTILES)
    t = np.clip((depth - near) / max(far - near, 1e-9), 0, 1)
    rgb = colormaps[DEPTH_CMAP](t)[..., :3]
    out[covered] = to_uint8(rgb[covered])
    return out


def pca_features(
    scene: GaussianScene,
    ply: Path | None,
    feature_weights: Path | None,
    cache: str | Path | None,
    frame: SceneFrame | None = None,
) -> Tensor | None:  # [N, D]
    """Features [N, D] for the PCA mode: the scene's own (``f_vi_*``), else extracted with
    ``feature_weights`` (default: the shipped ones) in ``frame`` (default: the automatic one)
    and cached like the segmenter's; None when there are neither."""
    if scene.features is not None:
        return scene.features
    from rtgs2.features.io import SHIPPED

    weights = Path(feature_weights) if feature_weights is not None else SHIPPED
    if not weights.is_file():
        if feature_weights is not None:
            raise MissingFileError(f"feature weights {weights} not found (--feature-weights)")
        return None
    return scene_features(scene, ply, weights, cache, frame)
