"""Per-Gaussian features computed once per scene and kept on disk: the fusion network's
training data and the segmenter both read a scene's features F [N, D] many times, and running
the feature network over every Gaussian is the slow part."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from rtgs2.features import extract
from rtgs2.features.inputs import INPUTS_VERSION, SceneFrame
from rtgs2.features.io import load_feature_net
from rtgs2.features.ptv3 import GaussianFeatureNet
from rtgs2.scene.gaussians import GaussianScene
from rtgs2.utils.io import atomic_open, file_sha256


class FeatureCache:
    """Per-Gaussian features of scenes, computed once by the network at ``weights`` and kept in
    ``folder`` as ``<scene>.npz`` (``fingerprint``: SHA-256 of the ``.ply`` and of the weights, and
    the inputs' rules, ``INPUTS_VERSION``; ``features`` [N, D] float32)."""

    def __init__(self, folder: Path, weights: Path):
        self.folder, self.weights = Path(folder), Path(weights)
        self._net: GaussianFeatureNet | None = None  # loaded on the first miss

    def features(
        self, name: str, ply: Path, scene: GaussianScene, frame: SceneFrame | None = None
    ) -> Tensor:  # [N, D] float32, CPU
        """The features of ``scene`` (read from ``ply``) in ``frame`` (default: the automatic
        choice): the cached ones when their fingerprint matches the current ``ply``, weights and
        inputs' rules, else extracted and cached. The fingerprint does not cover the frame:
        callers passing one put it in ``name``."""
        fingerprint = f"{file_sha256(ply, self.weights)} inputs v{INPUTS_VERSION}"
        path = self.folder / f"{name}.npz"
        if path.is_file():
            with np.load(path) as z:
                if str(z["fingerprint"]) == fingerprint and len(z["features"]) == scene.num_gaussians:
                    return torch.from_numpy(z["features"])
        if self._net is None:
            self._net = load_feature_net(self.weights)
        # looked up on the module at each call: tests count extractions by replacing it there
        feats = extract.extract_features(scene, self._net, frame=frame).float().contiguous()
        with atomic_open(path, "wb") as f:
            np.savez(f, fingerprint=np.array(fingerprint), features=feats.numpy())
        return feats
