"""``resolve_backend`` / ``default_device``: the one place a backend is chosen, with no fallback."""

import typing

import pytest
import torch

import rtgs2.render.api as api
import rtgs2.render.numba_backend as numba_backend
from rtgs2.recon.config import ReconConfig
from rtgs2.render import Backend, default_device, render, resolve_backend
from tests.render.helpers import camera, random_scene


def test_concrete_backends_on_the_cpu():
    assert resolve_backend("auto", "cpu") == "numba"
    assert resolve_backend("numba", torch.device("cpu")) == "numba"
    assert resolve_backend("reference", "cpu") == "reference"


def test_a_backend_that_cannot_run_is_refused_not_replaced(monkeypatch):
    monkeypatch.setattr(api, "_gsplat_installed", lambda: False)
    with pytest.raises(ValueError, match="gsplat.*CUDA"):
        resolve_backend("gsplat", "cpu")
    with pytest.raises(ValueError, match="gsplat installed"):
        resolve_backend("gsplat", "cuda")
    with pytest.raises(ValueError, match="numba.*CPU"):
        resolve_backend("numba", "cuda")
    with pytest.raises(ValueError, match="backend must be one of"):
        resolve_backend("opengl", "cpu")  # type: ignore[arg-type]


def test_auto_picks_gsplat_for_cuda_scenes_when_installed(monkeypatch):
    monkeypatch.setattr(api, "_gsplat_installed", lambda: True)
    assert resolve_backend("auto", "cuda") == "gsplat"
    assert resolve_backend("auto", "cpu") == "numba"


def test_default_device(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(api, "_gsplat_installed", lambda: True)
    assert default_device("auto") == default_device("gsplat") == torch.device("cuda")
    assert default_device("numba") == default_device("reference") == torch.device("cpu")
    monkeypatch.setattr(api, "_gsplat_installed", lambda: False)
    assert default_device("auto") == torch.device("cpu")


def test_a_broken_kernel_fails_loudly(monkeypatch):
    def broken(_inputs):
        raise RuntimeError("kernel broke")

    monkeypatch.setattr(numba_backend, "render_numba", broken)
    with pytest.raises(RuntimeError, match="kernel broke"):
        render(random_scene(10, 0), camera(), backend="auto")


def test_recon_config_names_the_render_backends():
    assert typing.get_type_hints(ReconConfig)["backend"] == Backend


def test_numba_kernels_keep_torch_thread_count():
    """numba's OpenMP layer shares the runtime with torch; a render must not change torch's threads."""
    scene = random_scene(200, seed=0)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        render(scene, camera(), backend="numba")
        scene.means.requires_grad_(True)
        render(scene, camera(), backend="numba").rgb.sum().backward()
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
