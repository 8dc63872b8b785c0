"""Space-filling-curve codes of voxel grid coordinates (PTv3's serialization), vectorised in torch.

A code orders the voxels of a batch along a curve: z-order (Morton: bits of x, y, z interleaved) or
a 3D Hilbert curve (Skilling, "Programming the Hilbert curve", AIP Conf. Proc. 707, 2004: the
"transpose" form, then the same bit interleaving). Hilbert neighbours in code order are always grid
neighbours; z-order jumps at block boundaries but is cheaper. "-trans" variants swap x and y first,
so that consecutive blocks of the backbone see differently shaped patches (as PTv3).

Every code fits in 63 bits: ``encode`` puts the sample index above the ``3 * depth`` code bits, so
sorting the codes of a batch never mixes samples.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from rtgs2.features.points import PointBatch

ORDERS = ("z", "z-trans", "hilbert", "hilbert-trans")
MAX_DEPTH = 21  # 3 * 21 = 63 code bits: the most an int64 holds without its sign bit

# "Magic bits" masks. Spreading: after the step with shift s, the 21 low bits of a coordinate sit
# in groups s/2 wide (1 at the end), 3 * s/2 apart; the last mask keeps bits 0, 3, 6, ..., 60.
# Compacting runs the same steps backwards.
_EVERY_THIRD_BIT = 0x1249249249249249
_SPREAD = ((32, 0x1F00000000FFFF), (16, 0x1F0000FF0000FF), (8, 0x100F00F00F00F00F), (4, 0x10C30C30C30C30C3),
           (2, _EVERY_THIRD_BIT))  # fmt: skip
_COMPACT = ((2, 0x10C30C30C30C30C3), (4, 0x100F00F00F00F00F), (8, 0x1F0000FF0000FF), (16, 0x1F00000000FFFF),
            (32, (1 << MAX_DEPTH) - 1))  # fmt: skip


def _spread_bits(v: Tensor) -> Tensor:
    """[N] int64 < 2^21 -> [N] int64 with bit i of v moved to bit 3i."""
    for shift, mask in _SPREAD:
        v = (v | (v << shift)) & mask
    return v


def _compact_bits(v: Tensor) -> Tensor:
    """Inverse of :func:`_spread_bits`: bits 0, 3, 6, ... of v -> bits 0, 1, 2, ... (other bits ignored)."""
    v = v & _EVERY_THIRD_BIT
    for shift, mask in _COMPACT:
        v = (v ^ (v >> shift)) & mask
    return v


def _interleave(a: Tensor, b: Tensor, c: Tensor) -> Tensor:
    """Three [N] int64 -> [N] int64 with bits ... a1 b1 c1 a0 b0 c0 (a most significant in each triple)."""
    return (_spread_bits(a) << 2) | (_spread_bits(b) << 1) | _spread_bits(c)


def _deinterleave(code: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Inverse of :func:`_interleave`."""
    return _compact_bits(code >> 2), _compact_bits(code >> 1), _compact_bits(code)


def _check_depth(depth: int) -> None:
    if not isinstance(depth, int) or not 1 <= depth <= MAX_DEPTH:
        raise ValueError(f"depth must be an int in [1, {MAX_DEPTH}] bits per axis, got {depth!r}")


def _check_grid_coord(grid_coord: Tensor, depth: int) -> None:
    """Raise ValueError unless grid_coord is integer [N, 3] with every value in [0, 2^depth)."""
    _check_depth(depth)
    if grid_coord.ndim != 2 or grid_coord.shape[1] != 3 or grid_coord.dtype != torch.int64:
        raise ValueError(f"grid_coord must be int64 [N, 3], got {grid_coord.dtype} {list(grid_coord.shape)}")
    if grid_coord.numel() == 0:
        return
    low, high = int(grid_coord.min()), int(grid_coord.max())
    if low < 0:
        raise ValueError(f"grid_coord must be >= 0, got a minimum of {low}")
    if high >> depth:
        raise ValueError(f"grid_coord up to {high} needs {high.bit_length()} bits per axis, more than depth = {depth}")


def _check_code(code: Tensor, depth: int) -> None:
    """Raise ValueError unless code is int64 [N] with every value in [0, 2^(3 depth))."""
    _check_depth(depth)
    if code.ndim != 1 or code.dtype != torch.int64:
        raise ValueError(f"code must be int64 [N], got {code.dtype} {list(code.shape)}")
    if code.numel():
        low, high = int(code.min()), int(code.max())
        if low < 0 or high >> (3 * depth):
            raise ValueError(f"codes must lie in [0, 2^{3 * depth}) for depth {depth}, got [{low}, {high}]")


def z_order_encode(
    grid_coord: Tensor,  # [N, 3] int64 in [0, 2^depth)
    depth: int,  # bits per axis, 1..21
) -> Tensor:  # [N] int64 in [0, 2^(3 depth))
    """Morton code: bits of x, y, z interleaved, x the most significant of each triple."""
    _check_grid_coord(grid_coord, depth)
    return _interleave(grid_coord[:, 0], grid_coord[:, 1], grid_coord[:, 2])


def z_order_decode(
    code: Tensor,  # [N] int64 in [0, 2^(3 depth))
    depth: int,  # bits per axis, 1..21
) -> Tensor:  # [N, 3] int64
    """Inverse of :func:`z_order_encode`."""
    _check_code(code, depth)
    return torch.stack(_deinterleave(code), dim=1)


