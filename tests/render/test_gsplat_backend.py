"""The gsplat backend against the reference (needs CUDA and gsplat==1.5.3, else skipped)."""

import pytest
import torch

from rtgs2.render import RasterSettings, render
from tests.render.helpers import camera, random_scene

pytestmark = pytest.mark.cuda
gsplat = pytest.importorskip("gsplat", reason="gsplat is not installed (the [cuda] extra)")
if not torch.cuda.is_available():
    pytest.skip("no CUDA device", allow_module_level=True)

ATOL = 1e-4
# gsplat evaluates exp with CUDA's fast __expf and sums in another order, so pixels with a splat at
# alpha = 1/255 or T = 1e-4 can flip; near-opaque splats differ if a gsplat build caps alpha at 0.99.
MAX_MISMATCH = 0.01  # fraction of pixels (gsplat's _helper.assert_mismatch_ratio uses the same idea)


def mismatch(a: torch.Tensor, b: torch.Tensor) -> float:
    err = (a.cpu() - b.cpu()).abs()
    return float((err.reshape(err.shape[0], err.shape[1], -1).amax(-1) > ATOL).float().mean())


def test_pinned_version():
    assert gsplat.__version__ == "1.5.3", "the tolerances below assume gsplat 1.5.3's alpha cap of 0.999"


@pytest.mark.parametrize("seed,sh_degree,feature_dim", [(0, 0, 0), (1, 3, 3), (2, 2, 32)])
def test_matches_reference(seed, sh_degree, feature_dim):
    scene = random_scene(300, seed, sh_degree=sh_degree, feature_dim=feature_dim)
    a = render(scene.to("cuda"), camera(), backend="gsplat")
    b = render(scene, camera(), backend="reference")
    for name in ("rgb", "depth", "alpha") + (("features",) if feature_dim else ()):
        assert mismatch(getattr(a, name), getattr(b, name)) <= MAX_MISMATCH, name
    assert float((a.visible.cpu() != b.visible).float().mean()) <= MAX_MISMATCH
    # gsplat rounds each axis of the same alpha >= 1/255 box up in float32 with fast-math log.
    assert float(((a.radii.cpu() - b.radii).abs() > 1).float().mean()) <= MAX_MISMATCH


def test_gradients_and_means2d_probe_match_reference():
    scene = random_scene(200, 3, sh_degree=1, feature_dim=3)
    results = {}
    for backend, device in (("gsplat", "cuda"), ("reference", "cpu")):
        sc = scene.to(device)
        for t in (sc.means, sc.log_scales, sc.opacity_logits, sc.sh, sc.features):
            t.requires_grad_(True)
        out = render(sc, camera(), backend=backend, settings=RasterSettings(track_means2d_grad=True))
        g = torch.Generator().manual_seed(0)
        loss = sum((t * torch.randn(t.shape, generator=g).to(device)).sum() for t in (out.rgb, out.alpha, out.features))
        loss.backward()
        results[backend] = [t.grad.cpu() for t in (sc.means, sc.log_scales, sc.opacity_logits, sc.sh, sc.features)]
        results[backend].append(out.means2d_probe.grad.cpu())
    for got, want in zip(results["gsplat"], results["reference"]):
        assert float((got - want).norm() / want.norm()) < 2e-2  # fast-math exp and mismatched pixels


def test_gather_matches_reference():
    # gsplat has no gather kernel: the backend takes the gradient of a features pass (gsplat_backend._gather).
    from rtgs2.render import gather_to_gaussians

    scene = random_scene(300, 6, sh_degree=1)
    v = torch.randn(camera().height, camera().width, 5, generator=torch.Generator().manual_seed(6))
    a = gather_to_gaussians(scene.to("cuda"), camera(), v.to("cuda"), backend="gsplat")
    b = gather_to_gaussians(scene, camera(), v, backend="reference")
    for got, want in ((a.sums, b.sums), (a.weight, b.weight)):
        assert float((got.cpu() - want).norm() / want.norm()) < 2e-2  # fast-math exp and mismatched pixels
