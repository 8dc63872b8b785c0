"""Bad input is refused with a clear message before any optimisation step."""

from dataclasses import replace

import pytest
import torch

from rtgs2.recon import fit_gaussians
from rtgs2.scene import Camera

from tests.recon.known_scene import FAST

CFG = replace(FAST, iterations=5)


def _fit(known, tmp_path, cams=None, imgs=None, pts=None, cols=None):
    steps = []
    with pytest.raises((ValueError, TypeError)) as info:
        fit_gaussians(
            known.train_cams if cams is None else cams,
            known.train_imgs if imgs is None else imgs,
            CFG,
            known.init_points if pts is None else pts,
            known.init_colors if cols is None else cols,
            out_dir=tmp_path,
            progress=False,
            on_step=lambda s, l: steps.append(s),
        )
    assert steps == [] and not (tmp_path / "checkpoints").exists()  # refused before step 1
    return str(info.value)


def test_zero_views(known, tmp_path):
    assert "zero views" in _fit(known, tmp_path, cams=[], imgs=[])


def test_image_count_mismatch(known, tmp_path):
    assert "31 images for 32 cameras" in _fit(known, tmp_path, imgs=known.train_imgs[:-1])


def test_image_size_differs_from_its_camera(known, tmp_path):
    imgs = list(known.train_imgs)
    imgs[4] = imgs[4][:, :-1]
    msg = _fit(known, tmp_path, imgs=imgs)
    assert "image 4 is 39x30" in msg and "camera is 40x30" in msg


def test_images_of_different_sizes(known, tmp_path):
    cams, imgs = list(known.train_cams), list(known.train_imgs)
    cams[2] = cams[2].resized(20, 15)
    imgs[2] = imgs[2][::2, ::2]
    assert "camera 2 is 20x15 but camera 0 is 40x30" in _fit(known, tmp_path, cams=cams, imgs=imgs)


def test_non_finite_pixels(known, tmp_path):
    imgs = list(known.train_imgs)
    imgs[7] = imgs[7].clone()
    imgs[7][3, 4, 1] = float("nan")
    imgs[7][5, 6, 0] = float("inf")
    assert "image 7 has 2 pixels with non-finite values" in _fit(known, tmp_path, imgs=imgs)


def test_pixels_on_the_255_scale(known, tmp_path):
    imgs = [i * 255 for i in known.train_imgs]
    assert "must be RGB in [0, 1]" in _fit(known, tmp_path, imgs=imgs)


def test_integer_images(known, tmp_path):
    imgs = [(i * 255).to(torch.uint8) for i in known.train_imgs]
    assert "dtype torch.uint8" in _fit(known, tmp_path, imgs=imgs)


def test_pose_that_is_not_rigid_is_refused_by_camera(known, tmp_path):
    w2c = known.train_cams[0].world_to_cam.clone()
    w2c[:3, :3] *= 1.5  # a scaled rotation
    with pytest.raises(ValueError, match="not a rigid transform"):
        Camera(known.train_cams[0].K, w2c, 40, 30)
    cams = list(known.train_cams)
    cams[1] = w2c  # a bare matrix instead of a Camera
    assert "camera 1 must be a rtgs2.scene.Camera" in _fit(known, tmp_path, cams=cams)


def test_empty_initial_cloud(known, tmp_path):
    assert "init_points is empty" in _fit(known, tmp_path, pts=torch.zeros(0, 3), cols=torch.zeros(0, 3))


def test_bad_initial_cloud(known, tmp_path):
    pts = known.init_points.clone()
    pts[3, 1] = float("nan")
    assert "init_points has 1 rows with non-finite values" in _fit(known, tmp_path, pts=pts)
    assert "init_colors must have shape [150, 3]" in _fit(known, tmp_path, cols=known.init_colors[:10])
    assert "init_points must have shape [M, 3]" in _fit(known, tmp_path, pts=known.init_points[:, :2])
