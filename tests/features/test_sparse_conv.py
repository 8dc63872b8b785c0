"""Hashed submanifold convolution against a brute-force neighbour search and dense conv3d."""

import itertools

import pytest
import torch
import torch.nn.functional as F

from rtgs2.features.sparse_conv import SubMConv3d, kernel_offsets, neighbour_index

SIDE = 6  # the dense grid is [B, C, SIDE, SIDE, SIDE]


def random_sites(seed: int, shuffle: bool):
    """Occupied sites of 2 samples in a SIDE^3 grid (40% full, so many sites occur in both samples)."""
    g = torch.Generator().manual_seed(seed)
    sites = (torch.rand(2, SIDE, SIDE, SIDE, generator=g) < 0.4).nonzero()  # [N, 4] (b, x, y, z), key order
    if shuffle:
        sites = sites[torch.randperm(len(sites), generator=g)]
    return sites[:, 1:].contiguous(), sites[:, 0].contiguous()


def test_kernel_offsets_follow_product_order_with_the_centre_in_the_middle():
    offsets = kernel_offsets(3)
    assert offsets.tolist() == [list(o) for o in itertools.product(range(-1, 2), repeat=3)]
    assert offsets[13].tolist() == [0, 0, 0]
    assert torch.equal(offsets.flip(0), -offsets)


