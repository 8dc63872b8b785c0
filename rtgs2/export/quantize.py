"""An exported fusion network as an int8 ONNX file: onnxruntime's static quantization.

``quantize_fusion_onnx(float_onnx, out, calibration)`` writes ``out`` (atomically) from a file
``export_fusion_onnx`` wrote; ``export_int8_onnx`` does both, calibrated on views rendered from a
data set (``rtgs2 export onnx --int8 --calibration-data DIR``). The file keeps the float file's
inputs, output and metadata, and adds ``rtgs2.quantization`` (JSON: format, types, calibration
method and views, the float file's SHA-256, the onnxruntime version);
:class:`~rtgs2.fusion.onnx_runtime.OnnxFusion` and ``Segmenter.from_files(..., onnx=)`` run it like
a float file.

The quantization: QDQ format (QuantizeLinear / DequantizeLinear pairs around each quantized op,
which onnxruntime's CPU provider fuses into int8 kernels), weights int8 per output channel
(symmetric), activations uint8 (asymmetric) with ranges calibrated on rendered views. Those views
are what the per-frame path feeds the network (``Segmenter._network_inputs``: Î and the splatted
feature image Z of the scene's features), since the activations' ranges depend on the inputs' own
(random inputs would calibrate other ranges).

Calibration method, measured on the shipped model (small/both, 17 classes, coarse logits at
320x240; this 2-core CPU, onnxruntime 1.30), calibrated on 16 views of 4 SynthRooms v2 train rooms
(seed 0): max / mean |int8 - float| of the coarse logits (which span -5.5 to 4.6) and their arg-max
agreement on 8 other views of those rooms; the labels' agreement with torch's on the covered pixels
of the held-out views of test rooms 000 and 003 (``Segmenter.segment``); the quantization's time.

==========  =============  ==========  ===================  ========
method      max / mean      arg-max     labels 000 / 003     time
==========  =============  ==========  ===================  ========
minmax      2.90 / 0.122    98.9 %      98.0 % / 98.6 %      13 s
percentile  2.16 / 0.104    99.0 %      98.4 % / 98.8 %      20 s
entropy     2.90 / 0.122    98.9 %      (as minmax)          19 s
==========  =============  ==========  ===================  ========

With percentile calibration, ``rtgs2 eval`` on the 8 v2 test rooms' held-out views: mIoU 55.9 %
against the torch model's 56.6 (mAcc 66.0 vs 66.7, oAcc 85.3 vs 85.5; 2026-12-05).

Percentile (each tensor's range clipped to its 0.001st to 99.999th percentiles, onnxruntime's
default percentile) is the default. The histogram methods (percentile, entropy) fail on a tensor
of nearly constant values (numpy cannot cut its float32 range into 2048 bins; seen with the
shipped model on random Z): such a run falls back to minmax, with a warning, and the file records
both. Every op type onnxruntime can quantize is quantized (its default): quantizing only Conv,
MatMul and Gemm agreed as well (98.2 % / 98.8 %, percentile) but ran slower, 34 ms against 27.5
(float: 37.5; 10th percentile of 75 runs, one thread, on the loaded machine). onnxruntime's
pre-processing (``quant_pre_process``) fails on this graph (its symbolic shape inference asserts),
so it is not run, and the quantizer's advice to run it is silenced.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import shutil
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from rtgs2.export import CALIBRATION_METHODS, CALIBRATION_VIEWS, DEFAULT_CALIBRATION, DEFAULT_OPSET
from rtgs2.export.onnx import OnnxExport, check_export_options, check_onnx_out, export_fusion_onnx, refuse_foreign_onnx
from rtgs2.fusion.onnx_runtime import (
    COARSE_OUTPUT, QUANTIZATION_KEY, onnx_config, onnx_image_size, onnx_session, require_onnx,
)  # fmt: skip
from rtgs2.utils.errors import ConfigError, UserError
from rtgs2.utils.io import atomic_write_bytes, check_writable, file_sha256

if TYPE_CHECKING:
    from rtgs2.pipeline.segmenter import Segmenter
    from rtgs2.scene import Camera

Feed = dict[str, np.ndarray]
"""One view's network inputs by ONNX input name: ``image`` [1, 3, H, W] and/or ``features``
[1, D, h, w], float32, C-contiguous."""

Calibration = Literal["minmax", "entropy", "percentile"]  # CALIBRATION_METHODS
ORT_METHODS: dict[str, str] = {"minmax": "MinMax", "entropy": "Entropy", "percentile": "Percentile"}
"""Our names -> onnxruntime.quantization.CalibrationMethod's."""
CALIBRATION_SCENES = 4  # scenes the views are spread over: rooms differ in their colours and classes
CHECK_VIEWS = 8  # other views of the same scenes, on which the int8 file is compared with the float one


