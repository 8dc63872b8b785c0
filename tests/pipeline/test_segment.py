"""``rtgs2 segment``: an orbit or a cameras.json in, frames / GIF / segment.json out; the orbit's
placement (around an object, inside a room, in a file of other units and up axis); bad cameras
and output paths as one-line errors."""

from __future__ import annotations

import json
import math

import imageio.v3 as iio
import pytest
import torch

from rtgs2 import cli
from rtgs2.features.inputs import SceneFrame
from rtgs2.pipeline.cameras import orbit_cameras
from rtgs2.pipeline.segment import segment_scene
from rtgs2.scene import Camera, GaussianScene
from rtgs2.scene.cameras_json import write_cameras_json
from tests.cli.test_errors import one_line_error
from tests.pipeline.conftest import CLASSES


def test_orbit_around_the_donut(tmp_path, donut_path, fusion_file):
    res = segment_scene(donut_path, tmp_path / "out", views=3, width=64, height=48, weights=fusion_file("image"))
    assert res.orbit.mode == "outside"  # 0.2 m across: an object, circled from outside
    assert [p.name for p in res.frames] == ["frame_0000.png", "frame_0001.png", "frame_0002.png"]
    assert iio.imread(res.frames[0]).shape == (48, 128, 3)  # image | overlay
    gif = iio.imread(res.gif, index=None)
    assert gif.shape[0] == 3 and gif.shape[2] == 128 and gif.shape[1] > 48  # a legend under the frames
    summary = json.loads(res.summary.read_text())
    assert summary["finished"] and summary["frames"] == [p.name for p in res.frames]
    assert set(summary["class_pixels"]) == {*CLASSES, "unlabelled"}
    assert sum(summary["class_pixels"].values()) == 3 * 64 * 48
    assert summary["class_pixels"]["unlabelled"] < 0.8 * 3 * 64 * 48  # the donut fills much of each view
    assert res.frame_rate.frames == 3 and summary["frame_rate"]["fps"] == pytest.approx(res.frame_rate.fps)


def test_orbit_inside_a_room_looks_outwards_at_eye_height():
    gen = torch.Generator().manual_seed(0)
    room = torch.tensor([5.0, 4.0, 2.8])  # metres; Gaussians on the six faces of the box
    pts = torch.rand(6000, 3, generator=gen) * room
    face = torch.arange(6000) % 6
    pts[face < 3, face[face < 3]] = 0.0
    pts[face >= 3, face[face >= 3] - 3] = room[face[face >= 3] - 3]
    scene = GaussianScene.from_activated(
        pts, torch.full((6000, 3), 0.05), torch.tensor([[1.0, 0, 0, 0]]).expand(6000, 4), torch.full((6000,), 0.9),
        torch.full((6000, 3), 0.5),
    )  # fmt: skip
    orbit = orbit_cameras(scene, 8, 32, 24)
    assert orbit.mode == "inside" and len(orbit.cameras) == 8
    for cam in orbit.cameras:
        c2w = cam.cam_to_world
        eye, forward = c2w[:3, 3], c2w[:3, 2]
        assert 1.3 < float(eye[2]) < 1.6  # eye height above the floor at z = 0
        outward = eye[:2] - torch.tensor(orbit.centre[:2], dtype=eye.dtype)
        assert float((forward[:2] * outward).sum()) > 0 and float(forward[2]) < 0  # at the walls, a little down
        assert ((eye > 0) & (eye < room)).all()


def test_orbit_in_a_file_of_other_units_and_up_axis_matches_the_z_up_metre_one():
    gen = torch.Generator().manual_seed(0)
    net = torch.rand(3000, 3, generator=gen) * torch.tensor([5.0, 4.0, 2.8])  # a room's Gaussians, z up, metres
    frame = SceneFrame(0.01, "-y")  # the file: centimetres, -y up
    R = frame.rotation()
    to_file = (net.double() @ R / frame.metres_per_unit).float()  # x_file = R^T x_net / s

    def scene(means):
        n = len(means)
        return GaussianScene.from_activated(
            means, torch.full((n, 3), 0.05), torch.tensor([[1.0, 0, 0, 0]]).expand(n, 4), torch.full((n,), 0.9),
            torch.full((n, 3), 0.5),
        )  # fmt: skip

    metres, file = orbit_cameras(scene(net), 4, 32, 24), orbit_cameras(scene(to_file), 4, 32, 24, frame)
    assert file.mode == metres.mode == "inside"
    assert file.centre == pytest.approx(metres.centre, abs=1e-4) and file.radius == pytest.approx(metres.radius, abs=1e-4)
    for a, b in zip(metres.cameras, file.cameras):
        eye = frame.metres_per_unit * R @ b.cam_to_world[:3, 3]  # the file camera's eye, back in metres
        assert torch.allclose(eye, a.cam_to_world[:3, 3], atol=1e-4)  # float32 means: ~1e-6 m measured
        assert torch.allclose(R @ b.cam_to_world[:3, :3], a.cam_to_world[:3, :3], atol=1e-6)


