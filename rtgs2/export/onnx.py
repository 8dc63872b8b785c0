"""The fusion network as an ONNX file, and running that file with onnxruntime.

``export_fusion_onnx(weights, out)`` writes ``out`` (atomically) from weights that ``save_fusion``
wrote, runs it once on a random input and reports max |onnx - torch|; ``run_onnx(path, image,
features)`` runs a file on the CPU; :class:`OnnxFusion` runs one behind the interface the per-frame
path calls (``coarse_logits``), so that ``Segmenter`` takes it in place of the torch model.
:mod:`rtgs2.export.quantize` turns a file into an int8 one.

The file:

- inputs ``image`` [batch, 3, H, W] float32, RGB in [0, 1] (absent when the model reads only Z)
  and ``features`` [batch, D, ceil(H / f), ceil(W / f)] float32, the splatted feature image Z at
  the model's resolution of Z (f = its ``feature_stride``: 4, or 1 for models trained before it;
  absent when it reads only the image); output ``logits`` [batch, K, H, W] float32, labels =
  arg-max over axis 1.
- or, exported with ``coarse=True`` (``rtgs2 export onnx --coarse``), output ``coarse_logits``
  [batch, K, Hp / 4, Wp / 4] float32 (Hp, Wp: H, W padded to a multiple of 32, e.g. [batch, K, 64,
  80] at 240x320): ``VDVINet.coarse_logits``, the logits before the network's last step, a x4
  bilinear upsampling (half-pixel centres) cropped to H x W. The per-frame path reads these: it
  upsamples, takes the arg-max and the confidence in one pass (``rtgs2.fusion.labels``), and the
  file skips the [K, H, W] logits that would only be reduced.
- H and W are fixed when exporting (``height``, ``width``); the batch is dynamic unless
  ``dynamic=False`` fixes it at 1.
- metadata_props: ``rtgs2.config`` (the model's config, JSON: size, inputs, num_classes,
  feature_dim, depth_head, class_names), ``rtgs2.class_names`` (a JSON list; ``null`` when the
  weights name no classes), ``rtgs2.inputs``, ``rtgs2.output`` (its name, shape and meaning),
  ``rtgs2.image_size`` (``[H, W]``, JSON: a coarse file of a Z-only model states it nowhere else) and
  ``rtgs2.weights_sha256`` (of the source file); an int8 file adds ``rtgs2.quantization``.

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
import importlib.util
import json
import logging
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn as nn
from torch import Tensor

from rtgs2.export import DEFAULT_OPSET, MAX_OPSET, MIN_OPSET
from rtgs2.fusion.vdvi import VDVINet, upsample_logits
from rtgs2.utils.errors import ConfigError, MissingFileError, Rtgs2Error, UserError
from rtgs2.utils.io import atomic_write_bytes, check_writable, refuse_folder

if TYPE_CHECKING:
    from onnxruntime import InferenceSession

OUTPUT = "logits"
COARSE_OUTPUT = "coarse_logits"
_MEANING = {
    "image": "RGB in [0, 1]",
    "features": "the splatted feature image Z",
    OUTPUT: "class logits; labels = arg-max over axis 1",
    COARSE_OUTPUT: "VDVINet.coarse_logits: logits at a quarter of the image padded to a multiple of 32; "
    "forward's logits = x4 bilinear upsampling (half-pixel centres) cropped to H x W",
}
METADATA_PREFIX = "rtgs2."
QUANTIZATION_KEY = METADATA_PREFIX + "quantization"  # what an int8 file's quantization was (JSON; rtgs2.export.quantize)
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
            reads) instead of the full-resolution ``logits`` (module doc).

    Raises UserError (a ValueError) for a bad size, opset or output path and MissingFileError (a
    FileNotFoundError) for missing weights, before any slow work.
    """
    from rtgs2.fusion.io import fusion_weights_path, load_fusion
    from rtgs2.utils.io import file_sha256

    check_export_options(height, width, opset)
    weights = fusion_weights_path(weights)
    out = check_onnx_out(out, weights)
    _require_onnx("onnx", "onnxscript", "onnxruntime")
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
        "inputs": "; ".join(f"{n} {_shape_text(shapes[n])} float32 ({_MEANING[n]})" for n in names),
        "output": f"{output} {_shape_text(out_shape)} float32 ({_MEANING[output]})",
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


