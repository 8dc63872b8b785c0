"""STUB (being written): v2 light sources of a room."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rtgs2.synth.room import Lights


@dataclass
class Fixture:
    """A light source placed by the layout: ``pos`` [3] world metres (centre of the glowing
    part: a ceiling light's diffuser, a lamp's bulb inside its shade), ``kind`` 'ceiling' or
    'lamp', ``radius`` metres of the glowing part."""

    pos: np.ndarray
    kind: str
    radius: float


def room_lights(
    rng: np.random.Generator, size: np.ndarray, fixtures: list[Fixture], window_normals: list[np.ndarray]
) -> Lights:
    """Lights of a v2 room: its ``fixtures``, the sun and sky through windows whose walls have the
    inward normals ``window_normals`` (each [3]), and the room's camera response (placeholder)."""
    pos = np.array([f.pos for f in fixtures], dtype=np.float64).reshape(-1, 3)
    color = np.ones((len(pos), 3))
    return Lights(pos, color, np.full(3, 0.2), radius=np.array([f.radius for f in fixtures], dtype=np.float64))
