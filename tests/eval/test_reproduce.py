"""rtgs2 reproduce: every step of the mini preset runs, the table has the paper's rows, a rerun
skips finished steps, and a folder of another preset or another tool is refused."""

import json

import pytest

from rtgs2.eval import reproduce as rep
from rtgs2.utils.errors import UserError


@pytest.fixture
def cache(tmp_path, monkeypatch, synthrooms_mini):
    """A fresh cache whose SynthRooms mini is the session's build (the data step then only checks it)."""
    monkeypatch.setenv("RTGS2_CACHE", str(tmp_path / "cache"))
    (tmp_path / "cache" / "synthrooms").mkdir(parents=True)
    (tmp_path / "cache" / "synthrooms" / "mini").symlink_to(synthrooms_mini)
    return tmp_path / "cache"


def test_reproduce_mini_runs_every_step_and_resumes(cache, monkeypatch, capsys):
    table = rep.reproduce("mini", num_threads=1)
    out = cache / "reproduce" / "mini"
    assert table == out / "results.md"
    text = table.read_text()
    for row in ("| full ", "| image only ", "| Z only ", "| fine-tuned ", "| lifted (3D labels) "):
        assert row in text
    state = json.loads((out / rep.MARKER).read_text())
    assert list(state["done"]) == rep.step_names()
    results = json.loads((out / "eval" / "results.json").read_text())
    assert set(results["rows"]) == {"full", "image only", "Z only", "fine-tuned"}
    for row in results["rows"].values():
        assert 0.0 <= row["miou"] <= 1.0
    assert "step 6/6 eval" in capsys.readouterr().out

    def fail(*args, **kwargs):
        raise AssertionError("a finished step ran again")

    monkeypatch.setattr(rep, "_run_step", fail)
    assert rep.reproduce("mini") == table  # every step recorded done: nothing runs


def test_reproduce_refuses_other_preset_folder_and_unknown_preset(tmp_path):
    out = tmp_path / "r"
    out.mkdir()
    (out / rep.MARKER).write_text(json.dumps({"preset": "v1", "done": {}}))
    with pytest.raises(ValueError, match="reproduces preset 'v1'"):
        rep.reproduce("mini", out)
    with pytest.raises(ValueError, match="unknown reproduce preset"):
        rep.reproduce("v9", tmp_path / "x")
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    with pytest.raises(ValueError):
        rep.reproduce("mini", busy)
    assert (busy / "notes.txt").read_text() == "mine"


def test_sharded_build_gives_the_same_data_set(tmp_path):
    """--build-jobs 2: two shard processes, their scenes moved into one root, byte-identical to
    a plain build (the manifest and label map are those of the plain build too)."""
    from rtgs2.synth.build import build_synthrooms

    data = tmp_path / "sharded" / "mini"
    rep._build_shards(data, "mini", 2)
    build_synthrooms(data, "mini", progress=False)
    plain = build_synthrooms(tmp_path / "plain" / "mini", "mini", progress=False)
    files = lambda r: {str(p.relative_to(r)): p.read_bytes() for p in sorted(r.rglob("*")) if p.is_file() and p.name != "DONE"}  # noqa: E731
    a, b = files(data), files(plain)
    assert sorted(a) == sorted(b) and all(a[k] == b[k] for k in a)
    assert not list((tmp_path / "sharded").glob("mini.shard*of2"))  # shard roots removed (their logs stay)


def test_a_step_whose_preset_config_changed_is_redone_with_the_steps_that_read_it(tmp_path, monkeypatch, capsys):
    """A state written by older code (the preset's whole config, no per-step config) whose fusion
    recipe differs from today's: data and features stay done, the fusion trainings and the eval
    run again, each old training folder kept aside (its checkpoints are of the old recipe); a
    second run then finds everything done."""
    from dataclasses import asdict, replace

    mini = rep.PRESETS["mini"]
    old = json.loads(json.dumps(asdict(replace(mini, fusion=replace(mini.fusion, lr=mini.fusion.lr / 10)))))
    out = tmp_path / "r"
    out.mkdir()
    done = {name: {"seconds": 1.0} for name in rep.step_names()}
    (out / rep.MARKER).write_text(json.dumps({"preset": "mini", "config": old, "done": done}))
    (out / "fusion-both").mkdir()
    (out / "fusion-both" / "last.pt").write_text("old run")
    (out / "features").mkdir()
    ran = []

    def run_step(name, p, out_dir, *args):
        ran.append(name)
        if name == "eval":
            (out_dir / "eval").mkdir(parents=True, exist_ok=True)
            (out_dir / "eval" / "results.md").write_text("table\n")

    monkeypatch.setattr(rep, "_run_step", run_step)
    rep.reproduce("mini", out)
    assert ran == ["fusion-both", "fusion-image", "fusion-features", "eval"]
    printed = capsys.readouterr().out
    assert "fusion-both config changed since it ran; redoing fusion-both, eval" in printed
    assert "fusion-image config changed since it ran; redoing fusion-image\n" in printed
    assert (out / "fusion-both.old-1" / "last.pt").read_text() == "old run" and not (out / "fusion-both").exists()
    assert (out / "features").is_dir()  # not redone: left where it is
    ran.clear()
    rep.reproduce("mini", out)
    assert ran == []


