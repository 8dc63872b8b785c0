"""Fixtures shared by several test folders (data, synth, eval)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def synthrooms_mini(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Root of a SynthRooms ``mini`` data set built once per test session (3 scenes x 16 views)."""
    from rtgs2.synth.build import build_synthrooms

    return build_synthrooms(tmp_path_factory.mktemp("synthrooms") / "mini", "mini", progress=False)
