"""A 3DGS scene + its per-Gaussian features + a fusion network -> semantic labels per camera.

The per-frame path is the paper's real-time loop: one rasterization pass gives Î (RGB), the
feature image Z and depth; the fusion network turns them into logits; the arg-max is the label.
The view-independent features F [N, D] are computed once per scene beforehand: read from the
scene's ``f_vi_*`` properties when it has them, else extracted with the feature weights the
fusion model was trained with and cached in ``<cache>/features`` (keyed by the bytes of the
``.ply`` and of the weights, and by the scene frame: the networks expect z-up scenes in metres, :class:`SceneFrame`).

The fusion network runs in torch, or from an ONNX file with onnxruntime on the CPU
(``from_files(..., onnx=)``: :class:`~rtgs2.fusion.onnx_runtime.OnnxFusion`, a float or an int8 file of coarse
logits, ``rtgs2 export onnx --coarse [--int8]``); such a file takes one image size, fixed when
exporting, and a camera of another size is refused.

A view at least twice the views the models were trained on (:data:`~rtgs2.pipeline.view_defaults.TRAINING_VIEW`, 320x240) is
read by the network at 1/s of its size (``network_scale``; ``"auto"``: the largest power of two
that keeps it at least that size, 2 at 640x480): Î averaged over s x s pixels, Z rendered at s
times the network's stride of Z, the logits upsampled x4 s to the view. The network then costs
what it costs at 320x240 and sees objects at the scale it learnt them;
``network_scale=1`` reads every view at its own size (the path before it).
"""

from __future__ import annotations

import statistics
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from rtgs2.data.views import IGNORE_LABEL
from rtgs2.features.cache import FeatureCache
from rtgs2.features.inputs import SceneFrame, choose_frame
from rtgs2.features.io import resolve_feature_weights
from rtgs2.fusion.compiled import CompiledCoarseLogits, Precision, resolve_precision
from rtgs2.fusion.io import fusion_weights_path, load_fusion, read_fusion_card, read_fusion_file
from rtgs2.fusion.labels import coarse_to_labels
from rtgs2.fusion.onnx_runtime import OnnxFusion
from rtgs2.fusion.shift import FeatureShift, FeatureStats, feature_shift
from rtgs2.fusion.vdvi import VDVINet, inference_model, upsample_logits
from rtgs2.pipeline.view_defaults import auto_network_scale, is_network_scale
from rtgs2.render import PER_FRAME, RasterSettings, RenderOutput, render
from rtgs2.scene import Camera, GaussianScene, read_ply
from rtgs2.utils.cache import cache_root
from rtgs2.utils.errors import MissingFileError, Rtgs2Error, UserError
from rtgs2.utils.io import file_sha256, refuse_folder

UNLABELLED = IGNORE_LABEL  # label of pixels no Gaussian covers enough
MIN_ALPHA = 0.5  # pixels less covered than this get UNLABELLED
NetworkScale = Union[int, Literal["auto"]]


def check_network_scale(network_scale: object) -> None:
    """UserError naming the value unless it is "auto" or a positive integer."""
    if not is_network_scale(network_scale):
        raise UserError(f"network_scale (--network-scale) must be 'auto' or a positive integer, got {network_scale!r}")


@dataclass
class SegmentedView:
    """One camera's result; images at the camera's size."""

    rgb: Tensor  # [H, W, 3] rendered Î in [0, 1]
    depth: Tensor  # [H, W] metres along the optical axis
    alpha: Tensor  # [H, W] accumulated opacity
    labels: Tensor  # [H, W] uint8 class index, UNLABELLED where alpha < MIN_ALPHA
    confidence: Tensor  # [H, W] softmax probability of the chosen class
    render_ms: float  # time of the rasterization pass
    network_ms: float  # time of the fusion network and the arg-max


def check_precision(precision: str, compiled: bool) -> None:
    """UserError for an unknown network precision, or bfloat16 for a network that is not the compiled torch one."""
    resolve_precision(precision)  # the names
    if precision == "bfloat16" and not compiled:
        raise UserError(
            "precision bfloat16 runs the compiled torch network: not with --no-compile-network or --onnx "
            "(compile_network=False or an ONNX file); use precision float32 or auto"
        )


