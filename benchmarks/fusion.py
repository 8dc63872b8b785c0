"""Fusion-network speed: the VDVI model alone, the speed-ups tried, and whole frames end to end.

    .venv/bin/python benchmarks/fusion.py                                  # full grid, appends to RESULTS.md
    .venv/bin/python benchmarks/fusion.py --data ~/.cache/rtgs2/synthrooms/v1
    .venv/bin/python benchmarks/fusion.py --sizes small --modes eager --resolutions 64x48 --frames 2 --no-append
    python benchmarks/fusion.py --device cuda --modes eager compile bf16      # the network on a GPU

Model rows: ``build_fusion(size, inputs)`` with random weights (speed does not depend on them),
17 classes (SynthRooms), batch 1, random float32 inputs in the renderer's channels-last layout, under ``torch.inference_mode()``;
``warmup`` calls, then the median of ``frames`` timed calls. Modes: ``eager``; ``compile``
(``torch.compile``, default mode, CPU inductor; its first call, which compiles, is reported
apart); ``compile-bf16`` (``torch.compile`` with the weights frozen into the graph, under bfloat16
autocast: the graph ``CompiledCoarseLogits(precision="bfloat16")`` builds ahead of time for the
end-to-end rows); ``bf16`` (eager bfloat16 autocast);
``onnxruntime`` (the same model exported as ``rtgs2 export onnx`` writes it: opset 18, dynamic batch, at the row's size; run by onnxruntime's
CPU provider on ``threads`` intra-op threads; the export's seconds and its max |onnx - torch|
are in the note). A speed-up that cannot run here is reported as unavailable, with the reason.

End-to-end rows: the first finished test scene of a SynthRooms root (``--data``), else the
procedural room of ``benchmarks/scenes.py``. Its per-Gaussian features are computed once,
untimed (feature weights when there are any, else random unit vectors: the speed is the same).
Each frame renders Î and Z with the numba backend at the next camera (cycling through them),
runs fusion ``--scene-size`` (small)/both and the argmax; medians per stage and of the total. Network ``eager`` is
torch as Segmenter runs it, ``compile`` / ``compile-bf16`` compiled as ``Segmenter(compile_network=True,
precision=...)`` runs it (float32 / bfloat16), ``bf16`` eager under bfloat16 autocast, ``int8`` the same random
model exported with coarse logits and quantized as ``rtgs2 export onnx --coarse --int8`` does
(``rtgs2.export.quantize``), calibrated on ``INT8_CALIBRATION_VIEWS`` rendered views of the same
scene, run by onnxruntime on ``threads`` threads (``OnnxFusion``, as ``Segmenter`` runs it; CPU only).

With ``--device cuda`` the network and its inputs are on the GPU, each timed call ends with a
``torch.cuda.synchronize()``; end to end, the scene is on the GPU and Î and Z are rendered there
by the gsplat backend (``pip install -e '.[cuda]'``): the whole per-frame path on the GPU.

Each configuration runs in a fresh process, so one's compiled code and warm caches do not help
the next. Pause background jobs before timing (or read the load averages printed with the table).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import tyro

if TYPE_CHECKING:
    from rtgs2.fusion.vdvi import VDVINet

RESULTS = Path(__file__).with_name("RESULTS.md")
FEATURE_DIM = 32  # channels of Z when no feature weights say otherwise (the shipped network's)
ROOM_VIEWS = 24  # cameras on the procedural room's loop
INT8_CALIBRATION_VIEWS = 4  # views of the scene calibrating the int8 network (the speed does not depend on them)


@dataclass
class Config:
    sizes: list[str] = field(default_factory=lambda: ["small", "paper"])
    """Fusion network sizes (rtgs2.fusion.vdvi.VARIANTS)."""
    inputs: list[str] = field(default_factory=lambda: ["both", "image"])
    """Model inputs: both (Î and Z), image (Î only) or features (Z only)."""
    resolutions: list[str] = field(default_factory=lambda: ["320x240", "640x480"])
    """Image sizes of the model rows, WIDTHxHEIGHT pixels."""
    modes: list[str] = field(default_factory=lambda: ["eager", "compile", "compile-bf16", "bf16", "onnxruntime"])
    """eager (float32), compile (torch.compile, default mode), compile-bf16 (compiled with frozen weights under
    bfloat16 autocast, as Segmenter's precision="bfloat16"), bf16 (eager bfloat16 autocast), onnxruntime (ONNX export)."""
    frames: int = 20
    """Timed frames per configuration (median)."""
    warmup: int = 3
    """Untimed frames before them."""
    threads: int = 2
    """torch threads (onnxruntime's in its rows, numba's in the end-to-end rows)."""
    end_to_end: bool = True
    """Time render + fusion + argmax on a scene."""
    data: Path | None = None
    """SynthRooms v1 root: the end-to-end scene is its first finished test scene (default: the procedural room)."""
    scene: str | None = None
    """The end-to-end test scene of --data (default: its first finished one), e.g. test_001: a v3
    room fitted from discs, flat and opaque as fits of real captures are."""
    network_scale: str = "auto"
    """End to end, the network reads the view at 1/s of its size (Segmenter's network_scale): auto
    (1 up to 639x479, 2 at 640x480) or an integer (1: every view whole, the path before it)."""
    gaussians: Path | None = None
    """The end-to-end scene's 3DGS in place of the data set's own (a .ply, or a 3DGS output folder whose
    latest point_cloud.ply is taken): the same room and cameras, another fit of it (needs --data)."""
    scene_resolutions: list[str] = field(default_factory=lambda: ["320x240"])
    """End-to-end image sizes, WIDTHxHEIGHT (the scene's cameras resized; SynthRooms v1 is 320x240)."""
    room_gaussians: int = 150_000
    """Gaussians of the procedural room (SynthRooms v1 scenes have at most 150,000)."""
    scene_size: str = "small"
    """End-to-end fusion network size (rtgs2.fusion.vdvi.VARIANTS): small (the shipped models') or fast."""
    fusion: str = "late"
    """How the full model (inputs both, and end to end) joins Î and Z: late (two heads; the default model's) or mid (psi)."""
    feature_stride: int = 4
    """Resolution of Z the networks read, relative to the image's (VDVISize.feature_stride: 4 or 8, or 1 as before it)."""
    scene_modes: list[str] = field(default_factory=lambda: ["eager", "compile", "compile-bf16", "int8"])
    """End-to-end network modes: eager, compile (torch.compile, as Segmenter(compile_network=True); compiled in the
    warm-up frames), compile-bf16 (the same in bfloat16, as Segmenter's precision="bfloat16", the default of rtgs2
    segment and the demo on a CPU with AMX: its ahead-of-time package built or loaded in the warm-up), bf16 (eager autocast) and/or int8 (onnxruntime, the same model quantized)."""
    blends: list[str] = field(default_factory=lambda: ["frame", "exact"])
    """End-to-end numba blend kernels: frame (the per-frame kernel, the default path) and/or exact
    (the exact kernel, features averaged afterwards: the path before it)."""
    feature_weights: Path | None = None
    """Feature-network weights for Z (default: the shipped ones; random unit features when there are none)."""
    device: str = "cpu"
    """Where the per-frame path runs: cpu (numba renderer), or cuda (gsplat renderer and the network on
    the GPU; onnxruntime rows stay on the CPU)."""
    append: bool = True
    """Append the tables to benchmarks/RESULTS.md."""


def _wh(res: str) -> tuple[int, int]:
    w, h = (int(v) for v in res.split("x"))
    return w, h


def _sync(device: str) -> None:
    """Wait for the GPU's queued work, so that a wall-clock time covers it."""
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _model_case(spec: dict) -> dict:
    import torch

    from rtgs2.data.readers.synthrooms import CLASS_NAMES
    from rtgs2.fusion.compiled import native_bfloat16
    from rtgs2.fusion.vdvi import build_fusion, inference_model

    w, h = _wh(spec["res"])
    device = spec["device"]
    f = spec["feature_stride"]
    fusion = spec.get("fusion", Config.fusion) if spec["inputs"] == "both" else "mid"
    net = build_fusion(spec["size"], spec["inputs"], num_classes=len(CLASS_NAMES), feature_stride=f, fusion=fusion)
    # as Segmenter runs it (a ResNet Enc_VD's BatchNorms folded); the ONNX export saves and re-reads
    # the weights, so it gets the model as trained
    net = net.eval().to(device) if spec["mode"] == "onnxruntime" else inference_model(net, device)
    # laid out as the renderer gives them: [H, W, C] viewed as [1, C, H, W] (channels last); an NCHW
    # input would add a transpose of Z that the per-frame path never pays
    image = torch.rand(1, h, w, 3, device=device).permute(0, 3, 1, 2)
    feats = torch.randn(1, -(-h // f), -(-w // f), net.feature_dim, device=device).permute(0, 3, 1, 2)
    out = {"params_m": sum(p.numel() for p in net.parameters()) / 1e6}
    fn, autocast = net, contextlib.nullcontext()
    if spec["mode"] == "compile":
        fn = torch.compile(net)
    elif spec["mode"] == "compile-bf16":  # the frozen graph CompiledCoarseLogits(precision="bfloat16") packages ahead of time
        fn = torch.compile(net)
        autocast = contextlib.ExitStack()
        autocast.enter_context(torch._inductor.config.patch(freezing=True))
        autocast.enter_context(torch.autocast(torch.device(device).type, dtype=torch.bfloat16))
        if not native_bfloat16(device):
            out["note"] = "no native bf16 here (rtgs2.fusion.compiled.native_bfloat16)"
    elif spec["mode"] == "bf16":
        autocast = torch.autocast(torch.device(device).type, dtype=torch.bfloat16)
        if device == "cpu" and not torch.ops.mkldnn._is_mkldnn_bf16_supported():
            out["note"] = "no native bf16 on this CPU"
    elif spec["mode"] == "onnxruntime":
        if device != "cpu":
            raise ValueError("onnxruntime rows run on the CPU only")
        fn, out["note"] = _onnx_runner(net, spec["threads"], h, w)
    with torch.inference_mode(), autocast:
        times = []
        for _ in range(spec["warmup"] + spec["frames"]):
            t = time.perf_counter()
            fn(image, feats)
            _sync(device)
            times.append((time.perf_counter() - t) * 1000.0)
    if spec["mode"].startswith("compile"):
        out["compile_s"] = times[0] / 1000.0  # the first call compiles
    out["median_ms"] = statistics.median(times[spec["warmup"] :])
    return out


def _onnx_runner(net: VDVINet, threads: int, h: int, w: int) -> tuple[Callable, str]:
    """``net`` exported to a temporary file as ``rtgs2 export onnx`` writes it, a function running
    it with onnxruntime (``fn(image, feats) -> logits``), and a note on the export."""
    import tempfile

    from rtgs2.export.onnx import export_fusion_onnx
    from rtgs2.fusion.io import save_fusion
    from rtgs2.fusion.onnx_runtime import onnx_session, run_onnx

    with tempfile.TemporaryDirectory() as tmp:
        weights, path = Path(tmp) / "fusion.pt", Path(tmp) / "fusion.onnx"
        save_fusion(net, weights)
        t = time.perf_counter()
        r = export_fusion_onnx(weights, path, height=h, width=w, threads=threads)
        export_s = time.perf_counter() - t
        session = onnx_session(path, threads=threads)  # the file is read here; the folder may go
    note = f"export {export_s:.0f} s, max abs diff to torch {r.max_abs_diff:.1e}"  # no "|": a table cell
    return lambda image, feats: run_onnx(session, image, feats), note


def _scene_case(spec: dict) -> dict:
    import numba
    import torch
    import torch.nn.functional as F

    from rtgs2.data.readers.synthrooms import CLASS_NAMES, open_synthrooms
    from rtgs2.eval.scenes import ply_of
    from rtgs2.features.extract import extract_features
    from rtgs2.features.inputs import SceneFrame
    from rtgs2.fusion.compiled import CompiledCoarseLogits
    from rtgs2.fusion.labels import coarse_to_labels
    from rtgs2.fusion.vdvi import build_fusion, inference_model
    from rtgs2.pipeline.view_defaults import auto_network_scale
    from rtgs2.render import PER_FRAME, render
    from rtgs2.scene import read_ply

    numba.set_num_threads(min(spec["threads"], numba.config.NUMBA_NUM_THREADS))
    if spec["data"]:
        test = open_synthrooms(spec["data"], finished_only=True).test
        if spec.get("scene"):
            test = [v for v in test if v.name == spec["scene"]]
        if not test:
            raise ValueError(f"{spec['data']}: no finished test scene" + (f" {spec['scene']}" if spec.get("scene") else ""))
        ply = ply_of(Path(spec["gaussians"])) if spec.get("gaussians") else test[0].gaussians
        if ply is None:
            raise ValueError(f"--gaussians {spec['gaussians']}: no .ply there")
        name, scene, cams = test[0].name, read_ply(ply), test[0].cameras
        frame = None  # the automatic choice, as training extracts them
    else:
        sys.path.insert(0, str(Path(__file__).parent))
        from scenes import room_cameras, room_scene

        name, scene, cams = "room", room_scene(spec["room_gaussians"]), room_cameras(ROOM_VIEWS)
        frame = SceneFrame()  # the room is in metres, z up
    cams = [c.resized(*_wh(spec["res"])) for c in cams]
    if spec["feature_weights"]:
        feats = extract_features(scene, spec["feature_weights"], frame=frame)
    else:
        feats = F.normalize(torch.randn(scene.num_gaussians, FEATURE_DIM), dim=1)
    scene = scene.with_features(feats.float().contiguous())
    device = spec["device"]
    backend = "gsplat" if device.startswith("cuda") else "numba"  # the renderer of the device's path
    scene = scene.to(device)
    f = spec["feature_stride"]
    given = spec.get("network_scale", "auto")
    if spec["mode"] == "int8":  # an ONNX file takes its exported size: the view's (as Segmenter's "auto")
        if given not in ("auto", "1", 1):
            raise ValueError("int8 rows read views whole (an ONNX file takes its exported size): --network-scale 1")
        s = 1
    else:
        s = auto_network_scale(cams[0].height, cams[0].width) if given == "auto" else int(given)
    net = build_fusion(spec.get("scene_size", "small"), "both", num_classes=len(CLASS_NAMES), feature_dim=feats.shape[1],
                       feature_stride=f, fusion=spec.get("fusion", Config.fusion))  # fmt: skip
    autocast = torch.autocast(torch.device(device).type, dtype=torch.bfloat16) if spec["mode"] == "bf16" else contextlib.nullcontext()
    settings = replace(PER_FRAME, frame_kernel=spec["blend"] == "frame")
    if spec["mode"] == "int8":
        if device != "cpu":
            raise ValueError("int8 rows run on the CPU only (onnxruntime)")
        net = _int8_network(net, scene, cams, settings, spec["threads"])
    else:
        net = inference_model(net, device)  # what Segmenter runs (a ResNet Enc_VD's BatchNorms folded)
    if spec["mode"] in ("compile", "compile-bf16"):
        coarse_logits = CompiledCoarseLogits(net, "bfloat16" if spec["mode"] == "compile-bf16" else "float32")
    else:
        coarse_logits = net.coarse_logits
    stages: dict[str, list[float]] = {"render": [], "fusion": [], "argmax": [], "total": []}
    with torch.inference_mode():
        for i in range(spec["warmup"] + spec["frames"]):
            t0 = time.perf_counter()
            cam = cams[i % len(cams)]
            out = render(scene, cam, backend=backend, feature_stride=f * s, settings=settings)
            _sync(device)
            # [H, W, C] -> [1, C, H, W] is a view with channels-last memory, what the model reads
            image, z = out.rgb.permute(2, 0, 1)[None], out.features.permute(2, 0, 1)[None]
            if s > 1:  # as Segmenter: the mean of each s x s block
                image = F.avg_pool2d(image, s, ceil_mode=True)
            t1 = time.perf_counter()
            with autocast:  # the copies to a GPU count as fusion time
                coarse, _, _ = coarse_logits(image.to(device), z.to(device))
            _sync(device)
            t2 = time.perf_counter()
            coarse_to_labels(coarse[0], cam.height, cam.width, with_confidence=False, scale=4 * s)  # as Segmenter
            t3 = time.perf_counter()
            if i >= spec["warmup"]:
                for k, v in zip(stages, (t1 - t0, t2 - t1, t3 - t2, t3 - t0)):
                    stages[k].append(v * 1000.0)
    row = {"scene": name, "gaussians": scene.num_gaussians, "renderer": backend, "network_scale": s}
    if backend == "numba":
        row["render_stages"] = _render_stages(scene, cams, spec["frames"], f * s, spec["blend"] == "frame")
    return row | {f"{k}_ms": statistics.median(v) for k, v in stages.items()}


def _network_view(res: str, scale: int) -> str:
    """The resolution column: the view's size, and the network's when it reads a fraction of it."""
    w, h = _wh(res)
    return res if scale == 1 else f"{res} (network {-(-w // scale)}x{-(-h // scale)})"


def _int8_network(net: VDVINet, scene, cams, settings, threads: int):
    """``net`` exported with coarse logits and quantized to int8 (``rtgs2 export onnx --coarse
    --int8``), calibrated on ``INT8_CALIBRATION_VIEWS`` of ``cams`` rendered as Segmenter feeds
    the network; an ``OnnxFusion`` running it (``coarse_logits`` as the torch model's)."""
    import tempfile

    from rtgs2.export.onnx import export_fusion_onnx
    from rtgs2.export.quantize import network_feeds, quantize_fusion_onnx
    from rtgs2.fusion.io import save_fusion
    from rtgs2.fusion.onnx_runtime import OnnxFusion
    from rtgs2.pipeline.segmenter import Segmenter

    step = max(len(cams) // INT8_CALIBRATION_VIEWS, 1)
    segmenter = Segmenter(net, scene, render_settings=settings, network_scale=1)  # the file's size: the view's
    feeds = network_feeds(segmenter, cams[::step][:INT8_CALIBRATION_VIEWS])
    with tempfile.TemporaryDirectory() as tmp:
        weights, path = Path(tmp) / "fusion.pt", Path(tmp) / "fusion.onnx"
        save_fusion(net, weights)
        h, w = cams[0].height, cams[0].width
        export_fusion_onnx(weights, path, height=h, width=w, threads=threads, coarse=True)
        quantize_fusion_onnx(path, Path(tmp) / "int8.onnx", feeds)
        return OnnxFusion(Path(tmp) / "int8.onnx", threads=threads)  # the file is read here; the folder may go


def _render_stages(scene, cams, frames: int, feature_stride: int, frame_kernel: bool) -> dict[str, float]:
    """Mean wall ms per stage of the numba forward kernels the per-frame path runs (with the
    per-frame blend or the exact one), over ``frames`` views (untimed above)."""
    from rtgs2.render import PER_FRAME, raster_inputs
    from rtgs2.render.numba_backend import _arrays, _prepared, raster_camera, rasterize_forward, rasterize_frame
    from rtgs2.render.numba_kernels_frame import frame_stride_ok

    profile: dict[str, float] = {}
    for i in range(frames):
        inputs = raster_inputs(scene, cams[i % len(cams)], settings=PER_FRAME, feature_stride=feature_stride)
        arrays, feats = _arrays(inputs)
        cam, stop = raster_camera(inputs), PER_FRAME.stop_transmittance
        prepared = _prepared(inputs, arrays)  # the scene's rows, kept between frames as render() keeps them
        if frame_kernel and frame_stride_ok(feature_stride, feats.shape[1]):
            rasterize_frame(*arrays, feats, cam, stop, feature_stride, profile=profile, prepared=prepared)
        else:
            rasterize_forward(*arrays, feats, cam, profile=profile, stop_transmittance=stop, prepared=prepared)
    return {k: v / frames for k, v in profile.items()}


def _case(spec: dict) -> dict:
    """Run in a child process: time one configuration, return its row (JSON-able)."""
    import torch

    torch.set_num_threads(spec["threads"])
    torch.manual_seed(0)
    return _model_case(spec) if spec["kind"] == "model" else _scene_case(spec)


def _run(spec: dict) -> dict:
    """``_case(spec)`` in a fresh process; {"error": reason} when it fails."""
    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:  # killed, or crashed outside Python
        return {"error": (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]}
    return json.loads(lines[-1])


def _device_name(device: str) -> str:
    import torch

    return torch.cuda.get_device_name(torch.device(device)) if device.startswith("cuda") else "the CPU"


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(cfg: Config) -> None:
    import torch

    from rtgs2.data.readers.synthrooms import CLASS_NAMES
    from rtgs2.features.io import SHIPPED

    if cfg.gaussians is not None and (cfg.data is None or not cfg.gaussians.exists()):
        sys.exit(f"benchmarks/fusion.py: --gaussians {cfg.gaussians} " + ("needs --data (the room it is a fit of)" if cfg.data is None else "not found"))
    if cfg.network_scale != "auto" and not (cfg.network_scale.isdigit() and int(cfg.network_scale) >= 1):
        sys.exit(f"benchmarks/fusion.py: --network-scale must be auto or a positive integer, got {cfg.network_scale!r}")
    if cfg.scene is not None and cfg.data is None:
        sys.exit(f"benchmarks/fusion.py: --scene {cfg.scene} needs --data (the data set it is a test scene of)")
    load_before = _load()
    common = {"frames": cfg.frames, "warmup": cfg.warmup, "threads": cfg.threads, "device": cfg.device,
              "feature_stride": cfg.feature_stride, "fusion": cfg.fusion}  # fmt: skip
    model_rows = []
    for size, inputs, res, mode in itertools.product(cfg.sizes, cfg.inputs, cfg.resolutions, cfg.modes):
        r = _run({"kind": "model", "size": size, "inputs": inputs, "res": res, "mode": mode} | common)
        if "error" in r:
            ms, fps = (f"failed: {r['error']}" if mode == "eager" else f"unavailable ({r['error']})"), ""
        else:
            ms, fps = f"{r['median_ms']:.1f}", f"{1000.0 / r['median_ms']:.1f}"
        params = f"{r['params_m']:.2f}" if "params_m" in r else ""
        compile_s = f"{r['compile_s']:.1f}" if "compile_s" in r else ""
        model_rows.append((size, inputs, res, mode, params, ms, fps, compile_s, r.get("note", "")))
        print(" | ".join(model_rows[-1]), flush=True)

    weights = cfg.feature_weights or (SHIPPED if SHIPPED.is_file() else None)
    scene_rows, scene_name = [], ""
    scenes = itertools.product(cfg.scene_resolutions, cfg.scene_modes, cfg.blends) if cfg.end_to_end else []
    for res, mode, blend in scenes:
        spec = {"kind": "scene", "res": res, "room_gaussians": cfg.room_gaussians, "mode": mode, "blend": blend}
        spec |= common
        r = _run(spec | {"data": str(cfg.data) if cfg.data else None, "feature_weights": str(weights) if weights else None,
                         "gaussians": str(cfg.gaussians) if cfg.gaussians else None, "scene": cfg.scene,
                         "network_scale": cfg.network_scale, "scene_size": cfg.scene_size})
        if "error" in r:
            scene_rows.append(("", "", res, mode, blend, "failed: " + r["error"], "", "", "", "", ""))
        else:
            scene_name = r["scene"]
            ms = [f"{r[k + '_ms']:.1f}" for k in ("render", "fusion", "argmax", "total")]
            stages = ", ".join(f"{k} {v:.1f}" for k, v in r.get("render_stages", {}).items())
            scene_rows.append(
                (r["scene"], f"{r['gaussians']:,}", _network_view(res, r["network_scale"]), mode, blend, *ms,
                 f"{1000.0 / r['total_ms']:.1f}", stages)  # fmt: skip
            )
        print(" | ".join(scene_rows[-1]), flush=True)

    where = f"SynthRooms test scene `{scene_name}` of `{cfg.data}`" if cfg.data else "the procedural room"
    if cfg.gaussians:
        where += f", its Gaussians from `{cfg.gaussians}`"
    z = f"Z from the feature weights `{weights}`" if weights else f"Z from random unit features ({FEATURE_DIM} channels)"
    text = (
        f"## fusion: model, speed-ups, end to end — {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC\n\n"
        f"`benchmarks/fusion.py`, {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch "
        f"{torch.__version__}, {cfg.threads} torch threads (onnxruntime's too, and numba's end to end); network on {_device_name(cfg.device)}; median ms per frame of {cfg.frames} "
        f"frames after {cfg.warmup} warm-ups, batch 1, random fusion weights, {len(CLASS_NAMES)} classes, inputs both: {cfg.fusion} fusion, each row in a "
        f"fresh process; load average before: {load_before}, after: {_load()}.\n\n"
        "| size | inputs | resolution | mode | params M | ms / frame | FPS | compile s | note |\n"
        "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | --- |\n"
        + "".join("| " + " | ".join(row) + " |\n" for row in model_rows)
    )
    if scene_rows:
        text += (
            f"\nEnd to end on {where}: {'gsplat render on the GPU' if cfg.device.startswith('cuda') else 'numba render'} "
            f"of Î and Z, fusion {cfg.scene_size}/both ({cfg.fusion} fusion) as Segmenter runs it (random weights, BatchNorms folded; a view of 640x480 or more read at 1/s of its size (network_scale {cfg.network_scale}: Î the mean of s x s pixels, the logits upsampled x4 s); Z at 1/{cfg.feature_stride} of the network's image's "
            f"resolution, the mean of each 4 x 4 block; network compile / compile-bf16: as Segmenter(compile_network=True, precision=float32 / bfloat16) runs it (torch.compile'd / its frozen bfloat16 graph packaged ahead of time by AOTInductor), compiled or loaded during the warm-up; int8: the same model quantized by onnxruntime, calibrated on {INT8_CALIBRATION_VIEWS} views of the scene), "
            "argmax (with the x4 upsampling of the logits: rtgs2.fusion.labels), the per-frame path's render settings (PER_FRAME; blend "
            "frame: the per-frame kernel, exact: the exact one, features averaged afterwards); "
            f"{z}, computed once, untimed. Render stages: mean ms of the numba kernels over the same views, timed "
            "apart.\n\n"
            "| scene | Gaussians | resolution | network | blend | render ms | fusion ms | argmax ms | total ms | FPS | render stages ms |\n"
            "| --- | ---: | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |\n"
            + "".join("| " + " | ".join(row) + " |\n" for row in scene_rows)
        )
    print("\n" + text)
    if cfg.append:
        with RESULTS.open("a") as f:
            f.write("\n" + text)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        try:
            print(json.dumps(_case(json.loads(sys.argv[2]))))
        except Exception as e:  # a speed-up this install cannot run: a row saying why, not a crash
            print(json.dumps({"error": f"{type(e).__name__}: {(str(e).strip().splitlines() or [''])[0][:160]}"}))
    else:
        main(tyro.cli(Config))
