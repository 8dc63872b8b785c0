"""Fusion training on SynthRooms ``mini`` (160x120 views): it learns (loss down, the training
views overfit, held-out views far above chance), resumes bit for bit in fresh processes,
returns at once when finished, refuses what it must, and fine-tuning on another scene helps."""

import csv
import json
import platform
import subprocess
import sys
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pytest
import torch

from rtgs2.train.config import FusionTrainConfig

# One scene, the full model, crops of 96x128, no zoom / colour / cutout: what makes memorising
# the scene's 14 training views possible in 150 steps (about 50 s of one core).
OVERFIT = FusionTrainConfig(
    inputs="both", steps=150, batch_size=2, crop_height=96, crop_width=128, lr=4e-3, warmup_steps=10,
    zoom_min=1.0, zoom_max=1.0, colour_jitter=0.0, cutout=0.0, checkpoint_every=50, eval_every=75, val_scenes=1,
    num_threads=1,  # the session's numba renders (the data set build) left OpenMP at 2 threads
)  # fmt: skip


def _rows(out: Path) -> list[dict]:
    with open(out / "metrics.csv") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="session")
def feature_weights(tmp_path_factory) -> Path:
    """A randomly initialised small feature network (the shipped weights are not trained yet)."""
    from rtgs2.features.io import save_feature_net
    from rtgs2.features.ptv3 import ptv3_small

    torch.manual_seed(0)
    return save_feature_net(ptv3_small(), tmp_path_factory.mktemp("featnet") / "features.pt")


@pytest.fixture(scope="module")
def overfit(synthrooms_mini, feature_weights, tmp_path_factory):
    from rtgs2.train.fusion import train_fusion

    out = tmp_path_factory.mktemp("fusion") / "run"
    best = train_fusion(synthrooms_mini, out, OVERFIT, feature_weights=feature_weights, progress=False, max_scenes=1)
    return out, best


def test_short_run_lowers_the_loss_and_writes_weights_with_cards(overfit):
    out, best = overfit
    rows = _rows(out)
    assert [int(r["step"]) for r in rows] == list(range(1, OVERFIT.steps + 1))
    loss = np.array([float(r["loss"]) for r in rows])
    first, last = loss[:10].mean(), loss[-10:].mean()
    print(f"loss {first:.3f} -> {last:.3f}")  # measured 3.51 -> 0.91
    assert last < first - 1.5
    assert best == out / "best.pt" and best.is_file() and (out / "last.pt").is_file()
    assert (out / "curves.png").stat().st_size > 5000
    card = json.loads((out / "last.json").read_text())
    assert card["steps"] == OVERFIT.steps and card["train_scenes"] == ["train_000"]
    assert card["val"]["scenes"] == ["train_000"] and card["config"]["inputs"] == "both"
    assert card["metrics"]["val"]["miou"] == pytest.approx(float(rows[-1]["val_miou"]), abs=1e-6)
    assert "rtgs2 train fusion --data" in card["reproduce"] and "--steps 150" in card["reproduce"]
    assert Path(card["data"]).is_absolute()  # a card read elsewhere still names its data
    assert card["machine"].startswith(platform.machine()) and "CPU cores" in card["machine"]  # where it trained
    stats = card["feature_stats"]  # the training features a Segmenter compares a scene's with
    assert stats["scenes"] == 1 and len(stats["mean"]) == len(stats["std"]) == 32
    cached = np.load(out / "features" / "train_000.npz")["features"]
    assert stats["gaussians"] == len(cached)
    np.testing.assert_allclose(stats["mean"], cached.mean(0), atol=1e-5)
    np.testing.assert_allclose(stats["std"], cached.std(0), rtol=1e-4)
    best_card = json.loads((out / "best.json").read_text())
    evals = {int(r["step"]): float(r["val_miou"]) for r in rows if r["val_miou"]}
    assert sorted(evals) == [75, 150] and best_card["steps"] == max(evals, key=evals.get)


