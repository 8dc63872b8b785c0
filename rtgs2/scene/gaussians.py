"""GaussianScene: the raw parameters of a 3DGS reconstruction, as the INRIA format stores them."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from rtgs2.scene.sh import rgb_to_sh_dc, sh_dc_to_rgb, sh_degree_from_bases


def all_finite(t: Tensor) -> bool:
    """True if every value of ``t`` is finite.

    A NaN or ±inf survives a sum, so one summation decides (about 20x cheaper than
    ``isfinite(t).all()`` on CPU, which is per fit step on every parameter and gradient); only a sum
    that overflows runs the element test, so large finite values are never taken for bad ones.
    """
    with torch.no_grad():
        return bool(torch.isfinite(t.sum())) or bool(torch.isfinite(t).all())


def reproducible_log(t: Tensor) -> Tensor:
    """Natural log of ``t`` (no autograd), the same bits in every process.

    torch's float32 ``log`` on a multi-threaded CPU tensor is not reproducible: in some fresh
    processes the first call computes one OpenMP worker's chunk to only ~1e-5 relative accuracy
    (seen with torch 2.13's MKL build; later calls are exact), so files written from it differ
    from run to run. numpy's float64 log, rounded to the input's dtype, is correctly rounded and
    single-threaded.
    """
    out = np.log(t.detach().cpu().numpy().astype(np.float64))
    return torch.from_numpy(out).to(device=t.device, dtype=t.dtype)


@dataclass
class GaussianScene:
    """A set of N anisotropic 3D Gaussians.

    Raw (unactivated) parameters, exactly as in an INRIA ``.ply``:

    - ``means``          [N, 3] world positions, metres
    - ``quats``          [N, 4] rotations, wxyz, not necessarily unit length
    - ``log_scales``     [N, 3] log of the per-axis standard deviations, log-metres
    - ``opacity_logits`` [N]    logit of the opacity
    - ``sh``             [N, (d+1)^2, 3] spherical-harmonic colour coefficients, d in 0..3
    - ``features``       [N, D] optional per-Gaussian features (e.g. view-independent features)

    Construction checks shapes, dtypes and that every value is finite; it raises
    ``ValueError`` naming the field otherwise.
    """

    means: Tensor
    quats: Tensor
    log_scales: Tensor
    opacity_logits: Tensor
    sh: Tensor
    features: Tensor | None = None

    def __post_init__(self) -> None:
        self.validate()

    # -- checks ---------------------------------------------------------------------------
    def validate(self, check_finite: bool = True) -> None:
        """Raise ``ValueError`` if shapes, dtypes or values are inconsistent."""
        n = self.means.shape[0] if self.means.ndim == 2 else -1
        expected = {
            "means": (n, 3),
            "quats": (n, 4),
            "log_scales": (n, 3),
            "opacity_logits": (n,),
        }
        if self.means.ndim != 2 or self.means.shape[1] != 3:
            raise ValueError(f"means must have shape [N, 3], got {tuple(self.means.shape)}")
        for name, shape in expected.items():
            t = getattr(self, name)
            if tuple(t.shape) != shape:
                raise ValueError(f"{name} must have shape {list(shape)} (N={n}), got {list(t.shape)}")
        if self.sh.ndim != 3 or self.sh.shape[0] != n or self.sh.shape[2] != 3:
            raise ValueError(f"sh must have shape [N, (d+1)^2, 3] with N={n}, got {list(self.sh.shape)}")
        sh_degree_from_bases(self.sh.shape[1])
        if self.features is not None and (self.features.ndim != 2 or self.features.shape[0] != n):
            raise ValueError(f"features must have shape [N, D] with N={n}, got {list(self.features.shape)}")
        for f in fields(self):
            t = getattr(self, f.name)
            if t is None:
                continue
            if not t.is_floating_point():
                raise ValueError(f"{f.name} must be a floating-point tensor, got {t.dtype}")
            if t.device != self.means.device:
                raise ValueError(f"{f.name} is on {t.device} but means is on {self.means.device}")
            if check_finite and not all_finite(t):
                bad = int((~torch.isfinite(t)).any(dim=tuple(range(1, t.ndim))).sum()) if t.ndim > 1 else int(
                    (~torch.isfinite(t)).sum()
                )
                raise ValueError(f"{f.name} has non-finite values (NaN or Inf) in {bad} Gaussians")

    # -- sizes ----------------------------------------------------------------------------
    @property
    def num_gaussians(self) -> int:
        return self.means.shape[0]

    def __len__(self) -> int:
        return self.num_gaussians

    @property
    def sh_degree(self) -> int:
        """Highest SH degree stored (0..3)."""
        return sh_degree_from_bases(self.sh.shape[1])

    @property
    def feature_dim(self) -> int:
        return 0 if self.features is None else self.features.shape[1]

    @property
    def device(self) -> torch.device:
        return self.means.device

    # -- activated views --------------------------------------------------------------------
    @property
    def scales(self) -> Tensor:
        """[N, 3] standard deviations along the Gaussian's axes, metres."""
        return self.log_scales.exp()

    @property
    def opacities(self) -> Tensor:
        """[N] opacity in (0, 1)."""
        return torch.sigmoid(self.opacity_logits)

    @property
    def rotations(self) -> Tensor:
        """[N, 4] unit quaternions, wxyz."""
        return F.normalize(self.quats, dim=-1)

    @property
    def base_colors(self) -> Tensor:
        """[N, 3] view-independent colour from the DC coefficient (not clamped)."""
        return sh_dc_to_rgb(self.sh[:, 0, :])

    # -- derived scenes ---------------------------------------------------------------------
    def to(self, device: torch.device | str) -> GaussianScene:
        return self._map(lambda t: t.to(device))

    def detach(self) -> GaussianScene:
        return self._map(lambda t: t.detach())

    def clone(self) -> GaussianScene:
        return self._map(lambda t: t.clone())

    def subset(self, index: Tensor) -> GaussianScene:
        """Gaussians selected by a boolean mask [N] or an index tensor [M]."""
        if index.dtype == torch.bool and index.shape != (self.num_gaussians,):
            raise ValueError(f"mask must have shape [{self.num_gaussians}], got {list(index.shape)}")
        return self._map(lambda t: t[index])

    def with_features(self, features: Tensor | None) -> GaussianScene:
        """Same Gaussians, with ``features`` [N, D] (or none)."""
        return replace(self, features=features)

    def with_sh_degree(self, degree: int) -> GaussianScene:
        """Truncate or zero-pad the SH coefficients to ``degree``."""
        k = (degree + 1) ** 2
        sh_degree_from_bases(k)
        if k <= self.sh.shape[1]:
            sh = self.sh[:, :k].contiguous()
        else:
            pad = self.sh.new_zeros(self.num_gaussians, k - self.sh.shape[1], 3)
            sh = torch.cat([self.sh, pad], dim=1)
        return replace(self, sh=sh)

    def _map(self, fn) -> GaussianScene:
        kw = {f.name: (None if getattr(self, f.name) is None else fn(getattr(self, f.name))) for f in fields(self)}
        return GaussianScene(**kw)

    @staticmethod
    def from_activated(
        means: Tensor,  # [N, 3] metres
        scales: Tensor,  # [N, 3] standard deviations, metres
        quats: Tensor,  # [N, 4] wxyz
        opacities: Tensor,  # [N] in (0, 1)
        colors: Tensor,  # [N, 3] RGB in [0, 1] (DC only) or [N, K, 3] SH coefficients
        features: Tensor | None = None,  # [N, D]
    ) -> GaussianScene:
        """Build a scene from activated values (inverse of the activations above; not
        differentiable: the logs are computed reproducibly, see :func:`reproducible_log`)."""
        eps = 1e-6
        op = opacities.clamp(eps, 1 - eps)
        if colors.ndim == 2:
            sh = rgb_to_sh_dc(colors).unsqueeze(1)
        else:
            sh = colors
        return GaussianScene(
            means=means,
            quats=quats,
            log_scales=reproducible_log(scales),
            opacity_logits=reproducible_log(op / (1 - op)),
            sh=sh.contiguous(),
            features=features,
        )
