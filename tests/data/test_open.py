"""``open_dataset`` and the one reader interface every format shares."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from rtgs2.data import OpenedDataset, SceneViews, open_dataset
from rtgs2.data.labelsets import load_label_set
from rtgs2.data.open import READERS
from rtgs2.data.readers import colmap, nerfstudio
from rtgs2.data.readers.base import SceneReader
from rtgs2.data.readers.common import SceneInfo
from tests.data import fixture_writers as fw


@pytest.fixture(scope="module")
def src() -> fw.SourceScene:
    return fw.make_source(num_views=4)


def test_every_format_is_one_scene_reader():
    names = [r.name for r in READERS]
    assert all(isinstance(r, SceneReader) for r in READERS)
    assert sorted(names) == ["colmap", "gaussian_output", "nerfstudio", "replica", "scannet", "scannetpp", "synthrooms"]


@pytest.mark.parametrize(("module", "write"), [(colmap, fw.write_colmap), (nerfstudio, fw.write_nerfstudio)])
def test_label_free_readers_read_one_scene_like_the_others(src, tmp_path, module, write):
    scene = write(src, tmp_path / "scene")
    assert module.READER.is_scene(scene) and module.READER.find_scenes(tmp_path) == [scene]
    views, info = module.READER.read(scene, None, 2)
    assert isinstance(views, SceneViews) and isinstance(info, SceneInfo) and len(views) == 2
    with pytest.raises(ValueError, match="has no labels"):
        module.READER.read(scene, load_label_set("replica_rtgs2_46"), 1)


def test_open_dataset_returns_an_opened_dataset(src, tmp_path):
    fw.write_replica(src, tmp_path, split_at=2)
    ds = open_dataset(tmp_path)
    assert isinstance(ds, OpenedDataset) and ds.format == "replica" and ds.label_set == "replica_rtgs2_46"


def test_one_synthrooms_scene_folder_opens_with_the_data_sets_label_map(synthrooms_mini):
    whole = open_dataset(synthrooms_mini)
    assert [s.name for s in whole.scenes] == ["train_000", "train_001", "test_000"]  # train first, as the manifest
    one = open_dataset(synthrooms_mini / "test_000")
    assert one.format == "synthrooms" and [s.name for s in one.scenes] == ["test_000"] and one.scene_split == {}
    assert one.label_map.names == whole.label_map.names and one.scenes[0].label_map.names == whole.label_map.names


def test_an_import_error_inside_a_reader_is_not_unknown_format():
    """A reader module that fails to import must fail loudly, not look like "no such format"."""
    code = (
        "import sys; sys.modules['rtgs2.data.readers.synthrooms'] = None\n"
        "try:\n    import rtgs2.data.open\nexcept ImportError as e:\n    print('ImportError', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ImportError") and "rtgs2.data.readers.synthrooms" in out.stdout


@pytest.mark.parametrize("stride", [0, -2, 1.5, True])
def test_frame_stride_must_be_a_positive_integer(src, tmp_path, synthrooms_mini, stride):
    fw.write_replica(src, tmp_path, split_at=2)
    for folder in (tmp_path, synthrooms_mini):
        with pytest.raises(ValueError, match=f"frame_stride must be a positive integer.*got {stride!r}"):
            open_dataset(folder, frame_stride=stride)


def test_synthrooms_honours_the_frame_stride_and_keeps_the_built_split(synthrooms_mini):
    full, every3 = open_dataset(synthrooms_mini), open_dataset(synthrooms_mini, frame_stride=3)
    for a, b in zip(full.scenes, every3.scenes):
        assert len(a) == 16 and len(b) == 6
        assert b.frame_names == ["00000", "00003", "00006", "00009", "00012", "00015"]
        assert b.split == [a.split[k] for k in range(0, 16, 3)] == ["test"] + ["train"] * 5  # 0 held out, as built
        assert (b.cameras[2].world_to_cam == a.cameras[6].world_to_cam).all()
        assert torch.equal(b.images[2], a.images[6]) and torch.equal(b.depths[5], a.depths[15])
