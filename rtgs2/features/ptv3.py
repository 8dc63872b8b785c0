"""A Point Transformer V3-style backbone (Wu et al., CVPR 2024) in plain PyTorch, and the
Gaussian feature network built on it: blocks (``DropPath`` and ``Mlp`` come from
:mod:`rtgs2.utils.layers`, shared with the fusion network) -> stages -> model -> variants
(``SIZES``: the only place variants are named).

What PTv3 does and what is kept:
- points are voxelised, then *serialized* along space-filling curves (z-order, Hilbert and
  their transposes); attention runs inside fixed-size patches of that 1D order, and
  consecutive blocks use different orders so information crosses patch borders;
- a conditional positional encoding (a submanifold sparse 3D convolution) opens every block;
  pre-norm attention and MLP with drop path follow;
- the encoder pools by dropping 3 bits of the codes (stride 2 per axis, max over the
  children), the decoder unpools with skip connections (a U-Net).
What differs: LayerNorm replaces BatchNorm in the stem and the (un)pooling layers, so a
sample's features never depend on the other samples of its batch (DDP on one sample per
process gives the gradients of one process on all of them); no relative position encoding
(PTv3's default, too); attention is ``scaled_dot_product_attention`` (no flash-attn). A point
head maps the voxel features back to every Gaussian and mixes in the Gaussian's own inputs, so
Gaussians sharing a voxel still get distinct, L2-normalised features.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from rtgs2.features.points import PointBatch, grid_sample, offset_to_batch
from rtgs2.features.serialization import ORDERS, serialize
from rtgs2.features.sparse_conv import SubMConv3d, neighbour_index
from rtgs2.utils.errors import ConfigError, check
from rtgs2.utils.layers import DropPath, Mlp

IN_CHANNELS = 10  # xyz, base colour RGB, 3 log-scales, opacity per Gaussian (paper §3.2)


# -- blocks -------------------------------------------------------------------------------


class PositionalEncoding(nn.Module):
    """Conditional positional encoding: a submanifold conv over the voxel grid, a linear
    layer and LayerNorm; added to the features at the start of every block."""

    def __init__(self, channels: int, kernel_size: int):
        super().__init__()
        self.kernel_size = kernel_size
        self.conv = SubMConv3d(channels, channels, kernel_size)
        self.linear = nn.Linear(channels, channels)
        self.norm = nn.LayerNorm(channels)

    def forward(self, feat: Tensor, neighbours: Tensor) -> Tensor:  # [N, C], [N, k^3] -> [N, C]
        return self.norm(self.linear(self.conv(feat, neighbours)))


def patch_layout(counts: Tensor, patch_size: int) -> tuple[Tensor, Tensor]:
    """Where each slot of the padded patch sequence takes its point from, and back.

    The points of a batch, in serialized order, come sample after sample (the batch index is
    in the codes' high bits), sample b holding ``counts[b] >= patch_size`` points. Each sample
    is padded to a multiple of ``patch_size`` with copies of points of its own previous patch
    (as PTv3 does), so a patch never holds points of two samples.

    Returns:
        source: [P * patch_size] int64, serialized position each padded slot copies.
        slot: [N] int64, padded slot of each serialized position (to read results back).
    """
    k = patch_size
    padded = (counts + k - 1) // k * k
    start = torch.cumsum(counts, 0) - counts
    padded_start = torch.cumsum(padded, 0) - padded
    sample = torch.repeat_interleave(torch.arange(len(counts), device=counts.device), padded)
    local = torch.arange(int(padded.sum()), device=counts.device) - padded_start[sample]
    source = start[sample] + torch.where(local < counts[sample], local, local - k)
    real_sample = torch.repeat_interleave(torch.arange(len(counts), device=counts.device), counts)
    slot = padded_start[real_sample] + torch.arange(int(counts.sum()), device=counts.device) - start[real_sample]
    return source, slot


class SerializedAttention(nn.Module):
    """Multi-head self-attention inside patches of ``patch_size`` consecutive points of one
    serialization order (the block's ``order_index``). The patch shrinks to the smallest
    sample of the batch when that is smaller (as PTv3)."""

    def __init__(self, channels: int, num_heads: int, patch_size: int, order_index: int):
        super().__init__()
        if channels % num_heads:
            raise ValueError(f"channels {channels} must be divisible by num_heads {num_heads}")
        self.num_heads, self.patch_size, self.order_index = num_heads, patch_size, order_index
        self.qkv = nn.Linear(channels, 3 * channels)
        self.proj = nn.Linear(channels, channels)

    def forward(self, feat: Tensor, points: PointBatch) -> Tensor:  # [N, C] -> [N, C]
        n, c = feat.shape
        s = self.order_index % points.serialized_order.shape[0]
        order, inverse = points.serialized_order[s], points.serialized_inverse[s]
        counts = torch.diff(points.offset, prepend=points.offset.new_zeros(1))
        k = int(min(self.patch_size, int(counts.min())))
        source, slot = patch_layout(counts, k)
        qkv = self.qkv(feat)[order][source]  # [P*K, 3C] in serialized, padded order
        q, kk, v = qkv.view(-1, k, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)  # [P, H, K, d]
        out = F.scaled_dot_product_attention(q, kk, v)  # [P, H, K, d]
        out = out.transpose(1, 2).reshape(-1, c)[slot][inverse]  # real points, input order
        return self.proj(out)


class Block(nn.Module):
    """PTv3 block: x += CPE(x); x += DropPath(Attn(LN(x))); x += DropPath(MLP(LN(x)))."""

    def __init__(
        self, channels: int, num_heads: int, patch_size: int, order_index: int, mlp_ratio: float,
        drop_path: float, cpe_kernel: int,
    ):  # fmt: skip
        super().__init__()
        self.cpe = PositionalEncoding(channels, cpe_kernel)
        self.norm1 = nn.LayerNorm(channels)
        self.attn = SerializedAttention(channels, num_heads, patch_size, order_index)
        self.norm2 = nn.LayerNorm(channels)
        self.mlp = Mlp(channels, int(channels * mlp_ratio))
        self.drop_path = DropPath(drop_path)

    def forward(self, points: PointBatch) -> PointBatch:
        x = points.feat + self.cpe(points.feat, points.neighbours)
        x = x + self.drop_path(self.attn(self.norm1(x), points))
        x = x + self.drop_path(self.mlp(self.norm2(x)))
        return points.replace(feat=x)


class Embedding(nn.Module):
    """Stem: a wide submanifold conv on the voxel inputs, LayerNorm, GELU."""

    def __init__(self, in_channels: int, channels: int, kernel_size: int):
        super().__init__()
        self.kernel_size = kernel_size
        self.conv = SubMConv3d(in_channels, channels, kernel_size)
        self.norm = nn.LayerNorm(channels)
        self.act = nn.GELU()

    def forward(self, points: PointBatch) -> PointBatch:
        nbr = neighbour_index(points.grid_coord, points.batch, self.kernel_size)
        return points.replace(feat=self.act(self.norm(self.conv(points.feat, nbr))))


@dataclass
class PoolingTrace:
    """What a pooling step needs to undo itself: the finer points and each one's parent row."""

    parent: PointBatch
    cluster: Tensor  # [N_fine] int64 row of the coarse point holding each fine point


class SerializedPooling(nn.Module):
    """Stride-2 pooling on the serialization codes: the 8 children of a cell share the code
    prefix ``code >> 3`` in every order, so dropping 3 bits groups them; features are
    projected, then max-reduced, coordinates averaged. Samples never merge (batch bits)."""

    def __init__(self, in_channels: int, out_channels: int, shuffle_orders: bool):
        super().__init__()
        self.proj = nn.Linear(in_channels, out_channels)
        self.norm = nn.LayerNorm(out_channels)
        self.act = nn.GELU()
        self.shuffle_orders = shuffle_orders

    def forward(self, points: PointBatch) -> tuple[PointBatch, PoolingTrace]:
        if points.serialized_depth < 1:
            raise ValueError("cannot pool further: the serialization has no bits left (grid too coarse for this depth)")
        code = points.serialized_code >> 3  # [S, N]
        _, cluster, counts = torch.unique(code[0], sorted=True, return_inverse=True, return_counts=True)
        m = len(counts)
        head = torch.zeros(m, dtype=torch.long, device=code.device).scatter_reduce(
            0, cluster, torch.arange(len(cluster), device=code.device), reduce="amin", include_self=False
        )  # the first child of each cell: its codes are the cell's
        code = code[:, head]
        feat = self.proj(points.feat)
        pooled = feat.new_zeros(m, feat.shape[1]).scatter_reduce(
            0, cluster.unsqueeze(1).expand_as(feat), feat, reduce="amax", include_self=False
        )
        coord = points.coord.new_zeros(m, 3).index_add_(0, cluster, points.coord) / counts.unsqueeze(1)
        if self.shuffle_orders and self.training:
            code = code[torch.randperm(code.shape[0], device=code.device)]
        order = torch.argsort(code, dim=1, stable=True)
        inverse = torch.empty_like(order).scatter_(1, order, torch.arange(m, device=code.device).expand_as(order))
        batch = points.batch[head]
        offset = torch.cumsum(torch.bincount(batch, minlength=len(points.offset)), 0)
        grid = points.grid_coord[head] >> 1
        coarse = PointBatch(
            coord=coord, grid_coord=grid, feat=self.act(self.norm(pooled)), offset=offset,
            serialized_code=code, serialized_order=order, serialized_inverse=inverse,
            serialized_depth=points.serialized_depth - 1,
        )  # fmt: skip
        return coarse, PoolingTrace(parent=points, cluster=cluster)


class SerializedUnpooling(nn.Module):
    """Back to the finer points: parent = proj_skip(parent) + proj(child)[cluster]."""

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int):
        super().__init__()
        self.proj = nn.Sequential(nn.Linear(in_channels, out_channels), nn.LayerNorm(out_channels), nn.GELU())
        self.proj_skip = nn.Sequential(nn.Linear(skip_channels, out_channels), nn.LayerNorm(out_channels), nn.GELU())

    def forward(self, points: PointBatch, trace: PoolingTrace) -> PointBatch:
        feat = self.proj_skip(trace.parent.feat) + self.proj(points.feat)[trace.cluster]
        return trace.parent.replace(feat=feat)


# -- stages and model -----------------------------------------------------------------------


class Stage(nn.Module):
    """Blocks at one resolution; block i attends along order ``first_order + i``."""

    def __init__(
        self, depth: int, channels: int, num_heads: int, patch_size: int, mlp_ratio: float,
        drop_paths: list[float], cpe_kernel: int,
    ):  # fmt: skip
        super().__init__()
        self.cpe_kernel = cpe_kernel
        self.blocks = nn.ModuleList(
            Block(channels, num_heads, patch_size, i, mlp_ratio, drop_paths[i], cpe_kernel) for i in range(depth)
        )

    def forward(self, points: PointBatch) -> PointBatch:
        if points.neighbours is None and len(self.blocks):
            points = points.replace(neighbours=neighbour_index(points.grid_coord, points.batch, self.cpe_kernel))
        for block in self.blocks:
            points = block(points)
        return points


@dataclass(frozen=True)
class PTv3Config:
    """Sizes of :class:`GaussianFeatureNet` (JSON-serialisable: it is saved with the weights)."""

    name: str = "paper"
    """The variant (a key of ``SIZES``) these sizes are, or were replaced from; the defaults are the paper's."""
    in_channels: int = IN_CHANNELS
    out_channels: int = 32
    """Feature dimension D per Gaussian (L2-normalised)."""
    grid_size: float = 0.07
    """Voxel edge, metres (paper: 0.07)."""
    orders: tuple[str, ...] = ORDERS
    shuffle_orders: bool = True
    """Shuffle the order of the serializations in training (per forward pass and pooling)."""
    stem_kernel: int = 5
    cpe_kernel: int = 3
    enc_depths: tuple[int, ...] = (2, 2, 2, 6, 2)
    enc_channels: tuple[int, ...] = (32, 64, 128, 256, 512)
    enc_heads: tuple[int, ...] = (2, 4, 8, 16, 32)
    enc_patch: tuple[int, ...] = (1024, 1024, 1024, 1024, 1024)
    dec_depths: tuple[int, ...] = (2, 2, 2, 2)
    dec_channels: tuple[int, ...] = (64, 64, 128, 256)
    dec_heads: tuple[int, ...] = (4, 4, 8, 16)
    dec_patch: tuple[int, ...] = (1024, 1024, 1024, 1024)
    mlp_ratio: float = 4.0
    drop_path: float = 0.3
    """Largest drop-path rate (linear over the encoder's blocks, as PTv3)."""

    def __post_init__(self) -> None:
        n = len(self.enc_depths)
        for name in ("enc_channels", "enc_heads", "enc_patch"):
            if len(getattr(self, name)) != n:
                raise ConfigError(self, name, f"must have {n} entries (one per encoder stage)")
        for name in ("dec_depths", "dec_channels", "dec_heads", "dec_patch"):
            if len(getattr(self, name)) != n - 1:
                raise ConfigError(self, name, f"must have {n - 1} entries (one per decoder stage)")
        bad = [o for o in self.orders if o not in ORDERS]
        if bad or not self.orders:
            raise ConfigError(self, "orders", f"must be drawn from {ORDERS}, got {self.orders}")
        check(self, self.grid_size > 0, "grid_size", "positive")

    def to_json(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_json(d: dict) -> PTv3Config:
        return PTv3Config(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


class PointTransformerV3(nn.Module):
    """The U-Net over voxels: embedding, encoder stages with pooling between them, decoder
    stages with unpooling and skips. Input and output are :class:`PointBatch` es at the voxel
    level; the output has ``dec_channels[0]`` channels."""

    def __init__(self, cfg: PTv3Config):
        super().__init__()
        self.cfg = cfg
        self.embedding = Embedding(cfg.in_channels, cfg.enc_channels[0], cfg.stem_kernel)
        rates = torch.linspace(0, cfg.drop_path, sum(cfg.enc_depths)).tolist()
        self.enc = nn.ModuleList()
        self.pool = nn.ModuleList()
        for s, depth in enumerate(cfg.enc_depths):
            if s > 0:
                self.pool.append(SerializedPooling(cfg.enc_channels[s - 1], cfg.enc_channels[s], cfg.shuffle_orders))
            used = sum(cfg.enc_depths[:s])
            self.enc.append(
                Stage(depth, cfg.enc_channels[s], cfg.enc_heads[s], cfg.enc_patch[s], cfg.mlp_ratio,
                      rates[used : used + depth], cfg.cpe_kernel)
            )  # fmt: skip
        dec_rates = torch.linspace(0, cfg.drop_path, max(sum(cfg.dec_depths), 1)).tolist()[::-1]
        self.unpool = nn.ModuleList()
        self.dec = nn.ModuleList()
        for s in reversed(range(len(cfg.dec_depths))):
            coarser = cfg.enc_channels[-1] if s == len(cfg.dec_depths) - 1 else cfg.dec_channels[s + 1]
            self.unpool.append(SerializedUnpooling(coarser, cfg.enc_channels[s], cfg.dec_channels[s]))
            used = sum(cfg.dec_depths[s + 1 :])
            depth = cfg.dec_depths[s]
            self.dec.append(
                Stage(depth, cfg.dec_channels[s], cfg.dec_heads[s], cfg.dec_patch[s], cfg.mlp_ratio,
                      dec_rates[used : used + depth], cfg.cpe_kernel)
            )  # fmt: skip

    @property
    def out_channels(self) -> int:
        return self.cfg.dec_channels[0] if self.cfg.dec_channels else self.cfg.enc_channels[0]

    def forward(self, points: PointBatch) -> PointBatch:
        points = self.enc[0](self.embedding(points))
        traces = []
        for pool, stage in zip(self.pool, self.enc[1:]):
            points, trace = pool(points)
            traces.append(trace)
            points = stage(points)
        for unpool, stage in zip(self.unpool, self.dec):
            points = stage(unpool(points, traces.pop()))
        return points


class GaussianFeatureNet(nn.Module):
    """Per-Gaussian view-independent features: voxelise the Gaussians, run the backbone over
    the voxels, map every Gaussian back to its voxel and add a projection of its own inputs,
    then a linear layer to D and L2 normalisation.

    ``forward(coord [N,3] metres, inputs [N,10], offset [B]) -> [N, D]`` (unit vectors).
    """

    def __init__(self, cfg: PTv3Config):
        super().__init__()
        self.cfg = cfg
        self.backbone = PointTransformerV3(cfg)
        c = self.backbone.out_channels
        self.point_proj = nn.Linear(cfg.in_channels, c)
        self.head = nn.Sequential(nn.LayerNorm(c), nn.GELU(), nn.Linear(c, cfg.out_channels))

    def forward(
        self,
        coord: Tensor,  # [N, 3] metres, z up
        inputs: Tensor,  # [N, in_channels] normalised per-Gaussian inputs
        offset: Tensor,  # [B] int64 cumulative counts
    ) -> Tensor:  # [N, out_channels], L2-normalised
        if coord.ndim != 2 or coord.shape[1] != 3:
            raise ValueError(f"coord must have shape [N, 3], got {list(coord.shape)}")
        if inputs.shape != (coord.shape[0], self.cfg.in_channels):
            raise ValueError(f"inputs must have shape [N={coord.shape[0]}, {self.cfg.in_channels}], got {list(inputs.shape)}")
        voxels, inverse = grid_sample(coord, inputs, offset_to_batch(offset), self.cfg.grid_size)
        orders = list(self.cfg.orders)
        if self.cfg.shuffle_orders and self.training:
            orders = [orders[i] for i in torch.randperm(len(orders)).tolist()]
        voxels = serialize(voxels, orders)
        out = self.backbone(voxels)
        feat = out.feat[inverse] + self.point_proj(inputs)
        return F.normalize(self.head(feat), dim=1)


# -- variants -------------------------------------------------------------------------------

PAPER = PTv3Config()
"""PTv3's default sizes (46M parameters; a GPU model)."""

SMALL = PTv3Config(
    name="small", stem_kernel=3, enc_depths=(1, 1, 2, 1), enc_channels=(32, 48, 96, 160), enc_heads=(2, 3, 6, 10),
    enc_patch=(128, 128, 128, 128), dec_depths=(1, 1, 1), dec_channels=(48, 48, 96), dec_heads=(3, 3, 6),
    dec_patch=(128, 128, 128), mlp_ratio=2.0, drop_path=0.1,
)  # fmt: skip
"""CPU-sized: four stages, narrower, patches of 128, one block per stage mostly, 3^3 positional
convs and a 3^3 stem (about 1M parameters)."""

SIZES: dict[str, PTv3Config] = {cfg.name: cfg for cfg in (PAPER, SMALL)}
"""Each variant's config by its name (the name ``VARIANTS`` and a saved network's config use)."""


def _create_ptv3(variant: str, **overrides: Any) -> GaussianFeatureNet:
    """A feature network of config ``SIZES[variant]`` with ``overrides`` (:class:`PTv3Config`
    fields, e.g. ``grid_size=0.2``) replaced (timm's ``_create_*`` pattern)."""
    return GaussianFeatureNet(replace(SIZES[variant], **overrides))


def ptv3_paper(**overrides: Any) -> GaussianFeatureNet:
    """The network of config :data:`PAPER`, with ``overrides`` (:class:`PTv3Config` fields)."""
    return _create_ptv3(PAPER.name, **overrides)


def ptv3_small(**overrides: Any) -> GaussianFeatureNet:
    """The network of config :data:`SMALL`, with ``overrides`` (:class:`PTv3Config` fields)."""
    return _create_ptv3(SMALL.name, **overrides)


VARIANTS: dict[str, Callable[..., GaussianFeatureNet]] = {PAPER.name: ptv3_paper, SMALL.name: ptv3_small}
"""The variant functions by name: ``VARIANTS[name](**overrides)``."""
