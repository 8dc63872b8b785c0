import subprocess
import sys

CHECK = """
import sys
from rtgs2 import cli
try:
    cli.entrypoint()
except SystemExit as e:
    assert e.code == 0, e.code
heavy = [m for m in ("numba", "gsplat", "rtgs2.render.numba_kernels") if m in sys.modules]
assert not heavy, heavy
"""


def test_help_lists_subcommands_and_loads_no_heavy_modules():
    out = subprocess.run(
        [sys.executable, "-c", CHECK, "--help"], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert "demo" in out.stdout
