"""View consistency of label images (the quality bar: higher for the full model than for the
image-only one): do two views give the same label to the same surface point? Every pixel of view A is lifted to 3D with A's depth, projected into view B, and
compared with B's label at the pixel it lands on, if B sees that point too (its depth there
agrees) rather than something in front of it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from rtgs2.data.views import IGNORE_LABEL
from rtgs2.scene import Camera

# Co-visibility: a point projected into B counts as seen by B when its depth in B is within
# DEPTH_REL_TOL * d + DEPTH_ABS_TOL of B's depth d at that pixel. Rendered depth is a blend of
# Gaussians a few cm thick, and the nearest pixel is up to half a pixel off the projected point,
# so on slanted surfaces depth differs by a few percent between neighbouring pixels.
DEPTH_REL_TOL = 0.02  # fraction of depth
DEPTH_ABS_TOL = 0.01  # metres

ImageLike = Tensor | np.ndarray


def _cpu(x: ImageLike, camera: Camera, name: str) -> Tensor:
    """``x`` as a CPU tensor, checked to be [H, W] of ``camera``."""
    t = x.detach().cpu() if isinstance(x, Tensor) else torch.as_tensor(np.asarray(x))
    if tuple(t.shape) != (camera.height, camera.width):
        expected = [camera.height, camera.width]
        raise ValueError(f"{name} must have shape {expected} (H, W of its camera), got {list(t.shape)}")
    return t


def pair_agreement(
    camera_a: Camera,
    depth_a: ImageLike,  # [Ha, Wa] camera z, metres; 0 or non-finite = unknown
    labels_a: ImageLike,  # [Ha, Wa] uint8, IGNORE_LABEL = ignore
    camera_b: Camera,
    depth_b: ImageLike,  # [Hb, Wb] camera z, metres; 0 or non-finite = unknown
    labels_b: ImageLike,  # [Hb, Wb] uint8
    *,
    rel_tol: float = DEPTH_REL_TOL,
    abs_tol: float = DEPTH_ABS_TOL,
    ignore: int = IGNORE_LABEL,
) -> tuple[int, int]:
    """Labels of A's pixels compared with B's labels at the same surface points.

    Depths are camera z (not distance along the ray), as ``rtgs2.render.render(...).depth``
    and ``Camera.unproject`` use; zero out unreliable pixels first (e.g. rendered alpha < 0.5).
    A pixel of A is compared when its depth is known, its label is not ``ignore``, it lands in
    front of B inside B's image, B's depth at the nearest pixel is known and within
    ``rel_tol * depth_b + abs_tol`` metres of the point's depth in B (else B sees something
    else there: an occluder, or nothing), and B's label there is not ``ignore``.

    Returns:
        (agreeing, compared) pixel counts of A.
    Raises:
        ValueError: a depth or label image whose shape is not its camera's [H, W].
    """
    da, la = _cpu(depth_a, camera_a, "depth_a").to(torch.float64), _cpu(labels_a, camera_a, "labels_a")
    db, lb = _cpu(depth_b, camera_b, "depth_b").to(torch.float64), _cpu(labels_b, camera_b, "labels_b")
    src, uv, z = camera_a.reproject(da, camera_b, keep=la != ignore)
    row, col, inside = camera_b.pixel_at(uv, z)
    la, z = la[src[inside, 0], src[inside, 1]], z[inside]
    d, lab_b = db[row[inside], col[inside]], lb[row[inside], col[inside]]
    seen = torch.isfinite(d) & (d > 0) & ((z - d).abs() <= rel_tol * d + abs_tol) & (lab_b != ignore)
    return int((la[seen] == lab_b[seen]).sum()), int(seen.sum())


def nearest_views(cameras: Sequence[Camera]) -> list[int]:
    """For each camera, the index of the other camera whose centre is nearest (needs >= 2)."""
    if len(cameras) < 2:
        raise ValueError(f"nearest_views needs at least 2 cameras, got {len(cameras)}")
    centres = torch.stack([c.center for c in cameras])  # [V, 3] metres
    dist = torch.cdist(centres, centres)
    dist.fill_diagonal_(float("inf"))
    return dist.argmin(1).tolist()


def view_agreement(
    cameras: Sequence[Camera],
    depths: Sequence[ImageLike],  # V x [H, W] camera z, metres; 0 = unknown
    labels: Sequence[ImageLike],  # V x [H, W] uint8, IGNORE_LABEL = ignore
    *,
    rel_tol: float = DEPTH_REL_TOL,
    abs_tol: float = DEPTH_ABS_TOL,
    ignore: int = IGNORE_LABEL,
) -> tuple[int, int]:
    """(agreeing, compared) pixel counts summed over all views, each paired with its nearest
    other view by camera centre (``nearest_views``) and scored with ``pair_agreement`` (see it
    for which pixels count); (0, 0) for fewer than 2 views. Counts of several scenes add up to
    a pooled score."""
    if not len(cameras) == len(depths) == len(labels):
        raise ValueError(f"cameras, depths and labels differ in length: {len(cameras)}, {len(depths)}, {len(labels)}")
    if len(cameras) < 2:
        return 0, 0
    agree = compared = 0
    for a, b in enumerate(nearest_views(cameras)):
        n_agree, n = pair_agreement(
            cameras[a], depths[a], labels[a], cameras[b], depths[b], labels[b],
            rel_tol=rel_tol, abs_tol=abs_tol, ignore=ignore,
        )  # fmt: skip
        agree, compared = agree + n_agree, compared + n
    return agree, compared


def view_consistency(
    cameras: Sequence[Camera],
    depths: Sequence[ImageLike],  # V x [H, W] camera z, metres; 0 = unknown
    labels: Sequence[ImageLike],  # V x [H, W] uint8, IGNORE_LABEL = ignore
    *,
    rel_tol: float = DEPTH_REL_TOL,
    abs_tol: float = DEPTH_ABS_TOL,
    ignore: int = IGNORE_LABEL,
) -> float:
    """Fraction of compared pixels whose label agrees with the same point's label in the
    neighbouring view (the counts of ``view_agreement``). NaN when no pixel could be compared.

    Raises:
        ValueError: fewer than 2 views, or lists of different lengths.
    """
    nearest_views(cameras)  # refuses fewer than 2 views
    agree, compared = view_agreement(cameras, depths, labels, rel_tol=rel_tol, abs_tol=abs_tol, ignore=ignore)
    return agree / compared if compared else float("nan")
