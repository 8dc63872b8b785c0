import pytest
import torch

from rtgs2.recon.config import ReconConfig, Schedule
from rtgs2.recon.densify import DensifyStats, densify_and_prune, reset_opacity
from rtgs2.recon.params import PARAM_NAMES, GaussianParams
from rtgs2.render.projection import Projected
from rtgs2.scene import GaussianScene

EXTENT = 1.0  # metres
CFG = ReconConfig(sh_degree=1, densify_grad_threshold=1e-3, percent_dense=0.01)


def _params(n: int = 6, seed: int = 0) -> GaussianParams:
    """n Gaussians: even ones small (std 0.005 m < 0.01 x extent), odd ones large (0.05 m)."""
    g = torch.Generator().manual_seed(seed)
    scales = torch.where(torch.arange(n) % 2 == 0, 0.005, 0.05).unsqueeze(-1).expand(n, 3)
    scene = GaussianScene.from_activated(
        torch.randn(n, 3, generator=g), scales.clone(), torch.randn(n, 4, generator=g),
        torch.full((n,), 0.5), torch.rand(n, 3, generator=g),
    ).with_sh_degree(1)  # fmt: skip
    return GaussianParams(scene, CFG, EXTENT)


def _take_adam_step(p: GaussianParams) -> None:
    """One Adam step with a distinct gradient per Gaussian, so moments identify Gaussians."""
    weight = torch.arange(1.0, p.num_gaussians + 1)
    loss = sum((p[n] * weight.view(-1, *[1] * (p[n].ndim - 1))).sum() for n in PARAM_NAMES)
    loss.backward()
    p.optimizer.step()
    p.optimizer.zero_grad()


def _stats(grads: list[float]) -> DensifyStats:
    s = DensifyStats.zeros(len(grads))
    s.grad_sum[:] = torch.tensor(grads) * 2
    s.count[:] = 2
    return s


def _moment(p: GaussianParams, name: str) -> torch.Tensor:
    return p.optimizer.state[p[name]]["exp_avg"]


def test_clone_and_split_counts_and_optimizer_state():
    p = _params()
    _take_adam_step(p)
    before = {n: p[n].detach().clone() for n in PARAM_NAMES}
    m_before = _moment(p, "means").clone()
    # Gaussian 0 (small) and 1 (large) are over the threshold; 2..5 are not.
    res = densify_and_prune(p, _stats([5e-3, 5e-3, 0, 0, 0, 0]), CFG, EXTENT, False, torch.Generator().manual_seed(0))
    assert (res.cloned, res.split, res.pruned) == (1, 1, 0)
    assert res.total == p.num_gaussians == 6 + 1 + 2 - 1
    for name in PARAM_NAMES:  # every parameter and its moments have N rows, in the same order
        assert p[name].shape[0] == 8
        st = p.optimizer.state[p[name]]
        assert st["exp_avg"].shape == p[name].shape and st["exp_avg_sq"].shape == p[name].shape
        assert p.optimizer.param_groups[PARAM_NAMES.index(name)]["params"][0] is p[name]
    # Survivors keep their values and moments: originals 0, 2, 3, 4, 5 (1 was split away).
    kept = [0, 2, 3, 4, 5]
    torch.testing.assert_close(p["means"][:5].detach(), before["means"][kept])
    torch.testing.assert_close(_moment(p, "means")[:5], m_before[kept])
    # The clone copies Gaussian 0 with zero moments.
    torch.testing.assert_close(p["means"][5].detach(), before["means"][0])
    assert float(_moment(p, "means")[5:].abs().sum()) == 0
    # Split children: scale / 1.6, same colour, means drawn around the parent.
    torch.testing.assert_close(p["log_scales"][6:].detach(), before["log_scales"][[1, 1]] - torch.log(torch.tensor(1.6)))
    torch.testing.assert_close(p["sh_dc"][6:].detach(), before["sh_dc"][[1, 1]])
    offset = (p["means"][6:].detach() - before["means"][1]).norm(dim=1)
    assert bool((offset > 0).all()) and bool((offset < 0.05 * 5).all())
    # The optimizer still steps with the new tensors.
    _take_adam_step(p)
    assert not torch.equal(p["means"][:5].detach(), before["means"][kept])


