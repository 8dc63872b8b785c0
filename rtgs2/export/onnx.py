"""The fusion network as an ONNX file: its export.

``export_fusion_onnx(weights, out)`` writes ``out`` (atomically) from weights that ``save_fusion``
wrote, runs it once on a random input and reports max |onnx - torch|. The file's inputs, output
and metadata are described in :mod:`rtgs2.fusion.onnx_runtime`, which runs it (``run_onnx``;
:class:`~rtgs2.fusion.onnx_runtime.OnnxFusion` in the per-frame path); its H and W are fixed
(``height``, ``width``; below, why), its batch is dynamic unless ``dynamic=False`` fixes it at 1.
:mod:`rtgs2.export.quantize` turns a file into an int8 one.

Exporter: torch.onnx with ``dynamo=True`` (torch.export, then onnxscript's torchlib). Every op of
the model has a translation: LayerNorm -> LayerNormalization, scaled_dot_product_attention ->
MatMul + Softmax, GELU -> Erf (a Gelu node from opset 20), bilinear interpolate -> Resize, the
zero padding's slice writes -> ScatterND, avg_pool2d -> AveragePool; max |onnx - torch| was about
4e-7 on random small models, so the model is unchanged. The TorchScript exporter
(``dynamo=False``) also writes a file, but it was 0.13 off in logits at its own example's shape
and failed in onnxruntime at another batch size, so it is not used.

Why H and W are fixed: the model pads its maps to multiples of 4 and 8 through Python branches
on the size (``stem_input``; ``pad_map``'s ``-H % multiple``) and slices by sizes computed from
it. torch.export traces one branch and guards it by conditions such as ``H % 4 == 0`` and
``(W // 4) % 8 != 0``; ONNX keeps no guards, so a file exported with symbolic H and W returned
logits 0.1 off, or failed in a Reshape, at sizes outside the traced branch (measured: exported at
48x64, run at 37x51 and at 60x84). The batch goes through no such branch: one file serves batches
1, 2, 3 (tested).

The feature network (``rtgs2.features.ptv3``) does not export, and is not bent to: voxelising the
Gaussians is data-dependent. Its first op, ``offset_to_batch`` (``torch.repeat_interleave`` by
the per-sample counts), returns a tensor whose length is a value of the input, not a shape;
``grid_sample``'s check of that length (``rtgs2/features/points.py``) then makes torch.export raise
``GuardOnDataDependentSymNode: Could not guard on data-dependent expression Eq(u0, N)``. Past it,
``int(batch.max())`` and ``grid_coord.amax(0).tolist()`` turn tensor values into the Python ints
that size the voxel hash, ``torch.unique`` makes the voxel count data, and pooling sorts by codes;
``torch.export.draft_export``, which assumes the example's values at such guards, fails inside
``unpack_grid_key`` (points.py) with ``PendingUnbackedSymbolNotFound`` on the unique keys' length.
Features are computed once per scene and stored with it; the per-frame path needs only this network.
"""

from __future__ import annotations

import contextlib
import json
import logging
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn
from torch import Tensor

from rtgs2.export import DEFAULT_OPSET, MAX_OPSET, MIN_OPSET
from rtgs2.fusion.onnx_runtime import COARSE_OUTPUT, METADATA_PREFIX, OUTPUT, require_onnx, run_onnx, shape_text
from rtgs2.fusion.vdvi import VDVINet
from rtgs2.utils.errors import ConfigError, UserError
from rtgs2.utils.io import atomic_write_bytes, check_writable

_MEANING = {
    "image": "RGB in [0, 1]",
    "features": "the splatted feature image Z",
    OUTPUT: "class logits; labels = arg-max over axis 1",
    COARSE_OUTPUT: "VDVINet.coarse_logits: logits at a quarter of the image padded to a multiple of 32; "
    "forward's logits = x4 bilinear upsampling (half-pixel centres) cropped to H x W",
}
# The exporter fixes a dimension whose example size is 1 ("0/1 specialisation"): a dynamic batch
# is exported from a batch of 2.
DYNAMIC_EXAMPLE_BATCH = 2


@dataclass(frozen=True)
class OnnxExport:
    """What ``export_fusion_onnx`` wrote and measured."""

    path: Path
    opset: int
    inputs: dict[str, list[int | str]]
    """input name -> shape, ``"batch"`` where the batch is dynamic."""
    output: list[int | str]
    """shape of the output (``output_name``)."""
    config: dict[str, Any]
    """the fusion model's config (also in the file's metadata)."""
    max_abs_diff: float
    """max |onnx - torch| over the logits of a random input."""
    argmax_agreement: float
    """fraction of that input's pixels whose arg-max class is the same in both, 0-1."""
    output_name: str = OUTPUT
    """``logits``, or ``coarse_logits`` for a file exported with ``coarse=True``."""


