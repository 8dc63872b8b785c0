"""The fusion network's per-frame call compiled by ``torch.compile``, with an eager fallback.

Inductor fuses the network's small element-wise ops (the layer norms, residual adds, ReLUs and
the copies between channels-first and token layouts) into C++/OpenMP loops. On this project's
2-core CPU the shipped ``small`` model's ``coarse_logits`` at 320x240 went from 22.3 to 15.9 ms
(eager vs compiled, interleaved calls in one process; max |difference| 5e-6), 126.7 to 97.4 ms at
640x480 (benchmarks/RESULTS.md 2026-12-05). The first call per image size compiles: ~50 s on a
fresh machine, ~6 s once inductor's on-disk cache holds the kernels.

``precision="bfloat16"`` runs the compiled call under bfloat16 autocast with the weights frozen
into the graph (inductor's ``freezing``: converted to bfloat16 and laid out for oneDNN once, not
per call; without it bfloat16 is slower than float32). On a CPU with AMX the convolutions and
matmuls then run on those units: at 320x240 1.5-2x faster than the float32 compiled call
(benchmarks/RESULTS.md 2026-12-05), the labels of the shipped model agreeing on
~99.7 % of the pixels (mIoU on the v2 test rooms 56.56 against 56.57). ``"auto"`` picks it where the
CPU computes bfloat16 natively (:func:`native_bfloat16`); elsewhere bfloat16 is emulated and
slower. Freezing applies only to calls without gradients (``torch.no_grad`` or
``torch.inference_mode``, as ``Segmenter`` calls it), and the frozen graph is not kept in
inductor's on-disk cache: every process compiles it again (~30-40 s on 2 cores).

Compiling needs a C++ compiler and Python's headers; where it fails (or anything in the
compiled call raises), the call warns once, runs eagerly (in float32) from then on and says why
in :attr:`CompiledCoarseLogits.fallback`. An error of the inputs (a wrong shape) is the eager
call's own, raised unchanged, and leaves the compiled call in place.
"""

from __future__ import annotations

import contextlib
import warnings
from typing import Literal

import torch
from torch import Tensor

from rtgs2.fusion.vdvi import VDVINet
from rtgs2.utils.errors import UserError

Precision = Literal["auto", "float32", "bfloat16"]
PRECISIONS: tuple[str, ...] = ("auto", "float32", "bfloat16")


def native_bfloat16(device: torch.device | str = "cpu") -> bool:
    """Whether ``device`` computes bfloat16 natively: a CPU with AMX tiles (what oneDNN runs the
    bfloat16 convolutions on; measured here, benchmarks/RESULTS.md), or a CUDA GPU that supports
    it. CPUs with AVX512-BF16 but no AMX are left out: not measured."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device.type != "cpu":
        return False
    probe = getattr(torch.cpu, "_is_amx_tile_supported", None)  # private; absent means "no"
    return bool(probe()) if probe is not None else False


def resolve_precision(precision: str, device: torch.device | str = "cpu") -> str:
    """``"float32"`` or ``"bfloat16"`` for a requested precision (``"auto"``: bfloat16 where
    :func:`native_bfloat16`); UserError for an unknown name."""
    if precision not in PRECISIONS:
        raise UserError(f"unknown network precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
    if precision == "auto":
        return "bfloat16" if native_bfloat16(device) else "float32"
    return precision


class CompiledCoarseLogits:
    """``model.coarse_logits`` compiled (module doc): called as it is; float32 logits, the same as
    eager to ~1e-5 in float32, to ~0.1 (logit units) in bfloat16.

    Args:
        model: an inference-ready fusion network (``inference_model``: eval mode, BatchNorms folded).
            With bfloat16 its weights are frozen into the compiled graph: change them and build a new call.
        precision: ``"float32"``, ``"bfloat16"`` or ``"auto"`` (:func:`resolve_precision`).
    """

    def __init__(self, model: VDVINet, precision: Precision = "float32"):
        self.model = model
        device = next(model.parameters()).device
        self.precision = resolve_precision(precision, device)
        """``"float32"`` or ``"bfloat16"``: what the compiled call computes in."""
        self._device_type = device.type
        # bfloat16: inductor's freezing is patched in around each call (torch.compile's
        # options={"freezing": True} comes too late to apply: measured no faster than float32)
        self._bf16 = self.precision == "bfloat16"
        if self._bf16:
            import torch._inductor.config as inductor_config  # not imported by torch itself until a compile

            self._inductor_config = inductor_config
        # dynamic=False: one graph per image size, specialised (the per-frame path keeps one size)
        self._compiled = torch.compile(model.coarse_logits, dynamic=False)
        self.fallback: str | None = None
        """Why the eager call is used (the compile's or the compiled call's error), or None."""

    def __call__(self, image: Tensor | None, features: Tensor | None = None) -> tuple[Tensor, int, int]:
        """[B, 3, H, W] and/or [B, D, H/4, W/4] -> coarse logits [B, K, Hp/4, Wp/4] float32, H, W
        (``VDVINet.coarse_logits``)."""
        if self.fallback is None:
            try:
                with contextlib.ExitStack() as stack:
                    if self._bf16:  # the config patch is undone on the way out, whatever happens
                        stack.enter_context(self._inductor_config.patch(freezing=True))
                        stack.enter_context(torch.autocast(self._device_type, dtype=torch.bfloat16))
                    logits, h, w = self._compiled(image, features)
                return logits.float(), h, w
            except Exception as e:  # noqa: BLE001 (inductor raises many types; see below)
                reason = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
                out = self.model.coarse_logits(image, features)  # an error of the inputs raises here, as eager would
                self.fallback = reason
                warnings.warn(f"torch.compile of the fusion network failed ({reason}); it runs eagerly")
                return out
        return self.model.coarse_logits(image, features)
