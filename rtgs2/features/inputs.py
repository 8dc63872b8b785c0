"""What the feature network sees of a Gaussian, and the scene frame it expects.

The network is trained on z-up scenes in metres (SynthRooms; Replica and ScanNet are too).
Real files come in any units and frames (a trainer's COLMAP frame is tilted and scaled by
SfM; the donut in the shared assets is 0.2 units across), so a :class:`SceneFrame` turns
them into that frame first: a scale (metres per unit) and which file axis points up. Either
is given by the user or chosen automatically, and the choice is reported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from rtgs2.scene.gaussians import GaussianScene
from rtgs2.utils.errors import ConfigError, UserError

# Inputs are standardised with fixed constants (not per-scene statistics, which would make a
# Gaussian's input depend on the rest of the scene): typical ranges of fitted indoor scenes.
INPUTS_VERSION = 1
"""The rules turning a scene into the network's inputs (centring, units, standardisation: this
module): cached features record it (``FeatureCache``); bump it when a rule changes, so that
features computed under the old rules are computed again, not reused."""
ROOM_SCALE_M = 4.0  # metres: centred coordinates are divided by this
LOG_SCALE_MEAN = -4.5  # log-metres: ~1 cm, a typical fitted Gaussian
LOG_SCALE_STD = 1.5
INPUT_CLIP = 5.0  # standardised log-scales beyond this many std-devs are clipped (floaters)

# Auto scale: a scene whose robust extent lies outside this range (metres, if the file were in
# metres) is far from room-sized and is rescaled to ROOM_EXTENT_M.
ROOM_EXTENT_RANGE_M = (1.5, 60.0)
ROOM_EXTENT_M = 6.0
EXTENT_QUANTILES = (0.02, 0.98)  # floaters do not count towards the extent

UP_AXES = {"+x": (1, 0, 0), "-x": (-1, 0, 0), "+y": (0, 1, 0), "-y": (0, -1, 0), "+z": (0, 0, 1), "-z": (0, 0, -1)}


@dataclass(frozen=True)
class SceneFrame:
    """How a file's coordinates map to the network's frame: ``x_net = R @ (x * metres_per_unit)``,
    R a rotation taking the file's ``up`` axis to +z."""

    metres_per_unit: float = 1.0
    up: str = "+z"
    note: str = ""
    """How the frame was chosen (printed for the user)."""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.metres_per_unit) and self.metres_per_unit > 0):
            raise ConfigError(None, "metres_per_unit", f"must be a positive number, got {self.metres_per_unit}")
        if self.up not in UP_AXES:
            raise ConfigError(None, "up", f"must be one of {sorted(UP_AXES)}, got {self.up!r}")

    def rotation(self) -> Tensor:
        """[3, 3] float64 rotation taking the ``up`` axis to +z (identity for +z)."""
        u = torch.tensor(UP_AXES[self.up], dtype=torch.float64)
        z = torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)
        if torch.equal(u, z):
            return torch.eye(3, dtype=torch.float64)
        if torch.equal(u, -z):
            return torch.diag(torch.tensor([1.0, -1.0, -1.0], dtype=torch.float64))  # 180 deg about x
        # 90 deg about axis u x z: Rodrigues with sin = 1, cos = 0.
        k = torch.linalg.cross(u, z)
        kx = torch.tensor([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]], dtype=torch.float64)
        return torch.eye(3, dtype=torch.float64) + kx + kx @ kx


