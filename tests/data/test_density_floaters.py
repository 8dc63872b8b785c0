"""The scene-level augmentations for real captures: RandomDrop (density) and AddFloaters."""

import numpy as np

from rtgs2.data.transforms import FLOATER_ID, AddFloaters, RandomDrop
from rtgs2.features.inputs import GaussianArrays


def _sample(n: int = 2000) -> GaussianArrays:
    rng = np.random.default_rng(0)
    return GaussianArrays(
        xyz=rng.uniform(-2, 2, (n, 3)).astype(np.float32), colour=rng.uniform(0, 1, (n, 3)).astype(np.float32),
        log_scales=np.full((n, 3), -3.0, np.float32), opacity=np.full(n, 0.9, np.float32), ids=np.arange(n),
    )  # fmt: skip


def test_off_they_change_nothing_and_draw_no_random_numbers() -> None:
    s = _sample()
    rng = np.random.default_rng(1)
    assert RandomDrop(0.0)(s, rng) is s and AddFloaters(0.0)(s, rng) is s
    assert rng.uniform() == np.random.default_rng(1).uniform()  # the stream is where it was


def test_random_drop_keeps_a_random_share_of_the_points() -> None:
    s = _sample()
    kept = [len(RandomDrop(0.5)(s, np.random.default_rng(seed)).ids) for seed in range(20)]
    assert all(1000 * 0.9 <= k <= 2000 for k in kept) and len(set(kept)) > 10  # between half and all, varied
    out = RandomDrop(0.5)(s, np.random.default_rng(0))
    assert np.array_equal(out.xyz, s.xyz[out.ids])  # rows stay aligned


def test_floaters_are_added_in_the_box_and_match_nothing() -> None:
    s = _sample()
    out = AddFloaters(0.25)(s, np.random.default_rng(0))
    assert len(out.ids) == 2500 and np.array_equal(out.xyz[:2000], s.xyz)
    new = out.ids == FLOATER_ID
    assert new.sum() == 500 and not (out.ids[:2000] == FLOATER_ID).any()
    assert (out.xyz[new] >= s.xyz.min(0)).all() and (out.xyz[new] <= s.xyz.max(0)).all()
    assert out.xyz.dtype == s.xyz.dtype and out.opacity.dtype == np.float32
    assert (out.opacity[new] >= 0.05).all() and (out.opacity[new] <= 0.5).all()