def test_a_continued_preset_runs_its_base_chain_first_and_starts_each_training_from_it(cache, monkeypatch):
    """A preset with ``base`` (as v3 continues v2): the base chain lands beside it and is reused,
    the feature training and each fusion variant start from their counterparts there (the cards
    name them), and the finished chain is a table."""
    from dataclasses import replace

    monkeypatch.setitem(rep.PRESETS, "mini-continued", replace(rep.PRESETS["mini"], base="mini"))
    table = rep.reproduce("mini-continued", num_threads=1)
    out, base = cache / "reproduce" / "mini-continued", cache / "reproduce" / "mini"
    assert (base / "results.md").is_file() and table == out / "results.md"
    state = json.loads((out / rep.MARKER).read_text())
    assert list(state["done"]) == ["base", *rep.step_names()]
    card = json.loads((out / "features" / "weights.json").read_text())
    assert card["init_weights"]["path"] == str(base / "features" / "weights.pt")
    for variant in rep.INPUT_VARIANTS:
        card = json.loads((out / f"fusion-{variant}" / "best.json").read_text())
        assert card["init_weights"] == str(base / f"fusion-{variant}" / "best.pt")
    assert rep.step_names(rep.PRESETS["v3"])[0] == "base" and rep.PRESETS["v3"].base == "v2"


def test_a_preset_on_more_rooms_takes_the_bases_features_and_trains_each_variant_anew(cache, monkeypatch):
    """As v3x3 continues v3: the base chain first, then a further build of the data joined to it
    (its train rooms prefixed x_, the base's test rooms kept), the base's feature weights as they
    are, each fusion variant from scratch on the join, and the image-only and Z-only models joined
    as the late-fusion full row (psi's model beside it)."""
    from dataclasses import replace
    from typing import get_args, get_type_hints

    from rtgs2.cli.reproduce import Reproduce

    assert set(get_args(get_type_hints(Reproduce)["preset"])) == set(rep.PRESETS)  # every preset a choice of the CLI
    mini = rep.PRESETS["mini"]
    more = replace(mini, base="mini", features=None, fusion_from_base=False, extra_seeds=(1,), extra_scenes=2, late_fusion=True)
    monkeypatch.setitem(rep.PRESETS, "mini-more", more)
    rep.reproduce("mini-more", num_threads=1)
    out, base = cache / "reproduce" / "mini-more", cache / "reproduce" / "mini"
    data = rep.data_root(more)
    assert data.name == "mini_seeds_0_1" and rep.extra_roots(more) == [cache / "synthrooms" / "mini_seed1"]
    manifest = json.loads((data / "synthrooms.json").read_text())
    names = [s["name"] for s in manifest["scenes"] if s["split"] == "train"]
    assert names == ["train_000", "train_001", "x_train_000"]
    assert [s["name"] for s in manifest["scenes"] if s["split"] == "test"] == ["test_000"]
    assert (out / "features" / "weights.pt").read_bytes() == (base / "features" / "weights.pt").read_bytes()
    for variant in rep.INPUT_VARIANTS:
        card = json.loads((out / f"fusion-{variant}" / "best.json").read_text())
        assert card["init_weights"] is None and "x_train_000" in card["train_scenes"]
    assert (out / "results.md").is_file() and rep.step_names(more)[-2:] == [rep.LATE, "eval"]
    joined = json.loads((out / rep.LATE / "best.json").read_text())
    assert joined["joined"]["image"]["weights"] == str(out / "fusion-image" / "best.pt")
    results = json.loads((out / "eval" / "results.json").read_text())
    assert set(results["rows"]) == {"full", "image only", "Z only", "full, mid fusion", "fine-tuned"}
    assert results["rows"]["full"]["weights"] == str(out / rep.LATE / "best.pt")
    # a changed recipe redoes the variants, the join (which reads two of them) and the table
    ran = []

    def run_step(name, p, out_dir, *args):
        ran.append(name)
        (out_dir / "eval").mkdir(exist_ok=True)
        (out_dir / "eval" / "results.md").write_text("new table\n")

    monkeypatch.setattr(rep, "_run_step", run_step)
    monkeypatch.setitem(rep.PRESETS, "mini-more", replace(more, fusion=replace(more.fusion, hue_rotation=30.0)))
    assert rep._step_identity(rep.PRESETS["mini-more"], rep.LATE) == {"late_fusion": True}
    rep.reproduce("mini-more", num_threads=1)
    assert ran == ["fusion-both", "fusion-image", "fusion-features", rep.LATE, "eval"]
    monkeypatch.setitem(rep.PRESETS, "no-base", replace(mini, features=None))
    with pytest.raises(UserError, match="names none"):
        rep.reproduce("no-base")
    v3x3 = rep.PRESETS["v3x3"]
    assert v3x3.base == "v3" and v3x3.features is None and not v3x3.fusion_from_base and v3x3.extra_seeds == (1, 2)
    assert v3x3.late_fusion and rep.LATE in rep.step_names(v3x3)


