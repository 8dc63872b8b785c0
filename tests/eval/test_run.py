"""``rtgs2 eval`` on the SynthRooms mini data set with two tiny random fusion models (the full
model and the image-only one): the table's shape, its numbers against a direct count, classes
matched by name, the fine-tuned row, the lifted labels, and bad input as one line."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from rtgs2.data.readers.synthrooms import CLASS_NAMES, synthrooms_label_map
from rtgs2.data.views import IGNORE_LABEL
from rtgs2.eval.config import EvalConfig
from rtgs2.eval.metrics import lpips_available
from rtgs2.eval.models import match_classes
from rtgs2.eval.run import evaluate
from rtgs2.eval.scenes import scene_gaussians
from rtgs2.eval.table import LIFTED, markdown
from rtgs2.fusion import build_fusion, save_fusion
from rtgs2.utils.errors import Rtgs2Error
from tests.cli.test_errors import one_line_error

FAST = EvalConfig(fps_frames=3, fps_warmup=1, lift=True)  # the FPS is only checked to be positive here
BARE = EvalConfig(fps_frames=1, fps_warmup=0, figure_views=0)
SCORES = ("miou", "macc", "oacc", "view_consistency")


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """rtgs2's cache (extracted features) in a temporary folder, for the whole module."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RTGS2_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    """Tiny random fusion models over the SynthRooms classes, by inputs."""
    folder = tmp_path_factory.mktemp("models")
    paths = {}
    for inputs in ("both", "image"):
        torch.manual_seed(0)
        paths[inputs] = folder / f"{inputs}.pt"
        save_fusion(build_fusion("small", inputs, num_classes=len(CLASS_NAMES), class_names=list(CLASS_NAMES)), paths[inputs])
    return paths


@pytest.fixture(scope="module")
def scored(synthrooms_mini, models, cache, tmp_path_factory) -> tuple[Path, dict]:
    """The output folder and results of both models on the mini set's test scene, labels lifted."""
    out = tmp_path_factory.mktemp("eval") / "out"
    return out, evaluate(synthrooms_mini, out, [models["both"], models["image"]], config=FAST, progress=False)


def test_table_and_json_have_the_papers_rows_and_columns(scored):
    out, results = scored
    assert list(results["rows"]) == ["full", "image only"] and list(results["scenes"]) == ["test_000"]
    assert results["scenes"]["test_000"] == {"views": 2, "width": 160, "height": 120}  # views 0 and 8 of 16
    on_disk = json.loads((out / "results.json").read_text())
    assert on_disk["rows"].keys() == results["rows"].keys()
    for row in on_disk["rows"].values():
        assert {"miou", "macc", "oacc", "psnr", "ssim", "lpips", "fps", "view_consistency"} <= row.keys()
        assert row["per_class"].keys() == set(CLASS_NAMES) and all("iou" in c for c in row["per_class"].values())
        assert {"miou", "view_consistency", "fps"} <= row["scenes"]["test_000"].keys()
    md = (out / "results.md").read_text()
    header = "| model | mIoU | mAcc | oAcc | PSNR | SSIM | LPIPS | FPS | view consistency |"
    assert header in md and "\n| full | " in md and "\n| image only | " in md
    figure = np.asarray(Image.open(out / "figures" / "test_000.png"))
    assert figure.shape[0] > 2 * 120 and figure.shape[1] >= 6 * 160  # 2 views; image, truth, 2 x (prediction, errors)


def test_numbers_are_in_range_and_lpips_is_never_made_up(scored):
    _, results = scored
    for row in results["rows"].values():
        assert all(0 <= row[k] <= 1 for k in SCORES), row
        assert row["psnr"] > 10 and 0 < row["ssim"] <= 1 and row["fps"] > 0
        assert row["network_scale"] == 1  # mini's views are below 640x480: read whole
    # the same Gaussians render the same image for both rows
    assert results["rows"]["full"]["psnr"] == results["rows"]["image only"]["psnr"]
    assert results["ground_truth_view_consistency"] > 0.9  # the ceiling (exact ray-cast labels and depth)
    if not lpips_available()[0]:
        assert results["rows"]["full"]["lpips"] is None and results["lpips_unavailable"]
        assert "LPIPS: n/a" in (scored[0] / "results.md").read_text()


