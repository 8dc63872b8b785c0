"""A small known scene and its views, shared by the recon and data reconstruction tests (tiny images: the reference
backend, pure torch autograd, is what the fits here run on)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from rtgs2.recon.config import ReconConfig
from rtgs2.render import render
from rtgs2.scene import Camera, GaussianScene, orbit

WIDTH, HEIGHT = 40, 30  # pixels: the reference rasterizer costs O(pixels x Gaussians)
NUM_GT = 300  # Gaussians of the known scene

# Short fits cannot follow the paper's 30k-step learning rates; these move 10x faster, and
# the gradient threshold is raised because at 40x30 px every splat covers a large share of
# the image (see ReconConfig.densify_grad_threshold).
FAST = ReconConfig(
    iterations=300,
    backend="reference",
    sh_degree=1,
    num_threads=1,
    densify_grad_threshold=5e-3,
    max_gaussians=600,
    position_lr_init=1.6e-3,
    position_lr_final=1.6e-5,
    features_dc_lr=1e-2,
    opacity_lr=0.05,
)


@dataclass
class KnownScene:
    scene: GaussianScene
    train_cams: list[Camera]
    train_imgs: list[torch.Tensor]
    test_cams: list[Camera]
    test_imgs: list[torch.Tensor]
    init_points: torch.Tensor  # [M, 3] subsampled, perturbed means
    init_colors: torch.Tensor  # [M, 3] perturbed colours


def make_known_scene(seed: int = 0) -> KnownScene:
    g = torch.Generator().manual_seed(seed)
    d = torch.randn(NUM_GT, 3, generator=g)
    means = 0.8 * d / d.norm(dim=1, keepdim=True)  # a shell of radius 0.8 m
    colors = (0.5 + 0.4 * torch.sin(3 * means / 0.8)).clamp(0, 1)
    scales = 0.12 * torch.exp(0.3 * torch.randn(NUM_GT, 3, generator=g))
    quats = torch.randn(NUM_GT, 4, generator=g)
    scene = GaussianScene.from_activated(means, scales, quats, torch.full((NUM_GT,), 0.9), colors)
    train = orbit((0, 0, 0), 2.5, 0.8, 32, fov_x_deg=60, width=WIDTH, height=HEIGHT)
    test = orbit((0, 0, 0), 2.5, -0.3, 6, fov_x_deg=60, width=WIDTH, height=HEIGHT, start_deg=11)
    with torch.no_grad():
        train_imgs = [render(scene, c, backend="reference").rgb.clamp(0, 1) for c in train]
        test_imgs = [render(scene, c, backend="reference").rgb.clamp(0, 1) for c in test]
    pts = means[::2] + 0.03 * torch.randn(NUM_GT // 2, 3, generator=g)
    cols = (colors[::2] + 0.15 * torch.randn(NUM_GT // 2, 3, generator=g)).clamp(0, 1)
    return KnownScene(scene, train, train_imgs, test, test_imgs, pts, cols)


def mean_psnr(scene: GaussianScene, cams: list[Camera], imgs: list[torch.Tensor]) -> float:
    """Mean PSNR (dB) of ``scene`` rendered on a black background against ``imgs``."""
    from rtgs2.recon.losses import psnr

    with torch.no_grad():
        return sum(float(psnr(render(scene, c, backend="reference").rgb.clamp(0, 1), t)) for c, t in zip(cams, imgs)) / len(
            cams
        )
