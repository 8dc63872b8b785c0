"""``rtgs2 synth``: the preset gives the defaults, the flags a user gives override them."""

from dataclasses import replace

import pytest

from rtgs2 import cli
from rtgs2.cli.synth import Synth
from rtgs2.synth.config import PRESETS, SynthConfig


@pytest.mark.parametrize(
    "args, preset, changes",
    [
        ([], "mini", {}),
        (["--preset", "v1"], "v1", {}),
        (["--preset=v1", "--num-scenes", "5"], "v1", {"num_scenes": 5}),
        (["--seed", "3", "--preset", "v1", "--width", "64"], "v1", {"seed": 3, "width": 64}),  # flag before --preset
        (["--num-views", "4", "--gaussians", "fitted", "--layout.room-x", "4", "5"], "mini", {"num_views": 4, "gaussians": "fitted"}),
    ],
)
def test_preset_then_the_given_flags(args, preset, changes):
    got = cli.parse(["synth", *args])
    want = replace(PRESETS[preset], **changes)
    if "--layout.room-x" in args:
        want = replace(want, layout=replace(want.layout, room_x=(4.0, 5.0)))
    assert isinstance(got, Synth) and got.preset == preset
    assert got.config == want


def test_help_shows_the_presets_values(capsys):
    with pytest.raises(SystemExit):
        cli.parse(["synth", "--preset", "v1", "--help"])
    help_text = capsys.readouterr().out
    assert "(default: v1)" in help_text and "(default: 150000)" in help_text  # v1's fit_max_gaussians


def test_main_builds_the_parsed_config(tmp_path):
    """The folder's manifest records exactly the config the flags describe (a tiny build)."""
    import json

    args = ["synth", "--out", str(tmp_path / "d"), "--num-scenes", "1", "--num-views", "2", "--width", "24", "--height", "18"]
    command = cli.parse([*args, "--seed", "5"])
    command.main()
    manifest = json.loads((tmp_path / "d" / "synthrooms.json").read_text())
    assert manifest["preset"] == "mini" and SynthConfig.from_json(manifest["config"]) == command.config
    assert command.config.seed == 5
