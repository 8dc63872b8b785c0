"""The auxiliary geometric-context objective of the feature pre-training: off by default (the
paper's loss unchanged), a positive term with gradients into the network when on, targets that
follow the scale augmentation, and a short run on SynthRooms ``mini`` that resumes exactly."""

import csv
import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from rtgs2.features.context import CONTEXT_NAMES, geometric_context, metric_columns
from rtgs2.features.contrastive import matched_rows, point_info_nce
from rtgs2.features.inputs import GaussianArrays
from rtgs2.features.ptv3 import ptv3_small
from rtgs2.train.config import FeatureTrainConfig
from rtgs2.train.feature_pairs import PairScene, augmentation, pair_samples, sample_scale
from rtgs2.train.features import context_head, identity_config, pair_loss, pair_objective

CFG = FeatureTrainConfig(num_correspondences=10_000)  # every match: no random pick


def _setup(context_weight: float = 0.0):
    g = np.random.default_rng(0)
    n = 900
    arrays = GaussianArrays(
        (g.random((n, 3)) * [3, 3, 2]).astype(np.float32), g.random((n, 3)).astype(np.float32),
        g.normal(-4.5, 0.5, (n, 3)).astype(np.float32), g.random(n).astype(np.float32), np.arange(n),
    )  # fmt: skip
    scene = PairScene("s", arrays, [], np.zeros((0, 2), np.int64), context=geometric_context(arrays.xyz, arrays.colour))
    cfg = replace(CFG, context_weight=context_weight)
    augment = augmentation(replace(cfg, subsample_grid=0.01, max_points=10_000))
    scene.visible = [np.arange(0, 700), np.arange(300, 900)]
    pair = pair_samples(scene, (0, 1), augment, np.random.default_rng(1))
    torch.manual_seed(0)
    model = ptv3_small(grid_size=0.25, drop_path=0.0, shuffle_orders=False).eval()
    return model, pair, scene, context_head([scene], cfg, model.cfg.out_channels)


def test_off_by_default_the_loss_is_the_papers_infonce():
    assert FeatureTrainConfig().context_weight == 0.0
    assert "context_weight" not in identity_config(CFG)  # runs from before the option still resume
    assert identity_config(replace(CFG, context_weight=0.5))["context_weight"] == 0.5
    with pytest.raises(ValueError, match="context_weight must be non-negative"):
        FeatureTrainConfig(context_weight=-1.0)
    model, pair, scene, head = _setup()
    with torch.no_grad():
        base, acc = pair_loss(model, [pair], CFG, np.random.default_rng(0))
        given = pair_objective(model, [pair], CFG, np.random.default_rng(0), [scene], head)  # a head, weight 0: unused
        a, b = pair
        coord = torch.from_numpy(np.concatenate([a.xyz, b.xyz]))
        feat = model(coord, torch.from_numpy(np.concatenate([a.inputs(), b.inputs()])), torch.tensor([len(a.ids), len(a.ids) + len(b.ids)]))
    ra, rb = matched_rows(torch.from_numpy(a.ids), torch.from_numpy(b.ids))
    nce, nce_acc = point_info_nce(feat[: len(a.ids)][ra], feat[len(a.ids) :][rb], CFG.temperature)
    assert float(base) == float(nce) and acc == float(nce_acc)
    assert float(given.loss) == float(base) and given.accuracy == acc and given.context is None


def test_on_it_adds_a_positive_term_with_gradients_into_the_network():
    model, pair, scene, head = _setup(0.5)
    cfg = replace(CFG, context_weight=0.5)
    base = pair_objective(model, [pair], CFG, np.random.default_rng(0), [scene])
    both = pair_objective(model, [pair], cfg, np.random.default_rng(0), [scene], head)
    assert both.context > 0.05
    torch.testing.assert_close(both.loss - base.loss, torch.tensor(0.5 * both.context), rtol=1e-4, atol=1e-6)
    (both.loss - base.loss).backward()  # the context term alone
    grads = {n: p.grad for n, p in model.named_parameters()}
    moved = [n for n, g in grads.items() if g is not None and float(g.abs().max()) > 0]
    assert len(moved) > 0.9 * len(grads), f"no gradient in {sorted(set(grads) - set(moved))[:5]}"
    assert float(head.linear.weight.grad.abs().max()) > 0
    with pytest.raises(ValueError, match="needs a context head"):
        pair_objective(model, [pair], cfg, np.random.default_rng(0), [scene])
    with pytest.raises(ValueError, match="needs each pair's scene"):
        pair_loss(model, [pair], cfg, np.random.default_rng(0), head=head)


def test_targets_follow_the_scale_augmentation_not_the_colour_jitter():
    model, pair, scene, head = _setup(0.5)
    for sample in pair:
        f = sample_scale(sample, scene.arrays)
        # rotation about z keeps z: the scale is the ratio of heights
        np.testing.assert_allclose(sample.xyz[:, 2], f * scene.arrays.xyz[sample.ids, 2], rtol=1e-5, atol=1e-6)
        assert 0.6 <= f <= 1.2 and not np.allclose(sample.colour, scene.arrays.colour[sample.ids])
    metric = metric_columns()
    context = scene.context[pair[0].ids]
    want = (np.where(metric, 1.7 * context, context) - head.mean.numpy()) / head.std.numpy()
    torch.testing.assert_close(head.target(context, 1.7), torch.from_numpy(want.astype(np.float32)), rtol=1e-5, atol=1e-5)
    # standardised over the scene: zero mean, unit std per column (unscaled)
    t = head.target(scene.context, 1.0)
    torch.testing.assert_close(t.mean(0), torch.zeros(len(CONTEXT_NAMES)), rtol=0, atol=1e-4)
    torch.testing.assert_close(t.std(0, unbiased=False), torch.ones(len(CONTEXT_NAMES)), rtol=0, atol=1e-3)