class Segmenter:
    """Labels views of one scene with one fusion model.

    Args:
        model: a fusion network (``load_fusion``; moved to ``device`` and put in eval mode), or an
            ONNX file of one run by onnxruntime (:class:`OnnxFusion` of a ``--coarse`` export; on the CPU).
        scene: the Gaussians; when the model reads Z they must carry features of the model's
            ``feature_dim`` (see :meth:`from_files`, which provides them).
        device: where the network runs (the renderer picks its own backend for the scene's device).
        frame: the scene's units and up axis its features were computed in (z up, metres, as the networks expect; its ``note``
            says how it was chosen).
        render_settings: the rasterization of the per-frame path (``PER_FRAME``: its early stop and
            per-frame blend kernel; ``replace(PER_FRAME, frame_kernel=False)`` renders as before it).
        compile_network: run the torch network's per-frame call compiled by ``torch.compile``
            (:class:`~rtgs2.fusion.compiled.CompiledCoarseLogits`: ~30 % faster on the CPU, the
            first frame of each image size compiles; eager where compiling fails).
        precision: the compiled network's arithmetic: ``"float32"``, ``"bfloat16"`` (frozen
            weights, bfloat16 autocast, built ahead of time and kept in the cache: the network
            0.55-0.7x float32's time on a CPU with AMX or AVX512-BF16) or ``"auto"`` (bfloat16 where the device
            computes it natively; :mod:`rtgs2.fusion.compiled`). bfloat16 only with
            ``compile_network`` (:func:`check_precision`); the eager and ONNX networks run as they are.
        network_scale: the network reads each view at 1/s of its size (module doc); ``"auto"``:
            :func:`auto_network_scale` of the view's size. An ONNX file reads its fixed size: 1.
    """

    def __init__(
        self,
        model: VDVINet | OnnxFusion,
        scene: GaussianScene,
        device: str | torch.device = "cpu",
        frame: SceneFrame = SceneFrame(),
        render_settings: RasterSettings = PER_FRAME,
        compile_network: bool = False,
        precision: Precision = "float32",
        network_scale: NetworkScale = "auto",
    ):
        check_precision(precision, compile_network)
        check_network_scale(network_scale)
        if isinstance(model, OnnxFusion) and network_scale not in (1, "auto"):
            raise UserError(f"an ONNX fusion network reads the size it was exported at: network_scale {network_scale} cannot apply")
        self.network_scale = network_scale
        self.device = torch.device(device)
        self.frame = frame
        self.render_settings = render_settings
        self.feature_stride = int(model.config.get("feature_stride", 1))
        self.image_size: tuple[int, int] | None = None
        """H, W (pixels) the network takes when it is an ONNX file (fixed when exporting), else None: any."""
        if isinstance(model, OnnxFusion):
            if self.device.type != "cpu":
                raise UserError(
                    f"an ONNX fusion network runs on the CPU (onnxruntime's CPU provider); device {device} was given"
                )
            model.require_coarse()
            self.model: VDVINet | OnnxFusion = model
            self.image_size = (model.height, model.width)
        else:
            self.model = inference_model(model, self.device)  # the caller's model is left as it was
        self._coarse_logits: Callable[..., tuple[Tensor, int, int]] = self.model.coarse_logits
        if compile_network:
            if isinstance(self.model, OnnxFusion):
                raise UserError("compile_network compiles a torch model; an ONNX file runs in onnxruntime as it is")
            self._coarse_logits = CompiledCoarseLogits(self.model, precision)
        self.needs_features = model.config["inputs"] != "image"
        if self.needs_features:
            dim = 0 if scene.features is None else scene.features.shape[1]
            if dim != model.config["feature_dim"]:
                raise Rtgs2Error(
                    f"the fusion model reads {model.config['feature_dim']}-channel features, the scene has "
                    f"{dim or 'none'}: extract them first (rtgs2 features) or use Segmenter.from_files"
                )
        else:
            scene = scene.with_features(None)  # nothing to blend: the image-only path renders RGB alone
        self.scene = scene
        self.class_names: list[str] = list(model.config.get("class_names") or [])
        self.feature_shift: FeatureShift | None = None
        """How far the scene's features lie from the model's training features (set by :meth:`from_files`
        when the model's card has them; None otherwise)."""
        self.fallback: str | None = None
        """Set by :meth:`from_files` when it gave the image-only fallback model in place of the one asked
        for: why and which (printed for the user); None when the model asked for runs."""

    @property
    def num_classes(self) -> int:
        """K, the classes the model tells apart (labels 0..K-1)."""
        return int(self.model.config["num_classes"])

    @property
    def label_names(self) -> list[str]:
        """A name per label 0..K-1: the model's class names, else "class k"."""
        return self.class_names or [f"class {k}" for k in range(self.num_classes)]

    @property
    def network(self) -> str:
        """What runs the fusion network: ``"torch"``, ``"torch compiled"``, ``"torch compiled bfloat16"``, ``"onnx float"`` or ``"onnx int8"``
        (a compile that fails falls back to ``"torch"`` at the first frame: ask after one)."""
        if isinstance(self.model, OnnxFusion):
            return f"onnx {self.model.kind}"
        call = self._coarse_logits
        if isinstance(call, CompiledCoarseLogits) and call.fallback is None:
            return "torch compiled" + (" bfloat16" if call.precision == "bfloat16" else "")
        return "torch"

    def check_cameras(self, cameras: Sequence[Camera]) -> None:
        """UserError for a camera whose image size the network does not take (an ONNX file's is fixed)."""
        for camera in cameras:
            self._check_size(camera.height, camera.width)

    def _check_size(self, height: int, width: int) -> None:
        """``check_cameras`` for one image size; run each frame (``segment``, ``logits``), so it only
        compares ints: no file read, no allocation unless it raises."""
        size = self.image_size
        if size is not None and (height != size[0] or width != size[1]):
            fixed_h, fixed_w = size
            raise UserError(
                f"a camera is {width}x{height} pixels, the ONNX file {self.model.path} takes {fixed_w}x{fixed_h}: "
                f"export it at this size (rtgs2 export onnx --width {width} --height {height})"
            )

    @classmethod
    def from_files(
        cls,
        scene: str | Path | GaussianScene,
        weights: str | Path | None = None,
        *,
        feature_weights: str | Path | None = None,
        device: str | torch.device = "cpu",
        feature_cache: str | Path | None = None,
        metres_per_unit: float | None = None,
        up: str = "+z",
        render_settings: RasterSettings = PER_FRAME,
        onnx: str | Path | None = None,
        onnx_threads: int | None = None,
        compile_network: bool = False,
        precision: Precision = "float32",
        network_scale: NetworkScale = "auto",
        image_fallback: bool = True,
    ) -> Segmenter:
        """A segmenter for a ``.ply`` (or a loaded scene) with the fusion model at ``weights``
        (default: the shipped one), run in torch or, given ``onnx``, from that ONNX file of it
        (``rtgs2 export onnx --coarse``, float or int8; exported from ``weights``, whose card still
        names the feature weights) by onnxruntime on ``onnx_threads`` threads (None: its default);
        ``compile_network``, ``precision`` and ``network_scale`` as for the constructor.
        Features come from the file's ``f_vi_*`` when present and of
        the right size, else are extracted with ``feature_weights`` (default: those named on the
        fusion model's card, else the shipped ones) and cached in ``feature_cache``
        (default ``<cache>/features``). They are extracted in the frame
        ``choose_frame(scene, metres_per_unit, up)`` (the file's units in metres, default chosen
        from its size; its up axis), kept as :attr:`frame`, whose ``note`` callers print.

        When the model's card has its training features' statistics (``feature_stats``), the
        scene's features are compared with them (:attr:`feature_shift`, :mod:`rtgs2.fusion.shift`);
        if they are out of distribution and the card names an image-only model
        (``image_fallback``, beside the card), that model labels the scene instead, with
        ``image_fallback`` (the default), and :attr:`fallback` says so. Not for an ONNX file (a warning instead).

        Raises:
            FileNotFoundError: a weights file, the ONNX file or the scene is missing.
            Rtgs2Error: the feature weights differ from those the fusion model was trained with,
                or the ONNX file was not exported from ``weights``.
        """
        check_precision(precision, compile_network and onnx is None)  # before the scene and its features
        check_network_scale(network_scale)
        if onnx is not None and network_scale not in (1, "auto"):
            raise UserError(f"an ONNX fusion network reads the size it was exported at: network_scale {network_scale} cannot apply")
        weights = fusion_weights_path(weights)
        if onnx is not None:
            model: VDVINet | OnnxFusion = OnnxFusion(onnx, threads=onnx_threads)
            check_onnx_source(model, weights)  # before any feature is extracted for it
        else:
            model = load_fusion(weights)
        ply = None
        if not isinstance(scene, GaussianScene):
            ply = Path(scene)
            refuse_folder(ply, "scene")
            if not ply.is_file():
                raise MissingFileError(f"scene {ply} not found")
            scene = read_ply(ply)
        frame = choose_frame(scene, metres_per_unit, up)
        if model.config["inputs"] != "image":
            # A file's own f_vi_* say nothing of the weights that made them: they are used only
            # when nothing names the weights the model needs (no --feature-weights, no hash on
            # the model's card) and they have the model's width; else features are extracted.
            dim = model.config["feature_dim"]
            named = feature_weights is not None or read_fusion_card(weights).get("feature_weights_sha256")
            if named or scene.features is None or scene.features.shape[1] != dim:
                fw = model_feature_weights(weights, feature_weights)
                if scene.features is not None:  # say so: a user who ran `rtgs2 features` expects them used
                    have = scene.features.shape[1]
                    why = (
                        f"they have {have} channels, the fusion model reads {dim}" if have != dim
                        else "--feature-weights names others" if feature_weights is not None
                        else "the fusion model's card names the weights it was trained with"
                    )  # fmt: skip
                    warnings.warn(
                        f"the scene's own f_vi_* features are not used ({why}): computing those of "
                        f"{Path(fw).name} (cached)"
                    )
                scene = scene.with_features(scene_features(scene, ply, fw, feature_cache, frame))
        shift, fallback, note = _image_fallback(weights, model, scene, image_fallback and onnx is None)
        segmenter = cls(fallback or model, scene, device, frame, render_settings, compile_network, precision, network_scale)
        segmenter.feature_shift, segmenter.fallback = shift, note
        return segmenter

    def scale_for(self, height: int, width: int) -> int:
        """The network scale s of a view of ``height`` x ``width`` pixels (``network_scale``)."""
        if self.image_size is not None:  # an ONNX file: its own fixed size
            return 1
        return auto_network_scale(height, width) if self.network_scale == "auto" else self.network_scale

    @torch.no_grad()
    def render(self, camera: Camera) -> RenderOutput:
        """The rasterization pass of the per-frame path: Î, depth, alpha at the camera's size and,
        when the model reads it, Z at the model's resolution of Z (``feature_stride``) times the
        view's network scale."""
        stride = self.feature_stride * self.scale_for(camera.height, camera.width)
        return render(self.scene, camera, feature_stride=stride, settings=self.render_settings)

    @torch.no_grad()
    def logits(self, out: RenderOutput) -> Tensor:  # [K, H, W]
        """Class logits of one view rendered by :meth:`render` (Z at its stride for the view's
        network scale), at its image's size."""
        height, width = out.rgb.shape[:2]
        self._check_size(height, width)
        scale = self.scale_for(height, width)
        if scale == 1:
            return self.model(*self._network_inputs(out))[0, :, :height, :width]
        coarse, _, _ = self.model.coarse_logits(*self._network_inputs(out))
        return upsample_logits(coarse, height, width, 4 * scale)[0]

    def _network_inputs(self, out: RenderOutput) -> tuple[Tensor, Tensor | None]:
        """Î [1, 3, H / s, W / s] (the mean of each s x s block, s: :meth:`scale_for`) and Z
        [1, D, h, w] (None when the model reads no Z) of a rendered view, on the network's device:
        views of the render's [H, W, C] tensors (channels last) on the CPU."""
        image = out.rgb.permute(2, 0, 1)[None].to(self.device)
        scale = self.scale_for(*out.rgb.shape[:2])
        if scale > 1:  # (ceil_mode: a partial block at the border is the mean of its pixels)
            image = F.avg_pool2d(image, scale, ceil_mode=True)
        feats = out.features.permute(2, 0, 1)[None].to(self.device) if self.needs_features else None
        return image, feats

    @torch.no_grad()
    def segment(self, camera: Camera) -> SegmentedView:
        """Render ``camera`` and label every pixel (module doc)."""
        self._check_size(camera.height, camera.width)
        t0 = time.perf_counter()
        out = self.render(camera)
        t1 = time.perf_counter()
        height, width = out.rgb.shape[:2]
        coarse, _, _ = self._coarse_logits(*self._network_inputs(out))
        # upsampling, arg-max and the chosen class's softmax in one pass: the [K, H, W] logits
        # of forward() would only be reduced
        labels, confidence = coarse_to_labels(coarse[0], height, width, scale=4 * self.scale_for(height, width))
        t2 = time.perf_counter()
        alpha = out.alpha.cpu()
        labels = torch.where(alpha >= MIN_ALPHA, labels, torch.full_like(labels, UNLABELLED))
        return SegmentedView(
            out.rgb.cpu(), out.depth.cpu(), alpha, labels, confidence.cpu(), (t1 - t0) * 1e3, (t2 - t1) * 1e3
        )


