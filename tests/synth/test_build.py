"""SynthRooms data sets: layout on disk, opening, determinism, resume and bad input."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from rtgs2.data.open import open_dataset

from rtgs2.data.readers.synthrooms import CLASS_NAMES, DONE, MANIFEST, is_synthrooms, open_synthrooms, read_depth
from rtgs2.data.views import IGNORE_LABEL, SceneViews
from rtgs2.scene import read_ply
from rtgs2.synth.build import build_synthrooms, discs_first, scene_list
from rtgs2.synth.config import PRESETS, default_root, preset_config

TINY = dict(num_scenes=2, num_views=3, width=40, height=30, surface_spacing=0.2)  # seconds to build


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_mini_layout_and_views(synthrooms_mini):
    ds = open_synthrooms(synthrooms_mini)
    cfg = PRESETS["mini"]
    assert [s.name for s in ds.train] == ["train_000", "train_001"] and [s.name for s in ds.test] == ["test_000"]
    assert len(ds) == 3 and list(ds) == ds.train + ds.test
    assert ds.label_map.names == list(CLASS_NAMES)
    seeds = {s["split"]: set() for s in ds.manifest["scenes"]}
    for s in ds.manifest["scenes"]:
        seeds[s["split"]].add(s["seed"])
    assert not seeds["train"] & seeds["test"]
    for sv in ds:
        assert isinstance(sv, SceneViews) and len(sv) == cfg.num_views
        assert sv.indices("test") == [0, 8]  # every 8th view held out
        expected = ["images", "labels", "depth", "instances", "cameras.json", "point_cloud.ply", "room.json", "contact_sheet.png", DONE]
        for name in expected:
            assert (synthrooms_mini / sv.name / name).exists(), name
        img, lab, dep = sv.images[5], sv.labels[5], sv.depths[5]
        assert img.shape == (cfg.height, cfg.width, 3) and img.dtype.is_floating_point and 0 <= img.min() and img.max() <= 1
        assert lab.shape == (cfg.height, cfg.width) and str(lab.dtype) == "torch.uint8"
        # closed rooms: every pixel sees a surface, so it has a class and a depth
        assert (lab != IGNORE_LABEL).all() and (dep > 0.05).all() and dep.max() < 15
        assert sv.cameras[5].width == cfg.width and abs(sv.cameras[5].fov_x_deg - 90) < 1e-4
        assert sv.gaussians is not None and read_ply(sv.gaussians).num_gaussians > 10_000


def test_depth_png_round_trip_is_millimetres(synthrooms_mini, tmp_path):
    d = read_depth(synthrooms_mini / "train_000", "00003")
    from PIL import Image

    raw = np.asarray(Image.open(synthrooms_mini / "train_000" / "depth" / "00003.png"))
    assert raw.dtype == np.uint16
    np.testing.assert_allclose(d.numpy(), raw / 1000.0, rtol=1e-6)


def test_same_seed_same_bytes_and_different_seed_differs(tmp_path):
    a = build_synthrooms(tmp_path / "a", progress=False, **TINY)
    b = build_synthrooms(tmp_path / "b", progress=False, **TINY)
    fa, fb = _files(a), _files(b)
    # DONE holds timings; everything else must be byte-identical
    assert {k: v for k, v in fa.items() if not k.endswith(DONE)} == {k: v for k, v in fb.items() if not k.endswith(DONE)}
    c = build_synthrooms(tmp_path / "c", progress=False, **{**TINY, "seed": 1})
    ra = json.loads((a / "train_000" / "room.json").read_text())
    rc = json.loads((c / "train_000" / "room.json").read_text())
    assert ra["size"] != rc["size"] and ra["primitives"] != rc["primitives"]


def test_resume_skips_finished_and_redoes_partial_scenes(tmp_path):
    root = build_synthrooms(tmp_path / "d", progress=False, **TINY)
    done = root / "train_000" / DONE
    stamp = done.read_text()
    first = (root / "train_000" / "images" / "00000.png").stat().st_mtime_ns
    # simulate an interrupted second scene: marker gone, a frame missing
    (root / "test_000" / DONE).unlink()
    (root / "test_000" / "labels" / "00001.png").unlink()
    with pytest.raises(ValueError, match="not finished"):
        open_synthrooms(root)
    partial = open_synthrooms(root, finished_only=True)  # a build in progress, for training on what is done
    assert [v.name for v in partial.train] == ["train_000"] and partial.test == []
    with pytest.warns(UserWarning, match="1 of 2 scenes are not finished"):  # eval on a build in progress
        opened = open_dataset(root)
    assert [v.name for v in opened.scenes] == ["train_000"] and opened.scene_split["test"] == []
    build_synthrooms(root, progress=False, **TINY)
    assert done.read_text() == stamp and (root / "train_000" / "images" / "00000.png").stat().st_mtime_ns == first
    assert (root / "test_000" / DONE).is_file() and (root / "test_000" / "labels" / "00001.png").is_file()
    assert len(open_synthrooms(root)) == 2


def test_log_follows_each_scene_inside_its_build(tmp_path, monkeypatch, capsys):
    """A plain log gets lines while a scene is built (its ground-truth views), not only between
    scenes: a fitted v1 scene takes minutes (the fit's steps: the slow fitted-mode test)."""
    monkeypatch.setattr("rtgs2.utils.progress.PLAIN_INTERVAL_S", 0.0)  # a line at every update
    build_synthrooms(tmp_path / "o", progress=True, **TINY)
    log = capsys.readouterr().err
    assert "test_000: ground truth 2/3" in log and "train_000: ground truth 0/3" in log


def test_test_scenes_are_built_first(tmp_path, monkeypatch):
    """A partial build holds the whole test split before more train scenes."""
    import rtgs2.synth.build as build

    order, real = [], build.build_scene
    monkeypatch.setattr(build, "build_scene", lambda d, seed, *rest, **kw: order.append(d.name) or real(d, seed, *rest, **kw))
    build_synthrooms(tmp_path / "o", progress=False, **{**TINY, "num_scenes": 3})
    assert order == ["test_000", "train_000", "train_001"]


def test_bad_input_is_refused_and_nothing_written(tmp_path):
    with pytest.raises(ValueError, match="unknown SynthRooms preset 'huge'"):
        build_synthrooms(tmp_path / "x", "huge")
    for bad in (dict(num_views=0), dict(width=-4), dict(num_scenes=0), dict(fit_iterations=0)):
        with pytest.raises(ValueError, match=next(iter(bad))):
            build_synthrooms(tmp_path / "x", progress=False, **bad)
    with pytest.raises(ValueError, match="unknown SynthRooms parameter"):
        build_synthrooms(tmp_path / "x", progress=False, num_sceens=3)
    assert not (tmp_path / "x").exists()
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match="not a SynthRooms data set"):
        build_synthrooms(other, progress=False, **TINY)
    assert _files(other) == {"notes.txt": b"keep me"}
    root = build_synthrooms(tmp_path / "e", progress=False, **TINY)
    before = _files(root)
    with pytest.raises(ValueError, match="other parameters.*num_views"):
        build_synthrooms(root, progress=False, **{**TINY, "num_views": 4})
    assert _files(root) == before
    assert is_synthrooms(root) and not is_synthrooms(other) and not is_synthrooms(tmp_path / "missing")
    (root / MANIFEST).write_text('{"format": "something"}')
    with pytest.raises(ValueError, match="not a SynthRooms manifest"):
        open_synthrooms(root)


