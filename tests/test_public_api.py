"""The public names work as documented: ``from rtgs2.pipeline import Segmenter`` and the other lazy
package exports resolve, and importing the packages alone loads no torch (``rtgs2 --help`` relies
on that)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from rtgs2.utils.lazy import lazy_exports

LAZY_PACKAGES = ("rtgs2.features", "rtgs2.fusion", "rtgs2.pipeline", "rtgs2.recon", "rtgs2.render")


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


def test_importing_the_lazy_packages_loads_no_torch() -> None:
    imports = "; ".join(f"import {p}" for p in LAZY_PACKAGES)
    out = _run(f"import sys; {imports}; assert 'torch' not in sys.modules, 'torch loaded'")
    assert out.returncode == 0, out.stderr


def test_segmenter_imports_from_the_pipeline_package() -> None:
    out = _run(
        "from rtgs2.pipeline import Segmenter, lift_scene, segment_scene\n"
        "from rtgs2.pipeline.segmenter import Segmenter as defined\n"
        "import rtgs2.pipeline\n"
        "assert Segmenter is defined and callable(lift_scene) and callable(segment_scene)\n"
        "assert 'Segmenter' in dir(rtgs2.pipeline) and 'Segmenter' in rtgs2.pipeline.__all__\n"
    )
    assert out.returncode == 0, out.stderr


def test_lazy_exports_resolve_names_and_refuse_others() -> None:
    getattr_, dir_, all_ = lazy_exports("some.package", {"join": "os.path", "dumps": "json"})
    assert all_ == ["dumps", "join"] and dir_() == all_
    import json
    import os.path

    assert getattr_("join") is os.path.join and getattr_("dumps") is json.dumps
    with pytest.raises(AttributeError, match="module 'some.package' has no attribute 'loads'"):
        getattr_("loads")
