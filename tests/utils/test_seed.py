import numpy as np
import pytest
import torch

from rtgs2.utils.seed import derive_seed, seed_everything


def test_same_seed_same_draws():
    a = (seed_everything(3).random(4), torch.rand(4), np.random.rand(2))
    b = (seed_everything(3).random(4), torch.rand(4), np.random.rand(2))
    assert np.array_equal(a[0], b[0]) and torch.equal(a[1], b[1]) and np.array_equal(a[2], b[2])
    assert not torch.equal(seed_everything(4) is not None and torch.rand(4), a[1])


def test_bad_seed_and_derived_seeds():
    with pytest.raises(ValueError, match="seed"):
        seed_everything(-1)
    assert derive_seed(0, 1) != derive_seed(0, 2) and derive_seed(0, 1) == derive_seed(0, 1)
    assert 0 <= derive_seed(5, 7) < 2**63
