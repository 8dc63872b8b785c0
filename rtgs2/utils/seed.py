"""Seeding: one call makes Python's, numpy's and torch's global generators repeatable; code
that draws randomness should still take an explicit generator (``np.random.Generator``,
``torch.Generator``) derived from the run's seed."""

from __future__ import annotations

import random

import numpy as np


def seed_everything(seed: int) -> np.random.Generator:
    """Seed ``random``, numpy's legacy global state and torch (CPU and CUDA); returns a fresh
    ``np.random.Generator`` for the caller's own draws."""
    import torch

    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


def derive_seed(seed: int, *keys: int) -> int:
    """A 63-bit seed derived from ``seed`` and ``keys`` (e.g. rank, epoch), independent streams."""
    return int(np.random.SeedSequence([seed, *keys]).generate_state(2, np.uint64)[0] >> np.uint64(1))
