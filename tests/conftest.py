"""Fixtures shared by several test folders (data, synth, eval)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
import torch

from rtgs2.utils.cache import CACHE_ENV

# Tests never read or write the user's cache (~/.cache/rtgs2: built data sets, trainings, feature
# caches): each test process, and the commands it starts, get a fresh one.
os.environ[CACHE_ENV] = tempfile.mkdtemp(prefix="rtgs2-test-cache-")

# One torch thread per test process: `make test` runs 2 xdist workers on 2 cores, and OpenMP
# threads spinning against another process's make each op erratic (seen: 0.5 s -> 6 s).
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def synthrooms_mini(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Root of a SynthRooms ``mini`` data set built once per test session (3 scenes x 16 views)."""
    from rtgs2.synth.build import build_synthrooms

    return build_synthrooms(tmp_path_factory.mktemp("synthrooms") / "mini", "mini", progress=False)


DONUT = Path(__file__).resolve().parent / "assets" / "donut" / "point_cloud.ply"  # vendored: MIT, see its README


@pytest.fixture
def donut_path() -> Path:
    """A real trained 3DGS file (Mip-Splatting, 45,624 Gaussians), read-only (tests/assets)."""
    return DONUT
