"""Batches of point clouds for the feature backbone, and voxelisation.

B point clouds travel concatenated, with cumulative counts ``offset`` (Pointcept's ``Point``, but a
typed, frozen dataclass instead of a dict: a typo raises, and nothing stale can hide under a key).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cached_property

import torch
from torch import Tensor

_INT64_LIMIT = 2**63  # packed keys must stay below this (int64, no sign bit)


@dataclass(frozen=True)
class PointBatch:
    """B point clouds concatenated along the first axis (N points in all).

    Frozen: derive a new batch with :meth:`replace`. The ``serialized_*`` and ``neighbours`` fields
    are caches of functions of ``grid_coord`` and ``offset``; :meth:`replace` drops them when either
    of those changes, unless new ones are given.
    """

    coord: Tensor  # [N, 3] float, metres
    grid_coord: Tensor  # [N, 3] int64 >= 0, voxel indices at the batch's grid size
    feat: Tensor  # [N, C]
    offset: Tensor  # [B] int64, cumulative point counts (offset[-1] == N)
    serialized_code: Tensor | None = None  # [S, N] int64, one row per serialization order
    serialized_order: Tensor | None = None  # [S, N] int64, stable argsort of each code row
    serialized_inverse: Tensor | None = None  # [S, N] int64, inverse permutation of serialized_order
    serialized_depth: int = 0  # bits per axis used by the codes
    neighbours: Tensor | None = None  # [N, k^3] int64 submanifold-conv neighbour rows (-1 = none)

    def __post_init__(self) -> None:
        # Shapes only: value checks (offset[-1] == N) would synchronise a GPU on every replace().
        n = self.coord.shape[0]
        if self.coord.ndim != 2 or self.coord.shape[1] != 3:
            raise ValueError(f"PointBatch.coord must be [N, 3], got {list(self.coord.shape)}")
        if self.grid_coord.shape != self.coord.shape or self.grid_coord.dtype != torch.int64:
            got = f"{self.grid_coord.dtype} {list(self.grid_coord.shape)}"
            raise ValueError(f"PointBatch.grid_coord must be int64 [{n}, 3], got {got}")
        if self.feat.ndim != 2 or self.feat.shape[0] != n:
            raise ValueError(f"PointBatch.feat must be [{n}, C], got {list(self.feat.shape)}")
        if self.offset.ndim != 1 or self.offset.dtype != torch.int64:
            raise ValueError(f"PointBatch.offset must be int64 [B], got {self.offset.dtype} {list(self.offset.shape)}")
        for name in ("serialized_code", "serialized_order", "serialized_inverse"):
            value = getattr(self, name)
            if value is not None and (value.ndim != 2 or value.shape[1] != n):
                raise ValueError(f"PointBatch.{name} must be [S, {n}], got {list(value.shape)}")
        if self.neighbours is not None and (self.neighbours.ndim != 2 or self.neighbours.shape[0] != n):
            raise ValueError(f"PointBatch.neighbours must be [{n}, k^3], got {list(self.neighbours.shape)}")

    @cached_property
    def batch(self) -> Tensor:
        """[N] int64 index of each point's sample (computed once per batch object)."""
        return offset_to_batch(self.offset, num_points=self.coord.shape[0])

    def replace(self, **changes) -> PointBatch:
        """A copy with ``changes`` (``dataclasses.replace``); caches tied to the grid reset with it."""
        if "grid_coord" in changes or "offset" in changes:
            for name in ("serialized_code", "serialized_order", "serialized_inverse", "neighbours"):
                changes.setdefault(name, None)
            changes.setdefault("serialized_depth", 0)
        return dataclasses.replace(self, **changes)


def offset_to_batch(
    offset: Tensor,  # [B] int64 cumulative counts
    num_points: int | None = None,  # offset[-1], when the caller knows it (saves a GPU sync)
) -> Tensor:  # [N] int64 sample index
    """Cumulative counts -> the sample index of every point (empty samples allowed)."""
    counts = torch.diff(offset, prepend=offset.new_zeros(1))
    samples = torch.arange(len(offset), device=offset.device)
    return torch.repeat_interleave(samples, counts, output_size=num_points)


def batch_to_offset(
    batch: Tensor,  # [N] int64, sorted (non-decreasing)
) -> Tensor:  # [B] int64, B = batch.max() + 1
    """Sample index of every point -> cumulative counts. Raises ValueError if ``batch`` is not sorted."""
    if batch.ndim != 1:
        raise ValueError(f"batch must be [N], got {list(batch.shape)}")
    if len(batch) == 0:
        return batch.new_zeros(0, dtype=torch.int64)
    if bool((batch[1:] < batch[:-1]).any()) or int(batch[0]) < 0:
        raise ValueError("batch must be sorted and non-negative (points of a sample contiguous, samples in order)")
    return torch.bincount(batch).cumsum(0)


GRID_ALIGN = 64  # voxels; origins on multiples of 2^6 keep 6 levels of stride-2 pooling aligned


