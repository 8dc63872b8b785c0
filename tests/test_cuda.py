"""The networks on a GPU: the same numbers as on the CPU, and training runs there (skipped
without CUDA; the gsplat renderer has its own tests in tests/render/test_gsplat_backend.py)."""

from __future__ import annotations

import json

import pytest
import torch

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")

CUDA = torch.device("cuda")


@pytest.fixture(autouse=True)
def exact_float32():
    """TF32 rounds matmul and convolution inputs to 10 mantissa bits: off, so that CPU and GPU
    differ only by summation order."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def _room(n: int, seed: int = 0):
    """A box-shaped room of ``n`` Gaussians in metres, z up (what the feature network expects)."""
    from rtgs2.scene import GaussianScene

    g = torch.Generator().manual_seed(seed)
    means = torch.rand(n, 3, generator=g) * torch.tensor([5.0, 4.0, 2.6])
    return GaussianScene(
        means, torch.randn(n, 4, generator=g), torch.full((n, 3), -4.0) + torch.rand(n, 3, generator=g),
        torch.randn(n, generator=g), torch.rand(n, 1, 3, generator=g),
    )  # fmt: skip


@pytest.mark.parametrize("size", ["small", "paper"])
def test_feature_network_gives_the_cpu_features_and_gradients(size):
    from rtgs2.features.inputs import gaussian_arrays
    from rtgs2.features.ptv3 import VARIANTS

    torch.manual_seed(0)
    net = VARIANTS[size]().eval()
    arrays = gaussian_arrays(_room(20_000))
    coord, inputs = torch.from_numpy(arrays.xyz), torch.from_numpy(arrays.inputs())
    offset = torch.tensor([len(coord)])
    results = []
    for device in ("cpu", "cuda"):
        net.to(device).zero_grad()
        feat = net(coord.to(device), inputs.to(device), offset.to(device))
        (feat[:, 0] * torch.arange(len(feat), device=device).remainder(7)).sum().backward()
        grads = torch.cat([p.grad.flatten() for p in net.parameters()]).cpu()
        results.append((feat.detach().cpu(), grads))
    (f_cpu, g_cpu), (f_gpu, g_gpu) = results
    cosine = (f_cpu * f_gpu).sum(1)
    print(f"{size}: min cosine {cosine.min():.6f}, max |grad diff| {(g_cpu - g_gpu).abs().max():.2e}")
    assert cosine.min() > 0.9999
    torch.testing.assert_close(g_gpu, g_cpu, rtol=1e-3, atol=1e-4 * float(g_cpu.abs().max()))


def test_extract_features_runs_on_the_gpu_by_default_and_matches_the_cpu():
    from rtgs2.features.extract import extract_features, feature_device
    from rtgs2.features.inputs import SceneFrame
    from rtgs2.features.ptv3 import ptv3_small

    assert feature_device() == CUDA
    torch.manual_seed(0)
    net = ptv3_small()
    scene = _room(30_000, seed=1)
    torch.cuda.reset_peak_memory_stats()
    on_gpu = extract_features(scene, net, frame=SceneFrame(), max_points_per_pass=12_000)  # in slabs
    assert torch.cuda.max_memory_allocated() > 0 and on_gpu.device.type == "cpu"
    on_cpu = extract_features(scene, net, frame=SceneFrame(), max_points_per_pass=12_000, device="cpu")
    assert (on_gpu * on_cpu).sum(1).min() > 0.9999


@pytest.mark.parametrize("size", ["small", "paper"])
@pytest.mark.parametrize("inputs", ["both", "image", "features"])
def test_fusion_network_gives_the_cpu_logits(size, inputs):
    from rtgs2.fusion.vdvi import build_fusion

    torch.manual_seed(0)
    net = build_fusion(size, inputs, num_classes=17, depth_head=True).eval()
    image, feats = torch.rand(2, 3, 96, 128), torch.randn(2, 32, 96, 128)
    with torch.no_grad():
        cpu = net.forward_with_embedding(image, feats)
        gpu = net.to(CUDA).forward_with_embedding(image.to(CUDA), feats.to(CUDA))
    for name in ("logits", "embedding", "depth"):
        a, b = getattr(gpu, name).cpu(), getattr(cpu, name)
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-3 * float(b.abs().max()), msg=name)


def test_both_trainings_run_on_the_gpu(synthrooms_mini, tmp_path):
    """A few steps of each training on CUDA: they use the GPU, learn, and write weights that
    load on a CPU-only machine."""
    from dataclasses import replace

    from rtgs2.features.io import load_feature_net
    from rtgs2.fusion.io import load_fusion
    from rtgs2.train.config import FeatureTrainConfig, FusionTrainConfig
    from rtgs2.train.features import train_features
    from rtgs2.train.fusion import train_fusion

    feat_cfg = FeatureTrainConfig(
        steps=40, pairs_per_step=2, lr=2e-3, warmup_steps=5, max_points=4000, subsample_grid=0.04,
        num_correspondences=512, checkpoint_every=20, eval_every=20, eval_pairs=4, overlap_min=0.2, overlap_max=0.9,
    )  # fmt: skip
    torch.cuda.reset_peak_memory_stats()
    feature_weights = train_features(synthrooms_mini, tmp_path / "features", feat_cfg, progress=False)
    assert torch.cuda.max_memory_allocated() > 0
    net = load_feature_net(feature_weights)
    assert next(net.parameters()).device.type == "cpu"
    card = json.loads(feature_weights.with_suffix(".json").read_text())
    print("features:", card["metrics"] if "metrics" in card else card)

    fusion_cfg = FusionTrainConfig(
        inputs="both", steps=60, batch_size=2, crop_height=96, crop_width=128, lr=4e-3, warmup_steps=10,
        zoom_min=1.0, zoom_max=1.0, colour_jitter=0.0, cutout=0.0, checkpoint_every=30, eval_every=30, val_scenes=1,
    )  # fmt: skip
    torch.cuda.reset_peak_memory_stats()
    best = train_fusion(synthrooms_mini, tmp_path / "fusion", fusion_cfg, feature_weights=feature_weights, progress=False, max_scenes=1)
    assert torch.cuda.max_memory_allocated() > 0
    model = load_fusion(best)
    assert next(model.parameters()).device.type == "cpu"
    rows = (tmp_path / "fusion" / "metrics.csv").read_text().splitlines()
    assert len(rows) == fusion_cfg.steps + 1
    first, last = (float(r.split(",")[1]) for r in (rows[1], rows[-1]))
    print(f"fusion loss {first:.3f} -> {last:.3f}")
    assert last < first
    # a rerun resumes from the finished run's checkpoint (on the GPU) and returns at once
    again = train_fusion(synthrooms_mini, tmp_path / "fusion", replace(fusion_cfg), feature_weights=feature_weights, progress=False, max_scenes=1)
    assert again == best


def test_the_bfloat16_package_runs_on_the_gpu(tmp_path):
    """Segmenter's bfloat16 call on a CUDA model: an ahead-of-time package for the GPU, logits
    close to the float32 eager ones, and reloaded from its file by a second call."""
    from rtgs2.fusion.compiled import CompiledCoarseLogits
    from rtgs2.fusion.vdvi import build_fusion, inference_model

    torch.manual_seed(0)
    model = inference_model(build_fusion("small", "both", num_classes=5), CUDA)
    g = torch.Generator().manual_seed(1)
    image = torch.rand(1, 3, 240, 320, generator=g).to(CUDA)
    features = torch.nn.functional.normalize(torch.randn(1, 32, 60, 80, generator=g), dim=1).to(CUDA)
    call = CompiledCoarseLogits(model, precision="bfloat16", package_folder=tmp_path)
    with torch.inference_mode():
        expected, _, _ = model.coarse_logits(image, features)
        got, _, _ = call(image, features)
        again, _, _ = CompiledCoarseLogits(model, precision="bfloat16", package_folder=tmp_path)(image, features)
    assert call.fallback is None, call.fallback
    assert got.device.type == "cuda" and got.dtype == torch.float32 and len(list(tmp_path.glob("*.pt2"))) == 1
    assert float((got - expected).abs().max()) < 0.05 * float(expected.abs().max())
    assert (got.argmax(1) == expected.argmax(1)).float().mean() > 0.9
    assert torch.equal(again, got)