def robust_extent(means: Tensor) -> float:
    """Diagonal of the box holding the central 96% of the Gaussians along each axis, file units."""
    q = torch.quantile(means.detach().double()[:: max(1, len(means) // 200_000)], torch.tensor(EXTENT_QUANTILES, dtype=torch.float64), dim=0)
    return float((q[1] - q[0]).norm())


def choose_frame(scene: GaussianScene, metres_per_unit: float | None = None, up: str = "+z") -> SceneFrame:
    """The frame for ``scene``: the given scale, or (``None``) 1 unit = 1 m when the scene is
    room-sized and else the scale that makes it :data:`ROOM_EXTENT_M` across."""
    extent = robust_extent(scene.means)
    if metres_per_unit is not None:
        return SceneFrame(metres_per_unit, up, f"{metres_per_unit:g} m per unit (given), up {up}")
    lo, hi = ROOM_EXTENT_RANGE_M
    if extent <= 0:
        raise UserError("all Gaussians lie at one point: the scene has no extent to compute features on")
    if lo <= extent <= hi:
        return SceneFrame(1.0, up, f"scene extent {extent:.3g} m: room-sized, taken as metres; up {up}")
    scale = ROOM_EXTENT_M / extent
    return SceneFrame(
        scale, up,
        f"scene extent {extent:.3g} units is far from room-sized ({lo:g}-{hi:g} m): treating 1 unit as {scale:.4g} m "
        f"(give --metres-per-unit to override); up {up}",
    )  # fmt: skip


@dataclass
class GaussianArrays:
    """A scene's Gaussians in the network frame, before standardisation (what augmentations
    change): ``xyz`` [N, 3] metres, centred (median x, y; 2nd-percentile z, near the floor);
    ``colour`` [N, 3] base RGB in [0, 1]; ``log_scales`` [N, 3] log-metres; ``opacity`` [N] in
    (0, 1); ``ids`` [N] int64 row of each Gaussian in the scene (for correspondences)."""

    xyz: np.ndarray
    colour: np.ndarray
    log_scales: np.ndarray
    opacity: np.ndarray
    ids: np.ndarray

    def subset(self, rows: np.ndarray) -> GaussianArrays:
        return GaussianArrays(self.xyz[rows], self.colour[rows], self.log_scales[rows], self.opacity[rows], self.ids[rows])

    def inputs(self) -> np.ndarray:
        """[N, 10] float32 standardised channels: xyz / 4 m, colour - 0.5, standardised
        log-scales (clipped at 5 std-devs), opacity - 0.5."""
        ls = np.clip((self.log_scales - LOG_SCALE_MEAN) / LOG_SCALE_STD, -INPUT_CLIP, INPUT_CLIP)
        return np.concatenate(
            [self.xyz / ROOM_SCALE_M, np.clip(self.colour, 0, 1) - 0.5, ls, self.opacity[:, None] - 0.5], axis=1
        ).astype(np.float32)


def gaussian_arrays(scene: GaussianScene, frame: SceneFrame = SceneFrame()) -> GaussianArrays:
    """The scene's Gaussians in the network frame (see :class:`GaussianArrays`). Centring makes
    the inputs independent of where the file puts the scene.

    Raises:
        ValueError: non-finite attributes (naming which).
    """
    for name in ("means", "log_scales", "opacity_logits", "sh"):
        t = getattr(scene, name)
        if not bool(torch.isfinite(t).all()):
            raise UserError(f"scene {name} has non-finite values (NaN/Inf): features would be garbage; fix the file")
    rot = frame.rotation().numpy()
    xyz = (scene.means.detach().cpu().double().numpy() * frame.metres_per_unit) @ rot.T
    sub = xyz[:: max(1, len(xyz) // 200_000)]
    xyz = xyz - np.array([np.median(sub[:, 0]), np.median(sub[:, 1]), np.quantile(sub[:, 2], 0.02)])
    # Turning the file turns each Gaussian's axes too, but log-scales are sizes along the
    # Gaussian's own axes: only the change of unit applies to them.
    return GaussianArrays(
        xyz=xyz.astype(np.float32),
        colour=scene.base_colors.detach().cpu().numpy().astype(np.float32),
        log_scales=(scene.log_scales.detach().cpu().double().numpy() + math.log(frame.metres_per_unit)).astype(np.float32),
        opacity=scene.opacities.detach().cpu().numpy().astype(np.float32),
        ids=np.arange(scene.num_gaussians, dtype=np.int64),
    )
