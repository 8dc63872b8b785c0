"""Extraction over a whole scene, the `rtgs2 features` path, on the real donut (random weights:
the shipped ones are checked separately)."""

import numpy as np
import pytest
import torch
from plyfile import PlyData

from rtgs2.features.extract import extract_features
from rtgs2.features.inputs import SceneFrame
from rtgs2.features.io import load_feature_net, save_feature_net
from rtgs2.features.ptv3 import ptv3_small
from rtgs2.scene import read_ply


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    torch.manual_seed(0)
    return save_feature_net(ptv3_small(), tmp_path_factory.mktemp("w") / "w.pt", card={"note": "random"})


def test_features_command_on_the_donut(donut_path, weights, tmp_path, capsys):
    from rtgs2.features.cli_run import run_features

    out = tmp_path / "donut_f.ply"
    run_features(donut_path, out, weights, preview=tmp_path / "p.png")
    printed = capsys.readouterr().out
    assert "far from room-sized" in printed and "45624 Gaussians" in printed
    src, dst = PlyData.read(str(donut_path))["vertex"].data, PlyData.read(str(out))["vertex"].data
    for name in src.dtype.names:  # every property of the input, unchanged
        assert np.array_equal(src[name], dst[name]), name
    feats = read_ply(out).features
    assert feats.shape == (45624, 32)
    torch.testing.assert_close(feats.norm(dim=1), torch.ones(45624), atol=1e-5, rtol=0)
    # Locally varying: the spread of features over the donut is far from a constant vector.
    assert float(feats.std(0).sum()) > 0.5
    assert (tmp_path / "p.png").stat().st_size > 10_000


def test_bad_outputs_and_weights_are_refused(donut_path, weights, tmp_path):
    from rtgs2.features.cli_run import run_features
    from rtgs2.features.ptv3 import ptv3_paper

    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match="must be a .ply"):
        run_features(donut_path, tmp_path / "notes.txt", weights)
    with pytest.raises(ValueError, match="is the input"):
        run_features(donut_path, donut_path, weights)
    torch.save({"format": "rtgs2-features-1", "config": ptv3_paper().cfg.to_json(),
                "state_dict": load_feature_net(weights).state_dict()}, tmp_path / "mixed.pt")  # fmt: skip
    with pytest.raises(ValueError, match="do not fit the 'paper' network"):
        load_feature_net(tmp_path / "mixed.pt")
    with pytest.raises(FileNotFoundError, match="no feature weights file"):
        load_feature_net(tmp_path / "none.pt")
    assert (tmp_path / "notes.txt").read_text() == "x"


def test_slabs_agree_with_one_pass(donut_path, weights):
    """A scene cut into slabs (context around each) gives the features of one pass, except
    close to the cuts."""
    scene = read_ply(donut_path)
    model = load_feature_net(weights)
    frame = SceneFrame(metres_per_unit=30.0)
    whole = extract_features(scene, model, frame=frame)
    sliced = extract_features(scene, model, frame=frame, max_points_per_pass=20_000)
    cos = (whole * sliced).sum(1)
    assert float(cos.mean()) > 0.95


def _blob(n: int, spread: float):
    from rtgs2.scene import GaussianScene

    g = torch.Generator().manual_seed(n)
    means = torch.randn(n, 3, generator=g) * spread
    return GaussianScene(means, torch.randn(n, 4, generator=g), torch.full((n, 3), -3.0), torch.zeros(n), torch.rand(n, 1, 3, generator=g))


def test_degenerate_scenes_get_features_or_a_clear_error(weights):
    """Fewer Gaussians than an attention patch, and all of them in one voxel: every Gaussian still
    gets a unit feature; a scene with no extent at all is refused."""
    model = load_feature_net(weights)
    tiny = extract_features(_blob(5, 1.0), model, frame=SceneFrame())
    one_voxel = extract_features(_blob(300, 1e-4), model, frame=SceneFrame())
    for feats, n in ((tiny, 5), (one_voxel, 300)):
        assert feats.shape == (n, 32) and torch.isfinite(feats).all()
        torch.testing.assert_close(feats.norm(dim=1), torch.ones(n), atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="one point"):
        extract_features(_blob(300, 0.0), model)


def test_outputs_are_checked_before_the_work(donut_path, weights, tmp_path):
    from rtgs2.features.cli_run import run_features

    mine = tmp_path / "mine.ply"
    mine.write_bytes(donut_path.read_bytes())  # a user's .ply without features
    with pytest.raises(ValueError, match="not an earlier rtgs2 features output"):
        run_features(donut_path, mine, weights)
    picture = tmp_path / "mine.png"
    picture.write_bytes(b"\x89PNG a user's picture")
    out = tmp_path / "out.ply"
    with pytest.raises(ValueError, match="not written by rtgs2 features"):
        run_features(donut_path, out, weights, preview=picture)
    with pytest.raises(ValueError, match="cannot write preview"):  # its folder is a file
        run_features(donut_path, out, weights, preview=tmp_path / "mine.ply" / "p.png")
    with pytest.raises(ValueError, match="cannot write output"):
        run_features(donut_path, tmp_path / "mine.png" / "o.ply", weights)
    assert not out.exists() and mine.read_bytes() == donut_path.read_bytes()
    assert picture.read_bytes() == b"\x89PNG a user's picture"
    # an earlier output and its preview may be replaced by a rerun
    run_features(donut_path, out, weights, preview=tmp_path / "p.png")
    run_features(donut_path, out, weights, preview=tmp_path / "p.png")
    assert read_ply(out).features.shape == (45624, 32)
