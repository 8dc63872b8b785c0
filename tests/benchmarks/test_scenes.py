"""The benchmarks' procedural room (benchmarks/scenes.py)."""

import pytest
import torch

from benchmarks.scenes import room_cameras, room_layout, room_scene
from rtgs2.render import render


def test_room_scene_is_deterministic_and_sized():
    a, b = room_scene(3000, seed=4, sh_degree=2, feature_dim=5), room_scene(3000, seed=4, sh_degree=2, feature_dim=5)
    assert a.num_gaussians == 3000 and a.sh_degree == 2 and a.features.shape == (3000, 5)
    for name in ("means", "quats", "log_scales", "opacity_logits", "sh", "features"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name
    assert not torch.equal(a.means, room_scene(3000, seed=5).means)
    size = torch.tensor(room_layout(4).size, dtype=a.means.dtype)
    assert bool(((a.means >= -1e-6) & (a.means <= size + 1e-6)).all())


def test_room_cameras_see_an_opaque_room_from_inside():
    scene = room_scene(20000, seed=1)
    size = torch.tensor(room_layout(1).size, dtype=torch.float64)
    for cam in room_cameras(3, seed=1, width=48, height=36):
        assert bool(((cam.center > 0) & (cam.center < size)).all())
        out = render(scene, cam, backend="numba")
        # Closed room: every pixel hits a surface (seams where walls meet are a little thinner).
        assert float(out.alpha.min()) > 0.9 and float(out.alpha.mean()) > 0.99


def test_bad_arguments():
    with pytest.raises(ValueError, match="num_gaussians"):
        room_scene(0)
    with pytest.raises(ValueError, match="num_views"):
        room_cameras(0)
