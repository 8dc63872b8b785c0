"""Where rtgs2 keeps what it can rebuild: built data sets, extracted features, reconstructions,
LPIPS weights. Standard library only: the CLI's ``--help`` imports it."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "RTGS2_CACHE"  # overrides the cache root ~/.cache/rtgs2


def cache_root() -> Path:
    """The rtgs2 cache folder: $RTGS2_CACHE, else ~/.cache/rtgs2 (read at each call, so a
    changed environment takes effect)."""
    return Path(os.environ.get(CACHE_ENV) or "~/.cache/rtgs2").expanduser()
