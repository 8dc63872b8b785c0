"""Pictures of labelled views: class colours for a model's class names, label overlays, a legend
strip, and animated GIFs (shared by ``rtgs2 segment`` and ``rtgs2 demo``)."""

from __future__ import annotations

import colorsys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from rtgs2.data.readers.synthrooms import synthrooms_label_map
from rtgs2.data.views import IGNORE_LABEL, LabelMap
from rtgs2.utils.io import atomic_open

OVERLAY_WEIGHT = 0.6  # share of the class colour in an overlaid pixel: the image stays readable beneath
GOLDEN = 0.618033988749895  # hue step of the fixed palette: consecutive classes get far-apart hues
GIF_MAX_WIDTH = 960  # px; wider GIF frames are scaled down (a GIF of 1080p panels runs to hundreds of MB)
SWATCH = 12  # px, side of a legend's colour square
LEGEND_PAD = 4  # px around legend entries


def class_label_map(names: Sequence[str]) -> LabelMap:
    """Colours for classes ``names`` (label k = ``names[k]``): SynthRooms' own colours when every
    name is a SynthRooms class (so predictions look like its ground truth), else a fixed palette
    of well-separated hues in class order."""
    synth = synthrooms_label_map()
    index = {n: k for k, n in enumerate(synth.names)}
    if names and all(n in index for n in names):
        colors = synth.colors[[index[n] for n in names]]
    else:
        hsv = [((k * GOLDEN) % 1.0, 0.65 if k % 2 else 0.85, 0.95 if k % 3 else 0.75) for k in range(len(names))]
        colors = np.array([colorsys.hsv_to_rgb(*c) for c in hsv]).reshape(-1, 3) * 255 + 0.5
    return LabelMap(list(names), np.asarray(colors).astype(np.uint8))


def to_uint8(x) -> np.ndarray:  # [..., C] uint8
    """An image in [0, 1] (array or CPU tensor) as uint8."""
    return (np.clip(np.asarray(x, dtype=np.float32), 0, 1) * 255 + 0.5).astype(np.uint8)


def overlay(image: np.ndarray, labels: np.ndarray, label_map: LabelMap) -> np.ndarray:  # [H, W, 3] uint8
    """Class colours blended over ``image`` [H, W, 3] uint8 where ``labels`` [H, W] uint8 has a
    class; unlabelled pixels (IGNORE_LABEL) keep the image, darkened, so they stand out."""
    colour = label_map.colorize(labels).astype(np.float32)
    img = image.astype(np.float32)
    out = np.where((labels == IGNORE_LABEL)[..., None], 0.4 * img, (1 - OVERLAY_WEIGHT) * img + OVERLAY_WEIGHT * colour)
    return (out + 0.5).astype(np.uint8)


def legend(label_map: LabelMap, classes: Sequence[int], width: int) -> np.ndarray:  # [h, width, 3] uint8
    """A white strip ``width`` px wide naming ``classes`` (label values) beside their colours,
    wrapped onto as many rows as needed."""
    font = ImageFont.load_default()
    entries = [(label_map.names[k], tuple(int(c) for c in label_map.colors[k])) for k in classes]
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    row_h = max([SWATCH, *(probe.textbbox((0, 0), n, font=font)[3] for n, _ in entries)]) + LEGEND_PAD
    rows: list[list[tuple[int, str, tuple]]] = [[]]
    x = LEGEND_PAD
    for name, colour in entries:
        w = SWATCH + LEGEND_PAD + int(probe.textlength(name, font=font)) + 3 * LEGEND_PAD
        if rows[-1] and x + w > width:
            rows.append([])
            x = LEGEND_PAD
        rows[-1].append((x, name, colour))
        x += w
    strip = Image.new("RGB", (width, len(rows) * row_h + LEGEND_PAD), "white")
    draw = ImageDraw.Draw(strip)
    for r, row in enumerate(rows):
        y = LEGEND_PAD + r * row_h
        for x, name, colour in row:
            draw.rectangle([x, y, x + SWATCH - 1, y + SWATCH - 1], fill=colour, outline=(0, 0, 0))
            draw.text((x + SWATCH + LEGEND_PAD, y), name, fill=(0, 0, 0), font=font)
    return np.asarray(strip)


def gif_frame(panel: np.ndarray) -> np.ndarray:  # [h, w, 3] uint8
    """``panel`` [H, W, 3] uint8 scaled down to at most GIF_MAX_WIDTH px wide."""
    h, w = panel.shape[:2]
    if w <= GIF_MAX_WIDTH:
        return panel
    size = (GIF_MAX_WIDTH, max(1, round(h * GIF_MAX_WIDTH / w)))
    return np.asarray(Image.fromarray(panel).resize(size, Image.Resampling.BILINEAR))


def write_gif(path: Path, frames: Sequence[np.ndarray], fps: float, footer: np.ndarray | None = None) -> None:
    """An endlessly looping GIF of ``frames`` (each [H, W, 3] uint8, one size) at ``fps`` frames
    per second, ``footer`` [h, W, 3] (a legend) under each; written atomically."""
    images = [Image.fromarray(f if footer is None else np.concatenate([f, footer], 0)) for f in frames]
    with atomic_open(path, "wb") as f:
        images[0].save(f, format="GIF", save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0)
