"""A contact sheet of built SynthRooms scenes: per room one view's RGB, labels and depth.

    .venv/bin/python benchmarks/synth_sheet.py --data ~/.cache/rtgs2/synthrooms/v2 \
        --scenes test_000 test_001 test_002 test_003 --out benchmarks/figures/synthrooms_v2.png

Reads only the files a build wrote (images/, labels/, depth/), so it shows what the networks see.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import matplotlib
import numpy as np
import tyro
from PIL import Image


@dataclass
class Config:
    data: Path
    """SynthRooms data set root."""
    out: Path
    """PNG to write."""
    scenes: list[str] = field(default_factory=lambda: ["test_000", "test_001", "test_002", "test_003"])
    """Scene folders, one row each."""
    view: int = 3
    """View index shown of each scene (a training view: index % 8 != 0)."""
    max_depth: float = 8.0
    """Depth (metres) mapped to the end of the colour map."""


def sheet(cfg: Config) -> np.ndarray:
    """[rows*H, 3*W, 3] uint8: RGB | coloured labels | depth, one row per scene."""
    from rtgs2.data.readers.synthrooms import DEPTH_UNITS_PER_METRE, synthrooms_label_map

    lm = synthrooms_label_map()
    cmap = matplotlib.colormaps["turbo"]
    rows = []
    for name in cfg.scenes:
        d = cfg.data / name
        frame = f"{cfg.view:05d}.png"
        if not (d / "images" / frame).is_file():
            raise SystemExit(f"{d / 'images' / frame}: not found (is {name} built?)")
        rgb = np.asarray(Image.open(d / "images" / frame).convert("RGB"))
        labels = lm.colorize(np.asarray(Image.open(d / "labels" / frame)))
        depth = np.asarray(Image.open(d / "depth" / frame)).astype(np.float64) / DEPTH_UNITS_PER_METRE
        depth_rgb = (cmap(np.clip(depth / cfg.max_depth, 0, 1))[..., :3] * 255).round().astype(np.uint8)
        depth_rgb[depth <= 0] = 0
        rows.append(np.concatenate([rgb, labels, depth_rgb], 1))
    return np.concatenate(rows, 0)


def main(cfg: Config) -> None:
    cfg.out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sheet(cfg)).save(cfg.out)
    print(f"wrote {cfg.out}")


if __name__ == "__main__":
    main(tyro.cli(Config))
