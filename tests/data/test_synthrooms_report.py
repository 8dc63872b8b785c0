"""SynthRooms class balance / colour-leakage report, and the synth CLI subcommands."""

from __future__ import annotations

import numpy as np
import pytest
import tyro

from rtgs2.cli import Command
from rtgs2.data.synthrooms.dataset import is_synthrooms
from rtgs2.data.synthrooms.report import synth_report


def test_report_shares_and_colour_leakage(synthrooms_mini):
    r = synth_report(synthrooms_mini, k=15, pixels_per_view=300)
    assert r.pixel_share.sum() == pytest.approx(1.0)
    assert r.pixel_share[r.names.index("wall")] == r.pixel_share.max()  # rooms are mostly wall
    assert (r.pixel_share > 0).sum() >= 10
    assert r.train_pixels == 2 * 16 * 300 and r.test_pixels == 16 * 300
    # colour alone must not give the class away: no better than always answering "wall" + 10 points
    # (measured on mini: 23.8% vs a 33.8% majority rate)
    assert r.knn_accuracy < r.majority_rate + 0.10
    assert 0 < r.chance_rate < 1
    assert synth_report(synthrooms_mini, k=15, pixels_per_view=300).knn_accuracy == r.knn_accuracy  # seeded


def test_report_needs_train_and_test(tmp_path):
    from rtgs2.data.synthrooms.build import build_synthrooms

    root = build_synthrooms(tmp_path / "one", progress=False, num_scenes=1, num_views=2, width=16, height=12, surface_spacing=0.3)
    with pytest.raises(ValueError, match="needs train and test scenes"):
        synth_report(root)


def test_cli_synth_and_report(tmp_path, capsys):
    out = tmp_path / "cli"
    args = ["synth", "--out", str(out), "--scenes", "2", "--views", "2", "--size", "24", "18", "--seed", "5"]
    tyro.cli(Command, args=args).main()
    assert is_synthrooms(out)
    from PIL import Image

    assert np.asarray(Image.open(out / "test_000" / "images" / "00001.png")).shape == (18, 24, 3)
    tyro.cli(Command, args=["synth-report", "--data", str(out), "--pixels-per-view", "50"]).main()
    text = capsys.readouterr().out
    assert "colour-only 15-NN" in text and "majority-class rate" in text
    with pytest.raises(SystemExit, match="unknown SynthRooms preset"):
        tyro.cli(Command, args=["synth", "--out", str(tmp_path / "z"), "--preset", "nope"]).main()
    with pytest.raises(SystemExit, match="num_views must be a positive integer"):
        tyro.cli(Command, args=["synth", "--out", str(tmp_path / "z"), "--views", "-1"]).main()
    assert not (tmp_path / "z").exists()