def test_lifted_labels_are_scored_in_2d_and_on_the_gaussians(scored):
    out, results = scored
    lift, full = results["lift"], results["rows"]["full"]
    assert lift["row"] == "full" and list(lift["scenes"]) == ["test_000"]
    scene = lift["scenes"]["test_000"]
    assert scene["lift_views"] == 14 and scene["views"]["views"] == 2  # lifted from the training views, scored on 0 and 8
    pooled = ("miou", "macc", "oacc", "view_consistency", "view_consistency_per_view", "agreement")
    assert all(0 <= lift[k] <= 1 for k in pooled), lift
    # One scene: pooled and per-scene numbers are the same; the per-view predictions are the full row's.
    assert lift["miou"] == pytest.approx(scene["views"]["miou_lifted"], abs=1e-12)
    assert scene["views"]["miou_per_view"] == pytest.approx(full["miou"], abs=1e-12)
    assert lift["consistency_gain"] == pytest.approx(lift["view_consistency"] - lift["view_consistency_per_view"], abs=1e-12)
    # SynthRooms: the room gives the Gaussians' true classes.
    g = lift["gaussians"]
    assert g == scene["gaussians"] and g["median_truth_distance_m"] < 0.02  # Gaussians on the surfaces
    assert all(0 <= g[k] <= 1 for k in g if k != "median_truth_distance_m"), g
    assert 0.5 < g["labelled"] < 1  # 14 views from inside see most, not all, surfaces
    md = (out / "results.md").read_text()
    cells = [_pct(lift[k]) for k in ("miou", "macc", "oacc")] + ["-"] * 4 + [_pct(lift["view_consistency"])]
    assert f"\n| {LIFTED} | " + " | ".join(cells) + " |" in md
    assert "## Labels on the Gaussians (%)" in md
    assert f"\n| all | {_pct(g['accuracy'])} | {_pct(g['miou'])} | " in md


def _pct(x: float) -> str:
    """A fraction as results.md shows it."""
    return f"{100 * x:.1f}"


def test_lifted_table_without_a_room_has_no_3d_scores(scored):
    """Other data sets than SynthRooms have no room: their 3D columns say "-", consistency is still there."""
    results = copy.deepcopy(scored[1])
    results["lift"]["gaussians"] = results["lift"]["scenes"]["test_000"]["gaussians"] = None
    table = markdown(results).split("## Labels on the Gaussians (%)")[1]
    line = next(ln for ln in table.splitlines() if ln.startswith("| test_000 |"))
    assert line.split(" | ")[1:8] == ["-"] * 7 and _pct(results["lift"]["view_consistency_per_view"]) in line


def test_scores_match_a_direct_count(scored, synthrooms_mini, models):
    """mIoU and oAcc of the image-only row recomputed from the labels themselves (uncovered pixels wrong)."""
    from rtgs2.data import open_dataset
    from rtgs2.pipeline.segmenter import Segmenter

    views = open_dataset(synthrooms_mini).scene("test_000")
    seg = Segmenter.from_files(views.gaussians, models["image"])
    preds, gts = [], []
    for i in views.indices("test"):
        preds.append(seg.segment(views.cameras[i]).labels.numpy().ravel())
        gts.append(views.labels[i].numpy().ravel())
    p, t = np.concatenate(preds), np.concatenate(gts)
    p, t = p[t != IGNORE_LABEL], t[t != IGNORE_LABEL]
    iou = [np.sum((p == k) & (t == k)) / np.sum((p == k) | (t == k)) for k in np.unique(t)]
    row = scored[1]["rows"]["image only"]
    assert row["oacc"] == pytest.approx(np.mean(p == t), abs=1e-12)
    assert row["miou"] == pytest.approx(np.mean(iou), abs=1e-12)


def _label_set(path: Path, rename: dict[str, str], drop: tuple[str, ...] = ()) -> Path:
    """A label-set JSON for SynthRooms' labels with classes renamed and dropped."""
    base = synthrooms_label_map()
    keep = [k for k, n in enumerate(base.names) if n not in drop]
    data = {
        "names": [rename.get(base.names[k], base.names[k]) for k in keep],
        "colors": base.colors[keep].tolist(),
        "raw_to_label": {str(k): j for j, k in enumerate(keep)},
    }
    path.write_text(json.dumps(data))
    return path


