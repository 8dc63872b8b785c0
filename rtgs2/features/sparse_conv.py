"""Submanifold sparse 3D convolution in pure PyTorch, by coordinate hashing (no spconv).

``neighbour_index`` finds, for every occupied voxel and every kernel offset, the row of the voxel
at that offset in the same sample: one int64 key per voxel (sample and shifted grid coordinates
packed in mixed radix), a sort, and ``torch.searchsorted``. The table is computed once per
resolution and reused by every convolution at that resolution (``PointBatch.neighbours``).

``SubMConv3d`` then sums ``feat[neighbour] @ weight[offset]`` over the offsets, only at the
occupied sites (outputs never dilate the set of sites, hence "submanifold").
"""

from __future__ import annotations

import itertools
import math

import torch
from torch import Tensor, nn

from rtgs2.features.points import pack_grid_key


def kernel_offsets(kernel_size: int) -> Tensor:  # [k^3, 3] int64 (dx, dy, dz)
    """Offsets of a cubic kernel in ``itertools.product`` order over (x, y, z): index
    ``(dx + r) k^2 + (dy + r) k + (dz + r)``, so the centre is ``k^3 // 2`` and offset ``i`` is
    the negation of offset ``k^3 - 1 - i``."""
    _check_kernel_size(kernel_size)
    r = kernel_size // 2
    return torch.tensor(list(itertools.product(range(-r, r + 1), repeat=3)), dtype=torch.int64)


def _check_kernel_size(kernel_size: int) -> None:
    if not isinstance(kernel_size, int) or kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be a positive odd int, got {kernel_size!r}")


def neighbour_index(
    grid_coord: Tensor,  # [N, 3] int64 >= 0, unique per sample
    batch: Tensor,  # [N] int64 sample index >= 0
    kernel_size: int = 3,
) -> Tensor:  # [N, k^3] int64: row of the voxel at grid_coord + offset in the same sample, -1 if none
    """Neighbour table of a submanifold convolution, offsets ordered as :func:`kernel_offsets`.

    Raises ValueError if two rows share a site (voxelise first: ``points.grid_sample``).
    The table is symmetric: ``nbr[i, k] == j >= 0`` iff ``nbr[j, k^3 - 1 - k] == i``. It is
    returned as the transpose of a contiguous [k^3, N] tensor (contiguous per offset).
    """
    _check_kernel_size(kernel_size)
    n = grid_coord.shape[0]
    if grid_coord.ndim != 2 or grid_coord.shape[1] != 3 or grid_coord.dtype != torch.int64:
        raise ValueError(f"grid_coord must be int64 [N, 3], got {grid_coord.dtype} {list(grid_coord.shape)}")
    if batch.shape != (n,) or batch.dtype != torch.int64:
        raise ValueError(f"batch must be int64 [{n}], got {batch.dtype} {list(batch.shape)}")
    num_offsets = kernel_size**3
    if n == 0:
        return grid_coord.new_empty(0, num_offsets)
    if int(grid_coord.min()) < 0 or int(batch.min()) < 0:
        raise ValueError("grid_coord and batch must be >= 0")

    # Shifting by r with a margin of 2r per axis keeps every coordinate + offset inside its radix,
    # so a query key never aliases the key of another site.
    r = kernel_size // 2
    extent = [int(e) + 1 + 2 * r for e in grid_coord.amax(0).tolist()]
    key = pack_grid_key(grid_coord + r, batch, extent)
    perm = None  # rows already in key order (as grid_sample returns them) need no permutation
    if not bool((key[1:] > key[:-1]).all()):
        key, perm = torch.sort(key)
        if bool((key[1:] == key[:-1]).any()):
            raise ValueError("grid_coord has several rows at the same site of a sample: voxelise first (grid_sample)")

    # Work in key order: queries then come sorted too, and searchsorted stays cache friendly.
    # Voxels of one (sample, x, y) column are adjacent in key order, so one search per column
    # finds its lowest z; the others follow by walking forward over the hits. The table is built
    # offset-major [k^3, N] so that each offset's column is contiguous (here and in SubMConv3d).
    offsets = kernel_offsets(kernel_size).to(key.device)
    delta = (offsets[:, 0] * extent[1] + offsets[:, 1]) * extent[2] + offsets[:, 2]  # [k^3] key steps
    found = torch.full((num_offsets, n), -1, dtype=torch.int64, device=key.device)  # positions in key order
    half = num_offsets // 2
    # Offsets 0 .. half-1 are searched; their negations half+1 .. k^3-1 follow by symmetry.
    for first in range(0, half, kernel_size):
        lowest = key + delta[first]  # [N] query keys at the column's lowest z
        position = torch.searchsorted(key, lowest)
        for j in range(min(kernel_size, half - first)):
            clamped = position.clamp(max=n - 1)
            hit = key[clamped] == lowest + j  # z + 1 is key + 1
            found[first + j] = torch.where(hit, clamped, -1)
            position = position + hit
    found[half] = torch.arange(n, device=key.device)
    cols, rows = (found[:half] >= 0).nonzero(as_tuple=True)
    found[num_offsets - 1 - cols, found[cols, rows]] = rows

    if perm is not None:  # back to input row numbers: map the entries, then move column s to perm[s]
        inverse = torch.empty_like(perm)
        inverse[perm] = torch.arange(n, device=perm.device)
        found = torch.where(found >= 0, perm[found.clamp(min=0)], -1)[:, inverse]
    return found.t()


