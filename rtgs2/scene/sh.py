"""Real spherical harmonics, degree 0-3, in the convention of the INRIA 3DGS code.

Colour of a Gaussian seen along unit direction d is ``sum_k sh[k] * Y_k(d) + 0.5``,
clamped at 0 by the renderer. The basis order and signs match graphdeco-inria's
``utils/sh_utils.py`` (and gsplat), so coefficients from their .ply files mean the same here.
"""

from __future__ import annotations

import torch
from torch import Tensor

SH_C0 = 0.28209479177387814  # 1 / (2 sqrt(pi)): Y_0^0
SH_C1 = 0.4886025119029199  # sqrt(3 / (4 pi))
SH_C2 = (1.0925484305920792, -1.0925484305920792, 0.31539156525252005, -1.0925484305920792, 0.5462742152960396)
SH_C3 = (
    -0.5900435899266435,
    2.890611442640554,
    -0.4570457994644658,
    0.3731763325901154,
    -0.4570457994644658,
    1.445305721320277,
    -0.5900435899266435,
)
MAX_SH_DEGREE = 3


def num_sh_bases(degree: int) -> int:
    """Number of SH coefficients per colour channel for ``degree`` (0-3)."""
    if not 0 <= degree <= MAX_SH_DEGREE:
        raise ValueError(f"SH degree must be in 0..{MAX_SH_DEGREE}, got {degree}")
    return (degree + 1) ** 2


def sh_degree_from_bases(num_bases: int) -> int:
    """Inverse of :func:`num_sh_bases`; raises if ``num_bases`` is not a square in 1..16."""
    for d in range(MAX_SH_DEGREE + 1):
        if (d + 1) ** 2 == num_bases:
            return d
    raise ValueError(f"{num_bases} SH coefficients per channel is not (d+1)^2 for a degree d in 0..3")


def sh_basis(degree: int, dirs: Tensor) -> Tensor:
    """SH basis values.

    Args:
        degree: 0..3.
        dirs: [..., 3] unit view directions (world frame).
    Returns:
        [..., (degree+1)^2] basis values Y_k(dirs).
    """
    num_sh_bases(degree)
    x, y, z = dirs.unbind(-1)
    out = [torch.full_like(x, SH_C0)]
    if degree >= 1:
        out += [-SH_C1 * y, SH_C1 * z, -SH_C1 * x]
    if degree >= 2:
        xx, yy, zz, xy, yz, xz = x * x, y * y, z * z, x * y, y * z, x * z
        out += [
            SH_C2[0] * xy,
            SH_C2[1] * yz,
            SH_C2[2] * (2.0 * zz - xx - yy),
            SH_C2[3] * xz,
            SH_C2[4] * (xx - yy),
        ]
    if degree >= 3:
        out += [
            SH_C3[0] * y * (3 * xx - yy),
            SH_C3[1] * xy * z,
            SH_C3[2] * y * (4 * zz - xx - yy),
            SH_C3[3] * z * (2 * zz - 3 * xx - 3 * yy),
            SH_C3[4] * x * (4 * zz - xx - yy),
            SH_C3[5] * z * (xx - yy),
            SH_C3[6] * x * (xx - 3 * yy),
        ]
    return torch.stack(out, dim=-1)


def eval_sh(degree: int, sh: Tensor, dirs: Tensor) -> Tensor:
    """Evaluate SH colour (before the +0.5 offset and clamp).

    Args:
        degree: degree to use, <= the degree stored in ``sh``.
        sh: [N, K, 3] coefficients, K >= (degree+1)^2.
        dirs: [N, 3] unit directions from camera centre to Gaussian (world frame).
    Returns:
        [N, 3] colour contribution of the first (degree+1)^2 bands.
    """
    k = num_sh_bases(degree)
    if sh.shape[-2] < k:
        raise ValueError(f"sh has {sh.shape[-2]} coefficients per channel, degree {degree} needs {k}")
    basis = sh_basis(degree, dirs)  # [N, k]
    return (basis.unsqueeze(-1) * sh[..., :k, :]).sum(-2)


def rgb_to_sh_dc(rgb: Tensor) -> Tensor:
    """[..., 3] colour in [0, 1] -> [..., 3] DC coefficient (INRIA's RGB2SH)."""
    return (rgb - 0.5) / SH_C0


def sh_dc_to_rgb(dc: Tensor) -> Tensor:
    """[..., 3] DC coefficient -> [..., 3] view-independent colour (INRIA's SH2RGB)."""
    return dc * SH_C0 + 0.5
