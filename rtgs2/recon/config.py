"""``ReconConfig``: the 3DGS optimisation settings, and the schedule scaled to the iteration count.

Defaults are those of the 3DGS paper / graphdeco-inria ``arguments/__init__.py`` for a
30k-iteration run. Every step-valued setting is given for that reference length and scaled
by ``iterations / 30000``, so a 2k-iteration fit densifies over the same fraction of its run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rtgs2.render.contract import Backend
from rtgs2.utils.errors import check, check_non_negative, check_numbers, check_positive

REFERENCE_ITERATIONS = 30_000  # the run length the paper's step-valued settings are tuned for


@dataclass(frozen=True)
class ReconConfig:
    """Settings of :func:`rtgs2.recon.fit_gaussians`."""

    iterations: int = 30_000
    """Optimisation steps (one training view per step)."""
    seed: int = 0
    """Seed of the view order and of split sampling; the same seed gives the same scene."""
    sh_degree: int = 3
    """Highest SH degree fitted (0-3); the active degree is raised every ``sh_up_every`` steps."""
    backend: Backend = "auto"
    """Renderer: auto = gsplat when CUDA and gsplat are present, else numba (the CPU)."""
    background: tuple[float, float, float] = (0.0, 0.0, 0.0)
    """Fixed background RGB in [0, 1] composited behind the Gaussians (as the 3DGS trainer)."""
    num_threads: int = 0
    """torch CPU threads during the fit (0 = leave as is); fix it for bit-reproducible resumes."""

    # -- loss -------------------------------------------------------------------------------
    dssim_weight: float = 0.2
    """lambda in (1 - lambda)·L1 + lambda·D-SSIM."""

    # -- learning rates (Adam, eps 1e-15) ---------------------------------------------------
    position_lr_init: float = 1.6e-4
    """Initial position lr, in units of the scene extent per step."""
    position_lr_final: float = 1.6e-6
    """Final position lr (exponential decay over the whole run), scene extents per step."""
    features_dc_lr: float = 2.5e-3
    """lr of the SH DC coefficients."""
    features_rest_lr: float = 2.5e-3 / 20
    """lr of the higher SH coefficients (1/20 of the DC lr)."""
    opacity_lr: float = 0.025
    """lr of the opacity logits (0.025 in the current 3DGS code; the paper used 0.05)."""
    scaling_lr: float = 5e-3
    """lr of the log-scales."""
    rotation_lr: float = 1e-3
    """lr of the (unnormalised) quaternions."""

    # -- densification, in steps of a 30k run (scaled, see module docstring) -----------------
    densify_from: int = 500
    """First step of densification (of a 30k run)."""
    densify_until: int = 15_000
    """Last step of densification (of a 30k run)."""
    densify_every: int = 100
    """Steps between densifications (of a 30k run)."""
    opacity_reset_every: int = 3_000
    """Steps between opacity resets (of a 30k run)."""
    sh_up_every: int = 1_000
    """Steps between SH degree increments (of a 30k run)."""
    min_densify_every: int = 20
    """Fewest steps between densifications after scaling: each one must average the gradient
    over several views and give the fit time to settle (short runs densify less often)."""
    densify_grad_threshold: float = 2e-4
    """Mean screen-space gradient norm (NDC units, i.e. d/dpx · size/2) above which a Gaussian
    is cloned or split. Tuned (3DGS) for ~1-megapixel images: a splat's gradient grows with the
    fraction of the image it covers, so tiny images need a larger threshold."""
    max_gaussians: int = 0
    """Cap on the number of Gaussians (0 = none): past it, only the candidates with the largest
    gradients are densified."""
    percent_dense: float = 0.01
    """Gaussians larger than this fraction of the scene extent are split, smaller ones cloned."""
    split_count: int = 2
    """Gaussians a split Gaussian is replaced by."""
    split_scale_divisor: float = 1.6
    """Split children get the parent's scale / this (0.8 · split_count in the 3DGS code)."""
    min_opacity: float = 0.005
    """Gaussians below this opacity are pruned at each densification."""
    reset_opacity: float = 0.01
    """Opacities are clamped to at most this at each reset."""
    max_screen_radius: float = 20.0
    """After the first opacity reset, Gaussians whose 3-sigma radius exceeded this in some view
    are pruned, pixels."""
    max_world_scale: float = 0.1
    """After the first opacity reset, Gaussians with a std-dev above this fraction of the scene
    extent are pruned."""

    # -- initialisation ---------------------------------------------------------------------
    init_opacity: float = 0.1
    """Opacity of the initial Gaussians."""

    # -- checkpoints ------------------------------------------------------------------------
    checkpoint_every: int = 1_000
    """Steps between checkpoints (not scaled; only with an output folder)."""

    def __post_init__(self) -> None:
        check_numbers(self)
        check_positive(self, "iterations", "checkpoint_every", "densify_every", "opacity_reset_every", "sh_up_every")
        for name in ("seed", "num_threads", "max_gaussians", "densify_from", "densify_until", "min_densify_every"):
            rule = "non-negative (0 = none / default)" if name in ("num_threads", "max_gaussians") else "non-negative"
            check(self, getattr(self, name) >= 0, name, rule)
        lrs = ("position_lr_init", "position_lr_final", "features_dc_lr", "features_rest_lr", "opacity_lr")
        check_non_negative(self, *lrs, "scaling_lr", "rotation_lr", "densify_grad_threshold")
        check_positive(self, "percent_dense", "split_scale_divisor", "max_screen_radius", "max_world_scale")
        for name in ("position_lr_init", "position_lr_final"):
            check(self, getattr(self, name) > 0, name, "positive (it decays log-linearly)")
        check(self, 0 <= self.dssim_weight <= 1, "dssim_weight", "in [0, 1]")
        check(self, 0 <= self.sh_degree <= 3, "sh_degree", "in 0..3")
        ok = len(self.background) == 3 and all(math.isfinite(b) and 0.0 <= b <= 1.0 for b in self.background)
        check(self, ok, "background", "3 values in [0, 1]")
        for name in ("init_opacity", "reset_opacity"):
            check(self, 0 < getattr(self, name) < 1, name, "in (0, 1)")
        check(self, 0 <= self.min_opacity < 1, "min_opacity", "in [0, 1)")
        check(self, self.split_count >= 2, "split_count", "at least 2")


