"""``extract_features``: run the feature network once over all Gaussians of a scene.

The scene is first put in the network's frame (:func:`rtgs2.features.inputs.choose_frame`).
Scenes too big for one pass are cut into vertical slabs along the longer horizontal axis; each
slab is run with a margin of context around it and keeps the features of its own Gaussians,
so a Gaussian's feature sees its neighbourhood either way.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from rtgs2.features.inputs import GaussianArrays, SceneFrame, choose_frame, gaussian_arrays
from rtgs2.features.io import load_feature_net
from rtgs2.features.ptv3 import GaussianFeatureNet
from rtgs2.scene.gaussians import GaussianScene
from rtgs2.utils.layers import inference_copy

MAX_POINTS_PER_PASS = 2_000_000  # Gaussians per forward pass (~4 GB peak for `small`); larger scenes go in slabs
SLAB_CONTEXT_M = 1.0  # metres of neighbouring Gaussians each slab sees beyond its own extent


def _run(model: GaussianFeatureNet, arrays: GaussianArrays, device: torch.device) -> Tensor:  # [N, D] on the CPU
    coord = torch.from_numpy(arrays.xyz).to(device)
    inputs = torch.from_numpy(arrays.inputs()).to(device)
    offset = torch.tensor([len(coord)], device=device)
    return model(coord, inputs, offset).cpu()


def feature_device(device: str | torch.device | None = None) -> torch.device:
    """``device``, or by default the first GPU when CUDA is present, else the CPU."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def slabs(xyz: np.ndarray, max_points: int, context: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """Cut points into slabs along the horizontal axis of largest spread.

    Returns:
        (rows run, mask of those rows whose features are kept) per slab; every point is kept
        by exactly one slab.
    """
    n = len(xyz)
    if n <= max_points:
        return [(np.arange(n), np.ones(n, bool))]
    axis = int(np.argmax(np.ptp(xyz[:, :2], axis=0)))
    x = xyz[:, axis]
    k = int(np.ceil(n / max_points * 1.5))  # headroom for the context margins
    cuts = np.quantile(x, np.linspace(0, 1, k + 1))
    cuts[0], cuts[-1] = -np.inf, np.inf
    out = []
    for lo, hi in zip(cuts[:-1], cuts[1:]):
        rows = np.nonzero((x >= lo - context) & (x < hi + context))[0]
        out.append((rows, (x[rows] >= lo) & (x[rows] < hi)))
    return out


def extract_features(
    scene: GaussianScene,
    weights: str | Path | GaussianFeatureNet | None = None,
    *,
    frame: SceneFrame | None = None,
    max_points_per_pass: int = MAX_POINTS_PER_PASS,
    device: str | torch.device | None = None,
) -> Tensor:  # [N, D] float32, unit vectors, on the CPU
    """Per-Gaussian view-independent features of ``scene``.

    Args:
        scene: any 3DGS scene (CPU).
        weights: a weights file, a loaded network, or None for the shipped weights.
        frame: units and up axis of the file (default: :func:`choose_frame`'s automatic choice).
        max_points_per_pass: larger scenes are processed in slabs (see module docstring).
        device: where the network runs (default: CUDA when present, else the CPU); a loaded
            network passed as ``weights`` runs as a copy there when it is elsewhere or training.

    Raises:
        ValueError: NaN/Inf attributes, a scene collapsed to one point.
    """
    model = weights if isinstance(weights, GaussianFeatureNet) else load_feature_net(weights)
    device = feature_device(device)
    model = inference_copy(model, device)  # a network passed in is left on its device, in its mode
    arrays = gaussian_arrays(scene, frame if frame is not None else choose_frame(scene))
    out = torch.empty(scene.num_gaussians, model.cfg.out_channels)
    with torch.no_grad():
        for rows, keep in slabs(arrays.xyz, max_points_per_pass, SLAB_CONTEXT_M):
            feat = _run(model, arrays.subset(rows), device)
            out[torch.from_numpy(rows[keep])] = feat[torch.from_numpy(keep)]
    return out
