"""torch's CPU thread count kept across numba's parallel kernels."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def torch_threads_kept() -> Iterator[None]:
    """Keep torch's CPU thread count across numba kernels. numba's ``omp`` threading layer shares
    the process's OpenMP runtime with torch and sets its thread count to numba's at each parallel
    launch: a training pinned to 1 torch thread found itself on 2 (and 38x slower beside another
    job) after its first render."""
    n = torch.get_num_threads()
    try:
        yield
    finally:
        if torch.get_num_threads() != n:
            torch.set_num_threads(n)
