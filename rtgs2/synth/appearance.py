"""STUB (being written): v2 materials by class. Interface fixed; see the module docstring to come."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rtgs2.synth.materials import Material


@dataclass(frozen=True)
class RoomStyle:
    """Room-level appearance choices shared by its objects (placeholder)."""

    seed: int


def room_style(rng: np.random.Generator) -> RoomStyle:
    return RoomStyle(int(rng.integers(0, 2**31)))


def object_materials(cls: str, rng: np.random.Generator, style: RoomStyle) -> tuple[Material, ...]:
    """Four materials (slots 0-3) for an object of class ``cls`` (placeholder: plain grey)."""
    g = float(rng.uniform(0.3, 0.7))
    m = Material((g, g, g), (g, g, g), 0, 0.1, 0, 0.0, 10.0, 0)
    return (m, m, m, m)
