"""Linear probe of per-Gaussian features: are they useful, not only invariant?

Each Gaussian of a labelled scene gets a class by voting: every view that sees its centre
(not occluded, by the view's depth map) votes the label at its pixel. A softmax regression is
trained on the Gaussians of one half of the room (split at the median of the longer
horizontal axis) and scored on the other half (mIoU over the Gaussians, classes present in the
scored half). The same probe on the raw 10 network inputs is the baseline.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from rtgs2.data.views import IGNORE_LABEL, SceneViews
from rtgs2.data.visibility import visible_gaussians
from rtgs2.eval.metrics import confusion_matrix, segmentation_metrics
from rtgs2.scene.gaussians import GaussianScene

MIN_VOTES = 2  # a Gaussian seen (unoccluded) by fewer views keeps no class


def gaussian_labels(scene: GaussianScene, views: SceneViews, num_classes: int) -> np.ndarray:
    """[N] uint8 class of each Gaussian by majority vote over the views (IGNORE_LABEL: fewer
    than :data:`MIN_VOTES` votes)."""
    if views.labels is None:
        raise ValueError(f"scene {views.name!r} has no labels to vote with")
    votes = np.zeros((scene.num_gaussians, num_classes), np.int32)
    means = scene.means.detach()
    for v in range(len(views)):
        ids = visible_gaussians(scene, views, v)
        cam = views.cameras[v]
        uv, _ = cam.project(means[torch.from_numpy(ids)])
        px = uv.long().numpy()
        lab = np.asarray(views.labels[v])[px[:, 1], px[:, 0]]
        ok = lab != IGNORE_LABEL
        np.add.at(votes, (ids[ok], lab[ok].astype(np.int64)), 1)
    out = votes.argmax(1).astype(np.uint8)
    out[votes.sum(1) < MIN_VOTES] = IGNORE_LABEL
    return out


def half_split(xyz: np.ndarray) -> np.ndarray:
    """[N] bool: True for the half of the points below the median of the longer horizontal axis."""
    axis = int(np.argmax(np.ptp(xyz[:, :2], axis=0)))
    return xyz[:, axis] < np.median(xyz[:, axis])


def linear_probe(
    x: np.ndarray,  # [N, C] per-Gaussian features
    y: np.ndarray,  # [N] uint8 classes (IGNORE_LABEL skipped)
    train: np.ndarray,  # [N] bool: the training half
    num_classes: int,
    steps: int = 300,
    seed: int = 0,
) -> dict:
    """Softmax regression (standardised inputs, L-BFGS) on ``train``, scored on the rest:
    :func:`segmentation_metrics` of the held-out half."""
    keep = y != IGNORE_LABEL
    tr, te = train & keep, ~train & keep
    if tr.sum() == 0 or te.sum() == 0:
        raise ValueError("the probe needs labelled Gaussians in both halves")
    xt = torch.from_numpy(x).double()
    mu, sd = xt[torch.from_numpy(tr)].mean(0), xt[torch.from_numpy(tr)].std(0).clamp_min(1e-8)
    xt = (xt - mu) / sd
    yt = torch.from_numpy(y.astype(np.int64))
    torch.manual_seed(seed)
    lin = torch.nn.Linear(x.shape[1], num_classes).double()
    opt = torch.optim.LBFGS(lin.parameters(), max_iter=steps, history_size=20, line_search_fn="strong_wolfe")
    xa, ya = xt[torch.from_numpy(tr)], yt[torch.from_numpy(tr)]

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(lin(xa), ya) + 1e-4 * lin.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        pred = lin(xt[torch.from_numpy(te)]).argmax(1).numpy()
    return segmentation_metrics(confusion_matrix(pred, y[te], num_classes))
