"""Each reader reads back a fixture written in its format's exact layout: cameras, images,
labels and depth match the analytic source scene."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rtgs2.data import open_dataset
from rtgs2.data.labelsets import load_label_set
from rtgs2.data.readers.colmap import read_points3d
from rtgs2.data.readers.replica import replica_intrinsics
from rtgs2.data.views import IGNORE_LABEL
from rtgs2.scene import read_ply
from tests.data import fixture_writers as fw

# Tolerances: cameras go through text/JSON at >= 10 significant digits (measured < 1e-9);
# PNG colour quantises to 1/255; millimetre depth PNGs round to 0.5 mm; JPEG (quality 95) of the
# smooth fixture textures measured mean |error| 0.004, and ScanNet's 2x colour downscale 0.006.
CAM_ATOL = 1e-6
PNG_ATOL = 0.5 / 255 + 1e-6
DEPTH_ATOL = 0.5e-3 + 1e-6
JPEG_MEAN_ATOL = 0.02


@pytest.fixture(scope="module")
def src() -> fw.SourceScene:
    return fw.make_source()


def assert_cameras(read, truth, atol=CAM_ATOL):
    assert len(read) == len(truth)
    for a, b in zip(read, truth):
        assert (a.width, a.height) == (b.width, b.height)
        torch.testing.assert_close(a.K, b.K, atol=atol, rtol=0)
        torch.testing.assert_close(a.world_to_cam, b.world_to_cam, atol=atol, rtol=0)


def expected_labels(labels: np.ndarray, lut: np.ndarray, label_set: str) -> np.ndarray:
    """Source labels written as raw ids by ``lut``, then mapped by the label set."""
    return load_label_set(label_set).map_raw(fw.apply_lut(lut, labels))[0]


@pytest.mark.parametrize("label_set", ["replica_rtgs2_46", "replica_semantic_ray_51", "replica_gsnerf_19"])
def test_replica(src, tmp_path, label_set):
    fw.write_replica(src, tmp_path)
    ds = open_dataset(tmp_path, label_set=label_set)
    assert ds.format == "replica" and [s.name for s in ds.scenes] == ["room_0"]
    sv = ds.scenes[0]
    assert_cameras(sv.cameras, src.cameras)
    assert sv.frame_names[:2] == ["Sequence_1/rgb_0", "Sequence_1/rgb_1"] and sv.frame_names[6] == "Sequence_2/rgb_0"
    assert sv.split == ["test" if i % 8 == 0 else "train" for i in range(10)]
    for i in (0, 7):
        img = sv.images[i]
        assert img.dtype == torch.float32 and img.shape == (48, 64, 3)
        np.testing.assert_allclose(img.numpy(), src.images[i], atol=PNG_ATOL)
        np.testing.assert_allclose(sv.depths[i].numpy(), src.depths[i], atol=DEPTH_ATOL)
        np.testing.assert_array_equal(sv.labels[i].numpy(), expected_labels(src.labels[i], fw.replica_lut(src), label_set))
    assert sv.label_map.names == load_label_set(label_set).names
    assert not ds.infos["room_0"].unknown_label_ids


def test_replica_intrinsics_at_full_size():
    # Semantic-NeRF: fx = fy = 320, cx = 319.5, cy = 239.5 (OpenCV) -> +0.5 pixel centres
    np.testing.assert_allclose(replica_intrinsics(640, 480), [[320, 0, 320], [0, 320, 240], [0, 0, 1]])


def test_replica_natural_sort_and_stride(src, tmp_path):
    many = fw.SourceScene(
        src.cameras * 2, np.concatenate([src.images] * 2), np.concatenate([src.depths] * 2), np.concatenate([src.labels] * 2)
    )
    fw.write_replica(many, tmp_path, split_at=12)  # Sequence_1 has rgb_0..rgb_11: "rgb_10" sorts after "rgb_9"
    sv = open_dataset(tmp_path).scenes[0]
    assert sv.frame_names[9:12] == ["Sequence_1/rgb_9", "Sequence_1/rgb_10", "Sequence_1/rgb_11"]
    assert_cameras(sv.cameras[10:12], many.cameras[10:12])
    strided = open_dataset(tmp_path, frame_stride=3).scenes[0]
    assert strided.frame_names == [
        "Sequence_1/rgb_0",
        "Sequence_1/rgb_3",
        "Sequence_1/rgb_6",
        "Sequence_1/rgb_9",
        "Sequence_2/rgb_0",
        "Sequence_2/rgb_3",
        "Sequence_2/rgb_6",
    ]


def test_scannet(src, tmp_path):
    fw.write_scannet(src, tmp_path, inf_pose=3)
    ds = open_dataset(tmp_path)
    assert ds.format == "scannet" and ds.label_set == "scannet_20"
    sv, info = ds.scenes[0], ds.infos["scene0000_00"]
    keep = [i for i in range(10) if i != 3]
    assert sv.frame_names == [str(i) for i in keep]
    assert info.dropped_frames == {"non-finite pose": 1}
    assert_cameras(sv.cameras, [src.cameras[i] for i in keep])
    for k in (0, 1, 5):
        i = keep[k]
        img = sv.images[k]
        assert img.shape == (48, 64, 3)  # colour resized to the label/depth size
        assert float((img - torch.from_numpy(src.images[i])).abs().mean()) < JPEG_MEAN_ATOL
        np.testing.assert_allclose(sv.depths[k].numpy(), src.depths[i], atol=DEPTH_ATOL)
        want = expected_labels(src.labels[i], fw.scannet_nyu_lut(src), "scannet_20")
        if i == 1:
            want[:4, :4] = IGNORE_LABEL
        np.testing.assert_array_equal(sv.labels[k].numpy(), want)
    assert dict(info.unknown_label_ids) == {fw.SCANNET_UNKNOWN_RAW: 16}
    # ceiling (NYU40 22) is not a benchmark class: ignored; wall / floor / table / cabinet keep their names
    names = sv.label_map.names
    assert [names[i] for i in (0, 1, 2, 6)] == ["wall", "floor", "cabinet", "table"]


def test_scannetpp(src, tmp_path):
    fw.write_scannetpp(src, tmp_path)
    for label_set in ("scannetpp_top100", "scannetpp_rtgs2_20"):
        ds = open_dataset(tmp_path, label_set=label_set)
        assert ds.format == "scannetpp"
        sv = ds.scenes[0]
        assert sv.frame_names == [f"DSC{i + 1:05d}.JPG" for i in range(10)]  # frames + test_frames, sorted
        assert_cameras(sv.cameras, src.cameras)  # OpenGL transform_matrix -> OpenCV
        for i in (0, 2):
            assert float((sv.images[i] - torch.from_numpy(src.images[i])).abs().mean()) < JPEG_MEAN_ATOL
            np.testing.assert_array_equal(sv.labels[i].numpy(), expected_labels(src.labels[i], fw.top100_lut(src), label_set))
        assert sv.depths is None


def test_scannetpp_labels_at_lower_resolution_resize_images(src, tmp_path):
    fw.write_scannetpp(src, tmp_path, label_scale=2)
    sv = open_dataset(tmp_path).scenes[0]
    assert_cameras(sv.cameras, [c.resized(32, 24) for c in src.cameras])
    assert sv.images[0].shape == (24, 32, 3) and sv.labels[0].shape == (24, 32)


def test_gaussian_output_rtgs2_repacked(src, tmp_path):
    fw.write_gaussian_output(src, tmp_path)
    ds = open_dataset(tmp_path, label_set="replica_rtgs2_46")
    assert ds.format == "gaussian_output"
    sv = ds.scenes[0]
    assert sv.gaussians == tmp_path / "point_cloud" / "iteration_30000" / "point_cloud.ply"
    assert read_ply(sv.gaussians).means.shape[0] == 20
    assert sv.frame_names == [f"{i}_{1 + i % 2}" for i in range(10)]  # natural order, not file order
    assert_cameras(sv.cameras, src.cameras)
    np.testing.assert_allclose(sv.images[4].numpy(), src.images[4], atol=PNG_ATOL)
    np.testing.assert_array_equal(sv.labels[4].numpy(), expected_labels(src.labels[4], fw.replica_lut(src), "replica_rtgs2_46"))


def test_gaussian_output_cameras_only(src, tmp_path):
    fw.write_gaussian_output(src, tmp_path, with_images=False, with_semantic=False)
    ds = open_dataset(tmp_path)
    sv = ds.scenes[0]
    assert len(sv) == 10 and sv.labels is None and ds.label_map is None
    with pytest.raises(FileNotFoundError, match="cameras but no images"):
        sv.images[0]


@pytest.mark.parametrize("binary", [False, True])
@pytest.mark.parametrize("model", ["PINHOLE", "SIMPLE_PINHOLE"])
def test_colmap(src, tmp_path, binary, model):
    fw.write_colmap(src, tmp_path, binary=binary, model=model)
    ds = open_dataset(tmp_path)
    assert ds.format == "colmap"
    sv = ds.scenes[0]
    assert sv.frame_names == [f"img_{i:03d}.png" for i in range(10)]
    assert_cameras(sv.cameras, src.cameras)
    np.testing.assert_allclose(sv.images[3].numpy(), src.images[3], atol=PNG_ATOL)
    pts = read_points3d(ds.infos[sv.name].init_points.parent)
    np.testing.assert_allclose(pts.xyz, fw.colmap_points_truth(src), atol=1e-9)
    assert pts.rgb.dtype == np.uint8 and pts.xyz.shape == (50, 3)


def test_init_points_colmap_and_input_ply(src, tmp_path):
    from plyfile import PlyData, PlyElement

    from rtgs2.data.readers.points import read_init_points

    fw.write_colmap(src, tmp_path / "c", binary=True)
    xyz, rgb = read_init_points(open_dataset(tmp_path / "c").infos["c"].init_points)
    np.testing.assert_allclose(xyz, fw.colmap_points_truth(src), atol=1e-9)
    assert rgb.shape == (50, 3) and rgb.dtype == np.uint8
    fw.write_gaussian_output(src, tmp_path / "g")
    pts = np.zeros(3, dtype=[(n, "f4") for n in ("x", "y", "z", "nx", "ny", "nz")] + [(n, "u1") for n in ("red", "green", "blue")])
    pts["x"], pts["red"] = [1.0, 2.0, 3.0], [10, 20, 30]
    PlyData([PlyElement.describe(pts, "vertex")]).write(str(tmp_path / "g" / "input.ply"))
    xyz, rgb = read_init_points(open_dataset(tmp_path / "g").infos["g"].init_points)
    np.testing.assert_array_equal(xyz[:, 0], [1, 2, 3])
    np.testing.assert_array_equal(rgb[:, 0], [10, 20, 30])
    with pytest.raises(ValueError, match="lacks properties"):
        read_init_points(tmp_path / "g" / "point_cloud" / "iteration_7000" / "point_cloud.ply")


def test_nerfstudio_folder_with_colmap_below_is_nerfstudio(src, tmp_path):
    fw.write_nerfstudio(src, tmp_path)
    fw.write_colmap(src, tmp_path / "colmap")  # ns-process-data keeps its COLMAP model in colmap/
    assert open_dataset(tmp_path).format == "nerfstudio"


@pytest.mark.parametrize("angle_only", [False, True])
def test_nerfstudio(src, tmp_path, angle_only):
    fw.write_nerfstudio(src, tmp_path, angle_only=angle_only)
    ds = open_dataset(tmp_path)
    assert ds.format == "nerfstudio"
    sv = ds.scenes[0]
    assert_cameras(sv.cameras, src.cameras)
    np.testing.assert_allclose(sv.images[5].numpy(), src.images[5], atol=PNG_ATOL)
    np.testing.assert_allclose(sv.depths[5].numpy(), src.depths[5], atol=DEPTH_ATOL)


def test_split_scenes_and_missing(src, tmp_path):
    for name in ("office_0", "room_2"):
        fw.write_replica(src, tmp_path, scene=name)
    ds = open_dataset(tmp_path, split_scenes="replica_rtgs2")
    assert [s.name for s in ds.scenes] == ["office_0", "room_2"]
    assert ds.scene_split == {"train": ["office_0"], "test": ["room_2"]}
    assert ds.missing_scenes["train"] == ["office_1", "office_2", "office_4", "room_0", "room_1"]
    assert [s.name for s in ds.split("test")] == ["room_2"]