def hilbert_encode(
    grid_coord: Tensor,  # [N, 3] int64 in [0, 2^depth)
    depth: int,  # bits per axis, 1..21; the curve fills the cube of side 2^depth
) -> Tensor:  # [N] int64 in [0, 2^(3 depth))
    """Index along the 3D Hilbert curve of order ``depth`` (Skilling's AxestoTranspose, then interleave).

    Unlike z-order, the code depends on ``depth``: it is the curve through the whole cube.
    """
    _check_grid_coord(grid_coord, depth)
    x = list(grid_coord.unbind(1))
    # Inverse undo: from the top bit down, reflect or swap the lower bits so that each sub-cube is
    # entered where the previous one left off.
    q = 1 << (depth - 1)
    while q > 1:
        low = q - 1
        for i in range(3):
            set_bit = (x[i] & q) != 0
            swap = torch.where(set_bit, 0, (x[0] ^ x[i]) & low)
            x[0] = torch.where(set_bit, x[0] ^ low, x[0] ^ swap)
            if i:
                x[i] = x[i] ^ swap
        q >>= 1
    # Gray encode.
    x[1] = x[1] ^ x[0]
    x[2] = x[2] ^ x[1]
    flip = torch.zeros_like(x[2])
    q = 1 << (depth - 1)
    while q > 1:
        flip = flip ^ torch.where((x[2] & q) != 0, q - 1, 0)
        q >>= 1
    return _interleave(x[0] ^ flip, x[1] ^ flip, x[2] ^ flip)


def hilbert_decode(
    code: Tensor,  # [N] int64 in [0, 2^(3 depth))
    depth: int,  # bits per axis, the depth given to hilbert_encode
) -> Tensor:  # [N, 3] int64
    """Inverse of :func:`hilbert_encode` (Skilling's TransposetoAxes)."""
    _check_code(code, depth)
    x = list(_deinterleave(code))
    # Gray decode.
    top = x[2] >> 1
    x[2] = x[2] ^ x[1]
    x[1] = x[1] ^ x[0]
    x[0] = x[0] ^ top
    # Undo the excess work of the encoder, from the lowest bit up.
    q = 2
    while q < 1 << depth:
        low = q - 1
        for i in (2, 1, 0):
            set_bit = (x[i] & q) != 0
            swap = torch.where(set_bit, 0, (x[0] ^ x[i]) & low)
            x[0] = torch.where(set_bit, x[0] ^ low, x[0] ^ swap)
            if i:
                x[i] = x[i] ^ swap
        q <<= 1
    return torch.stack(x, dim=1)


def encode(
    grid_coord: Tensor,  # [N, 3] int64 in [0, 2^depth)
    batch: Tensor,  # [N] int64 sample index >= 0
    depth: int,  # bits per axis
    order: str,  # one of ORDERS
) -> Tensor:  # [N] int64 = (batch << 3 depth) | code
    """Serialization code of each point: the sample index in the high bits, the curve index below.

    Raises ValueError for an unknown order, negative coordinates, a coordinate needing more than
    ``depth`` bits, or when ``3 * depth`` plus the bits of the largest sample index exceed 63.
    """
    if order not in ORDERS:
        raise ValueError(f"unknown serialization order {order!r}; expected one of {ORDERS}")
    _check_depth(depth)
    if batch.shape != grid_coord.shape[:1] or batch.dtype != torch.int64:
        raise ValueError(f"batch must be int64 [{grid_coord.shape[0]}], got {batch.dtype} {list(batch.shape)}")
    if batch.numel():
        low, high = int(batch.min()), int(batch.max())
        if low < 0:
            raise ValueError(f"batch indices must be >= 0, got {low}")
        if 3 * depth + high.bit_length() > 63:
            raise ValueError(
                f"codes need 3 * {depth} bits + {high.bit_length()} bits for sample index {high} = "
                f"{3 * depth + high.bit_length()} > 63: use a coarser grid or fewer samples per batch"
            )
    if order.endswith("-trans"):
        grid_coord = grid_coord[:, [1, 0, 2]]
    curve = z_order_encode if order.startswith("z") else hilbert_encode
    return (batch << (3 * depth)) | curve(grid_coord, depth)


def serialize(
    points: PointBatch,
    orders: Sequence[str],  # S names from ORDERS
    depth: int | None = None,  # bits per axis; None = the fewest holding max(grid_coord), at least 1
) -> PointBatch:
    """Fill ``serialized_code/order/inverse/depth`` of ``points`` with one row per order."""
    if len(orders) == 0:
        raise ValueError(f"serialize needs at least one order from {ORDERS}, got none")
    if depth is None:
        depth = max(1, int(points.grid_coord.max()).bit_length()) if points.grid_coord.numel() else 1
    code = torch.stack([encode(points.grid_coord, points.batch, depth, order) for order in orders])
    order = torch.argsort(code, dim=1, stable=True)
    positions = torch.arange(code.shape[1], device=code.device).expand_as(order)
    inverse = torch.empty_like(order).scatter_(1, order, positions)
    return points.replace(
        serialized_code=code, serialized_order=order, serialized_inverse=inverse, serialized_depth=depth
    )
