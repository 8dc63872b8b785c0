"""The VDVI fusion network: S = Dec(psi(Enc_VD(I), Enc_VI(Z, I))) (RT-GS2, Eq. 4), after AsymFormer.

Enc_VD is a ConvNeXt (or, ``VDVISize.vd_block``, a ResNet) over the rendered image I (view
dependent); Enc_VI is a Mix Transformer
(SegFormer's MiT) over the splatted feature image Z (view independent). From stage 2 on, each
MiT stage's output is fused with the ConvNeXt stage of the same stride by psi: a feature
selection (channel and spatial attention, AsymFormer's LAFS) and a cross-modal attention (its
CMA); the fused map is what the next MiT stage reads, so Enc_VI sees the image through psi.
An all-MLP decoder (SegFormer's head) turns the four Enc_VI stages into logits at the input
resolution.

``fusion="late"`` joins the two inputs after their decoders instead: Enc_VD with a head of its
own (``image_head``, the image-only model's decoder) and Enc_VI without psi (the Z-only model's),
their class log-probabilities averaged (a product of the two experts). Each head is trained with
its own loss (``FusionOutput.branches``), so the two branches learn what the single-input models
learn; on rooms no model saw this beat psi's fusion at the same budget (v3 test rooms 60.5 % mIoU
against 54.3, SynthRooms v3x3, 4000 steps: benchmarks/RESULTS.md 2026-12-06), where psi's
image-dependent Enc_VI fits the training rooms' looks.

Parameters are named as timm's ``convnext_tiny`` or ``resnet`` (under ``vd.``) and as transformers'
``SegformerModel`` encoder (``encoder.`` there, ``vi.`` here), so ImageNet weights a user
already has load by name (``rtgs2.fusion.io.load_backbone_weights``).

Layout: blocks (``DropPath`` and ``Mlp`` come from :mod:`rtgs2.utils.layers`, shared with the
point backbone), stages, the model, then the size variants at the bottom (``SIZES``: the only
place sizes differ and variants are named). LayerNorm everywhere but in the ResNet Enc_VD,
which has BatchNorm as ResNets do (it folds into the convs at inference; under DDP each process
normalises its own share of the batch).

Maps are kept channels-last inside (NCHW tensors with NHWC memory, which is the token layout
[B, h*w, C] of the transformer): LayerNorm and linear layers then read them without copies,
and oneDNN's convolutions are faster on them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal, NamedTuple, get_args

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from rtgs2.utils.errors import ConfigError
from rtgs2.utils.layers import DropPath, Mlp, inference_copy

Inputs = Literal["both", "image", "features"]
INPUTS: tuple[str, ...] = get_args(Inputs)
Fusion = Literal["mid", "late"]
FUSIONS: tuple[str, ...] = get_args(Fusion)

# Both encoders' stems have stride 4 (inputs are zero-padded to a multiple of it) and three
# stride-2 stages follow (the stride-4 maps are zero-padded to a multiple of 8).
STEM_STRIDE = 4
STAGE_MULTIPLE = 8
NUM_STAGES = 4  # of both encoders; psi fuses stages 2-4
VD_BLOCKS = ("convnext", "resnet")  # Enc_VD's block types (VDVISize.vd_block)
FEATURE_STRIDES = (1, 4, 8)  # resolutions of Z the network reads, relative to the image's (VDVISize.feature_stride)
SHARED_STEM_STRIDES = frozenset({4, 8})  # feature strides whose networks have the same parameters (Enc_VI's stem)
# The statistics ImageNet-trained ConvNeXt weights expect; images enter the model in [0, 1].
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def strides_share_parameters(stride: int, other: int) -> bool:
    """Whether networks reading Z at ``stride`` and at ``other`` have the same parameters, so that
    one's weights load into the other (``SHARED_STEM_STRIDES``, or the same stride)."""
    return stride == other or {stride, other} <= SHARED_STEM_STRIDES


# ------------------------------------------------------------------------------------ blocks


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of a channels-first map (timm's ``LayerNorm2d``)."""

    def forward(self, x: Tensor) -> Tensor:  # [B, C, H, W]
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


def to_tokens(x: Tensor) -> Tensor:  # [B, C, H, W] -> [B, H*W, C] (a view of a channels-last map)
    return x.flatten(2).transpose(1, 2)


def to_map(x: Tensor, h: int, w: int) -> Tensor:  # [B, h*w, C] -> [B, C, h, w] channels-last view
    return x.transpose(1, 2).unflatten(2, (h, w))


def pad_map(x: Tensor, multiple: int) -> Tensor:  # [B, C, H, W] -> [B, C, H', W'], channels last
    """Zero-pad the bottom and right to a multiple of ``multiple``; the result is channels-last."""
    B, C, H, W = x.shape
    out = x.new_zeros(B, H + (-H % multiple), W + (-W % multiple), C)
    out[:, :H, :W] = x.permute(0, 2, 3, 1)
    return out.permute(0, 3, 1, 2)


def stem_input(x: Tensor) -> Tensor:  # [B, C, H, W] -> [B, C, H', W'] channels last, H', W' multiples of 4
    """An encoder's input, zero-padded for its stride-4 stem (zeros: the mean colour once the
    image is normalised; "no Gaussian" in Z). Padding to 32 waits until after the stem, where
    maps are 16 times smaller."""
    if x.shape[-2] % STEM_STRIDE or x.shape[-1] % STEM_STRIDE:
        return pad_map(x, STEM_STRIDE)
    return x.contiguous(memory_format=torch.channels_last)


class ConvNeXtBlock(nn.Module):
    """7x7 depthwise conv, LayerNorm, inverted-bottleneck MLP, layer scale, residual.

    Args:
        dim: channels C.
        drop_path: stochastic-depth probability of this block.
        ls_init: initial layer scale (timm's default: the block starts near identity).
    """

    def __init__(self, dim: int, drop_path: float = 0.0, ls_init: float = 1e-6):
        super().__init__()
        self.conv_dw = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, 4 * dim)
        self.gamma = nn.Parameter(torch.full((dim,), ls_init))
        self.drop_path = DropPath(drop_path)

    def forward(self, x: Tensor) -> Tensor:  # [B, C, H, W] -> same
        y = self.conv_dw(x).permute(0, 2, 3, 1)  # channels last: LayerNorm and Linear act on C
        y = self.gamma * self.mlp(self.norm(y))
        return x + self.drop_path(y.permute(0, 3, 1, 2))


