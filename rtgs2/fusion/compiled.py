"""The fusion network's per-frame call compiled by ``torch.compile``, with an eager fallback.

Inductor fuses the network's small element-wise ops (the layer norms, residual adds, ReLUs and
the copies between channels-first and token layouts) into C++/OpenMP loops. On this project's
2-core CPU the shipped ``small`` model's ``coarse_logits`` at 320x240 went from 22.3 to 15.9 ms
(eager vs compiled, interleaved calls in one process; max |difference| 5e-6), 126.7 to 97.4 ms at
640x480 (benchmarks/RESULTS.md 2026-12-05). The first call per image size compiles: ~50 s on a
fresh machine, ~6 s once inductor's on-disk cache holds the kernels.

``precision="bfloat16"`` runs the network under bfloat16 autocast with its weights frozen into
the compiled code (converted to bfloat16 and laid out for oneDNN once, not per call; without
freezing bfloat16 is slower than float32). On a CPU with AMX or AVX512-BF16 the convolutions and
matmuls then run on those units (here an AMD EPYC's AVX512-BF16): 0.55-0.7x the float32 compiled
call at 320x240 (end to end on the demo room 29-31 against 24-25 FPS; benchmarks/RESULTS.md
2026-12-06), the shipped model's mIoU on the v3 test rooms the same (52.1), its labels agreeing
with float32's on ~99.3-99.7 % of the pixels. ``"auto"`` picks it where the CPU computes bfloat16
natively (:func:`native_bfloat16`); elsewhere bfloat16 is emulated and slower. The frozen graph
is built ahead of time by AOTInductor (``torch.export`` + ``aoti_compile_and_package``: inductor's
own on-disk cache cannot keep a graph whose constants are oneDNN tensors) into one package per
model, input size and layout, thread count and CPU (:func:`package_key`), kept under ``<cache>/compiled``:
the first run of a size builds it (~50 s on 2 cores), later runs load it (~1-2 s).

Compiling needs a C++ compiler and Python's headers; where it fails (or anything in the
compiled call raises), the call warns once, runs eagerly (in float32) from then on and says why
in :attr:`CompiledCoarseLogits.fallback`. An error of the inputs (a wrong shape) is the eager
call's own, raised unchanged, and leaves the compiled call in place.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor, nn

from rtgs2.fusion.vdvi import VDVINet
from rtgs2.utils.cache import cache_root
from rtgs2.utils.errors import UserError

Precision = Literal["auto", "float32", "bfloat16"]
PRECISIONS: tuple[str, ...] = ("auto", "float32", "bfloat16")


def native_bfloat16(device: torch.device | str = "cpu") -> bool:
    """Whether ``device`` computes bfloat16 natively: a CPU with AMX tiles or with AVX512-BF16's
    dot-product instructions (what oneDNN runs the bfloat16 convolutions and matmuls on; both
    measured faster than float32 here: an Intel Emerald Rapids with AMX, an AMD EPYC with
    AVX512-BF16 and no AMX; benchmarks/RESULTS.md), or a CUDA GPU that supports it. A CPU
    without either (plain AVX-512 or AVX2) emulates bfloat16: not native."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device.type != "cpu":
        return False
    return _cpu_has("_is_amx_tile_supported") or _cpu_has("_is_avx512_bf16_supported")


def _cpu_has(probe: str) -> bool:
    """``torch.cpu.<probe>()``: private probes; an absent one (another torch) means "no"."""
    fn = getattr(torch.cpu, probe, None)
    return bool(fn()) if fn is not None else False


