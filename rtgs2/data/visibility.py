"""Which Gaussians a data set's view sees: the pairs of contrastive pre-training
(``rtgs2.train.feature_pairs``) and the labels of the feature probe (``rtgs2.eval.probe``) are
both built from it."""

from __future__ import annotations

import numpy as np
import torch

from rtgs2.data.views import SceneViews
from rtgs2.scene.gaussians import GaussianScene

NEAR_M = 0.01  # centres closer to the camera than this are not seen
# A centre this far behind the depth map's surface still counts as seen: metres plus a fraction
# of the depth (depth maps are quantised, and centres lie inside the surfaces they make up).
DEPTH_TOLERANCE_M = 0.05
DEPTH_TOLERANCE_REL = 0.02


def visible_gaussians(scene: GaussianScene, views: SceneViews, view: int) -> np.ndarray:  # [M] int64
    """Sorted ids of the Gaussians whose centre view ``view`` sees: inside the image, in front
    of the camera and, where the scene has depth maps, not behind the surface (occlusion)."""
    cam = views.cameras[view]
    with torch.no_grad():
        uv, z = cam.project(scene.means)
    inside = (z > NEAR_M) & (uv[:, 0] >= 0) & (uv[:, 0] < cam.width) & (uv[:, 1] >= 0) & (uv[:, 1] < cam.height)
    if views.depths is not None:
        depth = torch.as_tensor(views.depths[view])
        idx = torch.nonzero(inside).squeeze(1)
        px = uv[idx].long()  # in the image: floor
        d = depth[px[:, 1], px[:, 0]]
        seen = (d > 0) & (z[idx] <= d * (1 + DEPTH_TOLERANCE_REL) + DEPTH_TOLERANCE_M)
        inside = torch.zeros_like(inside)
        inside[idx[seen]] = True
    return torch.nonzero(inside).squeeze(1).numpy()