# A run sized for seconds per step on 2 cores (as tests/train/test_features_train.py).
SHORT = FeatureTrainConfig(
    steps=8, pairs_per_step=1, lr=2e-3, warmup_steps=2, max_points=3000, subsample_grid=0.04, num_correspondences=512,
    checkpoint_every=4, eval_every=0, eval_pairs=2, overlap_min=0.2, overlap_max=0.9, context_weight=0.5,
)  # fmt: skip


class _Killed(Exception):
    pass


def test_short_run_with_context_trains_and_resumes_to_the_same_weights(synthrooms_mini, tmp_path, monkeypatch):
    import rtgs2.train.features as tf
    from rtgs2.features.io import load_feature_net

    def rows(out):
        with open(out / "metrics.csv") as f:
            return list(csv.DictReader(f))

    weights = tf.train_features(synthrooms_mini, tmp_path / "a", SHORT, progress=False)
    real = tf.lr_at

    def lr_at(c, step):
        if step == 7:
            raise _Killed  # killed before step 7: the last checkpoint is step 4's
        return real(c, step)

    monkeypatch.setattr(tf, "lr_at", lr_at)
    with pytest.raises(_Killed):
        tf.train_features(synthrooms_mini, tmp_path / "b", SHORT, progress=False)
    monkeypatch.setattr(tf, "lr_at", real)
    saved = torch.load(sorted((tmp_path / "b" / "checkpoints").glob("*.pt"))[-1], weights_only=False)
    assert set(saved["state"]["context_head"]) == {"linear.weight", "linear.bias", "mean", "std", "metric"}
    resumed = tf.train_features(synthrooms_mini, tmp_path / "b", SHORT, progress=False)

    a, b = rows(tmp_path / "a"), rows(tmp_path / "b")
    assert [int(r["step"]) for r in b] == list(range(1, 9))
    assert [(r["loss"], r["context_loss"]) for r in a] == [(r["loss"], r["context_loss"]) for r in b]
    assert all(float(r["context_loss"]) > 0 for r in a) and a[-1]["eval_context_loss"]
    wa, wb = load_feature_net(weights).state_dict(), load_feature_net(resumed).state_dict()
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not any("context" in k for k in wa)  # the head is not shipped
    card = json.loads((tmp_path / "a" / "weights.json").read_text())
    assert card["config"]["context_weight"] == 0.5 and card["metrics"]["held_out_context_loss"] > 0
    assert "--context-weight 0.5" in card["reproduce"]
    assert (tmp_path / "a" / "visibility" / "train_000.context.npz").is_file()


def _ddp_worker(rank: int, init: str, out: str) -> None:
    import torch.distributed as dist

    from rtgs2.train.features import _average_gradients

    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=2)
    torch.set_num_threads(1)
    model, pairs, scene, head = _two_pairs()
    net = torch.nn.parallel.DistributedDataParallel(model)
    cfg = replace(CFG, context_weight=0.5)
    pair_objective(net, [pairs[rank]], cfg, np.random.default_rng(rank), [scene], head).loss.backward()
    _average_gradients(head, 2)  # what the training does beside DDP
    if rank == 0:
        params = [*net.module.named_parameters(), *(("head." + n, p) for n, p in head.named_parameters())]
        torch.save({n: p.grad for n, p in params}, out)
    dist.barrier()  # no rank tears the group down while another still writes (gloo aborted there now and then)
    dist.destroy_process_group()


def _two_pairs():
    model, pair, scene, head = _setup(0.5)
    augment = augmentation(replace(CFG, subsample_grid=0.01, max_points=10_000))
    return model, [pair, pair_samples(scene, (1, 0), augment, np.random.default_rng(2))], scene, head


def test_two_gloo_processes_match_one_with_the_context_head(tmp_path):
    """DDP averages the network's gradients; the training averages the head's beside it."""
    import torch.multiprocessing as mp

    torch.set_num_threads(1)
    model, pairs, scene, head = _two_pairs()
    cfg = replace(CFG, context_weight=0.5)
    losses = [pair_objective(model, [p], cfg, np.random.default_rng(r), [scene], head).loss for r, p in enumerate(pairs)]
    torch.stack(losses).mean().backward()
    out = tmp_path / "grads.pt"
    mp.spawn(_ddp_worker, args=(f"file://{tmp_path / 'pg'}", str(out)), nprocs=2, join=True)
    ddp = torch.load(out)
    params = [*model.named_parameters(), *(("head." + n, p) for n, p in head.named_parameters())]
    for n, p in params:
        torch.testing.assert_close(ddp[n], p.grad, atol=1e-6, rtol=1e-4, msg=n)  # as tests/train/test_features_ddp.py


def test_scene_context_is_cached_under_the_scenes_stamp(tmp_path, monkeypatch):
    import rtgs2.train.feature_pairs as fp

    _, _, scene, _ = _setup()
    path = tmp_path / "cache" / "s.context.npz"
    stamp = np.array([1, 2, 3], np.int64)
    first = fp.scene_context(scene.arrays, stamp, path)
    np.testing.assert_array_equal(first, scene.context)
    calls = []
    monkeypatch.setattr(fp, "geometric_context", lambda *a: calls.append(1) or first + 1)
    np.testing.assert_array_equal(fp.scene_context(scene.arrays, stamp, path), first)  # read back
    assert calls == []
    np.testing.assert_array_equal(fp.scene_context(scene.arrays, stamp + 1, path), first + 1)  # the file changed
    assert calls == [1]
