import os
import subprocess
import sys

import pytest

from rtgs2.utils.io import atomic_open, atomic_write_text, remove_stale_temporaries


def test_atomic_write_replaces_whole_file(tmp_path):
    p = tmp_path / "a" / "f.txt"
    atomic_write_text(p, "old")
    atomic_write_text(p, "new")
    assert p.read_text() == "new"
    assert sorted(x.name for x in p.parent.iterdir()) == ["f.txt"]


def test_failed_write_keeps_old_file_and_leaves_no_temporary(tmp_path):
    p = tmp_path / "f.bin"
    p.write_bytes(b"keep")
    with pytest.raises(RuntimeError):
        with atomic_open(p, "wb") as f:
            f.write(b"half")
            raise RuntimeError("killed")
    assert p.read_bytes() == b"keep"
    assert [x.name for x in tmp_path.iterdir()] == ["f.bin"]


def test_stale_temporaries_of_dead_writers_are_removed_live_ones_kept(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    (tmp_path / f"step_00000010.pt.tmp{dead_pid}").write_bytes(b"x")
    live = tmp_path / f"step_00000020.pt.tmp{os.getpid()}"
    live.write_bytes(b"x")
    (tmp_path / "notes.tmp").write_bytes(b"x")  # not ours: no pid suffix
    removed = remove_stale_temporaries(tmp_path)
    assert [p.name for p in removed] == [f"step_00000010.pt.tmp{dead_pid}"]
    assert live.exists() and (tmp_path / "notes.tmp").exists()


def test_unwritable_targets_are_named_not_their_temporaries(tmp_path):
    from rtgs2.utils.io import atomic_write_bytes, check_writable, temporary_path

    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match=r"cannot write output .*file/out\.bin"):
        check_writable(tmp_path / "file" / "out.bin")  # its folder is a file
    with pytest.raises(ValueError, match="is a folder"):
        check_writable(tmp_path)
    check_writable(tmp_path / "new" / "ok.bin")  # creates the folder, leaves no file in it
    assert list((tmp_path / "new").iterdir()) == []
    target = tmp_path / "out.bin"
    temporary_path(target).mkdir()  # the temporary cannot be opened as a file
    with pytest.raises(OSError) as err:
        atomic_write_bytes(target, b"data")
    assert str(target) in str(err.value) and ".tmp" not in str(err.value)
