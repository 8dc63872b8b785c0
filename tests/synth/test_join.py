"""``rtgs2 synth-join``: several SynthRooms sets as one, the base's test rooms kept, nothing copied."""

import json
import shutil
from pathlib import Path

import pytest

from rtgs2.data.readers.synthrooms import DONE, LABEL_MAP, MANIFEST, open_synthrooms, scene_split
from rtgs2.synth.join import join_synthrooms
from rtgs2.utils.errors import UserError


@pytest.fixture(scope="module")
def parts(tmp_path_factory) -> list[Path]:
    """Three tiny sets of seeds 0, 1, 2 (2 rooms each: 1 train, 1 test)."""
    from rtgs2.synth.build import build_synthrooms

    base = tmp_path_factory.mktemp("parts")
    tiny = dict(progress=False, num_scenes=2, num_views=2, width=16, height=12, surface_spacing=0.3)
    return [build_synthrooms(base / f"s{seed}", "mini", seed=seed, **tiny) for seed in range(3)]


def test_join_keeps_base_tests_and_adds_train_rooms(parts, tmp_path):
    out = join_synthrooms(tmp_path / "joined", parts)
    assert scene_split(out) == {"train": ["train_000", "x_train_000", "y_train_000"], "test": ["test_000"]}
    manifest = json.loads((out / MANIFEST).read_text())
    seeds = {s["name"]: s["seed"] for s in manifest["scenes"]}
    part_seed = {p: json.loads((p / MANIFEST).read_text())["scenes"][0]["seed"] for p in parts}
    assert [seeds["train_000"], seeds["x_train_000"], seeds["y_train_000"]] == [part_seed[p] for p in parts]
    assert [(r["seed"], r["prefix"], r["train"], r["test"]) for r in manifest["joined"]] == [
        (0, "", 1, 1), (1, "x_", 1, 0), (2, "y_", 1, 0)
    ]  # fmt: skip
    # links, not copies: the scenes read back as their parts' own
    assert (out / "x_train_000").is_symlink() and (out / "x_train_000").resolve() == (parts[1] / "train_000").resolve()
    data = open_synthrooms(out)
    assert len(data) == 4
    image = (parts[2] / "train_000" / "images" / "00000.png").read_bytes()
    assert (out / "y_train_000" / "images" / "00000.png").read_bytes() == image
    # a rerun redoes the join in place; other prefixes are refused there
    assert join_synthrooms(out, parts) == out and scene_split(out)["train"][1] == "x_train_000"
    with pytest.raises(UserError, match="joins other data sets"):
        join_synthrooms(out, parts, prefixes=["p_", "q_"])


def test_join_refuses_bad_input(parts, tmp_path):
    with pytest.raises(UserError, match="at least two"):
        join_synthrooms(tmp_path / "a", parts[:1])
    with pytest.raises(UserError, match="given twice"):
        join_synthrooms(tmp_path / "a", [parts[0], parts[0]])
    with pytest.raises(UserError, match="1 prefixes for 2"):
        join_synthrooms(tmp_path / "a", parts, prefixes=["x_"])
    with pytest.raises(UserError, match="distinct"):
        join_synthrooms(tmp_path / "a", parts, prefixes=["x_", "x_"])
    joined = join_synthrooms(tmp_path / "j", parts[:2])  # holds x_train_000 already
    with pytest.raises(UserError, match="collide"):
        join_synthrooms(tmp_path / "a", [joined, parts[2]], prefixes=["x_"])
    with pytest.raises(UserError, match="not a SynthRooms data set"):
        join_synthrooms(tmp_path / "a", [parts[0], tmp_path])
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("a user's file")
    with pytest.raises(UserError, match="not empty"):
        join_synthrooms(mine, parts)
    assert (mine / "notes.txt").read_text() == "a user's file"
    assert not (tmp_path / "a").exists()  # nothing written on a refusal


def test_join_needs_finished_sets_of_one_label_map(parts, tmp_path):
    copy = shutil.copytree(parts[1], tmp_path / "s1")
    (copy / "train_000" / DONE).unlink()
    with pytest.raises(UserError, match="not finished"):
        join_synthrooms(tmp_path / "a", [parts[0], copy])
    (copy / "train_000" / DONE).write_text("")
    labels = json.loads((copy / LABEL_MAP).read_text())
    (copy / LABEL_MAP).write_text(json.dumps(labels | {"extra": 1}))
    with pytest.raises(UserError, match="differs"):
        join_synthrooms(tmp_path / "a", [parts[0], copy])


def test_cli_synth_join(parts, tmp_path, capsys):
    from rtgs2.cli import entrypoint

    entrypoint(["synth-join", "--out", str(tmp_path / "j"), *map(str, parts[:2])])
    assert "1 test scenes" in capsys.readouterr().out and scene_split(tmp_path / "j")["train"] == ["train_000", "x_train_000"]
    with pytest.raises(SystemExit) as e:
        entrypoint(["synth-join", "--out", str(tmp_path / "k"), str(parts[0])])
    assert e.value.code == 2 and "at least two" in capsys.readouterr().err
