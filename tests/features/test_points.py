"""PointBatch, offset/batch conversions and voxelisation (grid_sample)."""

import dataclasses

import numpy as np
import pytest
import torch

from rtgs2.features.points import PointBatch, batch_to_offset, grid_sample, offset_to_batch


def test_offset_and_batch_convert_both_ways_with_an_empty_sample():
    offset = torch.tensor([3, 3, 5])  # sample 1 is empty
    batch = offset_to_batch(offset)
    assert batch.tolist() == [0, 0, 0, 2, 2]
    assert batch_to_offset(batch).tolist() == [3, 3, 5]
    assert offset_to_batch(torch.tensor([4])).tolist() == [0, 0, 0, 0]
    assert batch_to_offset(torch.zeros(0, dtype=torch.int64)).tolist() == []


def test_batch_to_offset_rejects_unsorted_batches():
    with pytest.raises(ValueError, match="sorted"):
        batch_to_offset(torch.tensor([0, 1, 0]))


def make_batch(n: int = 5, offset=(2, 5)) -> PointBatch:
    grid = torch.arange(3 * n).reshape(n, 3)
    return PointBatch(coord=grid.float(), grid_coord=grid, feat=torch.zeros(n, 2), offset=torch.tensor(offset))


def test_point_batch_is_typed_frozen_and_drops_stale_caches():
    points = make_batch()
    assert points.batch.tolist() == [0, 0, 1, 1, 1]
    with pytest.raises(AttributeError):
        points.grid_cord  # noqa: B018  (a typo must not pass silently)
    with pytest.raises(dataclasses.FrozenInstanceError):
        points.feat = torch.ones(5, 2)
    cached = points.replace(neighbours=torch.zeros(5, 27, dtype=torch.int64), serialized_depth=3,
                            serialized_code=torch.zeros(1, 5, dtype=torch.int64))  # fmt: skip
    new_feat = cached.replace(feat=torch.ones(5, 7))
    assert new_feat.neighbours is cached.neighbours and new_feat.serialized_depth == 3  # same grid: caches stay
    moved = cached.replace(grid_coord=cached.grid_coord + 1)
    assert moved.neighbours is None and moved.serialized_code is None and moved.serialized_depth == 0


def test_point_batch_rejects_wrong_shapes():
    points = make_batch()
    with pytest.raises(ValueError, match=r"grid_coord must be int64 \[5, 3\]"):
        points.replace(grid_coord=points.grid_coord.int())
    with pytest.raises(ValueError, match=r"feat must be \[5, C\]"):
        points.replace(feat=torch.zeros(4, 2))
    with pytest.raises(ValueError, match=r"neighbours must be \[5, k\^3\]"):
        points.replace(neighbours=torch.zeros(4, 27, dtype=torch.int64))


def two_samples(seed: int = 0):
    """Two samples of 400 points in a 1 m box; sample 1 repeats half of sample 0's points exactly,
    so merging samples would show."""
    g = torch.Generator().manual_seed(seed)
    coord0 = torch.rand(400, 3, generator=g, dtype=torch.float64)
    coord1 = torch.cat([coord0[:200], torch.rand(200, 3, generator=g, dtype=torch.float64) + 0.5])
    coord = torch.cat([coord0, coord1])
    feat = torch.randn(800, 5, generator=g, dtype=torch.float64)
    batch = torch.arange(2).repeat_interleave(400)
    return coord, feat, batch


def test_grid_sample_groups_points_by_sample_and_voxel_with_exact_means():
    coord, feat, batch = two_samples()
    grid_size = 0.2
    voxels, inverse = grid_sample(coord, feat, batch, grid_size)

    # The same grouping computed independently, in numpy with a dict.
    c, f, b = coord.numpy(), feat.numpy(), batch.numpy()
    world = np.floor(c / np.float32(grid_size)).astype(np.int64)  # the grid is anchored at the origin
    cell = world - (np.stack([world[b == s].min(0) for s in (0, 1)]) // 64 * 64)[b]
    groups: dict[tuple, list[int]] = {}
    for i in range(len(c)):
        groups.setdefault((int(b[i]), *cell[i].tolist()), []).append(i)
    keys = sorted(groups)  # (sample, x, y, z) lexicographic: the voxel order grid_sample promises

    assert len(voxels.coord) == len(keys)
    assert voxels.offset.tolist() == [sum(k[0] == 0 for k in keys), len(keys)]
    assert torch.equal(torch.cat([voxels.batch[:, None], voxels.grid_coord], 1), torch.tensor(keys))
    for v, key in enumerate(keys):
        members = groups[key]
        assert sorted(torch.nonzero(inverse == v).squeeze(1).tolist()) == members
        np.testing.assert_allclose(voxels.coord[v].numpy(), c[members].mean(0), rtol=1e-12)
        np.testing.assert_allclose(voxels.feat[v].numpy(), f[members].mean(0), rtol=1e-12, atol=1e-15)
    assert torch.equal(voxels.batch[inverse], batch)  # no voxel holds points of both samples
    assert torch.equal(voxels.grid_coord[inverse], torch.from_numpy(cell))  # every point -> its voxel


def test_grid_sample_does_not_depend_on_point_order():
    coord, feat, batch = two_samples(1)
    voxels, inverse = grid_sample(coord, feat, batch, 0.15)
    perm = torch.randperm(len(coord), generator=torch.Generator().manual_seed(2))
    shuffled, shuffled_inverse = grid_sample(coord[perm], feat[perm], batch[perm], 0.15)
    assert torch.equal(shuffled.grid_coord, voxels.grid_coord) and torch.equal(shuffled.offset, voxels.offset)
    assert torch.equal(shuffled_inverse, inverse[perm])
    torch.testing.assert_close(shuffled.feat, voxels.feat)  # summation order only: 1e-16 here
    torch.testing.assert_close(shuffled.coord, voxels.coord)


def test_grid_sample_rejects_bad_input():
    coord, feat, batch = two_samples()
    bad = coord.clone()
    bad[3, 1] = float("nan")
    with pytest.raises(ValueError, match="coord has 1 points with NaN"):
        grid_sample(bad, feat, batch, 0.1)
    bad_feat = feat.clone()
    bad_feat[5, 0] = float("inf")
    with pytest.raises(ValueError, match="feat has 1 points with NaN or infinite"):
        grid_sample(coord, bad_feat, batch, 0.1)
    with pytest.raises(ValueError, match="grid_size must be a positive"):
        grid_sample(coord, feat, batch, 0.0)
    with pytest.raises(ValueError, match="batch must be int64"):
        grid_sample(coord, feat, batch.int(), 0.1)
    with pytest.raises(ValueError, match="does not fit in an int64 key"):
        grid_sample(coord * 1e6, feat, batch, 1e-6)
