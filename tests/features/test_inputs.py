import math

import numpy as np
import pytest
import torch

from rtgs2.features.inputs import ROOM_EXTENT_M, SceneFrame, choose_frame, gaussian_arrays, robust_extent
from rtgs2.scene import GaussianScene, read_ply


def _scene(means: torch.Tensor) -> GaussianScene:
    n = len(means)
    return GaussianScene.from_activated(
        means, torch.full((n, 3), 0.01), torch.tensor([[1.0, 0, 0, 0]]).expand(n, 4), torch.full((n,), 0.5),
        torch.rand(n, 3, generator=torch.Generator().manual_seed(0)),
    )  # fmt: skip


def test_room_sized_scene_is_taken_as_metres_and_tiny_one_is_rescaled():
    g = torch.Generator().manual_seed(1)
    room = _scene(torch.rand(5000, 3, generator=g) * torch.tensor([5.0, 4.0, 2.6]))
    f = choose_frame(room)
    assert f.metres_per_unit == 1.0 and "room-sized" in f.note
    tiny = _scene(torch.rand(5000, 3, generator=g) * 0.2)
    f = choose_frame(tiny)
    assert math.isclose(robust_extent(tiny.means) * f.metres_per_unit, ROOM_EXTENT_M, rel_tol=1e-6)
    assert "far from room-sized" in f.note and "--metres-per-unit" in f.note
    assert choose_frame(tiny, metres_per_unit=2.0).metres_per_unit == 2.0


@pytest.mark.parametrize("up", ["+x", "-x", "+y", "-y", "+z", "-z"])
def test_up_axis_goes_to_plus_z(up):
    r = SceneFrame(up=up).rotation()
    axis = {"x": 0, "y": 1, "z": 2}[up[1]]
    u = torch.zeros(3, dtype=torch.float64)
    u[axis] = 1.0 if up[0] == "+" else -1.0
    torch.testing.assert_close(r @ u, torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64))
    torch.testing.assert_close(r @ r.T, torch.eye(3, dtype=torch.float64))
    assert float(torch.linalg.det(r)) == pytest.approx(1.0)


def test_inputs_do_not_change_when_the_file_is_shifted():
    g = torch.Generator().manual_seed(2)
    means = torch.rand(3000, 3, generator=g, dtype=torch.float64) * 4
    a = gaussian_arrays(_scene(means.float()))
    b = gaussian_arrays(_scene((means + torch.tensor([10.0, -3.0, 1.5], dtype=torch.float64)).float()))
    np.testing.assert_allclose(a.inputs(), b.inputs(), atol=1e-5)


def test_nan_attributes_are_refused():
    s = _scene(torch.rand(10, 3))
    s.opacity_logits[3] = float("nan")
    with pytest.raises(ValueError, match="opacity_logits has non-finite"):
        gaussian_arrays(s)


def test_donut_gets_an_automatic_room_scale(donut_path):
    donut = read_ply(donut_path)
    f = choose_frame(donut)
    assert f.metres_per_unit > 10 and "far from room-sized" in f.note
    x = gaussian_arrays(donut, f).xyz
    assert 3.0 < float(np.ptp(np.quantile(x, [0.02, 0.98], axis=0), axis=0).max()) < 8.0