@dataclass
class FrameRate:
    """Speed of the per-frame path (render Î + Z, fusion, arg-max; features precomputed)."""

    fps: float  # 1000 / median_ms
    median_ms: float
    render_ms: float  # median of the rasterization alone
    network_ms: float  # median of the network + arg-max alone
    frames: int
    width: int
    height: int
    threads: int  # torch CPU threads

    def describe(self) -> str:
        return (
            f"{self.fps:.1f} FPS ({self.median_ms:.1f} ms median over {self.frames} frames at "
            f"{self.width}x{self.height}: render {self.render_ms:.1f} ms + network {self.network_ms:.1f} ms, "
            f"{self.threads} threads)"
        )

    @classmethod
    def of(
        cls, total_ms: Sequence[float], render_ms: Sequence[float], network_ms: Sequence[float], camera: Camera
    ) -> FrameRate:
        """Medians of timed frames: of each whole :meth:`Segmenter.segment` call, of its render
        and of its network parts (milliseconds, one per frame); ``camera`` gives the size reported."""
        if not total_ms or not len(total_ms) == len(render_ms) == len(network_ms):
            raise ValueError(
                "FrameRate.of needs at least one frame, with as many render and network times as total times; "
                f"got {len(total_ms)} total, {len(render_ms)} render, {len(network_ms)} network"
            )
        med = statistics.median(total_ms)
        return cls(
            1e3 / med, med, statistics.median(render_ms), statistics.median(network_ms), len(total_ms),
            camera.width, camera.height, torch.get_num_threads(),
        )  # fmt: skip


