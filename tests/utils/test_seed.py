from rtgs2.utils.seed import derive_seed


def test_derived_seeds_are_independent_and_repeatable():
    assert derive_seed(0, 1) != derive_seed(0, 2) and derive_seed(0, 1) == derive_seed(0, 1)
    assert derive_seed(0, 1) != derive_seed(1, 1)
    assert 0 <= derive_seed(5, 7) < 2**63
