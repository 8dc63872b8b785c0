import pytest
import torch

from rtgs2.scene import GaussianScene
from rtgs2.scene.gaussians import all_finite

from .conftest import random_scene


def test_activations_and_derived_scenes():
    s = random_scene(20, 1, 4)
    torch.testing.assert_close(s.scales, s.log_scales.exp())
    torch.testing.assert_close(s.opacities, torch.sigmoid(s.opacity_logits))
    torch.testing.assert_close(s.rotations.norm(dim=1), torch.ones(20))
    mask = torch.arange(20) % 3 == 0
    sub = s.subset(mask)
    assert len(sub) == 7 and torch.equal(sub.features, s.features[mask])
    up = s.with_sh_degree(3)
    assert up.sh_degree == 3 and torch.equal(up.sh[:, :4], s.sh) and not up.sh[:, 4:].any()
    assert s.with_sh_degree(0).sh.shape == (20, 1, 3)
    assert s.with_features(None).feature_dim == 0


def test_from_activated_inverts_the_activations():
    s = random_scene(10, 0)
    back = GaussianScene.from_activated(s.means, s.scales, s.quats, s.opacities, s.base_colors)
    torch.testing.assert_close(back.log_scales, s.log_scales)
    torch.testing.assert_close(back.opacity_logits, s.opacity_logits, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(back.sh, s.sh, atol=1e-5, rtol=1e-5)


def test_validation_names_the_field():
    s = random_scene(5)
    with pytest.raises(ValueError, match="quats must have shape"):
        GaussianScene(s.means, s.quats[:, :3], s.log_scales, s.opacity_logits, s.sh)
    with pytest.raises(ValueError, match="opacity_logits must have shape"):
        GaussianScene(s.means, s.quats, s.log_scales, s.opacity_logits[:4], s.sh)
    with pytest.raises(ValueError, match="SH coefficients"):
        GaussianScene(s.means, s.quats, s.log_scales, s.opacity_logits, torch.zeros(5, 5, 3))
    bad = s.means.clone()
    bad[2, 1] = float("nan")
    with pytest.raises(ValueError, match="means has non-finite values"):
        GaussianScene(bad, s.quats, s.log_scales, s.opacity_logits, s.sh)
    with pytest.raises(ValueError, match="floating-point"):
        GaussianScene(s.means.long(), s.quats, s.log_scales, s.opacity_logits, s.sh)
    with pytest.raises(ValueError, match="features"):
        GaussianScene(s.means, s.quats, s.log_scales, s.opacity_logits, s.sh, torch.zeros(4, 2))


def test_all_finite_catches_nan_and_inf_but_not_large_values():
    t = torch.randn(1000, 16, 3, generator=torch.Generator().manual_seed(0))
    assert all_finite(t)
    for bad in (float("nan"), float("inf"), -float("inf")):
        u = t.clone()
        u[517, 3, 1] = bad
        assert not all_finite(u)
    u = t.clone()
    u[0, 0, 0], u[1, 0, 0] = float("inf"), -float("inf")  # the sum is NaN, not inf
    assert not all_finite(u)
    huge = torch.full((10,), 3e38)  # finite values whose sum overflows
    assert all_finite(huge)