class BasicBlock(nn.Module):
    """ResNet's basic block: two 3x3 convs with BatchNorm, ReLU, residual (a 1x1 conv + BN on
    the shortcut where the stride or width changes). Names as timm's ``resnet`` blocks.

    Args:
        in_dim, dim: channels in and out.
        stride: of the first conv (2 at the start of stages 2-4).
    """

    def __init__(self, in_dim: int, dim: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_dim, dim, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(dim)
        self.conv2 = nn.Conv2d(dim, dim, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(dim)
        self.act = nn.ReLU(inplace=True)
        self.downsample = (
            nn.Sequential(nn.Conv2d(in_dim, dim, kernel_size=1, stride=stride, bias=False), nn.BatchNorm2d(dim))
            if stride != 1 or in_dim != dim
            else None
        )

    def forward(self, x: Tensor) -> Tensor:  # [B, Cin, H, W] -> [B, C, H / stride, W / stride]
        shortcut = x if self.downsample is None else self.downsample(x)
        y = self.act(self.bn1(self.conv1(x)))
        return self.act(self.bn2(self.conv2(y)) + shortcut)

    def fold_batchnorms(self) -> None:
        """Fold each BatchNorm (running statistics) into the conv before it, in place (inference only)."""
        self.conv1, self.bn1 = fold_batchnorm(self.conv1, self.bn1), nn.Identity()
        self.conv2, self.bn2 = fold_batchnorm(self.conv2, self.bn2), nn.Identity()
        if self.downsample is not None:
            self.downsample = fold_batchnorm(self.downsample[0], self.downsample[1])


@torch.no_grad()
def fold_batchnorm(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """A conv computing ``bn(conv(x))`` with ``bn``'s running statistics (eval mode):
    W' = W * g / sqrt(var + eps), b' = (b - mean) * g / sqrt(var + eps) + beta."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    folded = nn.Conv2d(
        conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding, conv.dilation, conv.groups,
        bias=True,
    ).to(conv.weight.device, conv.weight.dtype)  # fmt: skip
    folded.weight.copy_(conv.weight * scale.view(-1, 1, 1, 1))
    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    folded.bias.copy_((bias - bn.running_mean) * scale + bn.bias)
    return folded


class OverlapPatchEmbed(nn.Module):
    """Strided conv, then LayerNorm (MiT's patch embedding; its kernel is wider than its stride).

    Args:
        in_dim, dim: channels in and out.
        kernel, stride: of the conv; an odd kernel is padded by kernel // 2 (MiT), a kernel equal
            to the stride is not (patchify), so that the output is input / stride either way.
        pad_multiple: zero-pad the output map to a multiple of this (the stem: 8).
    """

    def __init__(self, in_dim: int, dim: int, kernel: int, stride: int, pad_multiple: int = 1):
        super().__init__()
        if kernel != stride and kernel % 2 == 0:
            raise ValueError(f"patch embedding kernel {kernel} must be odd or equal to its stride {stride}")
        padding = kernel // 2 if kernel > stride else 0
        self.proj = nn.Conv2d(in_dim, dim, kernel_size=kernel, stride=stride, padding=padding)
        self.layer_norm = nn.LayerNorm(dim)
        self.pad_multiple = pad_multiple

    def forward(self, x: Tensor) -> tuple[Tensor, int, int]:  # [B, Cin, H, W] -> [B, h*w, C], h, w
        x = pad_map(self.proj(x), self.pad_multiple)
        h, w = x.shape[-2:]
        return self.layer_norm(to_tokens(x)), h, w


class EfficientSelfAttention(nn.Module):
    """Multi-head self-attention whose keys and values come from a map shrunk ``sr_ratio`` times
    by a strided conv (MiT's spatial-reduction attention; cost N * N / sr^2 instead of N^2)."""

    def __init__(self, dim: int, heads: int, sr_ratio: int):
        super().__init__()
        if dim % heads:
            raise ValueError(f"attention width {dim} is not divisible by its {heads} heads")
        self.heads = heads
        self.query = nn.Linear(dim, dim)
        self.key = nn.Linear(dim, dim)
        self.value = nn.Linear(dim, dim)
        self.sr_ratio = sr_ratio
        if sr_ratio > 1:
            self.sr = nn.Conv2d(dim, dim, kernel_size=sr_ratio, stride=sr_ratio)
            self.layer_norm = nn.LayerNorm(dim)

    def split_heads(self, x: Tensor) -> Tensor:  # [B, N, C] -> [B, heads, N, C / heads]
        return x.unflatten(-1, (self.heads, -1)).transpose(1, 2)

    def forward(self, x: Tensor, h: int, w: int) -> Tensor:  # [B, h*w, C] -> same
        kv = x
        if self.sr_ratio > 1:
            kv = self.layer_norm(to_tokens(self.sr(to_map(x, h, w))))
        q, k, v = self.split_heads(self.query(x)), self.split_heads(self.key(kv)), self.split_heads(self.value(kv))
        return F.scaled_dot_product_attention(q, k, v).transpose(1, 2).flatten(2)


class SelfOutput(nn.Module):
    """The attention's output projection (transformers' ``SegformerSelfOutput``)."""

    def __init__(self, dim: int):
        super().__init__()
        self.dense = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:  # [B, N, C]
        return self.dense(x)


class Attention(nn.Module):
    """Efficient self-attention and its output projection (transformers' ``SegformerAttention``)."""

    def __init__(self, dim: int, heads: int, sr_ratio: int):
        super().__init__()
        self.self = EfficientSelfAttention(dim, heads, sr_ratio)
        self.output = SelfOutput(dim)

    def forward(self, x: Tensor, h: int, w: int) -> Tensor:  # [B, h*w, C] -> same
        return self.output(self.self(x, h, w))


class DepthwiseConv(nn.Module):
    """3x3 depthwise conv on tokens (transformers' ``SegformerDWConv``, hence ``dwconv.dwconv``)."""

    def __init__(self, dim: int):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel_size=3, padding=1, groups=dim)

    def forward(self, x: Tensor, h: int, w: int) -> Tensor:  # [B, h*w, C] -> same
        return to_tokens(self.dwconv(to_map(x, h, w)))


class MixFFN(nn.Module):
    """Linear, 3x3 depthwise conv, GELU, linear: the conv gives MiT its position information."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.dense1 = nn.Linear(dim, hidden)
        self.dwconv = DepthwiseConv(hidden)
        self.act = nn.GELU()
        self.dense2 = nn.Linear(hidden, dim)

    def forward(self, x: Tensor, h: int, w: int) -> Tensor:  # [B, h*w, C] -> same
        return self.dense2(self.act(self.dwconv(self.dense1(x), h, w)))


class MiTBlock(nn.Module):
    """Pre-norm transformer block: efficient self-attention, then Mix-FFN, both residual."""

    def __init__(self, dim: int, heads: int, sr_ratio: int, mlp_ratio: int, drop_path: float = 0.0):
        super().__init__()
        self.layer_norm_1 = nn.LayerNorm(dim)
        self.attention = Attention(dim, heads, sr_ratio)
        self.layer_norm_2 = nn.LayerNorm(dim)
        self.mlp = MixFFN(dim, mlp_ratio * dim)
        self.drop_path = DropPath(drop_path)

    def forward(self, x: Tensor, h: int, w: int) -> Tensor:  # [B, h*w, C] -> same
        x = x + self.drop_path(self.attention(self.layer_norm_1(x), h, w))
        return x + self.drop_path(self.mlp(self.layer_norm_2(x), h, w))


class FeatureSelection(nn.Module):
    """Channel and spatial attention over the two encoders' concatenated features, projected to
    Enc_VI's width (AsymFormer's LAFS). Both attentions are driven by the pooled features, so
    the cost per pixel is one gate and one dot product.

    Args:
        vi_dim, vd_dim: channels of Enc_VI's and Enc_VD's stage.
        reduction: bottleneck factor of the two gate MLPs.
    """

    def __init__(self, vi_dim: int, vd_dim: int, reduction: int = 8):
        super().__init__()
        dim = vi_dim + vd_dim
        hidden = max(dim // reduction, 8)
        self.channel_gate = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, dim))
        # per-channel weights of a 1x1 conv that scores each pixel, chosen from the global context
        self.spatial_weights = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, dim))
        self.proj = nn.Linear(dim, vi_dim, bias=False)
        self.norm = nn.LayerNorm(vi_dim)

    def forward(self, vi: Tensor, vd: Tensor) -> Tensor:  # [B, N, Cvi], [B, N, Cvd] -> [B, N, Cvi]
        x = torch.cat([vi, vd], dim=-1)
        context = x.mean(dim=1)  # [B, C]
        channel = torch.sigmoid(self.channel_gate(context)).unsqueeze(1)  # [B, 1, C]
        weights = self.spatial_weights(context).unsqueeze(-1)  # [B, C, 1]
        spatial = torch.sigmoid(x @ weights / math.sqrt(x.shape[-1]))  # [B, N, 1]; /sqrt(C) keeps it O(1)
        return self.norm(self.proj(x * channel * spatial))


class CrossModalAttention(nn.Module):
    """Two-head attention over the fused features: one head's queries and keys come from Enc_VI,
    the other's from Enc_VD, the values from the fused map (AsymFormer's CMA), so each modality
    decides where the other one's evidence is gathered from. Keys and values are average-pooled
    ``sr_ratio`` times, as in MiT's attention, which keeps the stride-8 stage cheap.

    Args:
        dim: channels of the fused map (Enc_VI's width); split between the two heads.
        vd_dim: channels of Enc_VD's stage.
        key_dim: width of queries and keys per head.
        sr_ratio: spatial reduction of keys and values.
    """

    def __init__(self, dim: int, vd_dim: int, key_dim: int, sr_ratio: int):
        super().__init__()
        if dim % 2:
            raise ValueError(f"cross-modal attention splits {dim} channels into 2 heads: use an even width")
        self.sr_ratio = sr_ratio
        self.norm_vi = nn.LayerNorm(dim)
        self.norm_vd = nn.LayerNorm(vd_dim)
        self.query_vi = nn.Linear(dim, key_dim)
        self.key_vi = nn.Linear(dim, key_dim)
        self.query_vd = nn.Linear(vd_dim, key_dim)
        self.key_vd = nn.Linear(vd_dim, key_dim)
        self.value = nn.Linear(dim, dim)
        self.proj = nn.Linear(dim, dim)

    def pool(self, x: Tensor, h: int, w: int) -> Tensor:  # [B, h*w, C] -> [B, h*w / sr^2, C]
        if self.sr_ratio == 1:
            return x
        return to_tokens(F.avg_pool2d(to_map(x, h, w), self.sr_ratio, ceil_mode=True))

    def forward(self, fused: Tensor, vi: Tensor, vd: Tensor, h: int, w: int) -> Tensor:
        """fused, vi: [B, h*w, C]; vd: [B, h*w, Cvd] -> [B, h*w, C] (residual on ``fused``)."""
        vi, vd = self.norm_vi(vi), self.norm_vd(vd)
        q = torch.stack([self.query_vi(vi), self.query_vd(vd)], dim=1)  # [B, 2, N, Ck]
        vi_small, vd_small = self.pool(vi, h, w), self.pool(vd, h, w)
        k = torch.stack([self.key_vi(vi_small), self.key_vd(vd_small)], dim=1)  # [B, 2, M, Ck]
        v = self.value(self.pool(fused, h, w)).unflatten(-1, (2, -1)).transpose(1, 2)  # [B, 2, M, C/2]
        out = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).flatten(2)
        return fused + self.proj(out)


# ------------------------------------------------------------------------------------ stages


class ConvNeXtStage(nn.Module):
    """Downsampling (LayerNorm + 2x2 stride-2 conv; none for the first stage), then blocks."""

    def __init__(self, in_dim: int, dim: int, depth: int, drop_paths: Sequence[float], downsample: bool):
        super().__init__()
        self.downsample = (
            nn.Sequential(LayerNorm2d(in_dim, eps=1e-6), nn.Conv2d(in_dim, dim, kernel_size=2, stride=2))
            if downsample
            else nn.Identity()
        )
        self.blocks = nn.Sequential(*(ConvNeXtBlock(dim, drop_paths[i]) for i in range(depth)))

    def forward(self, x: Tensor) -> Tensor:  # [B, Cin, H, W] -> [B, C, H / s, W / s]
        return self.blocks(self.downsample(x))


class ConvNeXtEncoder(nn.Module):
    """Enc_VD: a 4x4 stride-4 stem and four ConvNeXt stages (strides 4, 8, 16, 32).

    Args:
        in_dim: input channels (3).
        depths, widths: blocks and channels per stage.
        drop_path_rate: stochastic depth of the last block, rising linearly from 0.
    """

    def __init__(self, in_dim: int, depths: Sequence[int], widths: Sequence[int], drop_path_rate: float = 0.0):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_dim, widths[0], kernel_size=STEM_STRIDE, stride=STEM_STRIDE), LayerNorm2d(widths[0], eps=1e-6)
        )
        rates = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
        stages = []
        for i, depth in enumerate(depths):
            first = sum(depths[:i])
            in_dim = widths[max(i - 1, 0)]
            stages.append(ConvNeXtStage(in_dim, widths[i], depth, rates[first : first + depth], downsample=i > 0))
        self.stages = nn.Sequential(*stages)

    def forward(self, x: Tensor) -> list[Tensor]:  # [B, 3, H, W] -> 4 x [B, C_i, H / s_i, W / s_i]
        """H, W multiples of 4; the stride-4 map is padded to a multiple of 8 (outputs: of that)."""
        x = pad_map(self.stem(x), STAGE_MULTIPLE)
        out = []
        for stage in self.stages:
            x = stage(x)
            out.append(x)
        return out


class ResNetEncoder(nn.Module):
    """Enc_VD as a ResNet (``VDVISize.vd_block == "resnet"``): a stem of two 3x3 stride-2 convs
    (timm's deep-stem names: ``conv1`` a Sequential, then ``bn1``) and four stages of basic
    blocks (``layer1``-``layer4``; stages 2-4 start with a stride-2 block): strides 4, 8, 16, 32.

    Trained from scratch on 2 cores it fits far sooner than the ConvNeXt of the same widths and
    depths (image only, 4 v2 rooms, 600 steps, same recipe: 77.4 % held-out mIoU against 55.9 %,
    in less time per step; benchmarks/image_recipe.py), at about the same inference cost (small,
    both, 320x240: 25.5 ms with the BatchNorms folded into the convs, 26.0 unfolded, ConvNeXt 24.5). Under DDP each process normalises its own share of the batch (the running
    statistics are rank 0's, which DDP broadcasts).

    Args:
        in_dim: input channels (3).
        depths, widths: blocks (>= 1) and channels per stage.
    """

    def __init__(self, in_dim: int, depths: Sequence[int], widths: Sequence[int]):
        super().__init__()
        half = widths[0] // 2
        self.conv1 = nn.Sequential(
            nn.Conv2d(in_dim, half, kernel_size=3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(half),
            nn.ReLU(inplace=True),
            nn.Conv2d(half, widths[0], kernel_size=3, stride=2, padding=1, bias=False),
        )
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.act1 = nn.ReLU(inplace=True)
        for i, depth in enumerate(depths):
            in_dim = widths[max(i - 1, 0)]
            blocks = [BasicBlock(in_dim, widths[i], stride=2 if i > 0 else 1)]
            blocks += [BasicBlock(widths[i], widths[i]) for _ in range(depth - 1)]
            self.add_module(f"layer{i + 1}", nn.Sequential(*blocks))

    def reset_parameters(self) -> None:
        """He-normal convs (fan out, timm's ResNet init), BatchNorms at identity."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def fold_batchnorms(self) -> None:
        """Fold each BatchNorm into the conv before it, in place: the same outputs in eval mode,
        fewer passes over the maps (inference only; the running statistics are gone)."""
        stem = self.conv1
        self.conv1 = nn.Sequential(fold_batchnorm(stem[0], stem[1]), stem[2], fold_batchnorm(stem[3], self.bn1))
        self.bn1 = nn.Identity()
        for m in self.modules():
            if isinstance(m, BasicBlock):
                m.fold_batchnorms()

    def forward(self, x: Tensor) -> list[Tensor]:  # [B, 3, H, W] -> 4 x [B, C_i, H / s_i, W / s_i]
        """H, W multiples of 4; the stride-4 map is padded to a multiple of 8 (outputs: of that)."""
        x = pad_map(self.act1(self.bn1(self.conv1(x))), STAGE_MULTIPLE)
        out = []
        for i in range(NUM_STAGES):
            x = getattr(self, f"layer{i + 1}")(x)
            out.append(x)
        return out


class MixTransformerEncoder(nn.Module):
    """Enc_VI: four MiT stages, each an overlapping patch embedding, blocks and a LayerNorm
    (attribute names as transformers' ``SegformerEncoder``). Run stage by stage (``stage``) so
    that psi can rewrite a stage's output before the next one reads it.

    Args:
        in_dim: input channels (D of the feature image Z).
        depths, widths, heads, sr_ratios: per stage.
        mlp_ratio: Mix-FFN hidden width / stage width.
        patch_sizes: kernel of each stage's patch embedding (strides 4, 2, 2, 2).
        drop_path_rate: stochastic depth of the last block, rising linearly from 0.
        input_stride: the input's resolution relative to the stride-4 grid's input: 1 (the stem
            patchifies it, stride 4, kernel ``patch_sizes[0]``) or 4 (it is on the stride-4 grid
            already: a 3x3 conv of stride 1; a coarser Z is brought to that grid first).
    """

    def __init__(
        self,
        in_dim: int,
        depths: Sequence[int],
        widths: Sequence[int],
        heads: Sequence[int],
        sr_ratios: Sequence[int],
        mlp_ratio: int,
        patch_sizes: Sequence[int],
        drop_path_rate: float = 0.0,
        input_stride: int = 1,
    ):
        super().__init__()
        rates = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
        stem_stride = STEM_STRIDE // input_stride
        stem_kernel = patch_sizes[0] if stem_stride == STEM_STRIDE else 3
        self.patch_embeddings = nn.ModuleList()
        self.block = nn.ModuleList()
        self.layer_norm = nn.ModuleList()
        for i in range(len(depths)):
            self.patch_embeddings.append(
                OverlapPatchEmbed(in_dim, widths[0], stem_kernel, stem_stride, STAGE_MULTIPLE)
                if i == 0
                else OverlapPatchEmbed(widths[i - 1], widths[i], patch_sizes[i], 2)
            )
            first = sum(depths[:i])
            self.block.append(
                nn.ModuleList(
                    MiTBlock(widths[i], heads[i], sr_ratios[i], mlp_ratio, rates[first + j]) for j in range(depths[i])
                )
            )
            self.layer_norm.append(nn.LayerNorm(widths[i]))

    def stage(self, i: int, x: Tensor) -> tuple[Tensor, int, int]:  # [B, Cin, H, W] -> [B, h*w, C_i], h, w
        x, h, w = self.patch_embeddings[i](x)
        for block in self.block[i]:
            x = block(x, h, w)
        return self.layer_norm[i](x), h, w


class FusionModule(nn.Module):
    """psi at one stage: feature selection, then cross-modal attention (AsymFormer's SCC)."""

    def __init__(self, vi_dim: int, vd_dim: int, key_dim: int, sr_ratio: int):
        super().__init__()
        self.select = FeatureSelection(vi_dim, vd_dim)
        self.attend = CrossModalAttention(vi_dim, vd_dim, key_dim, sr_ratio)

    def forward(self, vi: Tensor, vd: Tensor, h: int, w: int) -> Tensor:
        """vi: [B, h*w, Cvi] tokens; vd: [B, Cvd, h, w] map -> fused [B, h*w, Cvi]."""
        vd = to_tokens(vd)
        return self.attend(self.select(vi, vd), vi, vd, h, w)


class AllMLPDecoder(nn.Module):
    """SegFormer's head: each stage projected to ``dim`` channels, brought to stride 4 and
    merged, then LayerNorm + ReLU -> the embedding, and a 1x1 classifier.

    SegFormer concatenates the four projections and mixes them with a 1x1 conv; with no
    nonlinearity between, that is the sum of one linear map per stage (upsampling commutes with
    a per-pixel linear map), which this head computes at each stage's own resolution instead of
    running a 4*dim -> dim conv at stride 4.

    Args:
        in_dims: channels of the four stages.
        dim: embedding width E.
        num_classes: K.
        dropout: on the embedding before the classifier (SegFormer: 0.1).
        depth_head: also predict depth (1 channel) from the embedding.
    """

    def __init__(self, in_dims: Sequence[int], dim: int, num_classes: int, dropout: float, depth_head: bool):
        super().__init__()
        # one bias is enough: the four projections are summed
        self.linear_c = nn.ModuleList(nn.Linear(c, dim, bias=i == 0) for i, c in enumerate(in_dims))
        self.norm = nn.LayerNorm(dim)
        self.act = nn.ReLU()
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(dim, num_classes)
        self.depth_head = nn.Linear(dim, 1) if depth_head else None

    def embed(self, stages: Sequence[Tensor]) -> Tensor:  # 4 x [B, C_i, H / s_i, W / s_i] -> [B, E, H/4, W/4]
        size = stages[0].shape[-2:]
        x = self.linear_c[0](stages[0].permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        for proj, feat in zip(self.linear_c[1:], stages[1:]):
            y = proj(feat.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
            x = x + F.interpolate(y, size=size, mode="bilinear", align_corners=False)
        return self.act(self.norm(x.permute(0, 2, 3, 1))).permute(0, 3, 1, 2)

    def forward(self, embedding: Tensor) -> tuple[Tensor, Tensor | None]:  # [B, E, h, w] -> [B, K, h, w], [B, 1, h, w]
        x = embedding.permute(0, 2, 3, 1)
        logits = self.classifier(self.dropout(x)).permute(0, 3, 1, 2)
        depth = self.depth_head(x).permute(0, 3, 1, 2) if self.depth_head is not None else None
        return logits, depth


# ------------------------------------------------------------------------------------- model


@dataclass(frozen=True)
class VDVISize:
    """Widths and depths of the network: a variant's (``SIZES`` at the bottom), or one with some
    fields replaced. ``name`` is the variant's; ``__post_init__`` refuses values the network
    cannot be built with, naming the field."""

    name: str
    vd_depths: tuple[int, ...]
    """Enc_VD blocks per stage."""
    vd_widths: tuple[int, ...]
    """Enc_VD channels per stage."""
    vi_depths: tuple[int, ...]
    """MiT blocks per stage."""
    vi_widths: tuple[int, ...]
    """MiT channels per stage (also the fused and decoded widths)."""
    vi_heads: tuple[int, ...]
    """MiT attention heads per stage."""
    vi_sr_ratios: tuple[int, ...]
    """MiT (and cross-modal) attention's key/value spatial reduction per stage."""
    vi_patch_sizes: tuple[int, ...]
    """kernel of each MiT patch embedding (MiT: 7, 3, 3, 3)."""
    vi_mlp_ratio: int
    """Mix-FFN hidden width / stage width."""
    fusion_key_dim: int
    """query/key width per head of the cross-modal attention."""
    decoder_dim: int
    """decoder embedding width E."""
    decoder_dropout: float = 0.1
    """dropout on the embedding before the classifier."""
    feature_stride: int = 4
    """Resolution of the feature image Z the network reads, relative to the image's: 4 (Z at
    ceil(H / 4) x ceil(W / 4), as ``render(..., feature_stride=4)`` gives it; Enc_VI's stem is a
    3x3 conv of stride 1), 8 (Z at ceil(H / 8) x ceil(W / 8), repeated x2 to the stride-4 grid
    before the same stem: the same parameters as 4, so a model of either starts the other; the
    render's Z bookkeeping is per block row, and 8 halves it) or 1 (Z at the image's size,
    patchified by a stride-4 stem of kernel ``vi_patch_sizes[0]``, as MiT; the models trained
    before the option)."""

    vd_block: str = "convnext"
    """Enc_VD's blocks: "convnext" (the paper's; timm ``convnext_*`` names, ImageNet weights load
    by name) or "resnet" (BatchNorm basic blocks, timm ``resnet`` names; learns much faster from
    scratch: ``ResNetEncoder``)."""

    def __post_init__(self) -> None:
        """Raise ConfigError (a ValueError) naming the field for a value the network cannot be built with."""
        if self.vd_block not in VD_BLOCKS:
            raise ConfigError(self, "vd_block", f"must be one of {VD_BLOCKS}, got {self.vd_block!r}")
        if self.vd_block == "resnet" and not _per_stage(self.vd_depths, minimum=1):
            raise ConfigError(self, "vd_depths", f"must be {NUM_STAGES} block counts >= 1 with resnet blocks "
                              f"(each stage starts with its downsampling block), got {self.vd_depths}")  # fmt: skip
        for name in ("vd_depths", "vi_depths"):
            depths = getattr(self, name)
            if not _per_stage(depths, minimum=0):
                raise ConfigError(self, name, f"must be {NUM_STAGES} block counts >= 0, got {depths}")
        for name in ("vd_widths", "vi_widths", "vi_heads", "vi_sr_ratios", "vi_patch_sizes"):
            values = getattr(self, name)
            if not _per_stage(values, minimum=1):
                raise ConfigError(self, name, f"must be {NUM_STAGES} integers >= 1 (one per stage), got {values}")
        for i, (width, heads) in enumerate(zip(self.vi_widths, self.vi_heads)):
            if width % heads:
                raise ConfigError(self, "vi_widths", f"[{i}]={width} must be divisible by vi_heads[{i}]={heads}", also=("vi_heads",))
            if i > 0 and width % 2:  # stages 2-4 are fused by the cross-modal attention's 2 heads
                raise ConfigError(self, "vi_widths", f"[{i}]={width} must be even (psi splits it into 2 heads)")
        if self.feature_stride not in FEATURE_STRIDES:
            raise ConfigError(self, "feature_stride", f"must be one of {FEATURE_STRIDES}, got {self.feature_stride!r}")
        for i, kernel in enumerate(self.vi_patch_sizes):
            stride = STEM_STRIDE if i == 0 else 2
            if kernel != stride and kernel % 2 == 0:
                raise ConfigError(self, "vi_patch_sizes", f"[{i}]={kernel} must be odd or equal to the stage's stride {stride}")
        for name in ("vi_mlp_ratio", "fusion_key_dim", "decoder_dim"):
            if not (_is_int(getattr(self, name)) and getattr(self, name) >= 1):
                raise ConfigError(self, name, f"must be an integer >= 1, got {getattr(self, name)!r}")
        if not (isinstance(self.decoder_dropout, (int, float)) and 0.0 <= self.decoder_dropout < 1.0):
            raise ConfigError(self, "decoder_dropout", f"must be in [0, 1), got {self.decoder_dropout}")


def _is_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _per_stage(values: object, minimum: int) -> bool:
    """Whether ``values`` is one integer >= ``minimum`` per stage."""
    return isinstance(values, (tuple, list)) and len(values) == NUM_STAGES and all(
        _is_int(v) and v >= minimum for v in values
    )


class FusionOutput(NamedTuple):
    """What ``VDVINet.forward_with_embedding`` returns."""

    logits: Tensor  # [B, K, H, W]
    embedding: Tensor  # [B, E, ceil(H / 4), ceil(W / 4)] (for CeCo; late fusion: the Z head's)
    depth: Tensor | None  # [B, 1, H, W] when built with depth_head
    branches: tuple[FusionOutput, ...] = ()  # late fusion: the image head's and the Z head's outputs, each trained


class VDVINet(nn.Module):
    """The fusion network; ``inputs`` selects the paper's Table 4 row.

    Args:
        size: widths and depths: one of ``SIZES``, possibly with fields replaced (the variant
            functions build it).
        inputs: ``"both"`` (the full model), ``"image"`` (Enc_VD only) or ``"features"``
            (Enc_VI only, no image fusion).
        fusion: how ``inputs="both"`` joins them: ``"mid"`` (psi at stages 2-4, the paper's) or
            ``"late"`` (two heads, their log-probabilities averaged; module doc).
        num_classes: K.
        feature_dim: D, channels of the feature image Z.
        depth_head: also predict depth (1 channel) from the decoder's embedding.
        drop_path_rate: stochastic depth of both encoders' last blocks.
        class_names: optional, K names saved with the weights.
    """

    def __init__(
        self,
        size: VDVISize,
        *,
        inputs: Inputs = "both",
        fusion: Fusion = "mid",
        num_classes: int,
        feature_dim: int = 32,
        depth_head: bool = False,
        drop_path_rate: float = 0.0,
        class_names: Sequence[str] | None = None,
    ):
        super().__init__()
        if size.name not in SIZES:  # the config names the variant a saved model is rebuilt from
            raise ValueError(f"VDVISize.name must be one of {', '.join(SIZES)}; got {size.name!r}")
        if inputs not in INPUTS:
            raise ValueError(f"inputs must be one of {', '.join(INPUTS)}; got {inputs!r}")
        if fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {', '.join(FUSIONS)}; got {fusion!r}")
        if fusion == "late" and inputs != "both":
            raise ValueError(f"fusion='late' joins the image's and Z's heads: only for inputs='both', not {inputs!r}")
        if fusion == "late" and depth_head:
            raise ValueError("fusion='late' has no depth head (each of its two heads would need one)")
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        if feature_dim < 1:
            raise ValueError(f"feature_dim must be >= 1, got {feature_dim}")
        if class_names is not None and len(class_names) != num_classes:
            raise ValueError(f"{len(class_names)} class names for num_classes={num_classes}")
        self.size = size
        self.inputs = inputs
        self.fusion = fusion
        self.num_classes = num_classes
        self.feature_dim = feature_dim
        self.class_names = list(class_names) if class_names is not None else None

        self.register_buffer("image_mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("image_std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.vd: nn.Module | None = None
        if inputs in ("both", "image"):
            self.vd = (
                ResNetEncoder(3, size.vd_depths, size.vd_widths)
                if size.vd_block == "resnet"
                else ConvNeXtEncoder(3, size.vd_depths, size.vd_widths, drop_path_rate)
            )
        self.vi = (
            MixTransformerEncoder(
                feature_dim,
                size.vi_depths,
                size.vi_widths,
                size.vi_heads,
                size.vi_sr_ratios,
                size.vi_mlp_ratio,
                size.vi_patch_sizes,
                drop_path_rate,
                min(size.feature_stride, STEM_STRIDE),  # a coarser Z is repeated to the stride-4 grid (encode_vi)
            )
            if inputs in ("both", "features")
            else None
        )
        # psi at stages 2-4 (stage 1 has no fusion, as in AsymFormer)
        self.fuse = (
            nn.ModuleList(
                FusionModule(size.vi_widths[i], size.vd_widths[i], size.fusion_key_dim, size.vi_sr_ratios[i])
                for i in range(1, NUM_STAGES)
            )
            if inputs == "both" and fusion == "mid"
            else None
        )
        decoded = size.vd_widths if inputs == "image" else size.vi_widths
        self.decode_head = AllMLPDecoder(decoded, size.decoder_dim, num_classes, size.decoder_dropout, depth_head)
        # late fusion's image head: an image-only model's decode_head (``rtgs2.fusion.late.join_late``)
        self.image_head = (
            AllMLPDecoder(size.vd_widths, size.decoder_dim, num_classes, size.decoder_dropout, False)
            if fusion == "late"
            else None
        )
        self.apply(_init_weights)
        if isinstance(self.vd, ResNetEncoder):
            self.vd.reset_parameters()
        # conv weights in the maps' layout: oneDNN would otherwise reorder them on every call
        self.to(memory_format=torch.channels_last)

    @property
    def config(self) -> dict:
        """What rebuilds this model: ``VARIANTS[config["size"]](**rest)`` (JSON-able). The size
        fields that differ from the named variant's (``vdvi_small(decoder_dim=128)``) are among
        ``rest``; a model of a variant's own size has none."""
        variant = SIZES[self.size.name]
        return {
            "size": self.size.name,
            **{k: v for k, v in asdict(self.size).items() if v != getattr(variant, k)},
            # always written: a saved config without them is of a model from before the options
            # (Z at the image's resolution, a ConvNeXt Enc_VD)
            "feature_stride": self.size.feature_stride,
            "vd_block": self.size.vd_block,
            "inputs": self.inputs,
            "fusion": self.fusion,
            "num_classes": self.num_classes,
            "feature_dim": self.feature_dim,
            "depth_head": self.decode_head.depth_head is not None,
            "class_names": self.class_names,
        }

    @property
    def feature_stride(self) -> int:
        """Z's resolution relative to the image's (:attr:`VDVISize.feature_stride`)."""
        return self.size.feature_stride

    @property
    def embedding_dim(self) -> int:
        """E, channels of the embedding ``forward_with_embedding`` returns."""
        return self.size.decoder_dim

    def encode_vd(self, image: Tensor) -> list[Tensor]:  # [B, 3, H, W] in [0, 1] -> 4 x [B, C_i, Hp/s_i, Wp/s_i]
        """Enc_VD over the image (Hp, Wp: H, W padded to a multiple of 32)."""
        return self.vd(stem_input((image - self.image_mean) / self.image_std))

    def encode_vi(self, features: Tensor, vd: Sequence[Tensor] | None) -> list[Tensor]:
        """Enc_VI over Z [B, D, H / f, W / f] (f: :attr:`feature_stride`); with Enc_VD's stages
        ``vd``, psi fuses them into stages 2-4 and the next stage reads the fused map. Returns
        4 x [B, C_i, Hp/s_i, Wp/s_i]."""
        out = []
        f = self.feature_stride
        if f == 1:
            x = stem_input(features)
        else:  # on the stride-4 grid (f = 4), or each value repeated onto it (f = 8: 2 x 2); a partial
            # last block's repeat may reach one row past ceil(H / 4): the stem pads to 8 rows anyway
            x = features if f == STEM_STRIDE else F.interpolate(features, scale_factor=f // STEM_STRIDE, mode="nearest")
            x = x.contiguous(memory_format=torch.channels_last)
        for i in range(NUM_STAGES):
            tokens, h, w = self.vi.stage(i, x)
            if vd is not None and i > 0:
                tokens = self.fuse[i - 1](tokens, vd[i], h, w)
            x = to_map(tokens, h, w)
            out.append(x)
        return out

    def forward_with_embedding(self, image: Tensor | None, features: Tensor | None = None) -> FusionOutput:
        """Logits, the decoder's embedding (for CeCo) and the optional depth.

        Args:
            image: [B, 3, H, W] float in [0, 1] (not needed by ``inputs="features"``).
            features: [B, D, ceil(H / f), ceil(W / f)] float, f = :attr:`feature_stride`
                (ignored by ``inputs="image"``).
        """
        if self.fusion == "late":  # the experts' product at stride 4, upsampled as the per-frame path does it
            B, H, W = self._check_inputs(image, features)
            heads = self._late_heads(image, features)
            branches = tuple(self._branch_output(coarse, embedding, None, H, W) for coarse, embedding in heads)
            logits = upsample_logits(_product_of_experts([coarse for coarse, _ in heads]), H, W)
            return FusionOutput(logits, branches[1].embedding, None, branches)
        logits, embedding, depth, H, W = self._decode(image, features)
        return self._branch_output(logits, embedding, depth, H, W)

    @staticmethod
    def _branch_output(logits: Tensor, embedding: Tensor, depth: Tensor | None, H: int, W: int) -> FusionOutput:
        logits = upsample_logits(logits, H, W)
        if depth is not None:
            depth = upsample_logits(depth, H, W)
        return FusionOutput(logits, embedding[..., : -(-H // 4), : -(-W // 4)], depth)

    def _late_heads(self, image: Tensor, features: Tensor) -> list[tuple[Tensor, Tensor]]:
        """Late fusion's two heads, image first: each one's coarse logits [B, K, Hp/4, Wp/4] and embedding."""
        out = []
        for head, stages in ((self.image_head, self.encode_vd(image)), (self.decode_head, self.encode_vi(features, None))):
            embedding = head.embed(stages)
            out.append((head(embedding)[0], embedding))
        return out

    def parameter_groups(self) -> list[list[nn.Parameter]]:
        """Parameters whose gradients are clipped together: late fusion's two branches apart (each
        then learns as its single-input model does), else all of them."""
        if self.fusion != "late":
            return [list(self.parameters())]
        image = [*self.vd.parameters(), *self.image_head.parameters()]
        return [image, [*self.vi.parameters(), *self.decode_head.parameters()]]

    def coarse_logits(self, image: Tensor | None, features: Tensor | None = None) -> tuple[Tensor, int, int]:
        """The logits before their final upsampling, [B, K, Hp / 4, Wp / 4] (Hp, Wp: the input padded
        to a multiple of 32), and the H, W of ``forward``'s logits: ``forward`` gives
        ``upsample_logits(coarse, H, W)``. For a per-frame path that wants labels, not logits
        (``rtgs2.fusion.labels``)."""
        logits, _, _, H, W = self._decode(image, features)
        return logits, H, W

    def _decode(self, image: Tensor | None, features: Tensor | None) -> tuple[Tensor, Tensor, Tensor | None, int, int]:
        B, H, W = self._check_inputs(image, features)
        if self.vd is None and self.feature_stride > 1:  # Z alone: the logits at Z's resolution times f
            H, W = H * self.feature_stride, W * self.feature_stride
        if self.fusion == "late":  # no embedding or depth of its own: forward_with_embedding's branches have them
            return _product_of_experts([coarse for coarse, _ in self._late_heads(image, features)]), None, None, H, W
        vd = self.encode_vd(image) if self.vd is not None else None
        stages = self.encode_vi(features, vd) if self.vi is not None else vd
        embedding = self.decode_head.embed(stages)
        logits, depth = self.decode_head(embedding)
        return logits, embedding, depth, H, W

    def forward(self, image: Tensor | None, features: Tensor | None = None) -> Tensor:
        """image [B, 3, H, W] in [0, 1], features Z [B, D, ceil(H / f), ceil(W / f)] -> logits
        [B, K, H, W] (Z alone: H, W = f times Z's)."""
        return self.forward_with_embedding(image, features).logits

    def _check_inputs(self, image: Tensor | None, features: Tensor | None) -> tuple[int, int, int]:
        """Raise ValueError naming the argument for a missing input or a wrong shape/dtype; B, H, W."""
        needed = {"image": self.vd is not None, "features": self.vi is not None}
        given = {"image": image, "features": features}
        channels = {"image": 3, "features": self.feature_dim}
        f = self.feature_stride
        sizes = {"image": "H, W", "features": "H, W" if f == 1 else f"H / {f}, W / {f}"}
        shape = None
        for name, x in given.items():
            if not needed[name]:
                continue
            if x is None:
                raise ValueError(
                    f"this VDVI model (inputs={self.inputs!r}) needs {name} [B, {channels[name]}, {sizes[name]}]; got None"
                )
            if x.ndim != 4 or x.shape[1] != channels[name]:
                raise ValueError(f"{name} must be [B, {channels[name]}, {sizes[name]}]; got {list(x.shape)}")
            if not x.is_floating_point():
                raise ValueError(f"{name} must be a float tensor; got {x.dtype}")
            if shape is not None:  # the features, after the image
                f = self.feature_stride
                want = (shape[0], -(-shape[1] // f), -(-shape[2] // f))
                if (x.shape[0], *x.shape[2:]) != want:
                    raise ValueError(
                        f"image and features differ in batch or size: features must be {[want[0], self.feature_dim, *want[1:]]} "
                        f"for the image {list(image.shape)} (Z at 1/{f} of its size, rounded up); got {list(x.shape)}"
                    )
            else:
                shape = (x.shape[0], *x.shape[2:])
        return shape


def _product_of_experts(logits: Sequence[Tensor]) -> Tensor:  # n x [B, K, h, w] -> [B, K, h, w]
    """Late fusion's logits: the mean of the heads' class log-probabilities (a normalised
    geometric mean of their probabilities once softmaxed)."""
    return sum(x.float().log_softmax(1) for x in logits) / len(logits)


def upsample_logits(coarse: Tensor, height: int, width: int, scale: int = 4) -> Tensor:
    """[B, C, h, w] at a quarter of the (padded) image -> [B, C, height, width]: x4 bilinear
    (half-pixel centres), cropped; ``scale`` 4 s for a view the network read at 1/s of its size."""
    return F.interpolate(coarse, scale_factor=scale, mode="bilinear", align_corners=False)[..., :height, :width]


def inference_model(model: VDVINet, device: torch.device | str = "cpu") -> VDVINet:
    """``model`` ready for inference on ``device`` (``inference_copy``: the caller's model is left
    as it was); a ResNet Enc_VD's BatchNorms are folded into its convs, in a copy of its own
    (the same logits; that copy cannot be trained: its running statistics are gone)."""
    if not isinstance(model.vd, ResNetEncoder):
        return inference_copy(model, device)
    import copy

    copied = copy.deepcopy(model).to(device).eval()
    copied.vd.fold_batchnorms()
    return copied.to(memory_format=torch.channels_last)


def _init_weights(m: nn.Module) -> None:
    """Truncated-normal weights (std 0.02) and zero biases for linear maps and convs (timm, MiT)."""
    if isinstance(m, (nn.Linear, nn.Conv2d)):
        nn.init.trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)


# ---------------------------------------------------------------------------------- variants

PAPER = VDVISize(
    name="paper",
    vd_depths=(3, 3, 9, 3),
    vd_widths=(96, 192, 384, 768),
    vi_depths=(2, 2, 2, 2),
    vi_widths=(32, 64, 160, 256),
    vi_heads=(1, 2, 5, 8),
    vi_sr_ratios=(8, 4, 2, 1),
    vi_patch_sizes=(7, 3, 3, 3),
    vi_mlp_ratio=4,
    fusion_key_dim=32,
    decoder_dim=256,
)
"""The paper's size: ConvNeXt-T (depths 3, 3, 9, 3; widths 96-768) + MiT-b0, embedding 256
(134 ms per 320x240 frame on 2 CPU cores, measured as for :data:`SMALL`)."""

SMALL = VDVISize(
    name="small",
    vd_depths=(1, 1, 3, 1),
    vd_widths=(32, 64, 128, 256),
    vi_depths=(1, 1, 1, 1),
    vi_widths=(32, 64, 160, 256),
    vi_heads=(1, 2, 5, 8),
    vi_sr_ratios=(8, 4, 2, 1),
    vi_patch_sizes=(7, 3, 3, 3),
    vi_mlp_ratio=4,
    fusion_key_dim=16,
    decoder_dim=64,
    vd_block="resnet",
)
"""The CPU size: a narrow ResNet Enc_VD (a ConvNeXt of these widths and depths until 2026-12:
``vd_block="convnext"``), MiT-b0 widths with one block per stage, embedding 64. Measured
27 ms per 320x240 frame with Z at a quarter (ConvNeXt: 24 ms; before the quarter-size Z:
29 ms) on this project's 2-core CPU (eager, float32, 2 threads, idle machine; the budget is 40 ms). A second MiT block per stage cost ~10 ms more; the MiT
stem's kernel (7 vs 5 or 4) made no measurable difference."""

FAST = replace(SMALL, name="fast", vd_depths=(1, 1, 1, 1), vi_depths=(0, 1, 1, 1))
"""The real-time size: :data:`SMALL` with one ResNet block per stage and no MiT block at
stage 1 (its patch embedding and norm stay), so that ``fusion.io.load_pruned_weights`` starts it
from a ``small`` model's weights. 0.76 of SMALL's multiply-adds (0.80 vs 1.06 G at 320x240; 3.7 vs
4.4 M parameters) and 0.6-0.8 of its compiled call on this project's 2-core CPU (interleaved in one process, float32:
15.9-21.2 ms against 23.0-31.5): the layers are latency-bound, so the blocks count more than
their multiply-adds. With late fusion (two decoder heads) 0.75x SMALL's compiled float32 call
(16.9-17.5 against 22.3-23.2 ms; benchmarks/RESULTS.md 2026-12-06)."""

SIZES: dict[str, VDVISize] = {size.name: size for size in (PAPER, SMALL, FAST)}
"""Each variant's sizes by its name (the name ``VARIANTS`` and a saved model's config use)."""
_SIZE_FIELDS = frozenset(f.name for f in fields(VDVISize)) - {"name"}


def _create_vdvi(variant: str, **kwargs: Any) -> VDVINet:
    """A VDVI network of size ``SIZES[variant]`` (timm's ``_create_*`` pattern).

    Args:
        variant: a key of ``SIZES``.
        kwargs: :class:`VDVISize` fields override the variant's (``decoder_dim=128``; JSON lists
            are read as tuples); the rest go to :class:`VDVINet` (``num_classes`` is required).
    """
    sizes = {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items() if k in _SIZE_FIELDS}
    rest = {k: v for k, v in kwargs.items() if k not in _SIZE_FIELDS}
    return VDVINet(replace(SIZES[variant], **sizes), **rest)


def vdvi_paper(**kwargs: Any) -> VDVINet:
    """The network of size :data:`PAPER`; :class:`VDVISize` fields among ``kwargs`` replace the
    size's (``decoder_dim=128``), the rest go to :class:`VDVINet` (``num_classes`` is required)."""
    return _create_vdvi(PAPER.name, **kwargs)


def vdvi_small(**kwargs: Any) -> VDVINet:
    """The network of size :data:`SMALL`; ``kwargs`` as for :func:`vdvi_paper`."""
    return _create_vdvi(SMALL.name, **kwargs)


def vdvi_fast(**kwargs: Any) -> VDVINet:
    """The network of size :data:`FAST`; ``kwargs`` as for :func:`vdvi_paper`."""
    return _create_vdvi(FAST.name, **kwargs)


VARIANTS: dict[str, Callable[..., VDVINet]] = {PAPER.name: vdvi_paper, SMALL.name: vdvi_small, FAST.name: vdvi_fast}
"""The variant functions by size name: ``VARIANTS[name](num_classes=K, **kwargs)``."""


def build_fusion(
    size: str = "small", inputs: Inputs = "both", *, num_classes: int, feature_dim: int = 32, **kwargs: Any
) -> VDVINet:
    """A VDVI network of a named size (``VARIANTS``); ``kwargs`` as for the variant functions
    (size fields or ``VDVINet`` arguments)."""
    if size not in VARIANTS:
        raise ValueError(f"unknown fusion size {size!r}; choose one of {', '.join(VARIANTS)}")
    return VARIANTS[size](inputs=inputs, num_classes=num_classes, feature_dim=feature_dim, **kwargs)
