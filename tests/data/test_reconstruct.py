"""``rtgs2 recon`` glue: a SceneViews (built here) to a fitted, written reconstruction."""

import subprocess
import sys
from dataclasses import replace

import pytest
import torch

from rtgs2.data import SceneViews
from rtgs2.data.reconstruct import recon_scene
from rtgs2.render import render
from rtgs2.scene import read_cameras_json, read_ply

from tests.recon.known_scene import FAST, KnownScene, make_known_scene


@pytest.fixture(scope="module")
def known() -> KnownScene:
    return make_known_scene()


NUM_VIEWS = 10  # views 0 and 8 are held out (every 8th)


def _views(known, with_depth: bool = True) -> SceneViews:
    cams, imgs = known.train_cams[:NUM_VIEWS], known.train_imgs[:NUM_VIEWS]
    depths = None
    if with_depth:
        with torch.no_grad():
            depths = [render(known.scene, c, backend="reference").depth for c in cams]
    return SceneViews("known", cams, imgs, depths=depths)


def test_recon_scene_fits_train_views_from_depth(known, tmp_path):
    views = _views(known)
    cfg = replace(FAST, iterations=10)
    scene = recon_scene(views, tmp_path, cfg, max_init_points=200, progress=False)
    assert scene.num_gaussians == 200  # no densification in 10 steps: the initial points
    assert read_ply(tmp_path / "point_cloud" / "iteration_10" / "point_cloud.ply").num_gaussians == 200
    assert len(read_cameras_json(tmp_path / "cameras.json")) == NUM_VIEWS - 2  # test views held out


def test_recon_scene_without_depth_or_sfm_points(known, tmp_path):
    with pytest.raises(ValueError, match="no depth maps and no SfM point file"):
        recon_scene(_views(known, with_depth=False), tmp_path, FAST, progress=False)
    with pytest.raises(ValueError, match="init='sfm' but the reader found no SfM point file"):
        recon_scene(_views(known, with_depth=False), tmp_path, FAST, init="sfm", progress=False)


def test_cli_help_lists_recon_options():
    out = subprocess.run(
        [sys.executable, "-m", "rtgs2.cli", "recon", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for flag in ("--data", "--out", "--iterations", "--densify-grad-threshold", "--init"):
        assert flag in out


def test_run_recon_on_a_synthrooms_folder(tmp_path):
    """The CLI's path: open_dataset -> train views -> depth init -> fit -> INRIA layout."""
    from rtgs2.synth.build import build_synthrooms
    from rtgs2.data.reconstruct import run_recon

    root = build_synthrooms(tmp_path / "sr", "mini", progress=False, num_scenes=2, num_views=9, width=40, height=30)
    cfg = replace(FAST, iterations=5, checkpoint_every=5)
    outs = run_recon(root, tmp_path / "out", cfg, max_init_points=300, progress=False)
    assert len(outs) == 2 and all(o.parent == tmp_path / "out" for o in outs)
    for o in outs:
        assert read_ply(o / "point_cloud" / "iteration_5" / "point_cloud.ply").num_gaussians == 300
        assert len(read_cameras_json(o / "cameras.json")) == 7  # views 0 and 8 of 9 are held out
    with pytest.raises(ValueError, match="no scene 'nope'"):
        run_recon(root, tmp_path / "out", cfg, scene="nope", progress=False)


def test_run_recon_checks_and_locks_its_output(tmp_path):
    from rtgs2.data.reconstruct import run_recon
    from rtgs2.synth.build import build_synthrooms
    from rtgs2.utils.errors import LockHeldError
    from rtgs2.utils.lock import OutputLock

    root = build_synthrooms(tmp_path / "sr", "mini", progress=False, num_scenes=2, num_views=9, width=40, height=30)
    cfg = replace(FAST, iterations=2, checkpoint_every=2)
    busy = tmp_path / "busy"
    with OutputLock(busy, "another recon"):  # a live holder (this process)
        with pytest.raises(LockHeldError, match="another recon"):
            run_recon(root, busy, cfg, scene="train_000", max_init_points=50, progress=False)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    for o in (foreign, foreign / "notes.txt"):
        with pytest.raises(ValueError, match="not an rtgs2 recon output|not a folder|not this data set"):
            run_recon(root, o, cfg, max_init_points=50, progress=False)
    assert sorted(p.name for p in foreign.iterdir()) == ["notes.txt"]
