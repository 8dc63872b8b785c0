import imageio.v2 as imageio
import pytest

from rtgs2.demo import run_demo


def test_demo_writes_frames_and_gif(tmp_path):
    res = run_demo(tmp_path / "demo", num_views=2, width=40, height=30, seed=3, num_gaussians=4000)
    assert len(res.frames) == 6 and all(p.exists() for p in res.frames)
    rgb = imageio.imread(tmp_path / "demo" / "rgb_001.png")
    assert rgb.shape == (30, 40, 3) and rgb.std() > 5  # a textured room, not a blank frame
    gif = imageio.mimread(res.gif)
    assert len(gif) == 2 and gif[0].shape[:2] == (30, 120)  # rgb | depth | features
    assert res.fps > 0


def test_demo_rejects_bad_sizes(tmp_path):
    with pytest.raises(ValueError, match="num_views"):
        run_demo(tmp_path, num_views=0)
