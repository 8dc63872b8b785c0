"""Serialization codes: bijective, local, batch-separating, and loud about what does not fit in 63 bits."""

import pytest
import torch

from rtgs2.features.points import PointBatch
from rtgs2.features.serialization import (
    ORDERS,
    encode,
    hilbert_decode,
    hilbert_encode,
    serialize,
    z_order_decode,
    z_order_encode,
)

CURVES = {"z": (z_order_encode, z_order_decode), "hilbert": (hilbert_encode, hilbert_decode)}


def full_grid(depth: int) -> torch.Tensor:  # [8^depth, 3] every voxel of the cube of side 2^depth
    axis = torch.arange(2**depth)
    return torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij"), dim=-1).reshape(-1, 3)


@pytest.mark.parametrize("curve", CURVES)
@pytest.mark.parametrize("depth", range(1, 7))
def test_codes_are_a_bijection_of_the_whole_grid(curve, depth):
    enc, dec = CURVES[curve]
    grid = full_grid(depth)
    code = enc(grid, depth)
    assert torch.equal(code.sort().values, torch.arange(8**depth))  # distinct, and fill [0, 2^(3 depth))
    assert torch.equal(dec(code, depth), grid)


@pytest.mark.parametrize("curve", CURVES)
@pytest.mark.parametrize("depth", [7, 8, 9, 10, 16, 21])
def test_codes_round_trip_at_large_depths(curve, depth):
    enc, dec = CURVES[curve]
    g = torch.Generator().manual_seed(depth)
    grid = torch.unique(torch.randint(0, 2**depth, (20_000, 3), generator=g), dim=0)
    code = enc(grid, depth)
    assert torch.equal(dec(code, depth), grid)
    assert len(torch.unique(code)) == len(grid)
    assert int(code.min()) >= 0 and int(code.max()) < 2 ** (3 * depth)
    top = 2 ** (3 * depth) - 1  # the largest code (randint's bound must stay below 2^63)
    codes = torch.cat([torch.randint(0, top, (20_000,), generator=g), torch.tensor([0, top])])
    assert torch.equal(enc(dec(codes, depth), depth), codes)


@pytest.mark.parametrize("depth", range(1, 6))
def test_hilbert_order_steps_to_a_face_neighbour_every_time(depth):
    grid = full_grid(depth)
    path = grid[hilbert_encode(grid, depth).argsort()]
    steps = (path[1:] - path[:-1]).abs().sum(1)
    assert torch.equal(steps, torch.ones_like(steps))
    assert path[0].tolist() == [0, 0, 0]


def test_z_order_steps_are_short_on_average():
    depth = 5
    grid = full_grid(depth)
    path = grid[z_order_encode(grid, depth).argsort()]
    mean_step = (path[1:] - path[:-1]).abs().sum(1).double().mean()
    shuffled = grid[torch.randperm(len(grid), generator=torch.Generator().manual_seed(0))]
    shuffled_step = (shuffled[1:] - shuffled[:-1]).abs().sum(1).double().mean()
    assert mean_step < 2.0  # exactly 2 - O(8^-depth) for z-order (1.997 at depth 5)
    assert shuffled_step > 10 * mean_step  # ~32 for a random order


def test_z_order_interleaves_bits_with_x_most_significant():
    coords = torch.tensor([[1, 0, 0], [0, 1, 0], [0, 0, 1], [3, 3, 3], [2, 0, 1]])
    assert z_order_encode(coords, 2).tolist() == [4, 2, 1, 63, 0b100001]


@pytest.mark.parametrize("curve", ["z", "hilbert"])
def test_trans_orders_swap_x_and_y(curve):
    grid = full_grid(3)
    batch = torch.zeros(len(grid), dtype=torch.int64)
    trans = encode(grid, batch, 3, f"{curve}-trans")
    assert torch.equal(trans, encode(grid[:, [1, 0, 2]], batch, 3, curve))
    assert not torch.equal(trans, encode(grid, batch, 3, curve))


@pytest.mark.parametrize("order", ORDERS)
def test_sample_index_sits_above_the_code_bits(order):
    depth = 3
    grid = full_grid(depth)
    batch = torch.arange(3).repeat_interleave(len(grid) // 3 + 1)[: len(grid)]
    code = encode(grid, batch, depth, order)
    assert torch.equal(code >> (3 * depth), batch)
    sorted_batch = batch[code.argsort()]
    assert bool((sorted_batch[1:] >= sorted_batch[:-1]).all())  # samples never interleave


def test_inputs_needing_more_than_63_bits_raise():
    def call(depth, max_batch, max_coord=1, order="z"):
        grid = torch.tensor([[0, 0, 0], [max_coord, 0, 0]])
        return encode(grid, torch.tensor([0, max_batch]), depth, order)

    call(21, 0)  # 63 code bits, sample 0: fits
    call(20, 7)  # 60 + 3 bits: fits
    with pytest.raises(ValueError, match=r"3 \* 21 bits \+ 1 bits for sample index 1 = 64 > 63"):
        call(21, 1)
    with pytest.raises(ValueError, match="= 64 > 63"):
        call(20, 8, order="hilbert")
    with pytest.raises(ValueError, match="needs 4 bits per axis, more than depth = 3"):
        call(3, 0, max_coord=8)
    with pytest.raises(ValueError, match=">= 0"):
        encode(torch.tensor([[0, -1, 0]]), torch.tensor([0]), 3, "z")
    with pytest.raises(ValueError, match="depth must be an int in"):
        z_order_encode(torch.tensor([[0, 0, 0]]), 22)
    with pytest.raises(ValueError, match="unknown serialization order 'peano'"):
        call(3, 0, order="peano")
    with pytest.raises(ValueError, match="codes must lie in"):
        hilbert_decode(torch.tensor([2**9]), 3)


def test_serialize_fills_codes_orders_and_inverses():
    g = torch.Generator().manual_seed(0)
    samples = [torch.unique(torch.randint(0, 40, (300, 3), generator=g), dim=0) for _ in range(2)]
    grid = torch.cat(samples)
    offset = torch.tensor([len(samples[0]), len(grid)])
    points = PointBatch(coord=grid.double(), grid_coord=grid, feat=torch.zeros(len(grid), 4), offset=offset)
    out = serialize(points, ORDERS)
    assert out.serialized_depth == 6  # max coordinate 39 needs 6 bits
    assert out.serialized_code.shape == out.serialized_order.shape == out.serialized_inverse.shape == (4, len(grid))
    for s, order in enumerate(ORDERS):
        assert torch.equal(out.serialized_code[s], encode(grid, points.batch, 6, order))
        code_in_order = out.serialized_code[s, out.serialized_order[s]]
        assert bool((code_in_order[1:] >= code_in_order[:-1]).all())
        assert torch.equal(out.serialized_order[s, out.serialized_inverse[s]], torch.arange(len(grid)))
        assert torch.equal(points.batch[out.serialized_order[s]], points.batch.sort().values)
    assert out.coord is points.coord and points.serialized_code is None  # a new batch; the old one unchanged
    assert serialize(points, ["hilbert"], depth=8).serialized_depth == 8
    with pytest.raises(ValueError, match="at least one order"):
        serialize(points, [])