@pytest.mark.parametrize("shuffle", [False, True], ids=["key-order", "shuffled"])
@pytest.mark.parametrize("kernel_size", [1, 3, 5])
def test_neighbour_index_matches_brute_force(kernel_size, shuffle):
    grid, batch = random_sites(kernel_size, shuffle)
    nbr = neighbour_index(grid, batch, kernel_size)
    row_of = {(int(b), *g.tolist()): i for i, (g, b) in enumerate(zip(grid, batch))}
    offsets = kernel_offsets(kernel_size).tolist()
    expected = [
        [row_of.get((int(b), g[0] + dx, g[1] + dy, g[2] + dz), -1) for dx, dy, dz in offsets]
        for g, b in zip(grid.tolist(), batch)
    ]
    assert nbr.tolist() == expected
    k3 = kernel_size**3
    assert torch.equal(nbr[:, k3 // 2], torch.arange(len(grid)))
    rows, cols = (nbr >= 0).nonzero(as_tuple=True)
    assert torch.equal(nbr[nbr[rows, cols], k3 - 1 - cols], rows)  # symmetric, as SubMConv3d's backward needs


def dense_reference(grid, batch, feat, weight, bias, kernel_size):
    """conv3d over the dense grid (zero elsewhere, padding k//2), read back at the occupied sites."""
    volume = feat.new_zeros(2, SIDE, SIDE, SIDE, feat.shape[1])
    volume = volume.index_put((batch, grid[:, 0], grid[:, 1], grid[:, 2]), feat)
    out = F.conv3d(volume.permute(0, 4, 1, 2, 3), weight, bias, padding=kernel_size // 2)
    return out.permute(0, 2, 3, 4, 1)[batch, grid[:, 0], grid[:, 1], grid[:, 2]]


@pytest.mark.parametrize("shuffle", [False, True], ids=["key-order", "shuffled"])
@pytest.mark.parametrize("kernel_size", [1, 3, 5])
def test_submanifold_conv_equals_dense_conv3d_forward_and_backward(kernel_size, shuffle):
    grid, batch = random_sites(10 + kernel_size, shuffle)
    cin, cout = 3, 4
    conv = SubMConv3d(cin, cout, kernel_size).double()
    g = torch.Generator().manual_seed(kernel_size)
    with torch.no_grad():  # a bias and weights well away from zero, so a wrong offset shows
        conv.weight.copy_(torch.randn(conv.weight.shape, generator=g, dtype=torch.float64))
        conv.bias.copy_(torch.randn(cout, generator=g, dtype=torch.float64))
    feat = torch.randn(len(grid), cin, generator=g, dtype=torch.float64, requires_grad=True)
    out = conv(feat, neighbour_index(grid, batch, kernel_size))

    # The documented layout mapping: ours [k^3, Cin, Cout] <- conv3d's [Cout, Cin, kx, ky, kz].
    k = kernel_size
    dense_weight = conv.weight.detach().reshape(k, k, k, cin, cout).permute(4, 3, 0, 1, 2).clone().requires_grad_()
    dense_bias = conv.bias.detach().clone().requires_grad_()
    dense_feat = feat.detach().clone().requires_grad_()
    ref = dense_reference(grid, batch, dense_feat, dense_weight, dense_bias, k)
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)  # float64; worst seen 2e-15

    v = torch.randn(out.shape, generator=g, dtype=torch.float64)
    grads = torch.autograd.grad((out * v).sum(), [feat, conv.weight, conv.bias])
    ref_grads = torch.autograd.grad((ref * v).sum(), [dense_feat, dense_weight, dense_bias])
    torch.testing.assert_close(grads[0], ref_grads[0], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(grads[1], ref_grads[1].permute(2, 3, 4, 1, 0).reshape(k**3, cin, cout),
                               rtol=1e-12, atol=1e-12)  # fmt: skip
    torch.testing.assert_close(grads[2], ref_grads[2], rtol=1e-12, atol=1e-12)


def test_samples_of_a_batch_never_mix():
    # One site per sample, at the same coordinates: convolving sample 0 must not see sample 1.
    grid = torch.tensor([[2, 2, 2], [2, 2, 3], [2, 2, 2]])
    batch = torch.tensor([0, 0, 1])
    nbr = neighbour_index(grid, batch)
    assert (nbr[2] >= 0).sum() == 1 and nbr[0, 14] == 1 and nbr[1, 12] == 0
    conv = SubMConv3d(1, 1, bias=False)
    out = conv(torch.tensor([[1.0], [1.0], [1.0]]), nbr)
    torch.testing.assert_close(out[2], conv.weight[13, 0])  # its own centre tap only


def test_empty_input_and_float32_gradients_flow():
    conv = SubMConv3d(8, 16)
    empty = neighbour_index(torch.zeros(0, 3, dtype=torch.int64), torch.zeros(0, dtype=torch.int64))
    assert empty.shape == (0, 27)
    assert conv(torch.zeros(0, 8), empty).shape == (0, 16)
    grid, batch = random_sites(3, shuffle=True)
    feat = torch.randn(len(grid), 8, requires_grad=True)
    conv(feat, neighbour_index(grid, batch)).square().sum().backward()
    assert feat.grad.abs().sum() > 0 and conv.weight.grad.abs().sum() > 0 and conv.bias.grad.abs().sum() > 0


def test_autocast_runs_the_convolution_in_the_autocast_dtype():
    grid, batch = random_sites(4, shuffle=False)
    nbr = neighbour_index(grid, batch)
    conv = SubMConv3d(8, 8)
    feat = torch.randn(len(grid), 8, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = conv(feat, nbr)
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), conv(feat, nbr), rtol=0.05, atol=0.05)  # bf16: 8-bit mantissa
    out.float().sum().backward()
    assert feat.grad.dtype == torch.float32 and conv.weight.grad.dtype == torch.float32


def test_bad_input_raises_naming_the_problem():
    with pytest.raises(ValueError, match="several rows at the same site"):
        neighbour_index(torch.tensor([[1, 1, 1], [0, 0, 0], [1, 1, 1]]), torch.tensor([0, 0, 0]))
    with pytest.raises(ValueError, match="kernel_size must be a positive odd int, got 2"):
        SubMConv3d(4, 4, kernel_size=2)
    with pytest.raises(ValueError, match=">= 0"):
        neighbour_index(torch.tensor([[0, -1, 0]]), torch.tensor([0]))
    conv = SubMConv3d(4, 4)
    nbr = neighbour_index(torch.tensor([[0, 0, 0], [0, 0, 1]]), torch.tensor([0, 0]))
    with pytest.raises(ValueError, match=r"feat must be \[N, 4\], got \[2, 5\]"):
        conv(torch.zeros(2, 5), nbr)
    with pytest.raises(ValueError, match=r"neighbours must be \[3, 27\], got \[2, 27\]"):
        conv(torch.zeros(3, 4), nbr)