class FrameTimer:
    """Times :meth:`Segmenter.segment` calls (whole call, render part, network part) as they are
    made, for the :class:`FrameRate` of a run that also uses the views (the demo, ``segment``)."""

    def __init__(self) -> None:
        self.total_ms: list[float] = []
        self.render_ms: list[float] = []
        self.network_ms: list[float] = []

    def segment(self, segmenter: Segmenter, camera: Camera) -> SegmentedView:
        """``segmenter.segment(camera)``, timed."""
        t = time.perf_counter()
        view = segmenter.segment(camera)
        self.total_ms.append((time.perf_counter() - t) * 1e3)
        self.render_ms.append(view.render_ms)
        self.network_ms.append(view.network_ms)
        return view

    def rate(self, camera: Camera) -> FrameRate:
        """The medians so far; ``camera`` gives the image size reported."""
        return FrameRate.of(self.total_ms, self.render_ms, self.network_ms, camera)


def measure_fps(segmenter: Segmenter, cameras: Sequence[Camera], frames: int = 50, warmup: int = 3) -> FrameRate:
    """Median time of :meth:`Segmenter.segment` over ``frames`` frames (cycling through
    ``cameras``) after ``warmup`` untimed frames (numba compilation, allocator warm-up)."""
    if not cameras or frames < 1:
        raise ValueError(f"measure_fps needs at least one camera and one frame; got {len(cameras)} cameras, {frames} frames")
    for k in range(warmup):
        segmenter.segment(cameras[k % len(cameras)])
    timer = FrameTimer()
    for k in range(frames):
        timer.segment(segmenter, cameras[k % len(cameras)])
    return timer.rate(cameras[0])