@dataclass(frozen=True)
class QuantizeReport:
    """What ``quantize_fusion_onnx`` wrote and measured."""

    path: Path
    config: dict[str, Any]
    """the fusion model's config (the float file's)."""
    quantization: dict[str, Any]
    """what the file's ``rtgs2.quantization`` holds."""
    check_views: int
    """views the int8 output was compared with the float one on (0: not compared)."""
    max_abs_diff: float | None
    """max |int8 - float| over those views' outputs (logits, or coarse logits: their part over the
    image, ceil(H / 4) x ceil(W / 4), without the padding's rows and columns)."""
    argmax_agreement: float | None
    """fraction of those outputs' pixels whose arg-max class is the same in both, 0-1."""


def network_feeds(segmenter: Segmenter, cameras: Sequence[Camera]) -> list[Feed]:
    """The network inputs of each camera's view, rendered and laid out exactly as
    ``Segmenter.segment`` feeds its network (``Segmenter._network_inputs``), as ONNX feeds."""
    from rtgs2.export.onnx import input_names

    names = input_names(segmenter.model.config)
    feeds = []
    for camera in cameras:
        image, features = segmenter._network_inputs(segmenter.render(camera))
        given = {"image": image, "features": features}
        feeds.append({n: np.ascontiguousarray(given[n].cpu().numpy(), dtype=np.float32) for n in names})
    return feeds


