"""The viewer's pictures per mode, its frame sizes while moving and still, and its refusals."""

from __future__ import annotations

import socket

import numpy as np
import pytest
import torch

from rtgs2.cli import entrypoint
from rtgs2.fusion.io import save_fusion
from rtgs2.fusion.vdvi import build_fusion
from rtgs2.scene import Camera, read_ply, write_ply
from rtgs2.viewer.modes import DEPTH, LABELS, MODES, PCA, RGB
from rtgs2.viewer.server import MIN_SIDE, MOVING_SCALE, STILL_S, FrameScheduler, build_renderer, frame_size
from tests.conftest import DONUT

CLASSES = ["floor", "wall", "table", "chair"]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> tuple:
    """Every 32nd Gaussian of the donut (~1.4k) with random f_vi_* (32), and a random fusion model."""
    folder = tmp_path_factory.mktemp("viewer")
    torch.manual_seed(0)
    scene = read_ply(DONUT)
    scene = scene.subset(torch.arange(0, scene.num_gaussians, 32))
    write_ply(scene.with_features(torch.randn(scene.num_gaussians, 32)), folder / "donut.ply")
    save_fusion(build_fusion("small", "both", num_classes=4, class_names=CLASSES), folder / "fusion.pt")
    return folder / "donut.ply", folder / "fusion.pt"


def donut_camera(width: int, height: int) -> Camera:
    return Camera.look_at((0.35, 0.0, 0.25), (0.0, 0.0, 0.04), fov_x_deg=60.0, width=width, height=height)


def test_every_mode_gives_an_rgb_image_of_the_cameras_size(files):
    renderer, _ = build_renderer(*files)
    assert renderer.modes == [LABELS, RGB, PCA, DEPTH] and set(renderer.modes) == set(MODES) and not renderer.notes
    cam = donut_camera(24, 18)
    images = {m: renderer.render(m, cam) for m in renderer.modes}
    for m, img in images.items():
        assert img.shape == (18, 24, 3) and img.dtype == np.uint8, m
    covered = images[RGB].any(-1) & images[DEPTH].any(-1)
    assert covered.any() and (~images[DEPTH].any(-1)).any()  # the donut, and black empty space in depth
    assert not np.array_equal(images[LABELS], images[RGB]) and not np.array_equal(images[PCA], images[RGB])


def test_without_a_fusion_model_labels_are_off_with_a_note(files, monkeypatch):
    monkeypatch.setattr("rtgs2.fusion.io.SHIPPED", files[0].parent / "no_such_model.pt")
    renderer, _ = build_renderer(files[0])
    assert renderer.modes == [RGB, PCA, DEPTH] and "--weights" in renderer.notes[LABELS]
    with pytest.raises(ValueError, match="mode 'labels' is not available"):
        renderer.render(LABELS, donut_camera(8, 8))
    with pytest.raises(FileNotFoundError, match="no fusion weights"):
        build_renderer(files[0], files[0].parent / "missing.pt")  # a model asked for must exist


def test_frames_are_reduced_while_moving_and_full_once_still():
    sched = FrameScheduler()
    assert sched.next_scale(0.0) is None  # nothing happened yet
    sched.moved(1.0)
    assert sched.next_scale(1.01) == MOVING_SCALE
    assert sched.next_scale(1.02) is None  # no new move, not yet still long enough
    sched.moved(1.05)
    sched.moved(1.06)  # two updates between frames: one frame
    assert sched.next_scale(1.07) == MOVING_SCALE and sched.next_scale(1.08) is None
    assert sched.next_scale(1.06 + STILL_S) == 1.0  # still: once at full size
    assert sched.next_scale(5.0) is None
    sched.changed()  # the mode: full size at once
    assert sched.next_scale(5.0) == 1.0 and sched.next_scale(5.1) is None

    assert frame_size(1280, 720, 480) == (853, 480)  # the canvas's aspect, capped rows
    assert frame_size(320, 200, 480) == (320, 200)  # never more than the canvas
    assert frame_size(1280, 720, 480, MOVING_SCALE) == (round(853.33 * MOVING_SCALE), round(480 * MOVING_SCALE))
    assert frame_size(100, 10, 480, 0.01) == (MIN_SIDE, MIN_SIDE)


def test_a_port_in_use_is_a_one_line_error(files, capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(SystemExit) as e:
            entrypoint(["view", "--scene", str(files[0]), "--host", "127.0.0.1", "--port", str(port)])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"rtgs2 view: cannot listen on 127.0.0.1:{port}") and "--port" in err and err.count("\n") == 1
