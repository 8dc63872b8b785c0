"""Small random scenes and cameras shared by the render tests (seeded)."""

from __future__ import annotations

import math

import torch

from rtgs2.scene import Camera, GaussianScene

# Odd sizes: the image is not a whole number of 16-px tiles, so edge tiles are partial.
WIDTH, HEIGHT = 45, 37


def camera(width: int = WIDTH, height: int = HEIGHT, fov_x_deg: float = 70.0) -> Camera:
    """Camera at the origin looking along +z (identity pose), pixel centres at +0.5."""
    f = width / (2 * math.tan(math.radians(fov_x_deg) / 2))
    K = [[f, 0, width / 2 + 0.3], [0, f * 1.1, height / 2 - 0.2], [0, 0, 1]]
    return Camera(K, torch.eye(4), width, height)


def random_scene(
    n: int,
    seed: int,
    *,
    sh_degree: int = 0,
    feature_dim: int = 0,
    dtype: torch.dtype = torch.float32,
    behind_fraction: float = 0.1,
    spread: float = 1.0,
) -> GaussianScene:
    """``n`` Gaussians in a frustum 1.5-5 m in front of ``camera()``, spilling past the image
    edges (``spread`` > 1.5 puts some past the 1.3x-FOV clamp of the projection Jacobian);
    ``behind_fraction`` of them behind the camera. Sizes 2-20 cm, opacity 0.05-0.99."""
    g = torch.Generator().manual_seed(seed)

    def rand(*shape):
        return torch.rand(*shape, generator=g, dtype=torch.float64)

    z = 1.5 + 3.5 * rand(n)
    xy = (rand(n, 2) * 2 - 1) * z.unsqueeze(-1) * torch.tensor([0.85, 0.65], dtype=torch.float64) * spread
    means = torch.cat([xy, z.unsqueeze(-1)], dim=-1)
    behind = rand(n) < behind_fraction
    means[behind, 2] *= -1
    k = (sh_degree + 1) ** 2
    sh = torch.randn(n, k, 3, generator=g, dtype=torch.float64) * 0.3
    sh[:, 0] = torch.randn(n, 3, generator=g, dtype=torch.float64) * 0.8
    feats = torch.randn(n, feature_dim, generator=g, dtype=torch.float64) if feature_dim else None
    op = 0.05 + 0.94 * rand(n)
    return GaussianScene(
        means=means.to(dtype),
        quats=torch.randn(n, 4, generator=g, dtype=torch.float64).to(dtype),
        log_scales=torch.log(0.02 + 0.18 * rand(n, 3)).to(dtype),
        opacity_logits=torch.log(op / (1 - op)).to(dtype),
        sh=sh.to(dtype),
        features=feats.to(dtype) if feats is not None else None,
    )
