"""Scene splits and label sets are data files matching the published lists."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rtgs2.data.labelsets import available_label_sets, label_set_info, load_label_set
from rtgs2.data.splits import available_splits, load_split, split_info
from rtgs2.data.views import IGNORE_LABEL, every_nth_split


def test_replica_rtgs2_splits():
    train = ["office_0", "office_1", "office_2", "office_4", "room_0", "room_1"]
    assert load_split("replica_rtgs2") == {"train": train, "test": ["room_2"]}
    # a config of the RT-GS2 code also lists office_3 as a test scene: recorded separately
    assert load_split("replica_rtgs2_office3") == {"train": train, "test": ["office_3", "room_2"]}


def test_gsnerf_splits():
    rep = load_split("replica_gsnerf")
    assert rep["test"] == ["office_4", "room_2"]
    assert rep["train"] == ["office_0", "office_1", "office_2", "office_3", "room_0", "room_1"]
    sn = load_split("scannet_gsnerf")
    assert sn["test"] == ["scene0063_00", "scene0067_00", "scene0071_00", "scene0074_00", "scene0079_00",
                          "scene0086_00", "scene0200_00", "scene0211_00", "scene0226_00", "scene0376_02"]  # fmt: skip
    assert sn["train"] == [f"scene{i:04d}_00" for i in range(61)]


def test_semantic_ray_scannet_splits():
    s = load_split("scannet_semantic_ray")
    assert len(s["train"]) == 198 and len(set(s["train"])) == 198
    assert s["val"] == ["scene0200_00", "scene0226_00", "scene0211_00"]
    assert s["test"] == ["scene0160_00", "scene0204_00", "scene0211_00", "scene0217_00", "scene0218_00",
                         "scene0225_00", "scene0227_00", "scene0340_01", "scene0376_02", "scene0643_00"]  # fmt: skip
    assert not set(s["train"]) & set(s["test"])


def test_scannetpp_rtgs2_split():
    s = load_split("scannetpp_rtgs2")
    assert len(s["train"]) == 40 and len(s["test"]) == 10 and not set(s["train"]) & set(s["test"])
    assert s["train"][0] == "8b2c0938d6" and s["test"][-1] == "acd69a1746"
    assert all(len(x) == 10 and int(x, 16) >= 0 for x in s["train"] + s["test"])  # ScanNet++ ids: 10 hex digits


@pytest.mark.parametrize("name", available_splits())
def test_every_split_file_is_well_formed(name):
    info = split_info(name)
    assert info["dataset"] in ("replica", "scannet", "scannetpp") and info["source"]
    for scenes in info["splits"].values():
        assert scenes and len(set(scenes)) == len(scenes)


def test_split_from_json_path_and_errors(tmp_path):
    p = tmp_path / "mine.json"
    p.write_text(json.dumps({"train": ["a"], "test": ["b"]}))
    assert load_split(p) == {"train": ["a"], "test": ["b"]}
    with pytest.raises(ValueError, match="unknown scene split 'nope'.*replica_rtgs2"):
        load_split("nope")


def test_every_eighth_view_is_test():
    assert every_nth_split(17) == ["test" if i in (0, 8, 16) else "train" for i in range(17)]


def _ids(name: str) -> list[int]:
    """Raw ids in class order (the inverse of raw_to_label on its first occurrence)."""
    lm = load_label_set(name)
    inv = {}
    for raw, lab in sorted(lm.raw_to_label.items()):
        if lab != IGNORE_LABEL:
            inv.setdefault(lab, raw)
    return [inv[k] for k in range(lm.num_classes)]


def test_replica_label_sets():
    assert _ids("replica_rtgs2_46") == [0, 3, 7, 8, 10, 11, 12, 13, 14, 17, 18, 19, 20, 22, 23, 26, 29, 31, 34, 35, 37, 40, 44, 47,
                                        52, 54, 56, 59, 60, 61, 63, 64, 65, 76, 78, 79, 80, 82, 83, 87, 91, 92, 93, 95, 97, 98]  # fmt: skip
    lm = load_label_set("replica_rtgs2_46")
    assert lm.names[:3] == ["unlabled", "basket", "bed"] and lm.raw_to_label[1] == 0  # RT-GS2: ids outside the 46 -> class 0
    assert _ids("replica_semantic_ray_51") == [3, 7, 8, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 22, 23, 26, 29, 31, 34, 35, 37, 40, 44, 47,
                                               52, 54, 56, 59, 60, 61, 62, 63, 64, 65, 70, 71, 76, 78, 79, 80, 82, 83, 87, 88, 91, 92, 93, 95, 97, 98]  # fmt: skip
    assert _ids("replica_gsnerf_19") == [12, 17, 20, 22, 31, 37, 40, 44, 47, 56, 64, 79, 80, 87, 91, 92, 93, 95, 97]
    g = load_label_set("replica_gsnerf_19")
    assert g.raw_to_label[0] == IGNORE_LABEL and g.names[-3:] == ["wall", "wall-plug", "window"]


def test_scannet_20():
    lm = load_label_set("scannet_20")
    assert _ids("scannet_20") == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 16, 24, 28, 33, 34, 36, 39]
    assert lm.names == ["wall", "floor", "cabinet", "bed", "chair", "sofa", "table", "door", "window", "bookshelf", "picture",
                        "counter", "desk", "curtain", "refrigerator", "shower curtain", "toilet", "sink", "bathtub", "otherfurniture"]  # fmt: skip
    np.testing.assert_array_equal(lm.colors[0], [174, 199, 232])  # ScanNet benchmark palette: wall
    np.testing.assert_array_equal(lm.colors[-1], [82, 84, 163])  # otherfurniture
    assert all(lm.raw_to_label[i] == IGNORE_LABEL for i in (0, 13, 15, 40))


def test_scannetpp_label_sets():
    top = load_label_set("scannetpp_top100")
    assert top.num_classes == 100 and top.names[:6] == ["wall", "ceiling", "floor", "table", "door", "ceiling lamp"]
    assert top.names[-1] == "marker" and top.raw_to_label[255] == IGNORE_LABEL
    r20 = load_label_set("scannetpp_rtgs2_20")
    assert r20.names == ["other", "wall", "ceiling", "floor", "table", "door", "ceiling lamp", "cabinet", "blinds", "chair",
                         "storage cabinet", "bookshelf", "whiteboard", "window", "box", "window frame", "monitor", "windowsill"]  # fmt: skip
    idx = {n: i for i, n in enumerate(top.names)}
    assert r20.raw_to_label[idx["office chair"]] == r20.names.index("chair")  # merged as in the RT-GS2 code
    assert r20.raw_to_label[idx["curtain"]] == r20.names.index("other")


@pytest.mark.parametrize("name", available_label_sets())
def test_every_label_set_is_well_formed(name):
    info = label_set_info(name)
    lm = load_label_set(name)
    assert info["source"] and info["dataset"] in ("replica", "scannet", "scannetpp")
    assert len(set(lm.names)) == lm.num_classes and lm.colors.shape == (lm.num_classes, 3)
    used = {v for v in lm.raw_to_label.values() if v != IGNORE_LABEL}
    assert used == set(range(lm.num_classes))  # every class is reachable from some raw id


def test_label_set_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown label set 'nyu'"):
        load_label_set("nyu")
