"""The fusion network's per-frame call compiled by ``torch.compile``, with an eager fallback.

Inductor fuses the network's small element-wise ops (the layer norms, residual adds, ReLUs and
the copies between channels-first and token layouts) into C++/OpenMP loops. On this project's
2-core CPU the shipped ``small`` model's ``coarse_logits`` at 320x240 went from 22.3 to 15.9 ms
(eager vs compiled, interleaved calls in one process; max |difference| 5e-6), 126.7 to 97.4 ms at
640x480 (benchmarks/RESULTS.md 2026-12-05). The first call per image size compiles: ~50 s on a
fresh machine, ~6 s once inductor's on-disk cache holds the kernels.

Compiling needs a C++ compiler and Python's headers; where it fails (or anything in the
compiled call raises), the call warns once, runs eagerly from then on and says why in
:attr:`CompiledCoarseLogits.fallback`. An error of the inputs (a wrong shape) is the eager call's
own, raised unchanged, and leaves the compiled call in place.
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor

from rtgs2.fusion.vdvi import VDVINet


class CompiledCoarseLogits:
    """``model.coarse_logits`` compiled (module doc): called as it is, same outputs to ~1e-5.

    Args:
        model: an inference-ready fusion network (``inference_model``: eval mode, BatchNorms folded).
    """

    def __init__(self, model: VDVINet):
        self.model = model
        # dynamic=False: one graph per image size, specialised (the per-frame path keeps one size)
        self._compiled = torch.compile(model.coarse_logits, dynamic=False)
        self.fallback: str | None = None
        """Why the eager call is used (the compile's or the compiled call's error), or None."""

    def __call__(self, image: Tensor | None, features: Tensor | None = None) -> tuple[Tensor, int, int]:
        """[B, 3, H, W] and/or [B, D, H/4, W/4] -> coarse logits [B, K, Hp/4, Wp/4], H, W (``VDVINet.coarse_logits``)."""
        if self.fallback is None:
            try:
                return self._compiled(image, features)
            except Exception as e:  # noqa: BLE001 (inductor raises many types; see below)
                reason = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
                out = self.model.coarse_logits(image, features)  # an error of the inputs raises here, as eager would
                self.fallback = reason
                warnings.warn(f"torch.compile of the fusion network failed ({reason}); it runs eagerly")
                return out
        return self.model.coarse_logits(image, features)