@dataclass(frozen=True)
class Schedule:
    """Step-valued settings of a config, scaled to its iteration count (steps are 1-based)."""

    densify_from: int
    densify_until: int
    densify_every: int
    opacity_reset_every: int
    sh_up_every: int

    @classmethod
    def of(cls, config: ReconConfig) -> Schedule:
        s = config.iterations / REFERENCE_ITERATIONS

        def scaled(steps: int) -> int:
            return max(1, round(steps * s))

        every = max(config.min_densify_every, scaled(config.densify_every))
        # Keep the paper's ratio of reset to densification intervals when the floor applies.
        ratio = max(1, config.opacity_reset_every // config.densify_every)
        return cls(
            densify_from=scaled(config.densify_from),
            densify_until=scaled(config.densify_until),
            densify_every=every,
            opacity_reset_every=max(scaled(config.opacity_reset_every), ratio * every),
            sh_up_every=scaled(config.sh_up_every),
        )

    def sh_degree_at(self, step: int, max_degree: int) -> int:
        """Active SH degree at 1-based ``step``: 0 at first, +1 every ``sh_up_every`` steps."""
        return min(max_degree, (step - 1) // self.sh_up_every)

    def densify_now(self, step: int) -> bool:
        return self.densify_from < step < self.densify_until and step % self.densify_every == 0

    def reset_opacity_now(self, step: int) -> bool:
        return step < self.densify_until and step % self.opacity_reset_every == 0

    def prune_large_now(self, step: int) -> bool:
        """Screen/world size pruning starts after the first opacity reset (as in 3DGS)."""
        return step > self.opacity_reset_every