def test_training_views_are_learnt_and_held_out_views_far_above_chance(overfit, synthrooms_mini, feature_weights):
    """Pixel accuracy over the scene's 14 training views at full size, from the saved weights."""
    from rtgs2.data.readers.synthrooms import open_synthrooms
    from rtgs2.fusion import load_fusion
    from rtgs2.features.cache import FeatureCache
    from rtgs2.train.fusion_data import collate, load_fusion_scene, render_sample

    out, _ = overfit
    model = load_fusion(out / "last.pt").eval()
    cache = FeatureCache(out / "features", feature_weights)
    scene = load_fusion_scene(open_synthrooms(synthrooms_mini).train[0], cache, torch.device("cpu"))
    right = total = 0
    with torch.no_grad():
        for view in scene.train_views:
            batch = collate([render_sample(scene, view)], torch.device("cpu"), model.feature_stride)
            labelled = batch.labels != 255
            right += int((model(batch.image, batch.features).argmax(1) == batch.labels)[labelled].sum())
            total += int(labelled.sum())
    print(f"training-view pixel accuracy {right / total:.3f}")  # measured 0.894
    assert right / total > 0.8
    miou = float(_rows(out)[-1]["val_miou"])
    print(f"held-out mIoU {miou:.3f}")  # measured 0.66 (an untrained model: 0.02)
    assert miou > 0.35


def test_rerun_of_a_finished_run_returns_at_once(overfit, synthrooms_mini, feature_weights, capsys):
    from rtgs2.train.fusion import train_fusion

    out, best = overfit
    before = {p: p.stat().st_mtime_ns for p in (best, out / "last.pt")}
    assert train_fusion(synthrooms_mini, out, OVERFIT, feature_weights=feature_weights, max_scenes=1) == best
    assert "already finished" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in before} == before


def test_another_config_features_or_a_foreign_folder_are_refused(overfit, synthrooms_mini, feature_weights, tmp_path):
    from rtgs2.features.io import save_feature_net
    from rtgs2.features.ptv3 import ptv3_small
    from rtgs2.train.fusion import train_fusion
    from rtgs2.utils.errors import CheckpointMismatchError

    out, _ = overfit
    with pytest.raises(CheckpointMismatchError, match=r"config\.lr: 0\.004 -> 0\.001.*delete"):
        train_fusion(synthrooms_mini, out, replace(OVERFIT, lr=1e-3), feature_weights=feature_weights, max_scenes=1)
    torch.manual_seed(1)
    other = save_feature_net(ptv3_small(), tmp_path / "other.pt")
    with pytest.raises(CheckpointMismatchError, match="feature_weights"):
        train_fusion(synthrooms_mini, out, OVERFIT, feature_weights=other, max_scenes=1)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match="not a fusion-training output"):
        train_fusion(synthrooms_mini, tmp_path / "mine", OVERFIT, feature_weights=feature_weights)
    with pytest.raises(FileNotFoundError, match="--feature-weights"):
        train_fusion(synthrooms_mini, tmp_path / "new", OVERFIT, feature_weights=tmp_path / "absent.pt")


def test_finetune_on_an_unseen_scene_raises_its_held_out_miou(overfit, synthrooms_mini, feature_weights, tmp_path):
    """The overfit model has seen train_000 only; 40 steps on test_000's training views."""
    from rtgs2.train.finetune import FINETUNE, finetune

    out, _ = overfit
    cfg = replace(FINETUNE, batch_size=2, crop_height=96, crop_width=128, lr=2e-3, checkpoint_every=20, num_threads=1)
    last = finetune(synthrooms_mini / "test_000", out / "last.pt", 40, tmp_path / "ft", cfg=cfg,
                    feature_weights=feature_weights, progress=False)  # fmt: skip
    card = json.loads(last.with_suffix(".json").read_text())
    before, after = card["metrics"]["val_before"], card["metrics"]["val"]
    print(f"test_000 held-out mIoU {before['miou']:.3f} -> {after['miou']:.3f}, "
          f"pixel accuracy {before['oacc']:.3f} -> {after['oacc']:.3f}")  # fmt: skip
    # measured: mIoU 0.125 -> 0.208, pixel accuracy 0.345 -> 0.745
    assert after["miou"] > before["miou"] + 0.03 and after["oacc"] > before["oacc"] + 0.2
    rows = _rows(tmp_path / "ft")
    assert int(rows[0]["step"]) == 0 and int(rows[-1]["step"]) == 40 and not (tmp_path / "ft" / "best.pt").exists()
    loss = [float(r["loss"]) for r in rows[1:]]
    assert np.mean(loss[-10:]) < np.mean(loss[:10])