def test_prune_low_opacity_and_large():
    p = _params()
    _take_adam_step(p)
    with torch.no_grad():
        p["opacity_logits"][2] = torch.logit(torch.tensor(0.001))  # below min_opacity 0.005
        p["log_scales"][3] = torch.log(torch.tensor(0.5))  # 0.5 m > 0.1 x extent
    stats = _stats([0.0] * 6)
    stats.max_radius[4] = 50.0  # px > 20
    res = densify_and_prune(p, stats, CFG, EXTENT, False, torch.Generator())
    assert (res.cloned, res.split, res.pruned, res.total) == (0, 0, 1, 5)  # size pruning off
    stats = _stats([0.0] * 5)
    stats.max_radius[3] = 50.0  # old index 4 is now 3
    res = densify_and_prune(p, stats, CFG, EXTENT, True, torch.Generator())
    assert (res.pruned, res.total) == (2, 3)
    assert p.optimizer.state[p["means"]]["exp_avg"].shape == (3, 3)


def test_pruning_everything_is_an_error():
    p = _params()
    with torch.no_grad():
        p["opacity_logits"][:] = -20.0
    with pytest.raises(RuntimeError, match="prune all"):
        densify_and_prune(p, _stats([0.0] * 6), CFG, EXTENT, False, torch.Generator())


def test_max_gaussians_keeps_the_largest_gradients():
    from dataclasses import replace

    p = _params()
    cfg = replace(CFG, max_gaussians=8)
    # All over the threshold; room for 2 new Gaussians: the two largest gradients win.
    res = densify_and_prune(p, _stats([2e-3, 9e-3, 3e-3, 8e-3, 4e-3, 1e-3]), cfg, EXTENT, False, torch.Generator())
    # Gaussians 1 and 3 (9e-3, 8e-3; both large) are split, each adding one Gaussian net.
    assert (res.cloned, res.split, res.total) == (0, 2, 8)


def test_reset_opacity_caps_and_zeros_moments():
    p = _params()
    _take_adam_step(p)
    with torch.no_grad():
        p["opacity_logits"][0] = torch.logit(torch.tensor(0.001))
    low = float(p["opacity_logits"][0].detach())
    reset_opacity(p, 0.01)
    op = torch.sigmoid(p["opacity_logits"].detach())
    assert float(op.max()) <= 0.01 + 1e-7
    assert float(p["opacity_logits"][0].detach()) == pytest.approx(low)  # lower ones stay
    assert float(p.optimizer.state[p["opacity_logits"]]["exp_avg"].abs().sum()) == 0


def test_stats_average_over_visible_views_in_ndc():
    s = DensifyStats.zeros(3)
    vis = torch.tensor([True, True, False])
    g = torch.tensor([[1.0, 0.0], [0.0, 2.0], [5.0, 5.0]])
    s.add_view(vis, g, None, 40, 30)
    s.add_view(torch.tensor([True, False, False]), g, None, 40, 30)
    torch.testing.assert_close(s.mean_grad(), torch.tensor([20.0, 30.0, 0.0]))  # x W/2 = 20, y H/2 = 15


def test_stats_keep_the_largest_screen_radius_of_visible_gaussians():
    s = DensifyStats.zeros(3)
    g = torch.zeros(3, 2)
    # Isotropic 2D covariances of 4 and 9 px^2: 3-sigma radii of 6 and 9 px.
    proj = Projected(torch.zeros(2, 2), torch.zeros(2, 3), torch.ones(2), torch.ones(2, dtype=torch.bool),
                     torch.tensor([[4.0, 0.0, 4.0], [9.0, 0.0, 9.0]]))  # fmt: skip
    s.add_view(torch.tensor([True, False, True]), g, proj, 40, 30)
    small = proj._replace(cov2d=torch.tensor([[1.0, 0.0, 1.0]]))
    s.add_view(torch.tensor([True, False, False]), g, small, 40, 30)
    torch.testing.assert_close(s.max_radius, torch.tensor([6.0, 0.0, 9.0]))
    with pytest.raises(ValueError, match="2 rows for 1 visible"):
        s.add_view(torch.tensor([True, False, False]), g, proj, 40, 30)


def test_schedule_scales_with_iterations():
    full = Schedule.of(ReconConfig())
    assert (full.densify_from, full.densify_until, full.densify_every) == (500, 15_000, 100)
    assert (full.opacity_reset_every, full.sh_up_every) == (3_000, 1_000)
    short = Schedule.of(ReconConfig(iterations=3_000))
    assert (short.densify_from, short.densify_until, short.densify_every) == (50, 1_500, 20)  # 10 -> floor 20
    assert (short.opacity_reset_every, short.sh_up_every) == (600, 100)  # 300 -> 30 x densify_every
    assert [full.sh_degree_at(s, 3) for s in (1, 1000, 1001, 2001, 9999)] == [0, 0, 1, 2, 3]
    assert full.densify_now(600) and not full.densify_now(500) and not full.densify_now(15_000)
    assert full.reset_opacity_now(3_000) and not full.reset_opacity_now(15_000)