def test_options_added_after_a_chain_ran_do_not_redo_it_at_their_defaults(tmp_path, monkeypatch):
    """A finished chain recorded by code from before a training option existed (the record lacks
    it) or from after it (the record has its default) is done: nothing runs. Z dropout at another
    value in the preset is a changed recipe of the full model: it and the table run again, the
    image-only and Z-only models (which drop nothing) stay."""
    from dataclasses import replace

    from rtgs2.train.config import LATER_OPTIONS, FeatureTrainConfig, FusionTrainConfig

    mini = rep.PRESETS["mini"]

    def older(done: dict) -> None:
        for name in ("features", "fusion-both"):  # recorded before the later options existed
            kind = FeatureTrainConfig if name == "features" else FusionTrainConfig
            done[name]["config"] = {k: v for k, v in done[name]["config"].items() if k not in LATER_OPTIONS[kind]}

    out, ran = _finished_mini_chain(tmp_path, monkeypatch, older)
    rep.reproduce("mini", out)
    assert ran == []
    monkeypatch.setitem(rep.PRESETS, "mini", replace(mini, fusion=replace(mini.fusion, feature_dropout=0.3)))
    rep.reproduce("mini", out)
    assert ran == ["fusion-both", "eval"]


def test_a_continued_chain_is_not_redone_for_its_bases_eta_and_refuses_its_bases_folder(tmp_path, monkeypatch):
    """The base step's record is what each of the base's steps depends on: a new ETA estimate of
    the base changes nothing; a changed base recipe redoes the base and this chain after it. An
    --out that is the base's own folder is refused."""
    from dataclasses import replace

    mini = rep.PRESETS["mini"]
    monkeypatch.setitem(rep.PRESETS, "mini-continued", replace(mini, base="mini"))
    cont = rep.PRESETS["mini-continued"]
    before = rep._step_identity(cont, "base")
    monkeypatch.setitem(rep.PRESETS, "mini", replace(mini, minutes={**mini.minutes, "eval": 99}))
    assert rep._step_identity(cont, "base") == before
    monkeypatch.setitem(rep.PRESETS, "mini", replace(mini, fusion=replace(mini.fusion, lr=mini.fusion.lr / 2)))
    assert rep._step_identity(cont, "base") != before
    with pytest.raises(ValueError, match="keeps the chain it continues"):
        rep.reproduce("mini-continued", tmp_path / "mini")


def test_a_new_fine_tuning_recipe_redoes_the_table_and_keeps_the_old_one_aside(tmp_path, monkeypatch):
    """The fine-tuned row follows the code's fine-tuning recipe (FINETUNE), which no preset holds:
    a finished chain recorded with another one (or by code from before it was recorded) redoes the
    evaluation alone, its old folder (fine-tuning checkpoints of the old recipe) kept aside."""
    from dataclasses import replace

    out, ran = _finished_mini_chain(tmp_path, monkeypatch)
    rep.reproduce("mini", out)
    assert ran == []  # recorded with today's recipe: done
    monkeypatch.setattr(rep, "FINETUNE", replace(rep.FINETUNE, lr=rep.FINETUNE.lr / 5))
    rep.reproduce("mini", out)
    assert ran == ["eval"]
    assert (out / "eval.old-1" / "results.md").read_text() == "old table\n"
    assert (out / "results.md").read_text() == "new table\n"


def _finished_mini_chain(tmp_path, monkeypatch, edit_record=None):
    """A finished ``mini`` chain in ``tmp_path / "r"``: each step recorded with today's identity
    (then ``edit_record(done)``), eval/results.md "old table"; the steps monkeypatched to append
    their name to the returned list, the eval writing "new table". Returns (out, ran)."""
    mini = rep.PRESETS["mini"]
    out = tmp_path / "r"
    out.mkdir()
    done = {name: {"seconds": 1.0, "config": rep._step_identity(mini, name)} for name in rep.step_names()}
    if edit_record is not None:
        edit_record(done)
    (out / rep.MARKER).write_text(json.dumps({"preset": "mini", "config": rep._preset_json(mini), "done": done}))
    (out / "eval").mkdir()
    (out / "eval" / "results.md").write_text("old table\n")
    ran = []

    def run_step(name, p, out_dir, *args):
        ran.append(name)
        (out_dir / "eval").mkdir(parents=True, exist_ok=True)
        (out_dir / "eval" / "results.md").write_text("new table\n")

    monkeypatch.setattr(rep, "_run_step", run_step)
    return out, ran