def test_classes_are_matched_by_name(synthrooms_mini, models, cache, scored, tmp_path):
    """A label set that renames chair to seat and drops clutter: seat is listed as not scored, and
    neither chair nor clutter has ground truth any more; the Gaussians given as one .ply."""
    scene = synthrooms_mini / "test_000"
    ls = _label_set(tmp_path / "ls.json", {"chair": "seat"}, drop=("clutter",))
    results = evaluate(
        scene, tmp_path / "out", [models["image"]], label_set=ls, gaussians=scene / "point_cloud.ply", config=BARE,
        progress=False,
    )  # fmt: skip
    row, before = results["rows"]["image only"], scored[1]["rows"]["image only"]
    assert row["ignored_classes"] == ["seat"] and set(row["absent_classes"]) == {"chair", "clutter"}
    assert before["per_class"]["chair"]["iou"] is not None and before["per_class"]["clutter"]["iou"] is not None
    assert row["per_class"]["chair"]["iou"] is None and row["per_class"]["clutter"]["iou"] is None
    md = (tmp_path / "out" / "results.md").read_text()
    assert "Not scored (data classes the model does not know): image only: seat" in md
    assert results["lift"] is None and LIFTED not in md and "Labels on the Gaussians" not in md  # not asked for

    foreign = _label_set(tmp_path / "x.json", {n: f"x{n}" for n in CLASS_NAMES})
    with pytest.raises(Rtgs2Error, match="shares no class name"):
        evaluate(scene, tmp_path / "o2", [models["image"]], label_set=foreign, config=BARE, progress=False)
    assert not (tmp_path / "o2").exists()


def test_finetune_steps_add_a_fine_tuned_row(synthrooms_mini, models, cache, tmp_path):
    config = EvalConfig(fps_frames=1, fps_warmup=0, figure_views=0, finetune_steps=2)
    results = evaluate(synthrooms_mini, tmp_path / "out", [models["image"]], config=config, progress=False)
    assert list(results["rows"]) == ["image only", "fine-tuned"]
    last = tmp_path / "out" / "finetune" / "test_000" / "last.pt"
    assert last.is_file() and results["rows"]["fine-tuned"]["scenes"]["test_000"]["weights"] == str(last)
    assert all(0 <= results["rows"]["fine-tuned"][k] <= 1 for k in SCORES)
    again = evaluate(synthrooms_mini, tmp_path / "out", [models["image"]], config=config, progress=False)
    assert again["rows"]["fine-tuned"]["miou"] == results["rows"]["fine-tuned"]["miou"]  # its own folder: reused


def test_network_scale_must_be_auto_or_a_positive_integer():
    assert EvalConfig(network_scale=2).network_scale == 2
    for bad in (0, -1, "half", 1.5, True):
        with pytest.raises(ValueError, match="network_scale"):
            EvalConfig(network_scale=bad)


def test_class_names_match_up_to_case_and_separators():
    lut, ignored, absent = match_classes(["Wall", "tv_monitor", "bed"], ["wall", "tv-monitor", "sink"])
    assert lut[:3].tolist() == [0, 1, IGNORE_LABEL] and ignored == ["sink"] and absent == ["bed"]


def test_gaussians_by_scene_name(synthrooms_mini, tmp_path):
    from rtgs2.data import open_dataset

    scenes = open_dataset(synthrooms_mini).scenes
    for s in scenes:
        shutil.copy(s.gaussians, tmp_path / f"{s.name}.ply")
    assert scene_gaussians(scenes, tmp_path) == {s.name: tmp_path / f"{s.name}.ply" for s in scenes}
    with pytest.raises(ValueError, match="holds one scene, but 3 scenes"):
        scene_gaussians(scenes, tmp_path / "test_000.ply")
    (tmp_path / "train_000.ply").unlink()
    with pytest.raises(FileNotFoundError, match=r"no Gaussians for scenes \['train_000'\]"):
        scene_gaussians(scenes, tmp_path)


def test_nothing_of_the_users_is_overwritten(synthrooms_mini, models, tmp_path):
    (tmp_path / "file").write_text("mine")
    with pytest.raises(ValueError, match="exists and is not a folder"):
        evaluate(synthrooms_mini, tmp_path / "file", [models["image"]], config=BARE, progress=False)
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="is not empty and is not an rtgs2 eval output"):
        evaluate(synthrooms_mini, tmp_path / "folder", [models["image"]], config=BARE, progress=False)
    assert (tmp_path / "file").read_text() == "mine" and sorted(p.name for p in (tmp_path / "folder").iterdir()) == ["notes.txt"]


