"""Adaptive density control of 3DGS: statistics of the screen-space gradient, clone / split /
prune, and the opacity reset (Kerbl et al. 2023, §5.2; graphdeco-inria ``gaussian_model.py``)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from rtgs2.recon.config import ReconConfig
from rtgs2.recon.params import PARAM_NAMES, GaussianParams
from rtgs2.render.projection import Projected, quat_to_rotmat

RADIUS_SIGMAS = 3.0  # a splat's screen radius is 3 std-devs of its 2D Gaussian (3DGS)


@dataclass
class DensifyStats:
    """Per-Gaussian statistics accumulated between densifications.

    - ``grad_sum``   [N] sum over views of |dL/d mean2d| in NDC units (px gradient · size/2)
    - ``count``      [N] views in which the Gaussian was visible
    - ``max_radius`` [N] largest 3-sigma screen radius seen, pixels
    """

    grad_sum: Tensor
    count: Tensor
    max_radius: Tensor

    @classmethod
    def zeros(cls, n: int, device: torch.device | str = "cpu") -> DensifyStats:
        return cls(*(torch.zeros(n, device=device) for _ in range(3)))

    def add_view(
        self,
        visible: Tensor,  # [N] bool
        means2d_grad: Tensor,  # [N, 2] dL/d mean2d, pixels
        proj: Projected | None,  # projection of the visible Gaussians only, in index order (for
        # screen radii), or None to skip radii
        width: int,
        height: int,
    ) -> None:
        """Accumulate one view. The pixel gradient is scaled to NDC (x W/2, y H/2) so that the
        3DGS threshold 2e-4 keeps its meaning at any resolution (as INRIA and gsplat do)."""
        g = means2d_grad.detach() * means2d_grad.new_tensor([width / 2, height / 2])
        self.grad_sum[visible] += g[visible].norm(dim=-1).to(self.grad_sum.dtype)
        self.count[visible] += 1
        if proj is not None:
            a, b, c = proj.cov2d.detach().unbind(-1)
            lam_max = 0.5 * (a + c) + torch.sqrt((0.25 * (a - c) ** 2 + b * b).clamp_min(0))
            r = RADIUS_SIGMAS * lam_max.clamp_min(0).sqrt().to(self.max_radius.dtype)
            if len(r) != int(visible.sum()):
                raise ValueError(f"proj has {len(r)} rows for {int(visible.sum())} visible Gaussians")
            self.max_radius[visible] = torch.maximum(self.max_radius[visible], r)

    def mean_grad(self) -> Tensor:  # [N]
        """Gradient norm averaged over the views where each Gaussian was visible (0 if never)."""
        return torch.where(self.count > 0, self.grad_sum / self.count.clamp_min(1), torch.zeros_like(self.grad_sum))

    def state_dict(self) -> dict:
        return {"grad_sum": self.grad_sum.clone(), "count": self.count.clone(), "max_radius": self.max_radius.clone()}

    @classmethod
    def from_state_dict(cls, s: dict, device: torch.device | str = "cpu") -> DensifyStats:
        return cls(*(s[k].to(device).clone() for k in ("grad_sum", "count", "max_radius")))


@dataclass(frozen=True)
class DensifyResult:
    """Counts of one densification: Gaussians cloned, split (each into ``split_count``), pruned
    (after cloning and splitting, not counting the split parents), and the total afterwards."""

    cloned: int
    split: int
    pruned: int
    total: int


def split_children(
    params: GaussianParams,
    select: Tensor,  # [N] bool, Gaussians to split
    count: int,
    scale_divisor: float,
    generator: torch.Generator,
) -> dict[str, Tensor]:  # name -> [count * S, ...]
    """``count`` children per selected Gaussian: means drawn from the parent Gaussian, std-devs
    divided by ``scale_divisor``, other parameters copied. Children are ordered [all first
    children; all second children; ...]."""
    with torch.no_grad():
        p = {n: params[n].detach()[select] for n in PARAM_NAMES}
        std = p["log_scales"].exp().repeat(count, 1)
        # Drawn on the CPU from the run's generator (checkpointed), then moved: same draws on any device.
        offsets = torch.randn(std.shape, generator=generator, dtype=std.dtype).to(std.device) * std
        rot = quat_to_rotmat(p["quats"]).repeat(count, 1, 1)
        out = {n: t.repeat(count, *([1] * (t.ndim - 1))) for n, t in p.items()}
        out["means"] = out["means"] + (rot @ offsets.unsqueeze(-1)).squeeze(-1)
        out["log_scales"] = out["log_scales"] - torch.log(torch.tensor(scale_divisor, dtype=std.dtype))
    return out


def densify_and_prune(
    params: GaussianParams,
    stats: DensifyStats,
    config: ReconConfig,
    extent: float,  # scene radius, metres
    prune_large: bool,
    generator: torch.Generator,
) -> DensifyResult:
    """Clone small and split large Gaussians whose mean screen gradient reaches the threshold,
    then prune transparent ones (and, with ``prune_large``, those too big on screen or in the
    world). Parameters and Adam moments stay aligned; new Gaussians start with zero moments.

    Raises:
        RuntimeError: if pruning would remove every Gaussian (the fit has collapsed).
    """
    n = params.num_gaussians
    assert stats.count.shape == (n,), f"stats for {stats.count.shape[0]} Gaussians, params have {n}"
    grad = stats.mean_grad()
    with torch.no_grad():
        big = params["log_scales"].exp().max(dim=1).values > config.percent_dense * extent
    hot = grad >= config.densify_grad_threshold
    if config.max_gaussians > 0:
        hot = _within_cap(hot, grad, big, n, config)
    clone, split = hot & ~big, hot & big
    new = {name: params[name].detach()[clone] for name in PARAM_NAMES}
    children = split_children(params, split, config.split_count, config.split_scale_divisor, generator)
    params.append({name: torch.cat([new[name], children[name]]) for name in PARAM_NAMES})
    m = params.num_gaussians - n
    drop = torch.cat([split, split.new_zeros(m)])
    with torch.no_grad():
        opacity = torch.sigmoid(params["opacity_logits"])
        prune = opacity < config.min_opacity
        if prune_large:
            radius = torch.cat([stats.max_radius, stats.max_radius.new_zeros(m)])
            world = params["log_scales"].exp().max(dim=1).values
            prune |= (radius > config.max_screen_radius) | (world > config.max_world_scale * extent)
    keep = ~(drop | prune)
    if not bool(keep.any()):
        raise RuntimeError(f"densification would prune all {params.num_gaussians} Gaussians (opacities collapsed)")
    params.keep(keep)
    return DensifyResult(int(clone.sum()), int(split.sum()), int((prune & ~drop).sum()), params.num_gaussians)


def _within_cap(hot: Tensor, grad: Tensor, big: Tensor, n: int, config: ReconConfig) -> Tensor:
    """The candidates with the largest gradients whose offspring keep N <= max_gaussians."""
    room = config.max_gaussians - n
    cost = torch.where(big, config.split_count - 1, 1)  # Gaussians each candidate adds
    order = torch.argsort(torch.where(hot, grad, torch.full_like(grad, -1.0)), descending=True, stable=True)
    fits = (torch.cumsum(cost[order], 0) <= room) & hot[order]
    out = torch.zeros_like(hot)
    out[order[fits]] = True
    return out


def reset_opacity(params: GaussianParams, ceiling: float) -> None:
    """Clamp every opacity to at most ``ceiling`` (in (0, 1)) and zero its Adam moments."""
    with torch.no_grad():
        cap = torch.logit(torch.tensor(ceiling, dtype=params["opacity_logits"].dtype))
        params.reset("opacity_logits", torch.minimum(params["opacity_logits"].detach(), cap))