def test_training_can_continue_a_trained_model(overfit, synthrooms_mini, feature_weights, tmp_path):
    """--init-weights: the run starts from the saved model (its step-0 validation is that model's,
    far above a new one's) and names it on the card; another architecture is refused up front."""
    from rtgs2.fusion.io import load_fusion
    from rtgs2.train.fusion import train_fusion
    from rtgs2.utils.errors import CheckpointMismatchError

    out, _ = overfit
    cfg = replace(OVERFIT, steps=4, eval_every=4, checkpoint_every=4)
    train_fusion(synthrooms_mini, tmp_path / "on", cfg, feature_weights=feature_weights, max_scenes=1,
                 init_weights=out / "last.pt", progress=False)  # fmt: skip
    first = _rows(tmp_path / "on")[0]
    trained = [r for r in _rows(out) if r["val_miou"]][-1]
    assert int(first["step"]) == 0 and float(first["val_miou"]) == pytest.approx(float(trained["val_miou"]), abs=1e-6)
    card = json.loads((tmp_path / "on" / "last.json").read_text())
    assert card["init_weights"] and "--init-weights" in card["reproduce"]
    with pytest.raises(CheckpointMismatchError, match="inputs: file has 'both', --inputs is 'image'"):
        train_fusion(synthrooms_mini, tmp_path / "img", replace(cfg, inputs="image"), init_weights=out / "last.pt")
    with pytest.raises(CheckpointMismatchError, match="depth head: the file has none"):
        train_fusion(synthrooms_mini, tmp_path / "d", replace(cfg, depth_weight=0.1), init_weights=out / "last.pt")
    with pytest.raises(FileNotFoundError, match="init weights .* not found"):
        train_fusion(synthrooms_mini, tmp_path / "x", cfg, feature_weights=feature_weights, init_weights=tmp_path / "no.pt")
    # a small model's weights start a fast one (its first blocks per stage), taught by the small one's logits;
    # a fast one cannot start a small one
    taught = replace(cfg, size="fast", distill_weights=str(out / "last.pt"))
    train_fusion(synthrooms_mini, tmp_path / "fast", taught, feature_weights=feature_weights,
                 max_scenes=1, init_weights=out / "last.pt", progress=False)  # fmt: skip
    fast = json.loads((tmp_path / "fast" / "last.json").read_text())
    assert fast["config"]["size"] == "fast" and "--size fast" in fast["reproduce"]
    assert f"--distill-weights {out / 'last.pt'}" in fast["reproduce"]
    assert all(float(r["distill"]) > 0 for r in _rows(tmp_path / "fast")[1:])  # the KL to the teacher, logged
    with pytest.raises(CheckpointMismatchError, match="the teacher reads Z .* an image-only training renders none"):
        train_fusion(synthrooms_mini, tmp_path / "t", replace(taught, size="small", inputs="image"))
    assert int(_rows(tmp_path / "fast")[0]["step"]) == 0  # the started model is validated first
    with pytest.raises(CheckpointMismatchError, match="missing .*vd.layer3.1"):
        train_fusion(synthrooms_mini, tmp_path / "s", cfg, init_weights=tmp_path / "fast" / "last.pt")
    # a model reading Z at stride 4 starts one reading it at stride 8 (the same parameters), not one at stride 1
    train_fusion(synthrooms_mini, tmp_path / "z8", replace(cfg, feature_stride=8), feature_weights=feature_weights,
                 max_scenes=1, init_weights=out / "last.pt", progress=False)  # fmt: skip
    z8 = json.loads((tmp_path / "z8" / "last.json").read_text())
    assert z8["config"]["feature_stride"] == 8 and "--feature-stride 8" in z8["reproduce"]
    assert load_fusion(tmp_path / "z8" / "last.pt").feature_stride == 8
    with pytest.raises(CheckpointMismatchError, match="feature_stride: file has 4, --feature-stride is 1"):
        train_fusion(synthrooms_mini, tmp_path / "z1", replace(cfg, feature_stride=1), init_weights=out / "last.pt")