def input_names(config: dict[str, Any]) -> list[str]:
    """The ONNX inputs of a fusion model with this config: ``image`` and/or ``features``."""
    return {"both": ["image", "features"], "image": ["image"], "features": ["features"]}[config["inputs"]]


class _Positional(nn.Module):
    """``VDVINet.forward`` (or ``coarse_logits``) over the inputs the model reads, as positional
    arguments in ``input_names`` order, so that the ONNX file has exactly those inputs."""

    def __init__(self, model: VDVINet, height: int, width: int, coarse: bool = False):
        super().__init__()
        self.model = model
        self.names = input_names(model.config)
        self.height, self.width = height, width
        self.coarse = coarse

    def forward(self, *inputs: Tensor) -> Tensor:  # [B, 3, H, W] and/or [B, D, H / f, W / f] -> [B, K, H, W]
        given = dict(zip(self.names, inputs))
        if self.coarse:  # [B, K, Hp / 4, Wp / 4], uncropped: the crop follows the upsampling
            return self.model.coarse_logits(given.get("image"), given.get("features"))[0]
        # a Z-only model's logits come at f times Z's size, which may exceed H, W
        return self.model(given.get("image"), given.get("features"))[..., : self.height, : self.width]


def export_fusion_onnx(
    weights: str | Path | None,
    out: str | Path,
    *,
    height: int = 240,
    width: int = 320,
    opset: int = DEFAULT_OPSET,
    dynamic: bool = True,
    threads: int | None = None,
    seed: int = 0,
    coarse: bool = False,
) -> OnnxExport:
    """Write the fusion network saved at ``weights`` as an ONNX file and check it against torch.

    Args:
        weights: a file ``save_fusion`` wrote (None: the shipped model).
        out: the ``.onnx`` file to write (an earlier export there is replaced).
        height, width: the fixed image size of the file, pixels (module doc: why fixed).
        opset: ONNX opset, ``MIN_OPSET`` to ``MAX_OPSET``.
        dynamic: a dynamic batch dimension (False: batch 1).
        threads: onnxruntime intra-op threads of the check run (None: its default).
        seed: of the random example and check inputs.
        coarse: output ``coarse_logits`` (``VDVINet.coarse_logits``, what the per-frame path
            reads) instead of the full-resolution ``logits`` (:mod:`rtgs2.fusion.onnx_runtime`).

    Raises UserError (a ValueError) for a bad size, opset or output path and MissingFileError (a
    FileNotFoundError) for missing weights, before any slow work.
    """
    from rtgs2.fusion.io import fusion_weights_path, load_fusion
    from rtgs2.utils.io import file_sha256

    check_export_options(height, width, opset)
    weights = fusion_weights_path(weights)
    out = check_onnx_out(out, weights)
    require_onnx("onnx", "onnxscript", "onnxruntime")
    refuse_foreign_onnx(out)
    check_writable(out, "out")  # now, not after the export's seconds of work

    model = load_fusion(weights).eval()
    names = input_names(model.config)
    output = COARSE_OUTPUT if coarse else OUTPUT
    generator = torch.Generator().manual_seed(seed)
    example = _random_inputs(model, DYNAMIC_EXAMPLE_BATCH if dynamic else 1, height, width, generator)
    # .eval(): a new module is in training mode, which the exporter warns about
    wrapped = _Positional(model, height, width, coarse).eval()
    batch = torch.export.Dim("batch", min=1)  # one dimension, shared by the inputs
    with _quiet_exporter():
        program = torch.onnx.export(
            wrapped,
            example,
            input_names=names,
            output_names=[output],
            opset_version=opset,
            dynamo=True,
            dynamic_shapes=(tuple({0: batch} for _ in names),) if dynamic else None,  # outer tuple: *inputs
            verbose=False,
        )
    proto = program.model_proto
    shapes = {n: ["batch" if dynamic else 1, *x.shape[1:]] for n, x in zip(names, example)}
    with torch.inference_mode():  # the output's shape from the model itself: the coarse logits' padding depends on H, W
        out_shape = ["batch" if dynamic else 1, *wrapped(*example).shape[1:]]
    metadata = {
        "config": json.dumps(model.config, sort_keys=True),
        "class_names": json.dumps(model.class_names),
        "inputs": "; ".join(f"{n} {shape_text(shapes[n])} float32 ({_MEANING[n]})" for n in names),
        "output": f"{output} {shape_text(out_shape)} float32 ({_MEANING[output]})",
        "image_size": json.dumps([height, width]),
        "weights_sha256": file_sha256(weights),
    }
    for key, value in metadata.items():
        proto.metadata_props.add(key=METADATA_PREFIX + key, value=value)
    what = "coarse logits" if coarse else "logits"
    proto.doc_string = f"rtgs2 VDVI fusion network, {model.config['size']}/{model.config['inputs']}, {what}"
    atomic_write_bytes(out, proto.SerializeToString())

    # fresh random values, not the example's: the check must not see what was traced
    check = _random_inputs(model, DYNAMIC_EXAMPLE_BATCH if dynamic else 1, height, width, generator)
    with torch.inference_mode():
        expected = wrapped(*check).numpy()
    got = run_onnx(out, **dict(zip(names, (x.numpy() for x in check))), threads=threads)
    return OnnxExport(
        path=out,
        opset=opset,
        inputs=shapes,
        output=out_shape,
        config=model.config,
        max_abs_diff=float(np.abs(got - expected).max()),
        argmax_agreement=float((got.argmax(1) == expected.argmax(1)).mean()),
        output_name=output,
    )


