"""Atomic file writes: data goes to a temporary file beside the target, is flushed to disk and
renamed over the target, so a kill at any moment leaves either the old file or the new one,
never half of one. Temporaries are named ``<name>.tmp<pid>`` so a later run can tell a dead
writer's leftovers from a live one's."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from rtgs2.utils.errors import UserError

_TMP = re.compile(r"^(?P<name>.+)\.tmp(?P<pid>\d+)$")


def temporary_path(path: Path) -> Path:
    """The temporary name this process writes ``path`` under."""
    return path.with_name(f"{path.name}.tmp{os.getpid()}")


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file for writing; on a clean exit it replaces ``path`` (fsynced), on
    an error it is removed and ``path`` is untouched. Parent folders are created."""
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_open writes whole files: mode must be 'wb' or 'w', got {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(path)
    try:
        f = open(tmp, mode, **({} if "b" in mode else {"encoding": "utf-8"}))
    except OSError as e:  # name the file the caller asked for, not our temporary
        raise OSError(e.errno, e.strerror, str(path)) from None
    try:
        with f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def refuse_folder(path: str | Path, what: str) -> None:
    """A ``UserError`` when ``path``, where a file is expected, is a folder (rather than the
    misleading "not found" that ``is_file()`` checks would give)."""
    if Path(path).is_dir():
        raise UserError(f"{what} {path} is a folder: give a file")


def check_writable(path: str | Path, what: str = "output") -> None:
    """Fail before any work if the file ``path`` could not be written later: it is a folder, or
    its folder cannot be created or written to. Creates missing parent folders, as the write
    would; writes nothing else (a probe file beside it is removed at once).

    Raises:
        UserError: naming ``what`` and ``path`` and the reason.
    """
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{what} {path} is a folder: give a file path")
    probe = temporary_path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        probe.open("wb").close()
        probe.unlink()
    except OSError as e:
        raise UserError(f"cannot write {what} {path}: {e.strerror or e}") from None


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_open(path, "wb") as f:
        f.write(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_open(path, "w") as f:
        f.write(text)


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def remove_stale_temporaries(folder: str | Path, recursive: bool = False) -> list[Path]:
    """Delete the ``*.tmp<pid>`` files under ``folder`` whose writer process is gone (a killed
    save); returns what was removed. A live process's temporaries are left alone."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for p in folder.rglob("*.tmp*") if recursive else folder.glob("*.tmp*"):
        m = _TMP.match(p.name)
        if m and p.is_file() and not _pid_alive(int(m.group("pid"))):
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed


def file_sha256(*paths: str | Path) -> str:
    """SHA-256 (hex) of the bytes of ``paths`` in turn (weights, scenes: what a result came from)."""
    h = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 22):
                h.update(chunk)
    return h.hexdigest()