def grid_sample(
    coord: Tensor,  # [N, 3] float, metres
    feat: Tensor,  # [N, C]
    batch: Tensor,  # [N] int64 sample index, any order
    grid_size: float,  # voxel side, metres
) -> tuple[PointBatch, Tensor]:  # voxels, [N] int64 point -> voxel row
    """Voxelise: one point per occupied (sample, voxel), holding the mean coord and mean feat of its members.

    ``grid_coord = floor(coord / grid_size) - origin``, ``origin`` the per-sample minimum rounded
    down to a multiple of :data:`GRID_ALIGN`: the voxel grid, and the coarser grids of stride-2
    pooling (``grid_coord >> k``), are anchored at the coordinate origin, so two samples (or two
    slabs of one scene) that share points put them in the same voxels and cells. Voxels come sorted by
    (sample, x, y, z) of their grid coordinates, so the result does not depend on the input's point
    order (up to float summation order in the means). ``inverse`` maps every input point to its voxel
    row, so that ``voxel_out[inverse]`` gives an output for every point.
    """
    n = coord.shape[0]
    if coord.ndim != 2 or coord.shape[1] != 3 or not coord.is_floating_point():
        raise ValueError(f"coord must be float [N, 3], got {coord.dtype} {list(coord.shape)}")
    if feat.ndim != 2 or feat.shape[0] != n or not feat.is_floating_point():
        raise ValueError(f"feat must be float [{n}, C], got {feat.dtype} {list(feat.shape)}")
    if batch.shape != (n,) or batch.dtype != torch.int64:
        raise ValueError(f"batch must be int64 [{n}], got {batch.dtype} {list(batch.shape)}")
    if not grid_size > 0 or grid_size == float("inf"):
        raise ValueError(f"grid_size must be a positive finite length in metres, got {grid_size}")
    if n == 0:
        raise ValueError("grid_sample needs at least one point, got 0")
    if not bool(torch.isfinite(coord).all()):
        raise ValueError(f"coord has {int((~torch.isfinite(coord)).any(1).sum())} points with NaN or infinite values")
    if not bool(torch.isfinite(feat).all()):
        raise ValueError(f"feat has {int((~torch.isfinite(feat)).any(1).sum())} points with NaN or infinite values")
    if int(batch.min()) < 0:
        raise ValueError(f"batch indices must be >= 0, got {int(batch.min())}")

    num_samples = int(batch.max()) + 1
    cell = torch.floor(coord / grid_size).to(torch.int64)
    sample_min = cell.new_full((num_samples, 3), torch.iinfo(torch.int64).max)
    sample_min = sample_min.scatter_reduce(0, batch[:, None].expand(-1, 3), cell, reduce="amin")
    grid_coord = cell - torch.div(sample_min, GRID_ALIGN, rounding_mode="floor")[batch] * GRID_ALIGN

    extent = [int(e) + 1 for e in grid_coord.amax(0).tolist()]
    key = pack_grid_key(grid_coord, batch, extent)
    voxel_key, inverse = torch.unique(key, sorted=True, return_inverse=True)
    voxel_grid, voxel_batch = unpack_grid_key(voxel_key, extent)

    count = torch.bincount(inverse, minlength=len(voxel_key)).unsqueeze(1)
    voxel_coord = coord.new_zeros(len(voxel_key), 3).index_add_(0, inverse, coord) / count.to(coord.dtype)
    voxel_feat = feat.new_zeros(len(voxel_key), feat.shape[1]).index_add_(0, inverse, feat) / count.to(feat.dtype)
    offset = torch.bincount(voxel_batch, minlength=num_samples).cumsum(0)
    voxels = PointBatch(coord=voxel_coord, grid_coord=voxel_grid, feat=voxel_feat, offset=offset)
    return voxels, inverse


def pack_grid_key(
    grid_coord: Tensor,  # [N, 3] int64, 0 <= grid_coord[:, a] < extent[a]
    batch: Tensor,  # [N] int64 >= 0
    extent: list[int],  # 3 ints: grid size per axis
) -> Tensor:  # [N] int64, ordered as (batch, x, y, z) lexicographically
    """One int64 per (sample, voxel), mixed radix: ((batch * X + x) * Y + y) * Z + z.

    Raises ValueError when the number of keys needed does not fit in int64.
    """
    x_size, y_size, z_size = extent
    num_samples = int(batch.max()) + 1 if len(batch) else 1
    if num_samples * x_size * y_size * z_size >= _INT64_LIMIT:
        raise ValueError(
            f"a grid of {x_size} x {y_size} x {z_size} voxels x {num_samples} samples does not fit in an int64 key: "
            "the scene is too large for the voxel size: give --metres-per-unit (smaller scene units) or crop the scene"
        )
    return ((batch * x_size + grid_coord[:, 0]) * y_size + grid_coord[:, 1]) * z_size + grid_coord[:, 2]


def unpack_grid_key(
    key: Tensor,  # [M] int64 from pack_grid_key
    extent: list[int],  # the extent given to pack_grid_key
) -> tuple[Tensor, Tensor]:  # [M, 3] int64 grid coords, [M] int64 batch
    """Inverse of :func:`pack_grid_key`."""
    x_size, y_size, z_size = extent
    z = key % z_size
    key = key // z_size
    y = key % y_size
    key = key // y_size
    return torch.stack([key % x_size, y, z], dim=1), key // x_size