def _image_fallback(
    weights: Path, model: VDVINet | OnnxFusion, scene: GaussianScene, allowed: bool
) -> tuple[FeatureShift | None, VDVINet | None, str | None]:
    """The scene's feature shift against the training features on the card of ``weights`` (None
    without them), and, when it is out of distribution, the card names an image-only model and
    ``allowed``, that model and the note saying why it runs (else None, None; a warning when the
    shift is out of distribution and no fallback is taken)."""
    card = read_fusion_card(weights)
    if model.config["inputs"] == "image" or scene.features is None or not card.get("feature_stats"):
        return None, None, None
    card_file = weights.with_suffix(".json")
    shift = feature_shift(scene.features, FeatureStats.from_json(card["feature_stats"], str(card_file)))
    if not shift.out_of_distribution:
        return shift, None, None
    named = card.get("image_fallback")
    if not (allowed and named):
        warnings.warn(f"{shift.describe()}: the labels of fusion model {weights.name} may be poor here")
        return shift, None, None
    path = Path(named) if Path(named).is_absolute() else weights.parent / named
    if not path.is_file():
        raise MissingFileError(f"{card_file} names the image-only fallback {path}, which is missing")
    fallback = load_fusion(path)
    if fallback.config["inputs"] != "image" or fallback.config.get("class_names") != model.config.get("class_names"):
        raise Rtgs2Error(
            f"{card_file} names the fallback {path}, which is not an image-only model of the same classes "
            f"(inputs {fallback.config['inputs']!r})"
        )
    note = f"{shift.describe()}: labelling with the image-only model {path.name} instead (--no-image-fallback keeps {weights.name})"
    return shift, fallback, note


