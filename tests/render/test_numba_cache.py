"""The numba kernel files name what they compile in, so numba's per-file cache never serves kernels
built from older constants or helpers (it once gave wrong gradients after a helper changed)."""

import hashlib
from pathlib import Path

import pytest

import rtgs2.render.constants as constants
import rtgs2.render.numba_kernels as nk
import rtgs2.render.numba_kernels_bwd as bk
import rtgs2.render.numba_kernels_gather as gk
import rtgs2.scene.sh as sh


def compiled_in_values() -> str:
    """The constants the kernels read (render/constants.py, the SH factors), as text."""
    names = sorted(k for k in vars(constants) if k.isupper())
    values = [(k, getattr(constants, k)) for k in names] + [(k, getattr(sh, k)) for k in ("SH_C0", "SH_C1", "SH_C2", "SH_C3")]
    return repr(values)


def fingerprint(module) -> str:
    digest = hashlib.sha256(compiled_in_values().encode())
    if module is not nk:  # the backward and gather kernels inline the forward file's helpers
        digest.update(Path(nk.__file__).read_bytes())
    return digest.hexdigest()[:16]


@pytest.mark.parametrize("module", [nk, bk, gk], ids=lambda m: m.__name__)
def test_kernel_file_fingerprints_what_it_compiles_in(module):
    want = fingerprint(module)
    assert module.INLINED_SOURCES == want, (
        f"{module.__file__}: set INLINED_SOURCES = {want!r} (what it compiles in changed; numba's cache "
        "would otherwise keep serving the kernels built from the old sources)"
    )
