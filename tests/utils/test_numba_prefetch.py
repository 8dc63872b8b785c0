"""``prefetch``: a hint that compiles into numba kernels and changes no result."""

import numpy as np
import pytest
from numba import njit
from numba.core.errors import TypingError

from rtgs2.utils.numba_prefetch import prefetch


@njit
def _sum_rows_prefetching(a, order):
    s = 0.0
    for k in range(order.shape[0]):
        if k + 1 < order.shape[0]:
            prefetch(a, order[k + 1], a.shape[1] - 1)
        for j in range(a.shape[1]):
            s += a[order[k], j]
    return s


def test_prefetch_compiles_in_a_kernel_and_changes_nothing() -> None:
    rng = np.random.default_rng(0)
    a = rng.random((1000, 36)).astype(np.float32)
    order = np.sort(rng.integers(0, 1000, 300)).astype(np.int32)
    assert _sum_rows_prefetching(a, order) == pytest.approx(float(a[order].astype(np.float64).sum()), rel=1e-9)


def test_prefetch_wants_a_2d_array() -> None:
    @njit
    def bad(a):
        prefetch(a, 0, 0)

    with pytest.raises(TypingError):
        bad(np.zeros(4, np.float32))
