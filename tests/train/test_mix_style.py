import pytest
import torch

from rtgs2.fusion.vdvi import build_fusion
from rtgs2.train.config import FusionTrainConfig, identity_config
from rtgs2.train.mix_style import MIX_STYLE_STAGES, attach_mix_style, mix_style


def _styled(b: int = 3, c: int = 5) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(b, c, 6, 7, generator=g)
    return x * torch.arange(1, b + 1).view(b, 1, 1, 1) + 10 * torch.arange(b).view(b, 1, 1, 1)  # a style per view


def test_mix_style_moves_each_views_statistics_between_its_own_and_the_next_views():
    x = _styled()
    torch.manual_seed(1)
    y = mix_style(x, alpha=0.1)
    torch.manual_seed(1)
    lam = torch.distributions.Beta(0.1, 0.1).sample((3, 1, 1, 1)).view(3)
    mu, sd = x.mean((2, 3)), x.std((2, 3), unbiased=True)
    prev = torch.roll(torch.arange(3), 1)
    # each view's statistics become the lam-weighted mix of its own and its neighbour's
    expected_mu = lam[:, None] * mu + (1 - lam[:, None]) * mu[prev]
    expected_sd = lam[:, None] * sd + (1 - lam[:, None]) * sd[prev]
    assert torch.allclose(y.mean((2, 3)), expected_mu, atol=1e-4)
    assert torch.allclose(y.std((2, 3)), expected_sd, rtol=1e-3, atol=1e-4)
    # the content (the normalised map) is kept
    normed = (x - x.mean((2, 3), keepdim=True)) / x.std((2, 3), keepdim=True)
    normed_y = (y - y.mean((2, 3), keepdim=True)) / y.std((2, 3), keepdim=True)
    assert torch.allclose(normed, normed_y, atol=1e-3)


def test_mix_style_leaves_a_single_view_and_passes_gradients_through_the_content_only():
    one = torch.randn(1, 4, 5, 5)
    assert torch.equal(mix_style(one), one)
    x = _styled().requires_grad_(True)
    mix_style(x).sum().backward()  # the statistics are detached: d(sum)/dx = sigma_mix / sigma, per view and channel
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


@pytest.mark.parametrize("block", ["resnet", "convnext"])
def test_attached_mix_style_changes_training_forwards_only(block):
    model = build_fusion("small", "image", num_classes=4, vd_block=block).train()
    image = torch.rand(2, 3, 64, 64)
    torch.manual_seed(3)
    plain = model.encode_vd(image)
    handles = attach_mix_style(model.vd, 1.0)
    assert len(handles) == MIX_STYLE_STAGES
    torch.manual_seed(3)
    mixed = model.encode_vd(image)
    assert not torch.allclose(plain[0], mixed[0]) and not torch.allclose(plain[3], mixed[3])
    model.eval()
    assert all(torch.equal(a, b) for a, b in zip(model.encode_vd(image), model.train(False).encode_vd(image)))
    eval_hooked = model.encode_vd(image)
    for h in handles:
        h.remove()
    assert all(torch.equal(a, b) for a, b in zip(eval_hooked, model.encode_vd(image)))  # eval: no mixing


def test_mix_style_option_checks_and_identity():
    assert "mix_style" not in identity_config(FusionTrainConfig())  # runs from before the option resume
    assert identity_config(FusionTrainConfig(mix_style=0.5))["mix_style"] == 0.5
    with pytest.raises(ValueError, match="mix_style"):
        FusionTrainConfig(mix_style=1.5)
    with pytest.raises(ValueError, match="mix_style"):
        FusionTrainConfig(inputs="features", mix_style=0.5)
    with pytest.raises(ValueError, match="probability"):
        attach_mix_style(build_fusion("small", "image", num_classes=4).vd, -0.1)
