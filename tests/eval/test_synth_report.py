"""synth-report: SynthRooms class balance, colour leakage, build cost and 3DGS fidelity."""

from __future__ import annotations

import numpy as np
import pytest

from rtgs2.eval.synth_report import (
    _class_accuracy,
    _hist_predict,
    _knn_predict,
    build_stats,
    fit_quality,
    print_report,
    synth_report,
)


def test_report_shares_and_colour_leakage(synthrooms_mini):
    r = synth_report(synthrooms_mini, k=15, pixels_per_view=300)
    assert r.pixel_share.sum() == pytest.approx(1.0)
    assert r.pixel_share[r.names.index("wall")] == r.pixel_share.max()  # rooms are mostly wall
    assert (r.pixel_share > 0).sum() >= 10
    assert r.train_pixels == 2 * 16 * 300 and r.test_pixels == 16 * 300
    # colour alone must not give the class away: no better than always answering "wall" + 10 points
    # (measured on mini, 300 pixels a view: k-NN 8.0%, histogram 12.2%, majority rate 46.2%)
    assert r.knn_accuracy < r.majority_rate + 0.10
    assert r.hist_accuracy < r.majority_rate + 0.10
    assert r.knn_class_accuracy < 0.25 and r.hist_class_accuracy < 0.25
    assert 0 < r.chance_rate < 1
    assert synth_report(synthrooms_mini, k=15, pixels_per_view=300).knn_accuracy == r.knn_accuracy  # seeded


def test_colour_classifiers_find_colour_that_gives_the_class_away():
    """Where colour does give the class away, both classifiers must find it."""
    rng = np.random.default_rng(0)
    palette = rng.random((5, 3))
    y_tr, y_te = rng.integers(0, 5, 4000), rng.integers(0, 5, 1000)
    x_tr = palette[y_tr] + rng.normal(0, 0.01, (4000, 3))
    x_te = palette[y_te] + rng.normal(0, 0.01, (1000, 3))
    assert (_knn_predict(x_tr, y_tr, x_te, 15, 5) == y_te).mean() > 0.99
    assert (_hist_predict(x_tr, y_tr, x_te, 5) == y_te).mean() > 0.95
    # colour-blind data: the histogram answers (nearly always) the majority class
    y_tr = np.where(rng.random(4000) < 0.6, 2, rng.integers(0, 5, 4000))
    pred = _hist_predict(rng.random((4000, 3)) * 0.05, y_tr, rng.random((1000, 3)) * 0.05, 5)
    assert (pred == 2).mean() > 0.95


def test_class_accuracy_is_the_mean_recall_of_present_classes():
    truth = np.array([0, 0, 0, 0, 1, 1, 3])
    pred = np.array([0, 0, 1, 1, 1, 0, 3])
    assert _class_accuracy(pred, truth, 5) == pytest.approx((0.5 + 0.5 + 1.0) / 3)


def test_build_stats_sum_the_scene_markers(synthrooms_mini):
    import json

    b = build_stats(synthrooms_mini)
    assert b.num_scenes == 3
    done = [json.loads(p.read_text()) for p in synthrooms_mini.glob("*/DONE")]
    assert b.build_s == pytest.approx(sum(d["ground_truth_s"] + d["gaussians_s"] for d in done))
    assert b.size_bytes == sum(p.stat().st_size for p in synthrooms_mini.rglob("*") if p.is_file())


def test_fit_quality_scores_the_scene_gaussians(synthrooms_mini, tmp_path):
    import shutil

    from rtgs2.scene.ply import read_ply, write_ply

    q = fit_quality(synthrooms_mini)
    assert q.names == ["train_000", "train_001", "test_000"] and q.splits == ["train", "train", "test"]
    # surface Gaussians against the ray-cast images (measured: 21.8-23.1 dB, SSIM 0.68-0.78)
    assert np.all(q.psnr > 19) and np.all((q.ssim > 0.5) & (q.ssim <= 1))
    # Gaussians moved 20 cm: the score must drop
    root = shutil.copytree(synthrooms_mini, tmp_path / "moved")
    gs = read_ply(root / "test_000" / "point_cloud.ply")
    gs.means += 0.2
    write_ply(gs, root / "test_000" / "point_cloud.ply")
    moved = fit_quality(root)
    assert moved.psnr[2] < q.psnr[2] - 3 and moved.psnr[0] == q.psnr[0]


def test_report_needs_train_and_test(tmp_path):
    from rtgs2.synth.build import build_synthrooms

    root = build_synthrooms(tmp_path / "one", progress=False, num_scenes=1, num_views=2, width=16, height=12, surface_spacing=0.3)
    with pytest.raises(ValueError, match="needs train and test scenes"):
        synth_report(root)


def test_print_report_prints_each_part(synthrooms_mini, capsys):
    print_report(synthrooms_mini, pixels_per_view=50, with_fit_quality=False)
    text = capsys.readouterr().out
    assert "15-NN on RGB" in text and "majority-class rate" in text and "build: 3 scenes" in text
    assert "3DGS held-out" not in text
    print_report(synthrooms_mini, pixels_per_view=50)
    assert "3DGS held-out views, test scenes (1)" in capsys.readouterr().out
