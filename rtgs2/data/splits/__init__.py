"""Scene splits of published protocols, shipped as data (one JSON file per protocol).

Each file: ``dataset``, ``source`` (the file of the original code it was copied from),
``notes`` and ``splits``: {split name: [scene names]}.
"""

from __future__ import annotations

import json
from pathlib import Path

from rtgs2.utils.errors import UserError

SPLIT_DIR = Path(__file__).parent


def available_splits(dataset: str | None = None) -> list[str]:
    """Names of the shipped scene splits (optionally only those of ``dataset``)."""
    names = sorted(p.stem for p in SPLIT_DIR.glob("*.json"))
    if dataset is None:
        return names
    return [n for n in names if json.loads((SPLIT_DIR / f"{n}.json").read_text())["dataset"] == dataset]


def split_info(name: str) -> dict:
    """The raw JSON of a shipped split (``dataset``, ``source``, ``notes``, ``splits``)."""
    path = SPLIT_DIR / f"{name}.json"
    if not path.is_file():
        raise UserError(f"unknown scene split {name!r}; available: {available_splits()}")
    return json.loads(path.read_text())


def load_split(name_or_path: str | Path) -> dict[str, list[str]]:
    """{split name: [scene names]} of a shipped split by name, or of a JSON file by path
    (either a split file with a ``splits`` key or a plain {split: [scenes]} mapping)."""
    path = Path(name_or_path)
    if path.suffix == ".json" and path.is_file():
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise UserError(f"{path}: not valid JSON ({e})") from e
    else:
        data = split_info(str(name_or_path))
    splits = data.get("splits", data)
    if not isinstance(splits, dict) or not all(isinstance(v, list) for v in splits.values()):
        raise UserError(f"{name_or_path}: expected {{split: [scene names]}}, got {type(splits).__name__}")
    return {k: [str(s) for s in v] for k, v in splits.items()}
