"""Bad input gives clear errors (naming the file and the problem) or reported warnings."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from rtgs2.data import open_dataset
from rtgs2.data.open import UnknownFormatError
from tests.data import fixture_writers as fw


@pytest.fixture(scope="module")
def src() -> fw.SourceScene:
    return fw.make_source(num_views=4)


def test_unknown_folder_lists_formats_tried(tmp_path):
    (tmp_path / "stuff").mkdir()
    (tmp_path / "stuff" / "a.txt").write_text("x")
    with pytest.raises(UnknownFormatError) as e:
        open_dataset(tmp_path)
    msg = str(e.value)
    for name, missing in [("replica", "traj_w_c.txt"), ("scannet", "intrinsic_color.txt"), ("scannetpp", "dslr/nerfstudio"),
                          ("gaussian_output", "cameras.json"), ("colmap", "cameras.{bin,txt}"), ("nerfstudio", "transforms.json")]:  # fmt: skip
        assert name in msg and missing in msg
    with pytest.raises(FileNotFoundError, match="no such data set folder"):
        open_dataset(tmp_path / "nope")


def test_a_file_is_not_called_missing(tmp_path):
    ply = tmp_path / "scene.ply"
    ply.write_bytes(b"ply\n")
    with pytest.raises(NotADirectoryError, match=r"scene.ply is a file; a data set folder is expected \(.*replica"):
        open_dataset(ply)


def test_replica_missing_depth_frame(src, tmp_path):
    scene = fw.write_replica(src, tmp_path, split_at=2)
    (scene / "Sequence_1" / "depth" / "depth_1.png").unlink()
    with pytest.raises(FileNotFoundError, match=r"Sequence_1/depth: 1 depth frames missing \(e.g. index \[1\]\)"):
        open_dataset(tmp_path)


def test_replica_trajectory_length_and_nan(src, tmp_path):
    scene = fw.write_replica(src, tmp_path, split_at=2)
    traj = scene / "Sequence_1" / "traj_w_c.txt"
    rows = traj.read_text().splitlines()
    traj.write_text(rows[0] + "\n")
    with pytest.raises(ValueError, match="1 poses in traj_w_c.txt for 2 rgb frames"):
        open_dataset(tmp_path)
    traj.write_text(rows[0] + "\n" + rows[1].replace(rows[1].split()[3], "nan", 1) + "\n")
    with pytest.raises(ValueError, match=r"traj_w_c.txt:2: pose has NaN/inf"):
        open_dataset(tmp_path)


def test_replica_inconsistent_image_size(src, tmp_path):
    scene = fw.write_replica(src, tmp_path, split_at=2)
    Image.new("RGB", (32, 24)).save(scene / "Sequence_1" / "rgb" / "rgb_1.png")
    sv = open_dataset(tmp_path).scenes[0]
    sv.images[0]  # the others load
    with pytest.raises(ValueError, match=r"rgb_1.png: image is 32x24, expected 64x48"):
        sv.images[1]


def test_replica_unknown_label_id_counted_and_ignored(src, tmp_path):
    scene = fw.write_replica(src, tmp_path, split_at=2)
    lab = np.asarray(Image.open(scene / "Sequence_1" / "semantic_class" / "semantic_class_0.png")).copy()
    lab[:2, :5] = 150  # Replica ids stop at 101
    Image.fromarray(lab).save(scene / "Sequence_1" / "semantic_class" / "semantic_class_0.png")
    ds = open_dataset(tmp_path)
    labels = ds.scenes[0].labels[0].numpy()
    assert (labels[:2, :5] == 255).all()
    assert dict(ds.infos["room_0"].unknown_label_ids) == {150: 10}


def test_scannet_bad_input(src, tmp_path):
    scene = fw.write_scannet(src, tmp_path, inf_pose=None)
    (scene / "pose" / "2.txt").unlink()
    with pytest.raises(FileNotFoundError, match=r"pose: 1 pose frames missing"):
        open_dataset(tmp_path)
    np.savetxt(scene / "pose" / "2.txt", np.full((4, 4), np.inf))
    for i in range(4):
        np.savetxt(scene / "pose" / f"{i}.txt", np.full((4, 4), -np.inf))
    with pytest.raises(ValueError, match="every frame has a non-finite pose"):
        open_dataset(tmp_path)


def test_scannet_label_depth_size_mismatch_and_missing_tsv(src, tmp_path):
    scene = fw.write_scannet(src, tmp_path)
    (tmp_path / "scannetv2-labels.combined.tsv").unlink()
    with pytest.raises(FileNotFoundError, match="needs scannetv2-labels.combined.tsv"):
        open_dataset(tmp_path)
    Image.fromarray(np.zeros((24, 32), np.uint16)).save(scene / "label-filt" / "0.png")
    with pytest.raises(ValueError, match="label and depth sizes differ"):
        open_dataset(tmp_path)


def test_scannetpp_fisheye_refused(src, tmp_path):
    fw.write_scannetpp(src, tmp_path, undistorted=False)
    with pytest.raises(ValueError, match=r"fisheye \(OPENCV_FISHEYE\).*dslr.undistort"):
        open_dataset(tmp_path)


def test_nerfstudio_distortion_nan_and_missing_images(src, tmp_path):
    root = fw.write_nerfstudio(src, tmp_path)
    meta = json.loads((root / "transforms.json").read_text())
    (root / "transforms.json").write_text(json.dumps(meta | {"k1": 0.1}))
    with pytest.raises(ValueError, match=r"distortion coefficients \{'k1': 0.1\}.*undistort"):
        open_dataset(tmp_path)
    (root / "transforms.json").write_text(json.dumps(meta | {"camera_model": "EQUIRECTANGULAR"}))
    with pytest.raises(ValueError, match="camera_model EQUIRECTANGULAR is not a pinhole model"):
        open_dataset(tmp_path)
    bad = json.loads(json.dumps(meta))
    bad["frames"][2]["transform_matrix"][0][3] = float("nan")
    (root / "transforms.json").write_text(json.dumps(bad))
    with pytest.raises(ValueError, match=r"frames\[2\]: transform_matrix has NaN/inf"):
        open_dataset(tmp_path)
    (root / "transforms.json").write_text(json.dumps(meta))
    (root / "images" / "frame_00002.png").unlink()
    with pytest.raises(FileNotFoundError, match="1 of 4 images missing"):
        open_dataset(tmp_path)


def test_colmap_distorted_model_and_truncated_binary(src, tmp_path):
    fw.write_colmap(src, tmp_path / "a", model="OPENCV")
    with pytest.raises(ValueError, match="camera model OPENCV has distortion.*image_undistorter"):
        open_dataset(tmp_path / "a")
    fw.write_colmap(src, tmp_path / "b", binary=True)
    images = tmp_path / "b" / "sparse" / "0" / "images.bin"
    images.write_bytes(images.read_bytes()[:-30])
    with pytest.raises(ValueError, match=r"images.bin: truncated"):
        open_dataset(tmp_path / "b")


def test_label_set_must_fit_the_format(src, tmp_path):
    fw.write_replica(src, tmp_path / "r", split_at=2)
    with pytest.raises(ValueError, match="label set 'scannet_20' is for 'scannet' data, but the folder is 'replica'"):
        open_dataset(tmp_path / "r", label_set="scannet_20")
    fw.write_colmap(src, tmp_path / "c")
    with pytest.raises(ValueError, match="format 'colmap' has no labels"):
        open_dataset(tmp_path / "c", label_set="replica_rtgs2_46")


def test_duplicate_scene_names(src, tmp_path):
    fw.write_replica(src, tmp_path / "a", split_at=2)
    fw.write_replica(src, tmp_path / "b", split_at=2)
    with pytest.raises(ValueError, match=r"several scene folders share the names \['room_0'\]"):
        open_dataset(tmp_path)


def test_image_of_other_aspect_or_corrupt(src, tmp_path):
    fw.write_gaussian_output(src, tmp_path)
    Image.new("RGB", (64, 64)).save(tmp_path / "images" / "1_2.png")
    (tmp_path / "images" / "2_1.png").write_bytes(b"not a png")
    sv = open_dataset(tmp_path).scenes[0]
    with pytest.raises(ValueError, match=r"1_2.png: image is 64x64, camera is 64x48: aspect ratios differ"):
        sv.images[1]
    with pytest.raises(ValueError, match=r"2_1.png: cannot read image"):
        sv.images[2]