def resolve_precision(precision: str, device: torch.device | str = "cpu") -> str:
    """``"float32"`` or ``"bfloat16"`` for a requested precision (``"auto"``: bfloat16 where
    :func:`native_bfloat16`); UserError for an unknown name."""
    if precision not in PRECISIONS:
        raise UserError(f"unknown network precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
    if precision == "auto":
        return "bfloat16" if native_bfloat16(device) else "float32"
    return precision


PACKAGE_FORMAT = "rtgs2-coarse-logits-aoti-2"  # in every package key: bump when the packaged call changes
CoarseCall = Callable[..., Tensor]  # the network's present inputs -> coarse logits [B, K, h, w] float32


def package_key(model: VDVINet, inputs: tuple[Tensor, ...], precision: str) -> str:
    """SHA-256 naming the ahead-of-time package of ``model``'s coarse call on ``inputs`` (shapes,
    strides and dtypes: the built code assumes the strides, and checks none): the weights and
    config, torch's version, the CPU (its vector ISA and its bfloat16 units, AMX and AVX512-BF16:
    the frozen weights are laid out for them), the GPU for a model on one, and the thread count
    (compiled into the kernels' OpenMP loops)."""
    h = hashlib.sha256()
    device = inputs[0].device
    on_gpu = device.type == "cuda"
    gpu = (torch.cuda.get_device_name(device), torch.cuda.get_device_capability(device)) if on_gpu else None
    head = {
        "format": PACKAGE_FORMAT, "precision": precision, "torch": torch.__version__, "machine": platform.machine(),
        "cpu": torch.backends.cpu.get_cpu_capability(), "threads": torch.get_num_threads(),
        "amx": _cpu_has("_is_amx_tile_supported"), "avx512_bf16": _cpu_has("_is_avx512_bf16_supported"),
        "config": model.config, "inputs": [(list(x.shape), list(x.stride()), str(x.dtype)) for x in inputs], "gpu": gpu,
    }  # fmt: skip
    h.update(json.dumps(head, sort_keys=True, default=str).encode())
    for name, t in model.state_dict().items():
        h.update(name.encode())
        h.update(t.detach().cpu().float().numpy().tobytes())  # (C order, whatever the strides)
    return h.hexdigest()


class _Bfloat16Coarse(nn.Module):
    """``coarse_logits`` under bfloat16 autocast, float32 out, taking only the inputs the model
    reads (what ``torch.export`` traces: no None arguments)."""

    def __init__(self, model: VDVINet, has_image: bool, has_features: bool):
        super().__init__()
        self.model, self.has_image, self.has_features = model, has_image, has_features

    def forward(self, *inputs: Tensor) -> Tensor:
        it = iter(inputs)
        image = next(it) if self.has_image else None
        features = next(it) if self.has_features else None
        with torch.autocast(inputs[0].device.type, dtype=torch.bfloat16):
            logits, _, _ = self.model.coarse_logits(image, features)
        return logits.float()


def aot_bfloat16_call(model: VDVINet, inputs: tuple[Tensor, ...], has_image: bool, folder: Path) -> CoarseCall:
    """The frozen bfloat16 coarse call of ``model`` for inputs shaped and laid out as ``inputs``
    (the per-frame path's channels-last views of the render, read in place), from its package in
    ``folder`` (:func:`package_key`), built there first when absent (atomically: a package is
    whole or not there). A package that no longer loads (damaged on disk, or made by a torch
    that wrote the same key differently) is built again in its place."""
    import torch._inductor  # noqa: PLC0415 (heavy; only where a package is built or loaded)

    path = folder / f"{package_key(model, inputs, 'bfloat16')}.pt2"
    if path.is_file():
        try:
            return torch._inductor.aoti_load_package(str(path))
        except Exception:  # noqa: BLE001 (any failure to load: build it again below)
            path.unlink(missing_ok=True)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.stem}.tmp{os.getpid()}.pt2")  # AOTInductor wants the .pt2 suffix
    try:
        with torch.no_grad():
            wrapped = _Bfloat16Coarse(model, has_image, len(inputs) > int(has_image)).eval()
            program = torch.export.export(wrapped, inputs)
            torch._inductor.aoti_compile_and_package(
                program, package_path=str(tmp), inductor_configs={"freezing": True}
            )
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return torch._inductor.aoti_load_package(str(path))


class CompiledCoarseLogits:
    """``model.coarse_logits`` compiled (module doc): called as it is; float32 logits, the same as
    eager to ~1e-5 in float32, to ~0.1 (logit units) in bfloat16.

    Args:
        model: an inference-ready fusion network (``inference_model``: eval mode, BatchNorms folded).
            With bfloat16 its weights are frozen into the compiled code: change them and build a new call.
        precision: ``"float32"``, ``"bfloat16"`` or ``"auto"`` (:func:`resolve_precision`).
        package_folder: where bfloat16's ahead-of-time packages are kept (default ``<cache>/compiled``).
    """

    def __init__(self, model: VDVINet, precision: Precision = "float32", package_folder: Path | None = None):
        self.model = model
        device = next(model.parameters()).device
        self.precision = resolve_precision(precision, device)
        """``"float32"`` or ``"bfloat16"``: what the compiled call computes in."""
        self.package_folder = package_folder or cache_root() / "compiled"
        # bfloat16: one ahead-of-time call per input size and layout (module doc); float32: torch.compile,
        # dynamic=False: one graph per image size, specialised (the per-frame path keeps one size)
        self._bf16_calls: dict[tuple, tuple[CoarseCall, int, int]] = {}
        self._compiled = None if self.precision == "bfloat16" else torch.compile(model.coarse_logits, dynamic=False)
        self.fallback: str | None = None
        """Why the eager call is used (the compile's or the compiled call's error), or None."""

    def __call__(self, image: Tensor | None, features: Tensor | None = None) -> tuple[Tensor, int, int]:
        """[B, 3, H, W] and/or [B, D, H/4, W/4] -> coarse logits [B, K, Hp/4, Wp/4] float32, H, W
        (``VDVINet.coarse_logits``)."""
        if self.fallback is None:
            try:
                if self._compiled is not None:
                    logits, h, w = self._compiled(image, features)
                    return logits.float(), h, w
                return self._bfloat16(image, features)
            except Exception as e:  # noqa: BLE001 (inductor raises many types; see below)
                reason = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
                out = self.model.coarse_logits(image, features)  # an error of the inputs raises here, as eager would
                self.fallback = reason
                warnings.warn(f"compiling the fusion network failed ({reason}); it runs eagerly")
                return out
        return self.model.coarse_logits(image, features)

    def _bfloat16(self, image: Tensor | None, features: Tensor | None) -> tuple[Tensor, int, int]:
        inputs = tuple(x for x in (image, features) if x is not None)
        # one call per shape and layout: the built code reads its inputs with the strides it was built for
        layout = (image is not None, *((tuple(x.shape), x.stride()) for x in inputs))
        if layout not in self._bf16_calls:
            with torch.no_grad():  # the eager call checks the inputs (its error raised as is) and gives H, W
                _, h, w = self.model.coarse_logits(image, features)
            call = aot_bfloat16_call(self.model, inputs, image is not None, self.package_folder)
            self._bf16_calls[layout] = (call, h, w)
        call, h, w = self._bf16_calls[layout]
        return call(*inputs), h, w
