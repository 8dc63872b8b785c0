"""Running the fusion network from an ONNX file with onnxruntime.

``run_onnx(path, image, features)`` runs a file that ``rtgs2 export onnx`` wrote
(``export_fusion_onnx``) on the CPU; ``onnx_session`` opens one to run many frames, and
``onnx_config`` and ``onnx_image_size`` read what its metadata records. :class:`OnnxFusion` runs
one behind the interface the per-frame path calls (``coarse_logits``), so that ``Segmenter`` takes
it in place of the torch model. The int8 files of ``rtgs2 export onnx --int8``
(``quantize_fusion_onnx``) run the same way.

The file:

- inputs ``image`` [batch, 3, H, W] float32, RGB in [0, 1] (absent when the model reads only Z)
  and ``features`` [batch, D, ceil(H / f), ceil(W / f)] float32, the splatted feature image Z at
  the model's resolution of Z (f = its ``feature_stride``: 4 or 8, or 1 for models trained before it;
  absent when it reads only the image); output ``logits`` [batch, K, H, W] float32, labels =
  arg-max over axis 1.
- or, exported with ``coarse=True`` (``rtgs2 export onnx --coarse``), output ``coarse_logits``
  [batch, K, Hp / 4, Wp / 4] float32 (Hp, Wp: H, W padded to a multiple of 32, e.g. [batch, K, 64,
  80] at 240x320): ``VDVINet.coarse_logits``, the logits before the network's last step, a x4
  bilinear upsampling (half-pixel centres) cropped to H x W. The per-frame path reads these: it
  upsamples, takes the arg-max and the confidence in one pass (``rtgs2.fusion.labels``), and the
  file skips the [K, H, W] logits that would only be reduced.
- H and W are fixed when exporting (``height``, ``width``; the export module's doc says why); the
  batch is dynamic unless ``dynamic=False`` fixes it at 1.
- metadata_props: ``rtgs2.config`` (the model's config, JSON: size, inputs, num_classes,
  feature_dim, depth_head, class_names), ``rtgs2.class_names`` (a JSON list; ``null`` when the
  weights name no classes), ``rtgs2.inputs``, ``rtgs2.output`` (its name, shape and meaning),
  ``rtgs2.image_size`` (``[H, W]``, JSON: a coarse file of a Z-only model states it nowhere else) and
  ``rtgs2.weights_sha256`` (of the source file); an int8 file adds ``rtgs2.quantization``.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from rtgs2.fusion.vdvi import upsample_logits
from rtgs2.utils.errors import MissingFileError, Rtgs2Error, UserError
from rtgs2.utils.io import refuse_folder

if TYPE_CHECKING:
    from onnxruntime import InferenceSession

OUTPUT = "logits"
COARSE_OUTPUT = "coarse_logits"
METADATA_PREFIX = "rtgs2."
QUANTIZATION_KEY = METADATA_PREFIX + "quantization"  # what an int8 file's quantization was (JSON; quantize_fusion_onnx)


def require_onnx(*modules: str) -> None:
    """Rtgs2Error naming the ONNX packages (the ``onnx`` extra) that are not installed."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise Rtgs2Error(f"ONNX export and runs need {', '.join(missing)}: pip install 'rtgs2[onnx]'")


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
    require_onnx("onnxruntime")
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
        wanted = shape_text(spec.shape)
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


def onnx_config(model: str | Path | InferenceSession, name: str | Path | None = None) -> dict[str, Any]:
    """The fusion config stored in an exported file (size, inputs, num_classes, feature_dim,
    depth_head, class_names); ``name``: the open session's file, for the error that refuses it."""
    if isinstance(model, (str, Path)):
        return _stored_config(onnx_session(model), str(model))
    return _stored_config(model, "this ONNX file" if name is None else str(name))


def _stored_config(session: InferenceSession, name: str) -> dict[str, Any]:
    """``onnx_config`` of an open file; Rtgs2Error naming it (``name``) when rtgs2 did not write it."""
    meta = session.get_modelmeta().custom_metadata_map
    if METADATA_PREFIX + "config" not in meta:
        raise Rtgs2Error(f"{name} was not written by rtgs2 export onnx (no rtgs2.config in its metadata)")
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
        self.config: dict[str, Any] = _stored_config(self.session, str(self.path))
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
        # per frame: the inputs are copied into the kept buffers, which are the feed itself (by
        # input name); only the output is new (onnxruntime's, handed to the caller)
        for name, buffer in self._buffers.items():
            x = image if name == "image" else features
            if x is None or x.shape != buffer.shape:  # another batch, or run_onnx's error naming the shape
                return run_onnx(self.session, image, features)
            buffer[...] = x.detach().cpu().numpy() if isinstance(x, Tensor) else x  # strided copy into NCHW
        return self.session.run(None, self._buffers)[0]


def shape_text(shape: Sequence[int | str | None]) -> str:
    """An ONNX shape as text, ``[batch, 3, 240, 320]`` (``?`` for an unnamed dynamic dimension)."""
    return "[" + ", ".join(str(d) if d is not None else "?" for d in shape) + "]"