@pytest.mark.parametrize(
    "args, named",
    [
        (["--data", "{data}", "--out", "{tmp}/file", "--weights", "{image}"], "{tmp}/file"),
        (["--data", "/nonexistent", "--out", "{tmp}/o", "--weights", "{image}"], "/nonexistent"),
        (["--data", "{tmp}", "--out", "{tmp}/o", "--weights", "{image}"], "matches no known data set format"),
        (["--data", "{data}", "--out", "{tmp}/o", "--weights", "{tmp}/no.pt"], "{tmp}/no.pt"),
        (["--data", "{data}", "--out", "{tmp}/o"], "pass a fusion model with --weights"),
        (["--data", "{data}", "--out", "{tmp}/o", "--weights", "{image}", "--label-set", "{tmp}/x.json"], "shares no class name"),
        (["--data", "{data}", "--out", "{tmp}/o", "--weights", "{image}", "--names", "a", "--names", "b"], "--names must"),
        (["--data", "{data}", "--out", "{tmp}/o", "--fps-frames", "0"], "--fps-frames"),
    ],
)
def test_cli_bad_input_is_one_line(args, named, synthrooms_mini, models, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("rtgs2.fusion.io.SHIPPED", tmp_path / "shipped.pt")  # not trained yet
    (tmp_path / "file").write_text("not an output folder")
    _label_set(tmp_path / "x.json", {n: f"x{n}" for n in CLASS_NAMES})
    fill = {"tmp": tmp_path, "data": synthrooms_mini, "image": models["image"]}
    line = one_line_error(["eval", *(a.format(**fill) for a in args)], capsys)
    assert line.startswith("rtgs2 eval: ") and named.format(**fill) in line


def test_help_loads_no_torch():
    code = (
        "import sys\nfrom rtgs2 import cli\ntry:\n    cli.entrypoint(['eval', '--help'])\nexcept SystemExit as e:\n"
        "    assert e.code == 0\nassert 'torch' not in sys.modules"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "--finetune-steps" in out.stdout and "--label-set" in out.stdout and "--lift" in out.stdout


def test_results_name_the_command_that_gives_them(scored):
    import shlex

    from rtgs2 import cli

    args = ["eval", "--data", "d ir", "--out", "o", "--weights", "a.pt", "--weights", "b.pt", "--lift", "--fps-frames", "7"]
    command = cli.parse(args).command()
    assert command.startswith("rtgs2 eval --data 'd ir' --out o --weights a.pt --weights b.pt")
    assert cli.parse(shlex.split(command)[1:]) == cli.parse(args)  # the recorded command parses back to the same run
    _, results = scored
    assert markdown({**results, "command": command, "commit": "abc"}).count(f"Made by `{command}`") == 1


def test_a_scene_out_of_the_models_feature_distribution_is_scored_with_its_fallback(synthrooms_mini, models, cache, tmp_path):
    """A card whose training features lie far from the scene's and that names the image-only model:
    the full row is that model's labels, and results.md / results.json say where; without the
    fallback the row is the model's own."""
    from dataclasses import replace

    from rtgs2.fusion.shift import FeatureStats

    weights = tmp_path / "both.pt"
    shutil.copy(models["both"], weights)
    shutil.copy(models["image"], tmp_path / "image.pt")
    far = FeatureStats(mean=(10.0,) * 32, std=(1.0,) * 32, scenes=1, gaussians=1)  # unit features lie ~10 std-devs off
    weights.with_suffix(".json").write_text(json.dumps({"feature_stats": far.to_json(), "image_fallback": "image.pt"}))
    both = evaluate(synthrooms_mini, tmp_path / "fb", [weights, models["image"]], config=BARE, progress=False)
    full, image = both["rows"]["full"], both["rows"]["image only"]
    assert full["miou"] == image["miou"] and full["scenes"]["test_000"]["network"].endswith("image-only fallback")
    assert full["scenes"]["test_000"]["feature_shift"]["offset"] > 5 and "image-only model image.pt" in full["scenes"]["test_000"]["fallback"]
    assert "Image-only fallback" in (tmp_path / "fb" / "results.md").read_text()
    with pytest.warns(UserWarning, match="may be poor"):
        own = evaluate(synthrooms_mini, tmp_path / "own", [weights], config=replace(BARE, image_fallback=False), progress=False)
    assert own["rows"]["full"]["miou"] != image["miou"] and "fallback" not in own["rows"]["full"]["scenes"]["test_000"]["network"]
    assert "Image-only fallback" not in (tmp_path / "own" / "results.md").read_text()
