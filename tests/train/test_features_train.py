"""Contrastive pre-training on SynthRooms ``mini``: it learns (loss down, held-out retrieval far
above chance), resumes exactly, refuses what it must, and DDP matches one process."""

import csv
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from rtgs2.train.config import FeatureTrainConfig

# Sized for minutes on 2 cores: a few thousand Gaussians per sample, 1 pair per step.
SHORT = FeatureTrainConfig(
    steps=100, pairs_per_step=1, lr=2e-3, warmup_steps=5, max_points=3000, subsample_grid=0.04,
    num_correspondences=512, checkpoint_every=50, eval_every=50, eval_pairs=6, overlap_min=0.2, overlap_max=0.9,
)  # fmt: skip


def _rows(out: Path) -> list[dict]:
    with open(out / "metrics.csv") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def trained(synthrooms_mini, tmp_path_factory):
    from rtgs2.train.features import train_features

    out = tmp_path_factory.mktemp("feat") / "run"
    weights = train_features(synthrooms_mini, out, SHORT, progress=False)
    return out, weights


def test_short_run_learns_correspondences(trained):
    out, weights = trained
    rows = _rows(out)
    assert [int(r["step"]) for r in rows] == list(range(1, SHORT.steps + 1))
    loss = np.array([float(r["loss"]) for r in rows])
    first, last = loss[:10].mean(), loss[-10:].mean()
    print(f"loss {first:.3f} -> {last:.3f}")
    assert last < first - 0.5, f"loss only went {first:.3f} -> {last:.3f}"
    evals = [float(r["eval_accuracy"]) for r in rows if r["eval_accuracy"]]
    chance = 1 / SHORT.num_correspondences
    print(f"held-out top-1 retrieval {evals} (chance {chance:.4f})")
    assert evals[-1] > 10 * chance
    assert weights.is_file() and (out / "weights.json").is_file() and (out / "curves.png").stat().st_size > 5000


def test_rerun_of_a_finished_run_returns_at_once(trained, synthrooms_mini, capsys):
    from rtgs2.train.features import train_features

    out, weights = trained
    before = weights.stat().st_mtime_ns
    assert train_features(synthrooms_mini, out, SHORT) == weights
    assert "already finished" in capsys.readouterr().out and weights.stat().st_mtime_ns == before


RUN = """
import sys, torch
from dataclasses import replace
torch.set_num_threads(1)
import rtgs2.train.features as tf
from rtgs2.train.config import FeatureTrainConfig
cfg = FeatureTrainConfig(**{cfg!r})
die_at = int(sys.argv[3])
real = tf.lr_at
def lr_at(c, step):
    if step == die_at:
        raise SystemExit(9)  # killed before this step
    return real(c, step)
tf.lr_at = lr_at
tf.train_features(sys.argv[1], sys.argv[2], cfg, progress=False)
"""


def test_killed_run_resumes_to_the_same_weights(synthrooms_mini, tmp_path):
    """Three fresh processes, as a user would run them: an uninterrupted run; a run killed
    before step 8 (last checkpoint: step 5); the same command again, which resumes."""
    import subprocess
    import sys
    from dataclasses import asdict

    from rtgs2.features.io import load_feature_net

    cfg = replace(SHORT, steps=12, checkpoint_every=5, eval_every=0, eval_pairs=2)
    script = RUN.format(cfg=asdict(cfg))

    def run(out, die_at):
        return subprocess.run([sys.executable, "-c", script, str(synthrooms_mini), str(out), str(die_at)]).returncode

    assert run(tmp_path / "a", 0) == 0
    assert run(tmp_path / "b", 8) == 9
    assert [int(r["step"]) for r in _rows(tmp_path / "b")][-1] == 7
    assert run(tmp_path / "b", 0) == 0
    assert [int(r["step"]) for r in _rows(tmp_path / "b")] == list(range(1, 13))  # rows after step 5 redone once
    assert [r["loss"] for r in _rows(tmp_path / "b")] == [r["loss"] for r in _rows(tmp_path / "a")]
    a = load_feature_net(tmp_path / "a" / "weights.pt").state_dict()
    b = load_feature_net(tmp_path / "b" / "weights.pt").state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_with_another_config_or_into_a_foreign_folder_is_refused(synthrooms_mini, tmp_path):
    from rtgs2.train.features import train_features
    from rtgs2.utils.errors import CheckpointMismatchError

    cfg = replace(SHORT, steps=3, checkpoint_every=1, eval_every=0, eval_pairs=1)
    train_features(synthrooms_mini, tmp_path / "r", cfg, progress=False)
    with pytest.raises(CheckpointMismatchError, match="config.lr"):
        train_features(synthrooms_mini, tmp_path / "r", replace(cfg, lr=1e-4), progress=False)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match="not a feature-training output"):
        train_features(synthrooms_mini, tmp_path / "mine", cfg, progress=False)


