"""Readers against a SynthRooms ``mini`` scene written in each format's exact layout: cameras,
images, labels and depth read back equal the SynthRooms ground truth."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rtgs2.data import open_dataset
from rtgs2.data.check import POSE_REL_TOL, check_dataset
from rtgs2.data.labelsets import load_label_set
from tests.data import fixture_writers as fw
from tests.data.test_readers import CAM_ATOL, DEPTH_ATOL, JPEG_MEAN_ATOL, PNG_ATOL, assert_cameras, expected_labels


@pytest.fixture(scope="module")
def src(synthrooms_mini) -> fw.SourceScene:
    ds = open_dataset(synthrooms_mini)
    assert ds.format == "synthrooms"
    return fw.source_from_views(ds.scene(ds.scene_split["train"][0]), num_views=8)


def test_open_synthrooms(synthrooms_mini):
    ds = open_dataset(synthrooms_mini, split_scenes=None)
    assert ds.scene_split["train"] and ds.scene_split["test"]
    assert not set(ds.scene_split["train"]) & set(ds.scene_split["test"])
    assert ds.label_map.names == ds.scenes[0].label_map.names
    with pytest.raises(ValueError, match="synthrooms has its own label set"):
        open_dataset(synthrooms_mini, label_set="scannet_20")


def test_replica(src, tmp_path):
    fw.write_replica(src, tmp_path, split_at=5)
    sv = open_dataset(tmp_path, label_set="replica_semantic_ray_51").scenes[0]
    assert_cameras(sv.cameras, src.cameras)
    for i in (0, 6):
        np.testing.assert_allclose(sv.images[i].numpy(), src.images[i], atol=PNG_ATOL)
        np.testing.assert_allclose(sv.depths[i].numpy(), src.depths[i], atol=DEPTH_ATOL)
        np.testing.assert_array_equal(sv.labels[i].numpy(), expected_labels(src.labels[i], fw.replica_lut(src), "replica_semantic_ray_51"))


def test_scannet(src, tmp_path):
    fw.write_scannet(src, tmp_path, inf_pose=None, colour_scale=1)
    sv = open_dataset(tmp_path).scenes[0]
    assert_cameras(sv.cameras, src.cameras)
    for i in (0, 5):
        assert float((sv.images[i] - torch.from_numpy(src.images[i])).abs().mean()) < JPEG_MEAN_ATOL
        np.testing.assert_allclose(sv.depths[i].numpy(), src.depths[i], atol=DEPTH_ATOL)
    want = expected_labels(src.labels[5], fw.scannet_nyu_lut(src), "scannet_20")
    np.testing.assert_array_equal(sv.labels[5].numpy(), want)
    assert (want != 255).any()


@pytest.mark.parametrize("label_set", ["scannetpp_top100", "scannetpp_rtgs2_20"])
def test_scannetpp(src, tmp_path, label_set):
    fw.write_scannetpp(src, tmp_path)
    sv = open_dataset(tmp_path, label_set=label_set).scenes[0]
    assert_cameras(sv.cameras, src.cameras)
    assert float((sv.images[3] - torch.from_numpy(src.images[3])).abs().mean()) < JPEG_MEAN_ATOL
    np.testing.assert_array_equal(sv.labels[3].numpy(), expected_labels(src.labels[3], fw.top100_lut(src), label_set))


def test_gaussian_output_and_colmap_and_nerfstudio(src, tmp_path):
    fw.write_gaussian_output(src, tmp_path / "gs")
    fw.write_colmap(src, tmp_path / "colmap", binary=True)
    fw.write_nerfstudio(src, tmp_path / "ns")
    for fmt, sub in (("gaussian_output", "gs"), ("colmap", "colmap"), ("nerfstudio", "ns")):
        ds = open_dataset(tmp_path / sub, label_set="replica_rtgs2_46" if sub == "gs" else None)
        assert ds.format == fmt
        sv = ds.scenes[0]
        assert_cameras(sv.cameras, src.cameras, atol=CAM_ATOL)
        np.testing.assert_allclose(sv.images[2].numpy(), src.images[2], atol=PNG_ATOL)
    np.testing.assert_allclose(open_dataset(tmp_path / "ns").scenes[0].depths[4].numpy(), src.depths[4], atol=DEPTH_ATOL)
    lm = load_label_set("replica_rtgs2_46")
    gs = open_dataset(tmp_path / "gs", label_set="replica_rtgs2_46").scenes[0]
    np.testing.assert_array_equal(gs.labels[1].numpy(), lm.map_raw(fw.apply_lut(fw.replica_lut(src), src.labels[1]))[0])


@pytest.mark.parametrize(("wrong", "fix"), [("opengl", "OpenGL camera axes"), ("w2c", "world-to-camera")])
def test_pose_check_on_synthrooms(src, tmp_path, wrong, fix):
    # measured on SynthRooms mini: 0.003-0.004 with correct poses, 0.08-0.50 read in the wrong
    # convention, and the right reading fits 28-135x better than the wrong one
    fw.write_replica(src, tmp_path / "ok")
    fw.write_replica(src, tmp_path / "bad", convention=wrong)
    good, bad = check_dataset(open_dataset(tmp_path / "ok"))[0], check_dataset(open_dataset(tmp_path / "bad"))[0]
    assert good.pose_ok and good.pose_error < POSE_REL_TOL / 5
    assert bad.pose_ok is False and bad.pose_error > POSE_REL_TOL and fix in bad.pose_verdict