def _require_onnx(*modules: str) -> None:
    """Rtgs2Error naming the ONNX packages (the ``onnx`` extra) that are not installed."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise Rtgs2Error(f"ONNX export and runs need {', '.join(missing)}: pip install 'rtgs2[onnx]'")


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


def onnx_session(path: str | Path, *, threads: int | None = None) -> InferenceSession:
    """An onnxruntime session on the CPU for the ONNX file at ``path``.

    Args:
        threads: intra-op threads (None: onnxruntime's default, one per physical core).
    """
    path = Path(path)
    refuse_folder(path, "ONNX file")
    if not path.is_file():
        raise MissingFileError(f"ONNX file {path} not found")
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be positive; got {threads}")
    _require_onnx("onnxruntime")
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
    # onnxruntime's workers spin-wait after each run by default: beside the renderer's threads
    # (numba, OpenMP) on the same cores that spinning took the render from 33 to 63 ms a frame
    # (320x240, 2 cores, benchmarks/fusion.py); a worker that sleeps costs ~nothing at this grain.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own types for a damaged or foreign file
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise Rtgs2Error(f"{path} is not an ONNX file onnxruntime can run ({reason})") from e


def run_onnx(
    model: str | Path | InferenceSession,
    image: np.ndarray | Tensor | None = None,  # [B, 3, H, W] float, RGB in [0, 1]
    features: np.ndarray | Tensor | None = None,  # [B, D, H, W] float, Z
    *,
    threads: int | None = None,
) -> np.ndarray:  # [B, K, H, W] float32 logits, or [B, K, Hp / 4, Wp / 4] coarse logits
    """Logits of an exported fusion network (a file, or a session from ``onnx_session`` to run
    many frames): its one output, ``logits`` or, for a file exported with ``coarse=True``,
    ``coarse_logits`` (module doc). The inputs it does not read may be None; CPU tensors are taken
    as arrays.

    Raises ValueError for a missing input or a shape the file does not take (its H and W are
    fixed when exporting).
    """
    session = onnx_session(model, threads=threads) if isinstance(model, (str, Path)) else model
    given = {"image": image, "features": features}
    feed = {}
    for spec in session.get_inputs():
        wanted = _shape_text(spec.shape)
        if given.get(spec.name) is None:
            raise ValueError(f"this ONNX model reads {spec.name} {wanted}; got None")
        x = np.ascontiguousarray(given[spec.name], dtype=np.float32)
        if x.ndim != len(spec.shape) or any(isinstance(e, int) and e != n for e, n in zip(spec.shape, x.shape)):
            raise ValueError(
                f"{spec.name} must be {wanted} for this ONNX model (its size is fixed when exporting: "
                f"rtgs2 export onnx --height --width); got {list(x.shape)}"
            )
        feed[spec.name] = x
    return session.run(None, feed)[0]


def onnx_config(model: str | Path | InferenceSession) -> dict[str, Any]:
    """The fusion config stored in an exported file (size, inputs, num_classes, feature_dim,
    depth_head, class_names)."""
    session = onnx_session(model) if isinstance(model, (str, Path)) else model
    meta = session.get_modelmeta().custom_metadata_map
    if METADATA_PREFIX + "config" not in meta:
        raise Rtgs2Error("this ONNX file was not written by rtgs2 export onnx (no rtgs2.config in its metadata)")
    return json.loads(meta[METADATA_PREFIX + "config"])


def onnx_image_size(model: str | Path | InferenceSession) -> tuple[int, int]:
    """H, W (pixels) of the images an exported file takes, fixed when exporting."""
    session = onnx_session(model) if isinstance(model, (str, Path)) else model
    meta = session.get_modelmeta().custom_metadata_map
    if METADATA_PREFIX + "image_size" in meta:
        height, width = json.loads(meta[METADATA_PREFIX + "image_size"])
    else:  # files from before the key, all of full-resolution logits: the image's size, else (Z only) the logits'
        shapes = {i.name: i.shape for i in session.get_inputs()}
        height, width = (shapes.get("image") or session.get_outputs()[0].shape)[-2:]
    return int(height), int(width)


class OnnxFusion:
    """An exported fusion network (float or int8) run by onnxruntime behind the calls the
    per-frame path makes on a ``VDVINet``: ``config``, ``coarse_logits(image, features)`` and
    ``model(image, features)`` (full-resolution logits), so that ``Segmenter`` runs it in place of
    the torch model (``Segmenter.from_files(..., onnx=path)``).

    Its image size is fixed (:attr:`height`, :attr:`width`); inputs of another size raise
    ValueError naming the size the file takes. A batch of 1 is copied into arrays kept between
    calls (one [1, C, H, W] float32 per input, the NCHW layout the file reads, from the renderer's
    channels-last views); other batches go through ``run_onnx``.

    Args:
        path: a file ``export_fusion_onnx`` or ``quantize_fusion_onnx`` wrote.
        threads: onnxruntime intra-op threads (None: its default, one per physical core).
    """

    def __init__(self, path: str | Path, *, threads: int | None = None):
        self.path = Path(path)
        self.session = onnx_session(self.path, threads=threads)
        meta = self.session.get_modelmeta().custom_metadata_map
        self.config: dict[str, Any] = onnx_config(self.session)
        self.height, self.width = onnx_image_size(self.session)
        self.output: str = self.session.get_outputs()[0].name
        """``logits`` or ``coarse_logits`` (module doc)."""
        self.quantization: dict[str, Any] | None = json.loads(meta[QUANTIZATION_KEY]) if QUANTIZATION_KEY in meta else None
        """How the file was quantized (``rtgs2.quantization``); None for a float file."""
        self.weights_sha256: str | None = meta.get(METADATA_PREFIX + "weights_sha256")
        """SHA-256 of the fusion weights file it was exported from."""
        self._buffers = {i.name: np.empty([1, *i.shape[1:]], np.float32) for i in self.session.get_inputs()}

    @property
    def coarse(self) -> bool:
        """Whether the file outputs ``coarse_logits`` (what the per-frame path reads)."""
        return self.output == COARSE_OUTPUT

    @property
    def num_classes(self) -> int:
        return int(self.config["num_classes"])

    @property
    def feature_stride(self) -> int:
        """Z's resolution relative to the image's (``VDVISize.feature_stride``)."""
        return int(self.config.get("feature_stride", 1))

    @property
    def kind(self) -> str:
        """``"int8"`` for a quantized file, else ``"float"``."""
        return "int8" if self.quantization else "float"

    def require_coarse(self) -> None:
        """UserError for a file of full-resolution logits, which the per-frame path cannot read."""
        if not self.coarse:
            raise UserError(
                f"{self.path} outputs full-resolution logits; the per-frame path reads coarse ones: export it "
                "with rtgs2 export onnx --coarse"
            )

    def coarse_logits(
        self, image: Tensor | None, features: Tensor | None = None
    ) -> tuple[Tensor, int, int]:  # [B, K, Hp / 4, Wp / 4], H, W
        """As ``VDVINet.coarse_logits``: the logits before the x4 upsampling and the H, W of the
        full logits (the file's image size). UserError for a file of full-resolution logits."""
        self.require_coarse()
        return torch.from_numpy(self._run(image, features)), self.height, self.width

    def __call__(self, image: Tensor | None, features: Tensor | None = None) -> Tensor:  # [B, K, H, W]
        """Logits at the image's size, as ``VDVINet.forward`` (a coarse file's upsampled as it does)."""
        logits = torch.from_numpy(self._run(image, features))
        return upsample_logits(logits, self.height, self.width) if self.coarse else logits

    def _run(self, image: Tensor | np.ndarray | None, features: Tensor | np.ndarray | None) -> np.ndarray:
        given = {"image": image, "features": features}
        feed = {}
        for name, buffer in self._buffers.items():
            x = given[name]
            if x is None or tuple(x.shape) != buffer.shape:  # another batch, or run_onnx's error naming the shape
                return run_onnx(self.session, image, features)
            buffer[...] = x.detach().cpu().numpy() if isinstance(x, Tensor) else x  # strided copy into NCHW
            feed[name] = buffer
        return self.session.run(None, feed)[0]


def _shape_text(shape: Sequence[int | str | None]) -> str:
    return "[" + ", ".join(str(d) if d is not None else "?" for d in shape) + "]"


def _written_by_rtgs2(path: Path) -> bool:
    """True when ``path`` is an ONNX file with rtgs2's metadata (an earlier export: safe to replace)."""
    import onnx

    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception:  # not an ONNX file at all (onnx raises several types)
        return False
    return any(p.key == METADATA_PREFIX + "config" for p in proto.metadata_props)
