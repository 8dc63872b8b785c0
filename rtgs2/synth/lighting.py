"""Light sources and camera response of a SynthRooms ``v2`` room.

A room is lit as a phone camera sees an interior: its ceiling lights and lamps (glowing spheres
of a few centimetres: soft shadows), the sky through its windows (area lights, shaded in
:mod:`rtgs2.synth.shading`), sometimes the sun shining through a window (sun patches), and a
bounce term. Day rooms are lit mostly by windows, evening rooms by warm lamps; each room gets
its own exposure key, white balance (a camera's, imperfect) and tone-curve shoulder.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rtgs2.synth.room import Lights

# Linear radiometric scales (arbitrary units; exposure normalises each room's brightness).
CEILING_POWER = (2.0, 4.5)  # intensity at 1 m of one ceiling light, (min, max)
LAMP_POWER = (0.6, 1.4)  # intensity at 1 m of a lamp's bulb
SKY_RADIANCE = (0.6, 1.8)  # radiance of the sky seen through a window, daytime
SUN_RADIANCE = (4.0, 9.0)  # irradiance of direct sun on a surface facing it
AMBIENT = (0.04, 0.12)  # bounce light, a fraction of the room's light
NIGHT_SHARE = 0.3  # share of rooms captured in the evening: no sun, dim sky, lamps on
SUN_SHARE = 0.5  # share of daytime rooms whose windows let the sun in
EXPOSURE_KEY = (0.16, 0.26)  # the median pixel's linear value after exposure (auto-exposure target)


@dataclass
class Fixture:
    """A light source placed by the layout: ``pos`` [3] world metres (centre of the glowing
    part: a ceiling light's diffuser, a lamp's bulb inside its shade), ``kind`` 'ceiling' or
    'lamp', ``radius`` metres of the glowing part."""

    pos: np.ndarray
    kind: str
    radius: float


def _kelvin_rgb(kelvin: float) -> np.ndarray:
    """[3] linear RGB of a black body at ``kelvin`` (2500-7500 K), normalised to luminance ~1.

    A smooth fit to the Planckian locus in linear sRGB, good to a few percent: enough for
    warm bulbs (2700 K), neutral daylight (5500 K) and blue sky (7500 K)."""
    t = float(np.clip(kelvin, 2000.0, 10000.0)) / 100.0
    r = 1.0 if t <= 66 else 1.292936 * (t - 60) ** -0.1332047592
    g = 0.39008158 * math.log(t) - 0.63184144 if t <= 66 else 1.129890861 * (t - 60) ** -0.0755148492
    b = 1.0 if t >= 66 else (0.0 if t <= 19 else 0.54320679 * math.log(t - 10) - 1.19625409)
    rgb = np.clip(np.array([r, g, b]), 0.0, 1.0) ** 2.2  # the fit is in display RGB
    return rgb / (0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2])


def room_lights(
    rng: np.random.Generator, size: np.ndarray, fixtures: list[Fixture], window_normals: list[np.ndarray]
) -> Lights:
    """Lights of a v2 room.

    Args:
        rng: the room's generator (draws in a fixed order).
        size: [3] room extent, metres.
        fixtures: its ceiling lights and lamps.
        window_normals: inward unit normals [3] of the walls holding a window (the sun comes in
            through one of them, when it shines).

    Returns:
        ``Lights`` with one point light per fixture (intensity at 1 m, ``radius``), the sun
        (``sun_dir`` towards it, ``sun_color`` zero when it does not shine in), ``sky_color``,
        ``ambient``, and the camera response: ``exposure`` holds the room's auto-exposure key
        (the target median pixel value) until :func:`rtgs2.synth.shading.auto_exposure` turns it
        into the gain (the build stores the gain), ``white_balance`` and ``tone``.
    """
    night = rng.random() < NIGHT_SHARE or not window_normals
    bulb_k = rng.uniform(2700, 4200)  # one bulb type per room: warm to neutral white
    pos = np.array([f.pos for f in fixtures], dtype=np.float64).reshape(-1, 3)
    color = np.zeros((len(fixtures), 3))
    on_day = rng.random() < 0.5  # by day, lights are on in about half of the rooms
    for i, f in enumerate(fixtures):
        power = rng.uniform(*(CEILING_POWER if f.kind == "ceiling" else LAMP_POWER))
        lit = night or on_day or f.kind == "lamp" and rng.random() < 0.3
        color[i] = _kelvin_rgb(bulb_k + rng.uniform(-150, 150)) * power * (1.0 if lit else 0.0)
    radius = np.array([f.radius for f in fixtures], dtype=np.float64)
    sky_k = rng.uniform(5500, 9000)
    sky = _kelvin_rgb(sky_k) * rng.uniform(*SKY_RADIANCE) * (0.05 if night else 1.0)
    sun_color = np.zeros(3)
    sun_dir = np.array([0.0, 0.0, 1.0])
    elevation = rng.uniform(math.radians(12), math.radians(55))
    if window_normals:
        n = np.asarray(window_normals[int(rng.integers(0, len(window_normals)))], dtype=np.float64)
        # the sun stands outside that window: its horizontal direction is the wall's outward
        # normal turned by up to 60 degrees, so its light falls inwards and down through the glass
        turn = rng.uniform(-math.radians(60), math.radians(60))
        c, s = math.cos(turn), math.sin(turn)
        out = np.array([-(c * n[0] - s * n[1]), -(s * n[0] + c * n[1])])
        sun_dir = np.array([out[0] * math.cos(elevation), out[1] * math.cos(elevation), math.sin(elevation)])
        if not night and rng.random() < SUN_SHARE:
            sun_color = _kelvin_rgb(rng.uniform(4500, 5800)) * rng.uniform(*SUN_RADIANCE)
    light_sum = color.sum(0) / max(1.0, float(np.prod(size[:2])) / 8.0) + (0.0 if night else 1.0) * sky * len(window_normals) * 0.15
    ambient = (light_sum + 0.05) * rng.uniform(*AMBIENT)
    # A phone's white balance: it mostly corrects the dominant light, never perfectly.
    dominant = _kelvin_rgb(bulb_k) if night or not window_normals else _kelvin_rgb(rng.uniform(5000, 6500))
    correction = rng.uniform(0.5, 0.9)
    wb = (1.0 / dominant) ** correction
    wb = wb / (0.2126 * wb[0] + 0.7152 * wb[1] + 0.0722 * wb[2])
    return Lights(
        pos, color, ambient, radius=radius, sun_dir=sun_dir, sun_color=sun_color, sky_color=sky,
        exposure=float(rng.uniform(*EXPOSURE_KEY)), white_balance=wb, tone=float(rng.uniform(0.5, 1.0)),
    )  # fmt: skip
