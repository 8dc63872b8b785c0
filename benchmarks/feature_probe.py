"""Usefulness of the per-Gaussian features: a linear probe on the test scenes of a data set.

    .venv/bin/python benchmarks/feature_probe.py --data ~/.cache/rtgs2/synthrooms/v1
    .venv/bin/python benchmarks/feature_probe.py --data DIR --weights W.pt --max-scenes 3 --no-append
    .venv/bin/python benchmarks/feature_probe.py --data ../shared/assets/dining_room \
        --label-set ../shared/assets/dining_room/label_set.json --gaussians FIT/   # a fit of your own

For each test scene (SynthRooms: the test split; elsewhere every scene with labels and a .ply, its
own or the one ``--gaussians`` gives, as in ``rtgs2 eval``)
the Gaussians get classes by view voting, and a softmax regression trained on one half of the
room is scored on the other half (``rtgs2.eval.probe``), on the network's features, on its
10 raw inputs and on the hand-made context (the raw inputs and
``rtgs2.features.context.geometric_context``: local shape, normal, neighbours' colour, height,
wall distance). Prints per-scene and mean mIoU and appends the table to RESULTS.md.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import tyro

RESULTS = Path(__file__).with_name("RESULTS.md")


@dataclass
class Config:
    data: Path
    """Labelled data set with a 3DGS per scene (or see --gaussians)."""
    gaussians: Optional[Path] = None
    """The scenes' 3DGS: a .ply or a 3DGS / recon output folder (one scene), or a folder of
    <scene>.ply or <scene>/ (default: the data set's own)."""
    label_set: Optional[str] = None
    """Label set of the data (a name or LabelMap JSON; default: the format's own)."""
    weights: Optional[Path] = None
    """Feature weights (default: the shipped ones)."""
    max_scenes: int = 0
    """Probe only the first N test scenes (0 = all)."""
    append: bool = True
    """Append the table to benchmarks/RESULTS.md."""
    raw: bool = True
    """Also probe the raw 10 inputs (the baseline; --no-raw when comparing weights)."""
    context: bool = True
    """Also probe the hand-made context: the raw 10 inputs and their geometric context (the bar the
    features should reach; --no-context when comparing weights)."""


def main(cfg: Config) -> None:
    from rtgs2.eval.probe import gaussian_labels, half_split, linear_probe
    from rtgs2.features.context import geometric_context
    from rtgs2.features.extract import extract_features
    from rtgs2.features.inputs import SceneFrame, gaussian_arrays
    from rtgs2.features.io import load_feature_net
    from rtgs2.eval.scenes import scene_gaussians
    from rtgs2.scene import read_ply
    model = load_feature_net(cfg.weights)
    test = _test_scenes(cfg)
    plys = scene_gaussians(test, cfg.gaussians)
    rows = []
    for views in test:
        if plys[views.name] is None:
            raise SystemExit(f"scene {views.name} has no 3DGS: give --gaussians (e.g. an rtgs2 recon output)")
        scene = read_ply(plys[views.name])
        k = views.label_map.num_classes
        y = gaussian_labels(scene, views, k)
        arrays = gaussian_arrays(scene, SceneFrame())
        split = half_split(arrays.xyz)
        feats = extract_features(scene, model, frame=SceneFrame()).numpy()
        f = linear_probe(feats, y, split, k)["miou"]
        r = linear_probe(arrays.inputs(), y, split, k)["miou"] if cfg.raw else float("nan")
        c = float("nan")
        if cfg.context:
            hand = np.concatenate([arrays.inputs(), geometric_context(arrays.xyz, arrays.colour)], axis=1)
            c = linear_probe(hand, y, split, k)["miou"]
        rows.append((views.name, scene.num_gaussians, f, r, c))
        print(f"{views.name}: features {100 * f:.1f} mIoU, raw inputs {100 * r:.1f}, hand-made context {100 * c:.1f}", flush=True)
    mf, mr, mc = (np.mean([r[i] for r in rows]) for i in (2, 3, 4))
    table = (
        f"## features: linear probe — {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC\n\n"
        f"`benchmarks/feature_probe.py --data {cfg.data}"
        + (f" --gaussians {cfg.gaussians}" if cfg.gaussians else "") + f"`, weights {cfg.weights or 'shipped'}: per-Gaussian classes "
        "by view voting, softmax regression trained on one half of each room, mIoU (%) on the other half.\n\n"
        "| scene | Gaussians | features | raw 10 inputs | hand-made context |\n| --- | ---: | ---: | ---: | ---: |\n"
        + "".join(f"| {n} | {g:,} | {100 * f:.1f} | {100 * r:.1f} | {100 * c:.1f} |\n" for n, g, f, r, c in rows)
        + f"| **mean** | | **{100 * mf:.1f}** | **{100 * mr:.1f}** | **{100 * mc:.1f}** |\n"
    )
    print(table)
    if cfg.append:
        with RESULTS.open("a") as fh:
            fh.write("\n" + table)


def _test_scenes(cfg: Config) -> list:
    """SynthRooms: its finished test scenes; any other data set: every scene with labels."""
    from rtgs2.data import open_dataset
    from rtgs2.data.readers.synthrooms import MANIFEST
    from rtgs2.train.features import training_scenes

    if (cfg.data / MANIFEST).is_file() and cfg.label_set is None:
        _, test = training_scenes(cfg.data, finished_only=True)  # a partial build: its finished test scenes
    else:
        test = [v for v in open_dataset(cfg.data, label_set=cfg.label_set).scenes if v.labels is not None]
    return test[: cfg.max_scenes] if cfg.max_scenes else test


if __name__ == "__main__":
    main(tyro.cli(Config))