def test_cameras_json_and_a_second_run_in_the_same_folder(tmp_path, donut_path, fusion_file):
    views = [
        Camera.look_at((0.3 * math.cos(a), 0.3 * math.sin(a), 0.2), (0, 0, 0.04), fov_x_deg=60, width=48, height=36)
        for a in (0.0, 2.0)
    ]
    cameras = tmp_path / "cameras.json"
    write_cameras_json(views, cameras)
    out = tmp_path / "out"
    res = segment_scene(donut_path, out, cameras=cameras, weights=fusion_file("image"))
    assert res.orbit is None and len(res.frames) == 2 and iio.imread(res.frames[1]).shape == (36, 96, 3)
    assert json.loads(res.summary.read_text())["cameras"] == str(cameras.resolve())

    (out / "notes.txt").write_text("the user's own file")
    write_cameras_json(views[:1], cameras)
    res = segment_scene(donut_path, out, cameras=cameras, weights=fusion_file("image"))
    assert sorted(p.name for p in out.iterdir()) == ["frame_0000.png", "notes.txt", "segment.gif", "segment.json"]


def test_bad_inputs_are_refused(tmp_path, donut_path, fusion_file):
    weights = fusion_file("image")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="bad.json: not valid JSON"):
        segment_scene(donut_path, tmp_path / "a", cameras=bad, weights=weights)
    bad.write_text("[]")
    with pytest.raises(ValueError, match="bad.json: lists no camera"):
        segment_scene(donut_path, tmp_path / "a", cameras=bad, weights=weights)
    with pytest.raises(ValueError, match="not both"):
        segment_scene(donut_path, tmp_path / "a", cameras=bad, views=3, weights=weights)
    with pytest.raises(ValueError, match="exists and is not a folder"):
        segment_scene(donut_path, bad, views=3, weights=weights)
    (tmp_path / "theirs").mkdir()
    (tmp_path / "theirs" / "photo.png").write_bytes(b"")
    with pytest.raises(ValueError, match="is not empty and is not an rtgs2 segment output"):
        segment_scene(donut_path, tmp_path / "theirs", views=3, weights=weights)
    assert not (tmp_path / "a").exists()  # nothing written for any of them


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--cameras", "{tmp}/bad.json"], "{tmp}/bad.json: not valid JSON"),
        (["--cameras", "{tmp}/none.json"], "no such cameras.json: {tmp}/none.json"),
        (["--views", "0"], "--views must be a positive number of views"),
        (["--out", "{tmp}/bad.json"], "output {tmp}/bad.json exists and is not a folder"),
        (["--weights", "{tmp}/none.pt"], "no fusion weights at {tmp}/none.pt"),
        (["--scene", "{tmp}/none.ply"], "scene {tmp}/none.ply not found"),
    ],
)
def test_cli_errors_are_one_line(args, expected, tmp_path, donut_path, fusion_file, capsys):
    (tmp_path / "bad.json").write_text("{not json")
    base = {"--scene": str(donut_path), "--out": f"{tmp_path}/out", "--weights": str(fusion_file("image"))}
    base.update(dict(zip(args[::2], args[1::2])))
    line = one_line_error(["segment", *[a.format(tmp=tmp_path) for kv in base.items() for a in kv]], capsys)
    assert line.startswith(f"rtgs2 segment: {expected.format(tmp=tmp_path)}")


def test_the_record_says_the_network_ran_eagerly_when_compiling_failed(tmp_path, donut_path, fusion_file, monkeypatch):
    from rtgs2.fusion import compiled

    def broken(*_a, **_k):
        raise RuntimeError("no C++ compiler")

    monkeypatch.setattr(compiled.torch, "compile", lambda fn, **_k: broken)
    with pytest.warns(UserWarning, match="no C.. compiler"):
        segment_scene(donut_path, tmp_path / "out", views=2, width=32, height=24, weights=fusion_file("image"),
                      compile_network=True)  # fmt: skip
    assert json.loads((tmp_path / "out" / "segment.json").read_text())["network"] == "torch"


def test_cli_prints_the_frame_the_orbit_and_the_fps(tmp_path, donut_path, fusion_file, capsys):
    args = ["segment", "--scene", str(donut_path), "--out", str(tmp_path / "out"), "--views", "2", "--no-compile-network"]
    args += ["--width", "32", "--height", "24", "--weights", str(fusion_file("image")), "--metres-per-unit", "5"]
    cli.entrypoint(args)
    printed = capsys.readouterr().out
    assert "frame: 5 m per unit (given), up +z\n" in printed
    assert "orbit of 2 views around the scene" in printed and " FPS (" in printed
    assert len(list((tmp_path / "out").glob("frame_*.png"))) == 2


def test_orbit_message_does_not_call_file_units_metres(tmp_path, donut_path, fusion_file, capsys):
    args = ["segment", "--scene", str(donut_path), "--out", str(tmp_path / "out"), "--views", "2", "--no-compile-network"]
    cli.entrypoint(args + ["--width", "32", "--height", "24", "--weights", str(fusion_file("image"))])
    printed = capsys.readouterr().out
    assert "treating 1 unit as" in printed  # the features rescale the donut ...
    orbit_line = next(line for line in printed.splitlines() if line.startswith("orbit of"))
    assert " m," not in orbit_line and "in the file's units" in orbit_line  # ... the orbit does not


def test_cameras_that_see_nothing_are_refused_before_writing(tmp_path, donut_path, fusion_file, capsys):
    from rtgs2.scene import write_cameras_json

    away = Camera.look_at((100.0, 0.0, 0.0), (200.0, 0.0, 0.0), width=32, height=24)  # looks away from the donut
    write_cameras_json([away], tmp_path / "cams.json")
    args = ["segment", "--scene", str(donut_path), "--out", str(tmp_path / "out"), "--cameras", str(tmp_path / "cams.json")]
    with pytest.raises(SystemExit) as exit_:
        cli.entrypoint(args + ["--weights", str(fusion_file("image"))])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "none of the 1 cameras sees any Gaussian" in err
    assert not (tmp_path / "out").exists()