def test_a_late_fusion_run_trains_both_heads_and_its_weights_continue_only_late_runs(synthrooms_mini, feature_weights, tmp_path):
    from rtgs2.fusion.io import load_fusion
    from rtgs2.fusion.vdvi import build_fusion
    from rtgs2.train.fusion import train_fusion
    from rtgs2.utils.errors import CheckpointMismatchError

    cfg = replace(OVERFIT, fusion="late", steps=4, eval_every=4, checkpoint_every=4)
    train_fusion(synthrooms_mini, tmp_path / "late", cfg, feature_weights=feature_weights, max_scenes=1, progress=False)
    card = json.loads((tmp_path / "late" / "last.json").read_text())
    assert card["model"] == "rtgs2.fusion.vdvi small, inputs=both, late fusion" and "--fusion late" in card["reproduce"]
    model = load_fusion(tmp_path / "late" / "last.pt")
    assert model.fusion == "late" and card["metrics"]["val"]["miou"] > 0
    torch.manual_seed(cfg.seed)  # both heads moved away from their seeded initialisation
    start = build_fusion("small", "both", fusion="late", num_classes=model.num_classes).state_dict()
    for head in ("image_head.classifier.weight", "decode_head.classifier.weight"):
        assert not torch.equal(model.state_dict()[head], start[head]), head
    rows = _rows(tmp_path / "late")
    assert all(float(r["ce"]) > 0 for r in rows)  # the sum of the two heads' cross-entropies
    with pytest.raises(CheckpointMismatchError, match="fusion: file has 'late', --fusion is 'mid'"):
        train_fusion(synthrooms_mini, tmp_path / "mid", replace(cfg, fusion="mid"), init_weights=tmp_path / "late" / "last.pt")


RUN = """
import sys, torch
torch.set_num_threads(1)
import rtgs2.train.fusion as tf
from rtgs2.train.config import FusionTrainConfig
cfg = FusionTrainConfig(**{cfg!r})
die_at = int(sys.argv[4])
real = tf.lr_at
def lr_at(c, step):
    if step == die_at:
        raise SystemExit(9)  # killed before this step
    return real(c, step)
tf.lr_at = lr_at
tf.train_fusion(sys.argv[1], sys.argv[2], cfg, feature_weights=sys.argv[3], progress=False, max_scenes=1)
"""


def test_killed_run_resumes_to_the_same_bytes(synthrooms_mini, feature_weights, tmp_path):
    """Three fresh processes, as a user would run them: an uninterrupted run; a run killed
    before step 6 (last checkpoint: step 3); the same command again, which resumes. All
    augmentations on, so every random draw must be retraced."""
    cfg = FusionTrainConfig(
        steps=8, batch_size=2, crop_height=48, crop_width=64, warmup_steps=2, checkpoint_every=3, eval_every=4,
        val_scenes=1, num_threads=1,
    )  # fmt: skip
    script = RUN.format(cfg=asdict(cfg))

    def run(out: Path, die_at: int) -> int:
        args = [sys.executable, "-c", script, str(synthrooms_mini), str(out), str(feature_weights), str(die_at)]
        return subprocess.run(args, timeout=300).returncode

    assert run(tmp_path / "a", 0) == 0
    assert run(tmp_path / "b", 6) == 9
    assert [int(r["step"]) for r in _rows(tmp_path / "b")][-1] == 5
    assert run(tmp_path / "b", 0) == 0
    a, b = _rows(tmp_path / "a"), _rows(tmp_path / "b")
    assert [int(r["step"]) for r in b] == list(range(1, 9))  # rows after step 3 redone once
    assert [(r["loss"], r["val_miou"]) for r in a] == [(r["loss"], r["val_miou"]) for r in b]
    for name in ("last.pt", "best.pt"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
