"""numba's cache is keyed by everything a kernel file compiles in (rtgs2.utils.numba_cache), so it
never serves kernels built from older constants or helpers (it once gave wrong gradients)."""

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

import rtgs2.render.constants as constants
import rtgs2.render.numba_kernels as nk
import rtgs2.render.numba_kernels_bwd as bk
import rtgs2.render.numba_kernels_gather as gk
import rtgs2.scene.sh as sh
from rtgs2.utils.numba_cache import source_stamp


def _sha(*files: str) -> str:
    digest = hashlib.sha256()
    for f in files:
        digest.update(Path(f).read_bytes())
    return digest.hexdigest()


@pytest.mark.parametrize(
    "module, compiled_in",
    [(nk, [constants, sh]), (bk, [nk, constants, sh]), (gk, [nk, constants, sh])],
    ids=lambda m: getattr(m, "__name__", ""),
)
def test_kernel_file_stamp_covers_what_it_compiles_in(module, compiled_in):
    want = _sha(module.__file__, *(m.__file__ for m in compiled_in))
    assert module.INLINED_SOURCES == source_stamp(module.__file__) == want


KERNEL = """
import numba
from rtgs2.utils.numba_cache import compiled_with
import {dep} as dep

compiled_with(__file__, dep.__file__)

@numba.njit(cache=True)
def f(x):
    return x + dep.OFFSET
"""


def test_a_changed_dependency_recompiles_instead_of_loading_the_stale_kernel(tmp_path):
    """A kernel file unchanged, the constant it compiles in changed: the result follows."""
    (tmp_path / "dep_mod.py").write_text("OFFSET = 1\n")
    (tmp_path / "kernel_mod.py").write_text(KERNEL.format(dep="dep_mod"))
    run = [sys.executable, "-c", "import kernel_mod; print(kernel_mod.f(1))"]

    def result() -> str:
        return subprocess.run(run, cwd=tmp_path, capture_output=True, text=True, check=True).stdout.strip()

    assert result() == "2"
    assert result() == "2"  # from the cache
    assert any((tmp_path / "__pycache__").glob("kernel_mod.f-*.nbi"))
    (tmp_path / "dep_mod.py").write_text("OFFSET = 10\n")  # same size would not matter: content is hashed
    assert result() == "11"
