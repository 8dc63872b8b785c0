"""One intra-op thread for the fusion tests: their tensors are tiny, and on a busy 2-core machine
two OpenMP threads waiting on each other made this folder ~7x slower (50 s vs 7 s measured)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