def check_export_options(height: int, width: int, opset: int) -> None:
    """ConfigError naming the argument (its flag) for an opset or an image size the export refuses."""
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise ConfigError(
            None, "opset", f"must be between {MIN_OPSET} and {MAX_OPSET} (what torch {torch.__version__}'s ONNX exporter "
            f"writes); got {opset}"
        )
    for name, value in (("height", height), ("width", width)):
        if value < 1:
            raise ConfigError(None, name, f"must be a positive number of pixels; got {value}")


def check_onnx_out(out: str | Path, *sources: Path) -> Path:
    """``out`` as a Path, refused (ConfigError naming ``--out``) when it is not a ``.onnx`` file
    path in a folder, or is one of the ``sources`` it is made from."""
    out = Path(out)
    if out.is_dir():
        raise ConfigError(None, "out", f"must be a .onnx file; {out} is a folder")
    if out.suffix.lower() != ".onnx":
        raise ConfigError(None, "out", f"must end in .onnx; got {out}")
    if blocked := next((p for p in out.parents if p.exists() and not p.is_dir()), None):
        raise ConfigError(None, "out", f"must be in a folder; {blocked} is a file")
    for source in sources:
        if source.exists() and out.resolve() == source.resolve():
            raise ConfigError(None, "out", f"must not be the file it is made from, {source}")
    return out


def refuse_foreign_onnx(out: Path) -> None:
    """UserError when ``out`` exists and is not an rtgs2 export (a user's file is never replaced)."""
    if out.exists() and not _written_by_rtgs2(out):
        raise UserError(f"{out} exists and is not an rtgs2 export: choose a new file (it is left as it is)")


def _random_inputs(
    model: VDVINet, batch: int, height: int, width: int, generator: torch.Generator
) -> tuple[Tensor, ...]:  # [B, 3, H, W] in [0, 1] and/or [B, D, H, W] unit vectors per pixel
    """Random inputs in the ranges the model sees: an image in [0, 1], Z of unit per-pixel vectors
    at the model's resolution of Z."""
    f = model.feature_stride
    make = {
        "image": lambda: torch.rand(batch, 3, height, width, generator=generator),
        "features": lambda: torch.nn.functional.normalize(
            torch.randn(batch, model.feature_dim, -(-height // f), -(-width // f), generator=generator), dim=1
        ),
    }
    return tuple(make[n]() for n in input_names(model.config))


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Hide the exporter's notes that say nothing about this model: a log line for each
    torchvision op it skips (rtgs2 has no torchvision), a deprecation inside torch's own pytree
    code, and that the inputs' shared batch dimension is named once."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)", category=FutureWarning)
            warnings.filterwarnings("ignore", message=r"# The axis name: batch will not be used")
            yield
    finally:
        logger.setLevel(level)


def _written_by_rtgs2(path: Path) -> bool:
    """True when ``path`` is an ONNX file with rtgs2's metadata (an earlier export: safe to replace)."""
    import onnx

    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception:  # not an ONNX file at all (onnx raises several types)
        return False
    return any(p.key == METADATA_PREFIX + "config" for p in proto.metadata_props)