def check_onnx_source(network: OnnxFusion, weights: Path) -> None:
    """UserError unless the ONNX file ``network`` runs was exported from the fusion weights
    ``weights`` (by the SHA-256 it records): their card names the features its Z needs, and a
    file of another model would label with other classes. The message names what differs."""
    if network.weights_sha256 == file_sha256(weights):
        return
    config, _ = read_fusion_file(weights)
    keys = ("size", "inputs", "num_classes", "feature_dim", "feature_stride", "class_names")
    diff = [f"{k} {network.config.get(k)!r}, not {config.get(k)!r}" for k in keys if network.config.get(k) != config.get(k)]
    raise UserError(
        f"the ONNX file {network.path} was not exported from the fusion weights {weights} "
        f"({'; '.join(diff) if diff else 'the same config, other weights'}): give the weights it was exported "
        "from (--weights), or export these (rtgs2 export onnx --coarse)"
    )


def model_feature_weights(fusion_weights: Path, given: str | Path | None) -> Path:
    """The feature weights to compute Z's features with for the fusion model at
    ``fusion_weights``: ``given``, else those its card records (by hash; see
    :func:`~rtgs2.features.io.resolve_feature_weights`, which also refuses a file of another hash)."""
    card = read_fusion_card(fusion_weights)
    return resolve_feature_weights(
        given, recorded=card.get("feature_weights"), sha256=card.get("feature_weights_sha256"),
        needed_by=f"fusion model {fusion_weights}",
    )  # fmt: skip


def scene_features(
    scene: GaussianScene,
    ply: Path | None,
    weights: Path,
    folder: str | Path | None = None,
    frame: SceneFrame | None = None,
) -> Tensor:  # [N, D] float32
    """Per-Gaussian features [N, D] of ``scene`` by the feature network at ``weights``, in
    ``frame`` (default: ``choose_frame``'s automatic one): cached in ``folder`` (default
    ``<cache>/features``) by the bytes of ``ply`` and ``weights`` and by the frame when the scene
    came from a ``.ply`` (``ply`` not None), else extracted each call."""
    frame = frame if frame is not None else choose_frame(scene)
    if ply is None:
        from rtgs2.features.extract import extract_features

        return extract_features(scene, weights, frame=frame)
    folder = Path(folder) if folder is not None else cache_root() / "features"
    folder.mkdir(parents=True, exist_ok=True)
    # One entry per (file, weights, frame): two models' or two frames' features do not evict each other.
    key = f"{file_sha256(ply, weights)[:16]}_{frame.metres_per_unit:.9g}m{frame.up}"
    return FeatureCache(folder, weights).features(key, ply, scene, frame)
