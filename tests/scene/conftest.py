import torch

from rtgs2.scene import GaussianScene


def random_scene(n: int = 50, sh_degree: int = 2, feature_dim: int = 0, seed: int = 0) -> GaussianScene:
    g = torch.Generator().manual_seed(seed)
    return GaussianScene(
        means=torch.randn(n, 3, generator=g),
        quats=torch.randn(n, 4, generator=g),
        log_scales=torch.randn(n, 3, generator=g) - 3,
        opacity_logits=torch.randn(n, generator=g),
        sh=torch.randn(n, (sh_degree + 1) ** 2, 3, generator=g),
        features=torch.randn(n, feature_dim, generator=g) if feature_dim else None,
    )
