"""One long run per output folder: ``synth``, ``recon`` and the trainers hold a lock file in
their output folder for as long as they write to it. A second run on the same folder is
refused, naming the process that holds it; the lock of a process that died is taken over."""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path
from types import TracebackType

from rtgs2.utils.errors import LockHeldError, UserError
from rtgs2.utils.io import _pid_alive

LOCK_NAME = ".rtgs2.lock"


class OutputLock:
    """Context manager holding ``folder/.rtgs2.lock`` (the folder is created if needed).

    The lock file is created with O_EXCL, so of two processes starting together exactly one
    wins. Its JSON names the holder's pid, host and command line. A lock left by a dead process
    on this host is taken over; one held by another host cannot be checked and is refused.
    """

    def __init__(self, folder: str | Path, what: str = ""):
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self.what = what or " ".join(sys.argv)
        self._held = False

    def _holder(self) -> dict | None:
        try:
            return json.loads(self.path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {}  # being written right now, or garbage: treated as held by an unknown process

    def acquire(self) -> OutputLock:
        self.folder.mkdir(parents=True, exist_ok=True)
        record = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "command": self.what})
        for _ in range(3):  # a stale lock is removed, then the create is retried
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._holder()
                if holder is None:
                    continue
                pid, host = holder.get("pid"), holder.get("host")
                if isinstance(pid, int) and host == socket.gethostname() and not _pid_alive(pid):
                    self.path.unlink(missing_ok=True)  # its process is gone: take it over
                    continue
                who = f"process {pid} on {host}" if pid else "another process"
                cmd = f" ({holder['command']})" if holder.get("command") else ""
                raise LockHeldError(
                    f"{self.folder} is in use by {who}{cmd}; wait for it to finish or choose another output folder "
                    f"(if that process is gone, delete {self.path})"
                ) from None
            with os.fdopen(fd, "w") as f:
                f.write(record)
            self._held = True
            return self
        raise LockHeldError(f"could not take the lock {self.path}: it keeps reappearing")

    def release(self) -> None:
        if self._held:
            self.path.unlink(missing_ok=True)
            self._held = False

    def __enter__(self) -> OutputLock:
        return self.acquire()

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release()


def check_output_folder(out: Path, marker: str, what: str, hint: str = "") -> None:
    """Refuse an output path that is a file, or a non-empty folder without ``marker`` (the file a
    run of this kind writes first), so nothing of a user's is ever overwritten; ``what`` names the
    kind of output ("a feature-training output"), ``hint`` adds to the file message."""
    if out.exists() and not out.is_dir():
        raise UserError(f"output {out} exists and is not a folder{hint}")
    if out.is_dir():
        entries = sorted(p.name for p in out.iterdir() if p.name != LOCK_NAME)
        if entries and marker not in entries:
            raise UserError(
                f"output folder {out} is not empty and is not {what} (holds {entries[:5]}); "
                "choose an empty or new folder (nothing was written)"
            )
