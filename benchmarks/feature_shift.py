"""How far scenes' per-Gaussian features lie from those a fusion model was trained on.

    .venv/bin/python benchmarks/feature_shift.py --scenes ~/.cache/rtgs2/synthrooms/v3 FIT/point_cloud.ply
    .venv/bin/python benchmarks/feature_shift.py --weights W.pt --training-data ~/.cache/rtgs2/synthrooms/v3 --write-card

The training side is the ``feature_stats`` of the fusion model's card (``rtgs2 train fusion``
writes them); ``--training-data`` computes them from the model's training scenes in that
data set (as the trainer does: their features under the model's feature weights, in the scene
frame ``choose_frame`` picks) and ``--write-card`` adds them to a card written before the
trainer recorded them. Each ``--scenes`` entry is a ``.ply``, a 3DGS output folder, or a
SynthRooms data set (all its scenes). Prints the offset and spread of each scene
(``rtgs2.fusion.shift``) and whether it is out of distribution, and appends the table to RESULTS.md.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import tyro

RESULTS = Path(__file__).with_name("RESULTS.md")


@dataclass
class Config:
    scenes: tuple[Path, ...] = ()
    """Scenes to measure: .ply files, 3DGS output folders, or SynthRooms data sets (every scene)."""
    weights: Optional[Path] = None
    """Fusion weights whose card gives the training statistics and the feature weights (default: the shipped)."""
    training_data: Optional[Path] = None
    """Compute the training statistics from the card's train_scenes in this data set instead of reading them."""
    write_card: bool = False
    """With --training-data: write the statistics into the card (feature_stats)."""
    append: bool = True
    """Append the table to benchmarks/RESULTS.md."""


def _plys(entry: Path) -> list[tuple[str, Path]]:
    from rtgs2.eval.scenes import ply_of

    manifest = entry / "synthrooms.json"
    if manifest.is_file():
        names = [s["name"] for s in json.loads(manifest.read_text())["scenes"]]
        return [(f"{entry.name}/{n}", entry / n / "point_cloud.ply") for n in names if (entry / n / "point_cloud.ply").is_file()]
    ply = ply_of(entry) if entry.is_dir() else entry
    if ply is None or not ply.is_file():
        raise SystemExit(f"feature_shift: {entry} is neither a .ply, a 3DGS output folder nor a SynthRooms data set")
    return [(entry.stem if entry.is_file() else entry.name, ply)]


def main(cfg: Config) -> None:
    from rtgs2.fusion.io import fusion_weights_path, read_fusion_card
    from rtgs2.fusion.shift import MAX_OFFSET, SPREAD_RANGE, FeatureStats, feature_shift, feature_stats
    from rtgs2.pipeline.segmenter import model_feature_weights, scene_features
    from rtgs2.scene import read_ply
    from rtgs2.utils.io import atomic_write_text

    weights = fusion_weights_path(cfg.weights)
    card_file = weights.with_suffix(".json")
    card = read_fusion_card(weights)
    fw = model_feature_weights(weights, None)

    def features(ply: Path):
        return scene_features(read_ply(ply), ply, fw)

    if cfg.training_data is not None:
        names = card.get("train_scenes") or []
        if not names:
            raise SystemExit(f"feature_shift: {card_file} lists no train_scenes")
        stats = feature_stats([features(cfg.training_data / n / "point_cloud.ply") for n in names])
        if cfg.write_card:
            card["feature_stats"] = stats.to_json()
            atomic_write_text(card_file, json.dumps(card, indent=1) + "\n")
            print(f"feature_stats of {len(names)} scenes ({stats.gaussians:,} Gaussians) written to {card_file}")
    elif card.get("feature_stats"):
        stats = FeatureStats.from_json(card["feature_stats"], str(card_file))
    else:
        raise SystemExit(f"feature_shift: {card_file} has no feature_stats: give --training-data")

    rows = []
    for entry in cfg.scenes:
        for name, ply in _plys(entry):
            f = features(ply)
            shift = feature_shift(f, stats)
            rows.append(f"| {name} | {len(f):,} | {shift.offset:.3f} | {shift.spread:.3f} | {'yes' if shift.out_of_distribution else 'no'} |")
    if not rows:
        return
    lo, hi = SPREAD_RANGE
    head = [
        f"Fusion model `{weights}` (feature weights `{fw.name}`); training statistics of {stats.scenes} scenes, "
        f"{stats.gaussians:,} Gaussians. Offset: per channel |scene mean - training mean| / training std, median; "
        f"spread: scene std / training std, median. Out of distribution: offset > {MAX_OFFSET:g} or spread outside {lo:g}-{hi:g}.",
        "",
        "| scene | Gaussians | offset | spread | out of distribution |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    text = "\n".join(head + rows)
    print(text)
    if cfg.append:
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        with RESULTS.open("a") as f:
            f.write(f"\n## feature shift against the training features — {stamp}\n\n{text}\n")


if __name__ == "__main__":
    main(tyro.cli(Config))
