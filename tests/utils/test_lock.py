import json
import socket
import subprocess
import sys

import pytest

from rtgs2.utils.errors import LockHeldError
from rtgs2.utils.lock import LOCK_NAME, OutputLock


def test_second_holder_is_refused_naming_the_pid(tmp_path):
    with OutputLock(tmp_path, "first"):
        proc = subprocess.run(
            [sys.executable, "-c", f"from rtgs2.utils.lock import OutputLock; OutputLock({str(tmp_path)!r}).acquire()"],
            capture_output=True, text=True,
        )  # fmt: skip
        assert proc.returncode != 0
        assert "LockHeldError" in proc.stderr and "in use by process" in proc.stderr and "first" in proc.stderr
    assert not (tmp_path / LOCK_NAME).exists()  # released


def test_same_process_twice_is_refused(tmp_path):
    with OutputLock(tmp_path):
        with pytest.raises(LockHeldError, match="in use"):
            OutputLock(tmp_path).acquire()


def test_stale_lock_of_dead_process_is_taken_over(tmp_path):
    dead = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout)
    (tmp_path / LOCK_NAME).write_text(json.dumps({"pid": dead, "host": socket.gethostname(), "command": "old"}))
    with OutputLock(tmp_path, "new") as lock:
        assert json.loads(lock.path.read_text())["command"] == "new"


def test_lock_of_another_host_is_refused(tmp_path):
    (tmp_path / LOCK_NAME).write_text(json.dumps({"pid": 1, "host": "elsewhere", "command": "x"}))
    with pytest.raises(LockHeldError, match="elsewhere"):
        OutputLock(tmp_path).acquire()
