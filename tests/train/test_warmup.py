"""A warm-up as long as the run is shortened, with a one-line warning, in both trainings."""

from __future__ import annotations

import pytest

from rtgs2.train import features as tfeat
from rtgs2.train import fusion as tfus
from rtgs2.train.config import FeatureTrainConfig, FusionTrainConfig


@pytest.mark.parametrize("config, lr_at", [(FusionTrainConfig, tfus.lr_at), (FeatureTrainConfig, tfeat.lr_at)])
def test_a_warmup_longer_than_the_run_is_shortened_with_a_warning(config, lr_at):
    with pytest.warns(UserWarning, match="--warmup-steps 200 is not below --steps 30: warming up over 3 steps"):
        cfg = config(steps=30, warmup_steps=200)
    rates = [lr_at(cfg, s) for s in range(1, 31)]
    assert max(rates) == pytest.approx(cfg.lr)  # the peak is reached (at the end of the 3-step warm-up)
    assert rates.index(max(rates)) == 2
    long = config(steps=1000, warmup_steps=200)  # the usual case is unchanged
    assert lr_at(long, 100) == pytest.approx(long.lr / 2)