def test_presets_and_cache_root(monkeypatch, tmp_path):
    v1 = preset_config("v1")
    assert (v1.num_scenes - v1.num_test_scenes, v1.num_test_scenes) == (40, 10)
    assert (v1.num_views, v1.width, v1.height, v1.gaussians) == (100, 320, 240, "fitted")
    assert [s["split"] for s in scene_list(PRESETS["mini"])] == ["train", "train", "test"]
    monkeypatch.setenv("RTGS2_CACHE", str(tmp_path))
    assert default_root("v1") == tmp_path / "synthrooms" / "v1"


@pytest.mark.slow  # 20 s with warm numba caches, minutes when recon's kernels compile
def test_fitted_mode_runs_recon_from_depth_points(tmp_path, monkeypatch, capsys):
    """'fitted' mode: rtgs2.recon fits the training views, initialised from back-projected depth;
    the log follows the scene's ground truth and fit (a v1 scene takes minutes)."""
    cfg = dict(num_scenes=1, num_views=9, width=32, height=24, gaussians="fitted", fit_iterations=20, fit_init_points=2000)
    monkeypatch.setattr("rtgs2.utils.progress.PLAIN_INTERVAL_S", 0.0)  # a line at every update
    root = build_synthrooms(tmp_path / "fit", progress=True, **cfg)
    log = capsys.readouterr().err
    assert "train_000: ground truth 8/9" in log and "train_000: fit 20/20" in log
    scene = read_ply(root / "train_000" / "point_cloud.ply")
    assert 500 <= scene.num_gaussians <= 20_000 and scene.sh_degree == 3  # a 3DGS fit, not surface discs
    assert not (root / "train_000" / "fit").exists()  # checkpoints removed once the scene is done
    stats = json.loads((root / "train_000" / DONE).read_text())
    assert stats["gaussians_s"] > 0


