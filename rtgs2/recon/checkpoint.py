"""Checkpoints of a fit, written atomically (temp file + rename) so that a kill at any moment
leaves the previous checkpoint intact; the newest one is found again to resume."""

from __future__ import annotations

import os
import re
from pathlib import Path

import torch

CHECKPOINT_DIR = "checkpoints"
KEEP_LAST = 2  # older checkpoints are deleted once a newer one is safely on disk
_NAME = re.compile(r"^step_(\d{8})\.pt$")


def checkpoint_path(out_dir: Path, step: int) -> Path:
    return Path(out_dir) / CHECKPOINT_DIR / f"step_{step:08d}.pt"


def save_checkpoint(out_dir: Path, step: int, state: dict) -> Path:
    """Write ``state`` (tensors, dicts, lists, numbers) as the checkpoint of ``step``."""
    path = checkpoint_path(out_dir, step)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        torch.save(state, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    for old in list_checkpoints(out_dir)[:-KEEP_LAST]:
        old.unlink(missing_ok=True)
    return path


def list_checkpoints(out_dir: Path) -> list[Path]:
    """Complete checkpoints under ``out_dir``, oldest first (temp files are ignored)."""
    d = Path(out_dir) / CHECKPOINT_DIR
    if not d.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in d.iterdir() if (m := _NAME.match(p.name))]
    return [p for _, p in sorted(found)]


def load_latest_checkpoint(out_dir: Path) -> dict | None:
    """The newest checkpoint's state, or None if there is none."""
    paths = list_checkpoints(out_dir)
    if not paths:
        return None
    try:
        return torch.load(paths[-1], map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises several types for a damaged file
        raise RuntimeError(f"cannot read checkpoint {paths[-1]}: {e}; delete it to resume from an older one") from e
