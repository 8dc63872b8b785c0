"""Label sets shipped as data: one JSON file per set (names, colours, raw id -> label).

Each file is a :class:`~rtgs2.data.views.LabelMap` JSON plus ``dataset``, ``raw_ids`` (what the
raw ids are), ``source`` (where the list was taken from) and ``notes``.
"""

from __future__ import annotations

import json
from pathlib import Path

from rtgs2.data.views import LabelMap
from rtgs2.utils.errors import UserError

LABELSET_DIR = Path(__file__).parent


def available_label_sets(dataset: str | None = None) -> list[str]:
    """Names of the shipped label sets (optionally only those of ``dataset``: replica, scannet, scannetpp)."""
    names = sorted(p.stem for p in LABELSET_DIR.glob("*.json"))
    if dataset is None:
        return names
    return [n for n in names if json.loads((LABELSET_DIR / f"{n}.json").read_text())["dataset"] == dataset]


def label_set_info(name: str) -> dict:
    """The raw JSON of a shipped label set (with ``dataset``, ``source``, ``notes``)."""
    path = LABELSET_DIR / f"{name}.json"
    if not path.is_file():
        raise UserError(f"unknown label set {name!r}; available: {available_label_sets()}")
    return json.loads(path.read_text())


def load_label_set(name_or_path: str | Path) -> LabelMap:
    """A shipped label set by name (e.g. ``"replica_rtgs2_46"``) or a LabelMap JSON file by path."""
    path = Path(name_or_path)
    if path.suffix == ".json" and path.is_file():
        return LabelMap.from_json(path)
    label_set_info(str(name_or_path))  # raises with the list of names
    return LabelMap.from_json(LABELSET_DIR / f"{name_or_path}.json")