def _pairs(neighbours_t: Tensor, k: int) -> tuple[Tensor, Tensor]:  # [P] rows, [P] their neighbours
    """The (row, neighbour row) pairs present at offset k of an offset-major table [K, N]."""
    rows = (neighbours_t[k] >= 0).nonzero().squeeze(1)
    return rows, neighbours_t[k, rows]


def _conv_gather(
    feat: Tensor,  # [N, Cin]
    neighbours_t: Tensor,  # [K, N] int64, offset-major (contiguous columns), -1 = none
    weight: Tensor,  # [K, Cin, Cout]
) -> Tensor:  # [N, Cout]
    """sum_k feat[neighbours[:, k]] @ weight[k], missing neighbours contributing 0.

    One offset at a time, on the pairs present only: memory O(N C) beyond the table (never
    [N, K, Cin]), and work proportional to the occupied neighbours (about 9 of 27 on surfaces).
    """
    centre = len(neighbours_t) // 2
    out = feat @ weight[centre]  # the centre is always the site itself
    for k in range(len(neighbours_t)):
        if k != centre:
            rows, src = _pairs(neighbours_t, k)
            out.index_add_(0, rows, feat[src] @ weight[k])
    return out


class _SubMConvFunction(torch.autograd.Function):
    """Autograd of :func:`_conv_gather` that saves only feat, the table and the weight.

    The input gradient is a submanifold convolution of the output gradient with the weights
    flipped and transposed (``weight[K-1-k].T``), thanks to the table's symmetry; it shares each
    offset's pairs with the weight gradient, ``feat[neighbours[:, k]]^T @ grad_out``.
    """

    @staticmethod
    def forward(ctx, feat: Tensor, neighbours: Tensor, weight: Tensor) -> Tensor:
        neighbours_t = neighbours.t().contiguous()  # strided columns would slow every offset down
        ctx.save_for_backward(feat, neighbours_t, weight)
        # feat and weight come in one dtype (SubMConv3d.forward); autocast inside would mix dtypes.
        with torch.autocast(feat.device.type, enabled=False):
            return _conv_gather(feat, neighbours_t, weight)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out: Tensor) -> tuple[Tensor | None, None, Tensor | None]:
        feat, neighbours_t, weight = ctx.saved_tensors
        grad_out = grad_out.to(feat.dtype).contiguous()
        need_feat, need_weight = ctx.needs_input_grad[0], ctx.needs_input_grad[2]
        centre = len(neighbours_t) // 2
        grad_feat = grad_out @ weight[centre].T if need_feat else None
        grad_weight = torch.empty_like(weight) if need_weight else None
        for k in range(len(neighbours_t)):
            if k == centre:
                if need_weight:
                    grad_weight[k] = feat.T @ grad_out
                continue
            rows, src = _pairs(neighbours_t, k)
            if need_feat:  # row i gets grad_out[src] @ weight[K-1-k].T (src's neighbour K-1-k is i)
                grad_feat.index_add_(0, rows, grad_out[src] @ weight[len(weight) - 1 - k].T)
            if need_weight:
                grad_weight[k] = feat[src].T @ grad_out[rows]
        return grad_feat, None, grad_weight


class SubMConv3d(nn.Module):
    """Submanifold sparse 3D convolution: outputs only at the input sites.

    ``weight[i]`` ([Cin, Cout]) multiplies the neighbour at offset ``kernel_offsets(k)[i]``
    (``i = (dx + r) k^2 + (dy + r) k + (dz + r)``). A dense ``conv3d`` weight ``w`` of shape
    [Cout, Cin, k, k, k] over (x, y, z) maps to ``w.permute(2, 3, 4, 1, 0).reshape(k^3, Cin, Cout)``;
    spconv 1.x keeps [k, k, k, Cin, Cout], which reshapes to ours directly, and spconv 2.x
    [Cout, k, k, k, Cin] maps by ``permute(1, 2, 3, 4, 0)`` (assuming spconv's kernel axes follow
    the order of its index columns, x, y, z as Pointcept's ``grid_coord``).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, bias: bool = True) -> None:
        super().__init__()
        _check_kernel_size(kernel_size)
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, kernel_size
        self.weight = nn.Parameter(torch.empty(kernel_size**3, in_channels, out_channels))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """nn.Conv3d's default: uniform in +-1/sqrt(fan_in), fan_in = Cin k^3."""
        bound = 1.0 / math.sqrt(self.in_channels * self.kernel_size**3)
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(
        self,
        feat: Tensor,  # [N, Cin]
        neighbours: Tensor,  # [N, k^3] int64 from neighbour_index (symmetric), -1 = none
    ) -> Tensor:  # [N, Cout]
        if feat.ndim != 2 or feat.shape[1] != self.in_channels:
            raise ValueError(f"feat must be [N, {self.in_channels}], got {list(feat.shape)}")
        if neighbours.shape != (feat.shape[0], self.kernel_size**3):
            raise ValueError(
                f"neighbours must be [{feat.shape[0]}, {self.kernel_size**3}], got {list(neighbours.shape)}"
            )
        device_type = feat.device.type
        dtype = torch.get_autocast_dtype(device_type) if torch.is_autocast_enabled(device_type) else feat.dtype
        out = _SubMConvFunction.apply(feat.to(dtype), neighbours, self.weight.to(dtype))
        return out if self.bias is None else out + self.bias.to(dtype)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, bias={self.bias is not None}"
