import pytest
import torch

from rtgs2.utils.checkpoint import CheckpointStore
from rtgs2.utils.errors import CheckpointError, CheckpointMismatchError

IDENT = {"scene": "train_000", "config": {"iterations": 300, "size": (320, 240)}}


def test_save_and_resume_latest_keeps_last_two(tmp_path):
    store = CheckpointStore(tmp_path, IDENT)
    assert store.load_latest() is None
    for step in (10, 20, 30):
        store.save(step, {"w": torch.full((2,), float(step))})
    assert [p.name for p in store.list()] == ["step_00000020.pt", "step_00000030.pt"]
    step, state = CheckpointStore(tmp_path, {"config": {"size": [320, 240], "iterations": 300}, "scene": "train_000"}).load_latest()
    assert step == 30 and torch.equal(state["w"], torch.full((2,), 30.0))


def test_other_identity_is_refused_naming_what_differs(tmp_path):
    CheckpointStore(tmp_path, IDENT).save(5, {})
    other = {"scene": "train_001", "config": {"iterations": 300, "size": (320, 240)}}
    with pytest.raises(CheckpointMismatchError, match=r"scene: 'train_000' -> 'train_001'.*start afresh"):
        CheckpointStore(tmp_path, other).load_latest()


def test_damaged_and_foreign_checkpoints_are_named(tmp_path):
    store = CheckpointStore(tmp_path, IDENT)
    store.save(5, {})
    store.path(6).write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="step_00000006.pt"):
        store.load_latest()
    store.path(6).unlink()
    torch.save({"step": 7}, store.path(7))  # an older rtgs2's checkpoint: no identity
    with pytest.raises(CheckpointMismatchError, match="no.*identity|identity"):
        store.load_latest()
