"""``rtgs2 eval``: score fusion models on a data set (:func:`rtgs2.eval.run.evaluate`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Optional

import tyro

from rtgs2.eval.config import EvalConfig  # a plain dataclass: no torch


@dataclass
class Eval:
    """Score fusion models on the held-out views of a data set (any format the data readers know),
    classes matched by name: mIoU, mAcc, oAcc, PSNR, SSIM, LPIPS, FPS and view consistency, one row
    per model (like the paper's Tables 1 and 4). Writes OUT/results.md, OUT/results.json and
    OUT/figures/<scene>.png."""

    data: Path
    """Data set folder (one scene or several; SynthRooms: its test scenes)."""
    out: Path
    """Output folder (new, empty, or an earlier eval's)."""
    weights: tyro.conf.UseAppendAction[tuple[Path, ...]] = ()
    """Fusion weights, one row each; repeat the flag for several (default: the shipped model)."""
    names: tyro.conf.UseAppendAction[tuple[str, ...]] = ()
    """Row names, one per --weights in order, then one per --onnx (default from each model's inputs: full, image only, Z only; "full (int8 ONNX)")."""
    onnx: tyro.conf.UseAppendAction[tuple[Path, ...]] = ()
    """An ONNX file of one of the --weights models (rtgs2 export onnx --coarse, float or --int8, at the data's image size), scored as a row of its own with onnxruntime; repeat the flag for several."""
    label_set: Optional[str] = None
    """The data's label set: a shipped name (rtgs2 data list) or a label-set JSON (for SynthRooms, mapping its labels)."""
    gaussians: Optional[Path] = None
    """The scenes' 3DGS: a .ply or recon output (one-scene data) or a folder of <scene>.ply / <scene>/ (default: the
    data set's own, else fitted with rtgs2 recon and cached)."""
    feature_weights: Optional[Path] = None
    """Feature-network weights giving Z (default: those on each fusion model's card, else the shipped ones)."""
    config: Annotated[EvalConfig, tyro.conf.arg(name="")] = EvalConfig()

    def command(self) -> str:
        """The ``rtgs2 eval`` command line that gives these results (recorded in them)."""
        import shlex

        from rtgs2.train.card import config_flags

        parts = ["rtgs2", "eval", "--data", str(self.data), "--out", str(self.out)]
        parts += [a for w in self.weights for a in ("--weights", str(w))]
        parts += [a for n in self.names for a in ("--names", n)]
        parts += [a for f in self.onnx for a in ("--onnx", str(f))]
        optional = {"--label-set": self.label_set, "--gaussians": self.gaussians, "--feature-weights": self.feature_weights}
        for flag, value in optional.items():
            if value is not None:
                parts += [flag, str(value)]
        return " ".join([shlex.join(parts), config_flags(self.config)]).strip()

    def main(self) -> None:
        from rtgs2.eval.run import evaluate

        results = evaluate(
            self.data, self.out, self.weights, names=self.names, label_set=self.label_set, gaussians=self.gaussians,
            feature_weights=self.feature_weights, config=self.config, command=self.command(), onnx=self.onnx,
        )  # fmt: skip
        for name, row in results["rows"].items():
            print(f"{name}: mIoU " + ("n/a" if row["miou"] is None else f"{100 * row['miou']:.1f}"))
        print(f"results: {self.out / 'results.md'}, {self.out / 'results.json'}")