def dataset_feeds(
    data: str | Path,
    weights: str | Path | None,
    views: int,
    *,
    height: int,
    width: int,
    seed: int = 0,
    extra_views: int = 0,
    scenes: int = CALIBRATION_SCENES,
    feature_weights: str | Path | None = None,
) -> tuple[list[Feed], list[Feed], str]:
    """Network inputs of ``views`` + ``extra_views`` rendered views of a data set (any folder
    ``open_dataset`` reads whose scenes have their 3DGS ``.ply``), as the per-frame path feeds the
    fusion model at ``weights`` (features extracted with the feature weights its card names, cached).

    Scenes: ``scenes`` of the data set's train scenes (all scenes where it names none), drawn with
    ``seed``; cameras: their training views, drawn with ``seed``, the extra ones disjoint from the
    others, resized to ``width`` x ``height``. Returns the first ``views`` feeds, the extra ones
    and a description of where they came from.

    Raises UserError for a data set without scenes of their own ``.ply`` or with fewer views than asked.
    """
    from rtgs2.data import open_dataset
    from rtgs2.pipeline.segmenter import Segmenter

    if views < 1:
        raise ConfigError(None, "calibration_views", f"must be a positive number of views; got {views}")
    opened = open_dataset(data)
    pool = opened.split("train") if "train" in opened.scene_split else opened.scenes
    pool = [s for s in pool if s.gaussians is not None]
    if not pool:
        raise UserError(f"{data}: no scene with its own 3DGS .ply to render calibration views from")
    rng = np.random.default_rng(seed)
    chosen = [pool[i] for i in sorted(rng.choice(len(pool), min(scenes, len(pool)), replace=False))]
    wanted = views + extra_views
    share = [wanted // len(chosen) + (i < wanted % len(chosen)) for i in range(len(chosen))]
    picked = []  # (scene, the camera indices drawn)
    for scene, n in zip(chosen, share):
        pool_idx = scene.indices("train") or scene.indices("all")
        if n > len(pool_idx):
            raise UserError(f"{data}: scene {scene.name!r} has {len(pool_idx)} training views, {n} wanted")
        picked.append((scene, [int(i) for i in rng.choice(pool_idx, n, replace=False)]))
    rendered: list[tuple[int, Feed]] = []  # (order among all views, feed): calibration views are the first drawn
    order = _interleave([len(idx) for _, idx in picked])
    for (scene, idx), ranks in zip(picked, order):
        # the ONNX file reads views of its exported size whole (an ONNX segmenter's scale is 1)
        segmenter = Segmenter.from_files(
            scene.gaussians, weights, feature_weights=feature_weights, network_scale=1, image_fallback=False
        )  # calibrates the model exported, whatever the scene
        cameras = [scene.cameras[i].resized(width, height) for i in idx]
        rendered += zip(ranks, network_feeds(segmenter, cameras))
    feeds = [f for _, f in sorted(rendered, key=lambda r: r[0])]
    where = "train scenes" if "train" in opened.scene_split else "scenes"
    names = ", ".join(s.name for s in chosen)
    return feeds[:views], feeds[views:], f"{views} views of {len(chosen)} {where} of {data} ({names}), seed {seed}"


def _interleave(counts: Sequence[int]) -> list[list[int]]:
    """Ranks 0..sum-1 dealt round-robin over groups of ``counts``: the first ranks (the
    calibration views) come from every group alike, the last (the check views) too."""
    ranks: list[list[int]] = [[] for _ in counts]
    k = 0
    for j in range(max(counts, default=0)):
        for g, n in enumerate(counts):
            if j < n:
                ranks[g].append(k)
                k += 1
    return ranks


def quantize_fusion_onnx(
    float_onnx: str | Path,
    out: str | Path,
    calibration: Sequence[Feed],
    *,
    method: Calibration = DEFAULT_CALIBRATION,
    check: Sequence[Feed] = (),
    source: str | None = None,
    threads: int | None = None,
) -> QuantizeReport:
    """Write the float ONNX file ``float_onnx`` (``export_fusion_onnx``) as an int8 one (module doc).

    Args:
        out: the ``.onnx`` file to write (an earlier rtgs2 file there is replaced, anything else refused).
        calibration: network inputs of rendered views (``network_feeds``, ``dataset_feeds``).
        method: how the activations' ranges come from the calibration outputs (``CALIBRATION_METHODS``).
        check: other views' inputs: the report's difference and arg-max agreement are measured on them.
        source: where the calibration views came from, recorded in the file.
        threads: onnxruntime intra-op threads of the check runs (None: its default).

    Raises UserError for a file that is not a float rtgs2 export, a bad ``out``, or calibration
    inputs that do not fit the file; MissingFileError for a missing file.
    """
    float_onnx = Path(float_onnx)
    require_onnx("onnx", "onnxruntime")
    if method not in CALIBRATION_METHODS:
        raise ConfigError(None, "calibration_method", f"must be one of {', '.join(CALIBRATION_METHODS)}; got {method!r}")
    session = onnx_session(float_onnx)
    config = onnx_config(session, name=float_onnx)
    if QUANTIZATION_KEY in session.get_modelmeta().custom_metadata_map:
        raise UserError(f"{float_onnx} is quantized already: give the float file rtgs2 export onnx wrote")
    out = check_onnx_out(out, float_onnx)
    refuse_foreign_onnx(out)
    check_writable(out, "out")
    if not calibration:
        raise UserError("quantization needs at least one calibration view")
    for feed in [*calibration, *check]:
        _check_feed(session, feed)

    import onnx
    import onnxruntime
    from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static

    class Feeds(CalibrationDataReader):
        def __init__(self, feeds: Sequence[Feed]):
            self.feeds = iter(feeds)

        def get_next(self) -> Feed | None:
            return next(self.feeds, None)

    calibration_record: dict[str, Any] = {"method": method, "views": len(calibration), "source": source}
    with tempfile.TemporaryDirectory(prefix="rtgs2-int8-") as tmp, _quiet_quantizer():
        written = Path(tmp) / "int8.onnx"
        # onnxruntime writes "<stem>-inferred.onnx" beside its input and deletes it: a copy in the
        # temporary folder keeps a user's file of that name, and a read-only folder, out of it
        source_copy = Path(tmp) / "float.onnx"
        shutil.copyfile(float_onnx, source_copy)

        def quantize(used: str) -> None:
            quantize_static(
                source_copy, written, Feeds(calibration), quant_format=QuantFormat.QDQ, per_channel=True,
                activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                calibrate_method=getattr(CalibrationMethod, ORT_METHODS[used]),
            )  # fmt: skip

        try:
            quantize(method)
        except ValueError as e:
            # The histogram methods fail on a tensor of nearly constant values: numpy cannot cut
            # its float32 range into 2048 bins (seen with random Z on the shipped model). MinMax
            # has no histogram.
            if method == "minmax" or "bins" not in str(e):
                raise
            why = f"{method} calibration failed ({e})"
            warnings.warn(f"{why}; calibrating with minmax")
            calibration_record.update(method="minmax", requested=method, note=why)
            quantize("minmax")
        proto = onnx.load(str(written))
    quantization = {
        "format": "QDQ",
        "weights": "int8, per output channel, symmetric",
        "activations": "uint8, asymmetric",
        "calibration": calibration_record,
        "float_sha256": file_sha256(float_onnx),
        "onnxruntime": onnxruntime.__version__,
    }
    float_proto = onnx.load(str(float_onnx), load_external_data=False)
    del proto.metadata_props[:]
    for prop in float_proto.metadata_props:
        proto.metadata_props.add(key=prop.key, value=prop.value)
    proto.metadata_props.add(key=QUANTIZATION_KEY, value=json.dumps(quantization, sort_keys=True))
    proto.doc_string = f"{float_proto.doc_string}, int8 (QDQ)"
    atomic_write_bytes(out, proto.SerializeToString())

    diff = agreement = None
    if check:
        quantized = onnx_session(out, threads=threads)
        floats = onnx_session(float_onnx, threads=threads)
        # a coarse file's padding rows and columns are not labels: only the image's part is compared
        height, width = onnx_image_size(floats)
        coarse = floats.get_outputs()[0].name == COARSE_OUTPUT
        crop = (..., slice(-(-height // 4)), slice(-(-width // 4))) if coarse else (...,)
        got = np.concatenate([quantized.run(None, f)[0][crop] for f in check])
        expected = np.concatenate([floats.run(None, f)[0][crop] for f in check])
        diff = float(np.abs(got - expected).max())
        agreement = float((got.argmax(1) == expected.argmax(1)).mean())
    return QuantizeReport(out, config, quantization, len(check), diff, agreement)


def _check_feed(session: Any, feed: Feed) -> None:
    """UserError unless ``feed`` holds each input of the file, of its shape (any batch)."""
    for spec in session.get_inputs():
        x = feed.get(spec.name)
        shape = None if x is None else list(np.shape(x))
        if shape is None or len(shape) != len(spec.shape) or shape[1:] != list(spec.shape[1:]):
            wanted = ", ".join(map(str, spec.shape[1:]))
            raise UserError(f"calibration inputs must hold {spec.name} [1, {wanted}]; got {shape}")


@contextlib.contextmanager
def _quiet_quantizer() -> Iterator[None]:
    """Hide onnxruntime.quantization's notes: it logs through the root logger (whose first
    message would also install a handler on it) advising a pre-processing step, and its
    histogram calibrators print their bin counts."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        root.setLevel(level)


def export_int8_onnx(
    weights: str | Path | None,
    out: str | Path,
    data: str | Path,
    *,
    views: int = CALIBRATION_VIEWS,
    method: Calibration = DEFAULT_CALIBRATION,
    seed: int = 0,
    height: int = 240,
    width: int = 320,
    opset: int = DEFAULT_OPSET,
    dynamic: bool = True,
    coarse: bool = False,
    threads: int | None = None,
    feature_weights: str | Path | None = None,
) -> tuple[OnnxExport, QuantizeReport]:
    """Export the fusion network at ``weights`` (``export_fusion_onnx``, to a temporary float file)
    and write it quantized to ``out``, calibrated on ``views`` views rendered from the data set
    ``data`` (``dataset_feeds``, seeded) and compared with the float file on ``CHECK_VIEWS`` others.
    Returns the float export's report (its ``path``, a temporary file, is gone) and the quantization's.

    Raises UserError (a ValueError) for bad options, output or data, before any slow work.
    """
    from rtgs2.fusion.io import fusion_weights_path

    check_export_options(height, width, opset)
    if method not in CALIBRATION_METHODS:
        raise ConfigError(None, "calibration_method", f"must be one of {', '.join(CALIBRATION_METHODS)}; got {method!r}")
    if views < 1:
        raise ConfigError(None, "calibration_views", f"must be a positive number of views; got {views}")
    weights = fusion_weights_path(weights)
    out = check_onnx_out(out, weights)
    require_onnx("onnx", "onnxscript", "onnxruntime")
    refuse_foreign_onnx(out)
    check_writable(out, "out")
    if not Path(data).is_dir():
        raise ConfigError(None, "calibration_data", f"must be a data set folder; {data} is not one")

    # the views first: a data set they cannot come from is refused before the export's seconds
    calibration, check, source = dataset_feeds(
        data, weights, views, height=height, width=width, seed=seed, extra_views=CHECK_VIEWS,
        feature_weights=feature_weights,
    )  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="rtgs2-onnx-") as tmp:
        floats = export_fusion_onnx(
            weights, Path(tmp) / "float.onnx", height=height, width=width, opset=opset, dynamic=dynamic,
            threads=threads, seed=seed, coarse=coarse,
        )  # fmt: skip
        report = quantize_fusion_onnx(
            floats.path, out, calibration, method=method, check=check, source=source, threads=threads
        )
    return floats, report
