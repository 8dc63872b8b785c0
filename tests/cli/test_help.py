"""``rtgs2 --help`` stays fast: the help of every subcommand loads neither torch nor numba."""

import subprocess
import sys

HELP = [
    ["--help"], ["synth", "--preset", "v1", "--help"], ["recon", "--help"], ["data", "check", "--help"],
    ["train", "fusion", "--help"], ["finetune", "--help"], ["segment", "--help"], ["lift", "--help"],
    ["demo", "--help"], ["export", "--help"], ["export", "onnx", "--help"],
]  # fmt: skip

CHECK = f"""
import sys
from rtgs2 import cli
for args in {HELP!r}:
    try:
        cli.entrypoint(args)
    except SystemExit as e:
        assert e.code == 0, (args, e.code)
heavy = [m for m in ("torch", "numba", "gsplat", "rtgs2.render.numba_kernels", "onnx", "onnxruntime") if m in sys.modules]
assert not heavy, heavy
"""


def test_help_lists_subcommands_and_loads_no_heavy_modules():
    out = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    for name in ("demo", "data", "synth", "synth-report", "recon", "finetune", "segment", "lift", "export"):
        assert name in out.stdout
    assert "--fit-iterations" in out.stdout and "--dssim-weight" in out.stdout and "--frame-stride" in out.stdout
    assert "--ceco-weight" in out.stdout and "--feature-weights" in out.stdout and "--views" in out.stdout
    assert "--opset" in out.stdout and "--fixed-batch" in out.stdout
