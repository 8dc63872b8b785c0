"""Seeding: code that draws randomness takes an explicit generator (``np.random.Generator``,
``torch.Generator``) derived from the run's seed with :func:`derive_seed`; no global state."""

from __future__ import annotations

import numpy as np


def derive_seed(seed: int, *keys: int) -> int:
    """A 63-bit seed derived from ``seed`` and ``keys`` (e.g. rank, epoch), independent streams."""
    return int(np.random.SeedSequence([seed, *keys]).generate_state(2, np.uint64)[0] >> np.uint64(1))
