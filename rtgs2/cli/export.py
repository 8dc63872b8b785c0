"""``rtgs2 export onnx``: the fusion network as an ONNX file for onnxruntime
(:func:`rtgs2.export.onnx.export_fusion_onnx`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, ClassVar, Optional

import tyro

from rtgs2.cli.common import subcommands
from rtgs2.export import DEFAULT_OPSET, MAX_OPSET, MIN_OPSET  # constants only: no torch


@dataclass
class ExportOnnx:
    """Write a fusion network as ONNX (inputs image [batch,3,H,W] in [0,1] and/or features [batch,D,H,W];
    output logits [batch,K,H,W]; class names and config in its metadata), run it once with onnxruntime on a
    random input and print max |onnx - torch|. H and W are fixed in the file; the batch is dynamic."""

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

    def main(self) -> None:
        from rtgs2.export.onnx import export_fusion_onnx

        r = export_fusion_onnx(
            self.weights, self.out, height=self.height, width=self.width, opset=self.opset, dynamic=not self.fixed_batch
        )
        config = r.config
        model = f"fusion {config['size']}/{config['inputs']}, {config['num_classes']} classes"
        print(f"{r.path}: ONNX opset {r.opset}, {model}")
        for name, shape in r.inputs.items():
            print(f"  input  {name} [{', '.join(map(str, shape))}] float32")
        print(f"  output logits [{', '.join(map(str, r.output))}] float32")
        names = config["class_names"]
        print(f"  classes: {', '.join(names) if names else 'not named in the weights'}")
        agreement = f"arg-max agreement {100 * r.argmax_agreement:.2f}%"
        print(f"  max |onnx - torch| {r.max_abs_diff:.2e} on a random input ({agreement})")


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