def test_partial_build_trains_on_its_finished_scenes(synthrooms_mini, tmp_path):
    import shutil

    from rtgs2.train.features import train_features

    data = shutil.copytree(synthrooms_mini, tmp_path / "partial")
    (data / "train_001" / "DONE").unlink()  # a build still in progress
    cfg = replace(SHORT, steps=2, checkpoint_every=1, eval_every=0, eval_pairs=1)
    with pytest.raises(ValueError, match="train_001.*not finished"):
        train_features(data, tmp_path / "all", cfg, progress=False)
    train_features(data, tmp_path / "done", cfg, progress=False, finished_only=True)
    card = json.loads((tmp_path / "done" / "weights.json").read_text())
    assert card["train_scenes"] == ["train_000"]
    assert "CPU cores" in card["machine"]  # where it trained (2 cores and a GPU box differ by hours)
    # the command on the card picks the same scenes and config on the complete data set
    assert card["reproduce"].startswith("rtgs2 train features") and card["reproduce"].endswith("--max-scenes 1")
    assert "--steps 2 " in card["reproduce"] and "--num-correspondences 512" in card["reproduce"]


def test_run_started_from_earlier_weights_continues_them(trained, synthrooms_mini, tmp_path):
    from rtgs2.features.io import load_feature_net
    from rtgs2.train.features import train_features
    from rtgs2.utils.errors import CheckpointMismatchError
    from rtgs2.utils.io import file_sha256

    _, first = trained
    cfg = replace(SHORT, steps=2, lr=1e-12, weight_decay=0.0, checkpoint_every=1, eval_every=0, eval_pairs=1)
    weights = train_features(synthrooms_mini, tmp_path / "more", cfg, progress=False, init_weights=first)
    a, b = load_feature_net(first).state_dict(), load_feature_net(weights).state_dict()
    for k in a:  # a vanishing lr: the run starts from the earlier run's weights
        torch.testing.assert_close(b[k], a[k], rtol=0, atol=1e-9)
    card = json.loads((tmp_path / "more" / "weights.json").read_text())
    assert card["init_weights"]["sha256"] == file_sha256(first) and card["init_weights"]["steps"] == SHORT.steps
    assert card["reproduce"].endswith(f"--init-weights {first}")
    fresh = train_features(synthrooms_mini, tmp_path / "fresh", cfg, progress=False)
    assert not torch.equal(load_feature_net(fresh).state_dict()["backbone.embedding.conv.weight"], b["backbone.embedding.conv.weight"])
    with pytest.raises(CheckpointMismatchError, match="init_weights"):  # resuming must not switch the start
        train_features(synthrooms_mini, tmp_path / "more", cfg, progress=False)
    with pytest.raises(ValueError, match="another config than --size paper"):
        train_features(synthrooms_mini, tmp_path / "p", replace(cfg, size="paper"), progress=False, init_weights=first)


def test_density_and_floater_augmentations_train_with_the_context_target(synthrooms_mini, tmp_path):
    """Floaters match nothing and have no context target; a short run with them trains (finite
    losses) and its card records the options."""
    from rtgs2.train.features import train_features

    cfg = replace(SHORT, steps=3, checkpoint_every=3, eval_every=0, eval_pairs=1, drop_max=0.3, floaters=0.2,
                  context_weight=1.0)  # fmt: skip
    train_features(synthrooms_mini, tmp_path / "r", cfg, progress=False)
    rows = _rows(tmp_path / "r")
    assert len(rows) >= 1 and all(np.isfinite(float(r["loss"])) for r in rows)
    card = json.loads((tmp_path / "r" / "weights.json").read_text())
    assert "--floaters 0.2" in card["reproduce"] and "--drop-max 0.3" in card["reproduce"]
