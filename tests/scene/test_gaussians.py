import pytest
import torch

from rtgs2.scene import GaussianScene

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
