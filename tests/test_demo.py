import imageio.v2 as imageio
import numpy as np
import pytest

from rtgs2.data.readers.synthrooms import synthrooms_label_map
from rtgs2.demo import run_demo


def test_demo_writes_frames_gif_and_labels(tmp_path):
    res = run_demo(tmp_path / "demo", num_views=2, width=40, height=30, seed=3, spacing=0.08)
    assert len(res.frames) == 6 and all(p.exists() for p in res.frames)
    rgb = imageio.imread(tmp_path / "demo" / "rgb_001.png")
    assert rgb.shape == (30, 40, 3) and rgb.std() > 5  # a lit room, not a blank frame
    labels = imageio.imread(tmp_path / "demo" / "labels_001.png").reshape(-1, 3)
    palette = {tuple(c) for c in synthrooms_label_map().colors.tolist()} | {(0, 0, 0)}
    colours = {tuple(c) for c in np.unique(labels, axis=0).tolist()}
    assert colours <= palette  # every pixel is a class colour (or black = nothing drawn)
    assert len(colours - {(0, 0, 0)}) >= 2  # walls, floor, furniture: several classes in view
    gif = imageio.mimread(res.gif)
    assert len(gif) == 2 and gif[0].shape[:2] == (30, 120)  # rgb | depth | labels
    assert res.fps > 0 and res.num_gaussians > 1000


def test_demo_rejects_bad_sizes(tmp_path):
    with pytest.raises(ValueError, match="num_views"):
        run_demo(tmp_path, num_views=0)
