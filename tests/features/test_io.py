"""Which feature weights a model gets: the user's, those its card records (found by hash among
the shipped ones), or the shipped default; a file of another hash is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

import rtgs2.features.io as feature_io
from rtgs2.features.io import resolve_feature_weights
from rtgs2.utils.errors import Rtgs2Error
from rtgs2.utils.io import file_sha256


@pytest.fixture
def shipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A weights folder of two shipped files, ``today.pt`` the default."""
    folder = tmp_path / "weights"
    folder.mkdir()
    (folder / "today.pt").write_bytes(b"today's default feature weights")
    (folder / "earlier.pt").write_bytes(b"the features the model was trained on")
    monkeypatch.setattr(feature_io, "WEIGHTS_DIR", folder)
    monkeypatch.setattr(feature_io, "SHIPPED", folder / "today.pt")
    return folder


def test_without_a_record_the_given_or_the_shipped_weights_are_used(shipped, tmp_path):
    assert resolve_feature_weights() == shipped / "today.pt"
    (tmp_path / "w.pt").write_bytes(b"x")
    assert resolve_feature_weights(tmp_path / "w.pt") == tmp_path / "w.pt"
    assert resolve_feature_weights(recorded=tmp_path / "w.pt") == tmp_path / "w.pt"  # no hash: the named file
    assert resolve_feature_weights(recorded=tmp_path / "gone.pt") == shipped / "today.pt"
    with pytest.raises(FileNotFoundError, match=r"absent\.pt not found \(--feature-weights\)"):
        resolve_feature_weights(tmp_path / "absent.pt")
    (shipped / "today.pt").unlink()
    with pytest.raises(FileNotFoundError, match="shipped feature weights are not in this install .*--feature-weights"):
        resolve_feature_weights()


def test_a_recorded_hash_is_found_among_the_shipped_files_and_enforced(shipped, tmp_path, monkeypatch):
    """A model trained on earlier shipped features (not today's default) still gets them,
    wherever its recorded path points (a path relative to another folder, or a moved file)."""
    sha = file_sha256(shipped / "earlier.pt")
    assert resolve_feature_weights(recorded="elsewhere/f.pt", sha256=sha) == shipped / "earlier.pt"
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "f.pt").write_bytes(b"a stale copy under the recorded name")
    monkeypatch.chdir(tmp_path)
    assert resolve_feature_weights(recorded="elsewhere/f.pt", sha256=sha) == shipped / "earlier.pt"  # not its hash
    (tmp_path / "elsewhere" / "f.pt").write_bytes((shipped / "earlier.pt").read_bytes())
    assert resolve_feature_weights(recorded="elsewhere/f.pt", sha256=sha) == Path("elsewhere/f.pt")  # its hash
    with pytest.raises(Rtgs2Error, match="not the ones fusion model m.pt was trained with"):  # no file has it: say so
        resolve_feature_weights(sha256="0" * 64, needed_by="fusion model m.pt")
    with pytest.raises(Rtgs2Error, match="today.pt are not the ones"):  # the user's file is checked too
        resolve_feature_weights(shipped / "today.pt", sha256=sha)
    assert resolve_feature_weights(shipped / "earlier.pt", sha256=sha) == shipped / "earlier.pt"