def test_second_build_on_a_busy_folder_is_refused(tmp_path):
    from rtgs2.synth.build import build_synthrooms
    from rtgs2.utils.errors import LockHeldError
    from rtgs2.utils.lock import OutputLock

    with OutputLock(tmp_path / "busy", "rtgs2 synth --preset mini"):
        with pytest.raises(LockHeldError, match="in use by process"):
            build_synthrooms(tmp_path / "busy", "mini", progress=False, num_scenes=1)


def test_v3_is_v2_with_half_of_the_fits_started_from_surface_discs():
    v2, v3 = preset_config("v2"), preset_config("v3")
    assert v3.fit_init == "mixed" and "fit_init" not in v2.to_json()  # v2 manifests unchanged
    assert {k: v for k, v in v3.to_json().items() if k != "fit_init"} == v2.to_json()
    assert [s["seed"] for s in scene_list(v3)] == [s["seed"] for s in scene_list(v2)]  # the same rooms
    assert [discs_first(v3, i) for i in range(4)] == [False, True, False, True]
    assert all(discs_first(replace(v2, fit_init="surface"), i) for i in range(3))
    assert not any(discs_first(v2, i) for i in range(3))
    with pytest.raises(ValueError, match="fit_init"):
        preset_config("v2", fit_init="discs")


def test_a_fit_from_surface_discs_stays_flat_and_opaque(tmp_path):
    """fit_init='mixed': scene 0 fitted from depth points (round, half transparent after a short
    fit), scene 1 from flat discs (flat and opaque, as long fits of real captures)."""
    cfg = dict(num_scenes=2, num_views=9, width=32, height=24, gaussians="fitted", fit_iterations=4,
               fit_init_points=2000, fit_max_gaussians=3000, surface_spacing=0.05, fit_init="mixed")  # fmt: skip
    root = build_synthrooms(tmp_path / "mixed", progress=False, **cfg)
    names = [s["name"] for s in scene_list(preset_config("mini", **cfg))]
    shapes = {}
    for name in names:
        scene = read_ply(root / name / "point_cloud.ply")
        spread = (scene.log_scales.max(1).values - scene.log_scales.min(1).values).median()
        shapes[name] = (scene.num_gaussians, float(spread), float(scene.opacities.median()))
    (_, spread0, opacity0), (n1, spread1, opacity1) = shapes[names[0]], shapes[names[1]]
    assert spread0 < 0.5 and opacity0 < 0.5, shapes
    assert spread1 > 2.0 and opacity1 > 0.8 and 2000 <= n1 <= 3000, shapes  # discs thinned to the cap
