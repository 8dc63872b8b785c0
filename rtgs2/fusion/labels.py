"""Labels and their confidence straight from the fusion network's coarse logits.

``VDVINet.forward`` ends with a x4 bilinear upsampling of K-channel logits to the image's size;
a per-frame path that wants labels then takes the arg-max over K and, for the confidence, the
softmax of the chosen class: three passes over a [K, H, W] tensor built only to be reduced.
``coarse_to_labels`` does all of it in one numba pass over the output rows, reading the
[K, Hp / 4, Wp / 4] coarse logits (``VDVINet.coarse_logits``; upsampled x4, or x4s when the
network read the view at 1/s of its size): per row and class, the logits are
interpolated (torch's half-pixel rule and clamp at the border; vertically, then horizontally), the
arg-max taken (the first of equal maxima, as torch's) and 1 / sum_k exp(l_k - l_max) computed with
a polynomial exp (relative error < 1e-5; terms below exp(-16) are dropped: they cannot change a
float32 sum that starts at 1), each step vectorized over the row's pixels.
``coarse_to_labels_reference`` is the torch composition it replaces; tests compare the two.
"""

from __future__ import annotations

import numpy as np
import torch
from numba import njit, prange
from torch import Tensor

import rtgs2.utils.numba_target  # noqa: F401 (before any @njit: numba's vector width, see the module)

SCALE = 4  # the network's logits are at a quarter of the (padded) image's resolution it reads
F32_ZERO, F32_ONE = np.float32(0.0), np.float32(1.0)
EXP_RANGE = np.float32(16.0)  # exp(-s) for s > 16 is taken as 0
# exp(-s) = exp(-s/64)^64; exp(-s/64) by a degree-5 Taylor polynomial about the middle of [0, 1/4]
F32_INV64 = np.float32(1.0 / 64.0)
F32_MID = np.float32(0.125)
F32_EXP_AT_MID = np.float32(np.exp(-0.125))
F32_C2, F32_C3, F32_C4, F32_C5 = (np.float32(1.0 / k) for k in (2, 6, 24, 120))


@njit(cache=True, inline="always")
def exp_neg_wide(s):
    """exp(-s) for float32 s in [0, 16], relative error < 1e-5 (six squarings of a short series)."""
    t = s * F32_INV64 - F32_MID
    p = F32_EXP_AT_MID * (F32_ONE - t * (F32_ONE - t * (F32_C2 - t * (F32_C3 - t * (F32_C4 - t * F32_C5)))))
    for _ in range(6):
        p = p * p
    return p


@njit(cache=True, inline="always")
def _source(dst, size, inv_scale):
    """Source index pair and the weight of the second, for output index ``dst`` of a bilinear
    upsampling by 1 / ``inv_scale`` of an axis of ``size`` samples (torch: half-pixel centres,
    clamped at 0)."""
    src = max(inv_scale * (np.float32(dst) + np.float32(0.5)) - np.float32(0.5), F32_ZERO)
    i0 = int(src)
    i1 = i0 + 1 if i0 < size - 1 else i0
    return i0, i1, src - np.float32(i0)


@njit(parallel=True, cache=True)
def _labels_kernel(coarse, height, width, labels, confidence, with_confidence, inv_scale):
    """coarse [K, h, w] (contiguous); one output row per parallel item, every step a loop over the
    row's pixels that LLVM vectorizes (the polynomial exp included)."""
    k, h, w = coarse.shape
    x0 = np.empty(width, np.int64)
    x1 = np.empty(width, np.int64)
    lx = np.empty(width, np.float32)
    for x in range(width):
        x0[x], x1[x], lx[x] = _source(x, w, inv_scale)
    for y in prange(height):
        y0, y1, ly = _source(y, h, inv_scale)
        column = np.empty(w, np.float32)  # one class's logits interpolated to this row, per coarse column
        values = np.empty((k, width), np.float32)
        best = np.empty(width, np.float32)
        arg = np.zeros(width, np.int32)
        for c in range(k):
            for xc in range(w):
                column[xc] = (F32_ONE - ly) * coarse[c, y0, xc] + ly * coarse[c, y1, xc]
            for x in range(width):
                values[c, x] = (F32_ONE - lx[x]) * column[x0[x]] + lx[x] * column[x1[x]]
        best[:] = values[0]
        for c in range(1, k):
            for x in range(width):  # strictly greater: the first of equal maxima wins, as in torch
                v = values[c, x]
                arg[x] = c if v > best[x] else arg[x]
                best[x] = v if v > best[x] else best[x]
        for x in range(width):
            labels[y, x] = arg[x]
        if with_confidence:
            total = np.zeros(width, np.float32)
            for c in range(k):
                for x in range(width):
                    total[x] += exp_neg_wide(min(best[x] - values[c, x], EXP_RANGE))
            for x in range(width):
                confidence[y, x] = F32_ONE / total[x]


def coarse_to_labels(
    coarse: Tensor, height: int, width: int, with_confidence: bool = True, scale: int = SCALE
) -> tuple[Tensor, Tensor | None]:
    """Labels [H, W] uint8 (K <= 256) and confidence [H, W] float32 (softmax probability of the
    chosen class; None without ``with_confidence``) of one view from its coarse logits [K, h, w]
    (``VDVINet.coarse_logits``), upsampled x``scale`` and cropped to ``height`` x ``width`` as
    ``VDVINet.forward`` does for ``scale`` 4 (4 s: the network read the view at 1/s of its size)."""
    k, h, w = coarse.shape
    if k > 256:
        raise ValueError(f"coarse_to_labels gives uint8 labels: at most 256 classes, got {k}")
    if not (isinstance(scale, int) and scale >= 1):
        raise ValueError(f"scale must be a positive integer, got {scale!r}")
    if height > scale * h or width > scale * w:
        raise ValueError(f"{height}x{width} is larger than x{scale} the coarse logits' {h}x{w}")
    grid = coarse.detach().float().cpu().contiguous().numpy()  # [K, h, w]: a small copy from channels last
    labels = np.empty((height, width), np.uint8)
    confidence = np.empty((height, width) if with_confidence else (0, 0), np.float32)
    _labels_kernel(grid, height, width, labels, confidence, with_confidence, np.float32(1.0 / scale))
    return torch.from_numpy(labels), torch.from_numpy(confidence) if with_confidence else None


def coarse_to_labels_reference(coarse: Tensor, height: int, width: int, scale: int = SCALE) -> tuple[Tensor, Tensor]:
    """``coarse_to_labels`` in torch: the upsampled logits, their arg-max and softmax maximum."""
    from rtgs2.fusion.vdvi import upsample_logits

    logits = upsample_logits(coarse[None].float(), height, width, scale)[0]
    best, labels = logits.max(0)
    return labels.to(torch.uint8), 1 / (logits - best).exp().sum(0)
