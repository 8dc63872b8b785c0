"""``rtgs2 export onnx``: the fusion network as an ONNX file for onnxruntime
(:func:`rtgs2.export.onnx.export_fusion_onnx`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, ClassVar, Literal, Optional

import tyro

from rtgs2.cli.common import subcommands
from rtgs2.export import CALIBRATION_VIEWS, DEFAULT_CALIBRATION, DEFAULT_OPSET, MAX_OPSET, MIN_OPSET  # constants only: no torch
from rtgs2.utils.errors import ConfigError


@dataclass
class ExportOnnx:
    """Write a fusion network as ONNX (inputs image [batch,3,H,W] in [0,1] and/or features [batch,D,H,W];
    output logits [batch,K,H,W], or with --coarse coarse_logits; class names and config in its metadata), run it
    once with onnxruntime on a random input and print max |onnx - torch|. H and W are fixed in the file; the batch
    is dynamic. With --int8 the file is quantized (int8 weights, uint8 activations) on views rendered from
    --calibration-data; rtgs2 segment/eval --onnx run a --coarse file in the per-frame path."""

    out: Path
    """The .onnx file to write (an existing .onnx is replaced, anything else refused)."""
    weights: Optional[Path] = None
    """Fusion weights (default: the shipped model)."""
    height: int = 240
    """Image height the file takes, pixels."""
    width: int = 320
    """Image width the file takes, pixels."""
    opset: Annotated[int, tyro.conf.arg(help=f"ONNX opset, {MIN_OPSET} to {MAX_OPSET}.")] = DEFAULT_OPSET
    fixed_batch: bool = False
    """Fix the batch at 1 instead of leaving it dynamic."""
    coarse: bool = False
    """Output coarse_logits [batch,K,Hp/4,Wp/4] (Hp, Wp: H, W padded to a multiple of 32), the logits before their x4 upsampling: what the per-frame path reads (rtgs2 segment --onnx, rtgs2 eval --onnx)."""
    int8: bool = False
    """Quantize the file to int8 (onnxruntime static quantization, QDQ: int8 weights per channel, uint8 activations), calibrated on views rendered from --calibration-data."""
    calibration_data: Optional[Path] = None
    """With --int8: a data set folder whose scenes' 3DGS .ply render the calibration views (its train scenes where it names them, as SynthRooms does; Z from the feature weights on the fusion model's card)."""
    calibration_views: int = CALIBRATION_VIEWS
    """With --int8: views calibrating the activations' ranges (8 others are rendered to compare int8 with float)."""
    calibration_method: Literal["minmax", "entropy", "percentile"] = DEFAULT_CALIBRATION
    """With --int8: how the ranges come from the calibration views' activations (onnxruntime's methods)."""
    seed: int = 0
    """Seed of the random check input and of the calibration views' draw."""

    def main(self) -> None:
        from rtgs2.export.onnx import export_fusion_onnx

        if self.int8 and self.calibration_data is None:
            raise ConfigError(
                None, "calibration_data", "is needed with --int8: a data set folder to render calibration views from"
            )
        if not self.int8:  # a calibration option alone would be ignored: say so
            given = {"calibration_data": self.calibration_data is not None,
                     "calibration_views": self.calibration_views != CALIBRATION_VIEWS,
                     "calibration_method": self.calibration_method != DEFAULT_CALIBRATION}  # fmt: skip
            if field := next((f for f, set_ in given.items() if set_), None):
                raise ConfigError(None, field, "calibrates an int8 file: add --int8")
        options = dict(
            height=self.height, width=self.width, opset=self.opset, dynamic=not self.fixed_batch, seed=self.seed,
            coarse=self.coarse,
        )  # fmt: skip
        if self.int8:
            from rtgs2.export.quantize import export_int8_onnx

            r, q = export_int8_onnx(
                self.weights, self.out, self.calibration_data, views=self.calibration_views,
                method=self.calibration_method, **options,
            )  # fmt: skip
        else:
            r, q = export_fusion_onnx(self.weights, self.out, **options), None
        config = r.config
        model = f"fusion {config['size']}/{config['inputs']}, {config['num_classes']} classes"
        print(f"{self.out}: ONNX opset {r.opset}, {model}" + (", int8" if q else ""))
        for name, shape in r.inputs.items():
            print(f"  input  {name} [{', '.join(map(str, shape))}] float32")
        print(f"  output {r.output_name} [{', '.join(map(str, r.output))}] float32")
        names = config["class_names"]
        print(f"  classes: {', '.join(names) if names else 'not named in the weights'}")
        agreement = f"arg-max agreement {100 * r.argmax_agreement:.2f}%"
        before = " before quantizing" if q else ""
        print(f"  max |onnx - torch| {r.max_abs_diff:.2e} on a random input ({agreement}){before}")
        if q:
            calibration = q.quantization["calibration"]
            method = calibration["method"] + (f"; {calibration['requested']} failed" if "requested" in calibration else "")
            print(f"  int8: calibrated ({method}) on {calibration['source']}")
            if q.check_views:
                agreement = f"arg-max agreement {100 * q.argmax_agreement:.2f}%"
                print(f"  max |int8 - float| {q.max_abs_diff:.2e} on {q.check_views} other views ({agreement})")


EXPORT_COMMANDS: dict[str, type] = {"onnx": ExportOnnx}
ExportCommand = subcommands(EXPORT_COMMANDS)


@dataclass
class Export:
    """Export a network for other runtimes: `onnx` (the fusion network, for onnxruntime)."""

    command: tyro.conf.OmitSubcommandPrefixes[ExportCommand]
    """What to export, and to which format."""
    commands: ClassVar[dict[str, type]] = EXPORT_COMMANDS

    def main(self) -> None:
        self.command.main()
