"""Checkpoints that know what they belong to.

A long run (a fit, a training) saves its state every so often into ``<folder>/step_<N>.pt``
(atomically; the last few are kept). Each file records the run's *identity*: a JSON-able dict
of whatever shapes the result (data path, scene, result-shaping config, a fingerprint of the
inputs). A rerun of the same command resumes from the newest checkpoint; a run with another
identity is refused with a message that lists what differs and how to start afresh, so a
checkpoint is never silently continued on other data.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from rtgs2.utils.errors import CheckpointError, CheckpointMismatchError
from rtgs2.utils.io import atomic_open, remove_stale_temporaries

_NAME = re.compile(r"^step_(\d{8})\.pt$")
FORMAT = "rtgs2-checkpoint-1"


def _canonical(value: Any) -> Any:
    """``value`` as JSON would give it back (tuples -> lists, Paths -> str), for comparisons."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def identity_diff(saved: dict, now: dict) -> list[str]:
    """'key: saved -> now' for each key whose value differs (nested dicts flattened with '.')."""

    def flat(d: dict, prefix: str = "") -> dict:
        out = {}
        for k, v in d.items():
            if isinstance(v, dict):
                out.update(flat(v, f"{prefix}{k}."))
            else:
                out[f"{prefix}{k}"] = v
        return out

    a, b = flat(_canonical(saved)), flat(_canonical(now))
    return [f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


class CheckpointStore:
    """The checkpoints of one run in ``folder``.

    Args:
        folder: where ``step_<N>.pt`` files go (created on the first save).
        identity: JSON-able dict naming what the run belongs to; saved with every checkpoint
            and compared on resume.
        keep_last: older checkpoints are deleted once a newer one is safely on disk.
        fresh_hint: what the user should do to start afresh (shown in mismatch errors).
    """

    def __init__(self, folder: str | Path, identity: dict, keep_last: int = 2, fresh_hint: str | None = None):
        if keep_last < 1:
            raise ValueError(f"keep_last must be >= 1, got {keep_last}")
        self.folder = Path(folder)
        self.identity = _canonical(identity)
        self.keep_last = keep_last
        self.fresh_hint = fresh_hint or f"delete {self.folder} or choose another output folder to start afresh"
        remove_stale_temporaries(self.folder)  # left by a save that was killed

    def path(self, step: int) -> Path:
        return self.folder / f"step_{step:08d}.pt"

    def list(self) -> list[Path]:
        """Complete checkpoints, oldest first (temporaries are ignored)."""
        if not self.folder.is_dir():
            return []
        found = [(int(m.group(1)), p) for p in self.folder.iterdir() if (m := _NAME.match(p.name))]
        return [p for _, p in sorted(found)]

    def clear(self) -> None:
        """Delete every checkpoint (a run that starts afresh in the same folder)."""
        for p in self.list():
            p.unlink(missing_ok=True)

    def save(self, step: int, state: dict) -> Path:
        """Write ``state`` (tensors, dicts, lists, numbers, strings) as the checkpoint of ``step``."""
        import torch

        path = self.path(step)
        with atomic_open(path, "wb") as f:
            torch.save({"format": FORMAT, "identity": self.identity, "step": step, "state": state}, f)
        for old in self.list()[: -self.keep_last]:
            old.unlink(missing_ok=True)
        return path

    def load_latest(self) -> tuple[int, dict] | None:
        """(step, state) of the newest checkpoint, or None when there is none.

        Raises:
            CheckpointError: the newest file cannot be read (names it, says how to go on).
            CheckpointMismatchError: it belongs to another run (lists what differs).
        """
        import torch

        paths = self.list()
        if not paths:
            return None
        path = paths[-1]
        try:
            blob = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # torch raises several types for a damaged file
            older = " (an older one is beside it)" if len(paths) > 1 else ""
            raise CheckpointError(
                f"cannot read checkpoint {path} ({type(e).__name__}); delete it to resume from an older one{older}, "
                f"or {self.fresh_hint}"
            ) from None
        if not isinstance(blob, dict) or blob.get("format") != FORMAT:
            raise CheckpointMismatchError(
                f"{path} is not an rtgs2 checkpoint with a recorded identity (an older rtgs2 or another tool wrote it); "
                f"{self.fresh_hint}"
            )
        diff = identity_diff(blob["identity"], self.identity)
        if diff:
            raise CheckpointMismatchError(
                f"checkpoint {path} belongs to another run ({'; '.join(diff)}); {self.fresh_hint}"
            )
        return int(blob["step"]), blob["state"]
