"""numba's code generation target: 512-bit vectors on CPUs with AVX-512.

LLVM's tuning for recent Intel server CPUs (Skylake-X to Emerald Rapids) says "prefer 256-bit
vectors", so numba, which compiles for the host CPU, vectorizes the per-frame blend's 16-pixel
rows with two 8-wide ymm operations each although the CPU has 16-wide zmm ones. Turning that
tuning off (the ``-prefer-256-bit`` feature) makes the row loop one zmm operation per step.

numba fixes its target machine when it creates the first jitted function of the process, so
every rtgs2 module with kernels imports this one before its first ``@njit``. Left alone: a
process that set ``NUMBA_CPU_FEATURES``, ``NUMBA_CPU_NAME`` or ``NUMBA_ENABLE_AVX=0`` (its choice wins), a CPU
without AVX-512, and a process whose numba target already exists (another library jitted
something first: the kernels then run 256-bit wide, as before, with the same results).
Set ``RTGS2_NUMBA_WIDE_VECTORS=0`` to keep LLVM's default.
"""

from __future__ import annotations

import os

import numba
from llvmlite import binding

WIDE_FEATURE = "-prefer-256-bit"
ENV_SWITCH = "RTGS2_NUMBA_WIDE_VECTORS"


def wide_vector_features() -> str | None:
    """The host's CPU feature string with the 256-bit preference turned off, or None where it
    does not apply (no AVX-512, the user chose the target, or the switch is off)."""
    if os.environ.get(ENV_SWITCH, "1") == "0":
        return None
    if numba.config.CPU_FEATURES is not None or numba.config.CPU_NAME is not None or not numba.config.ENABLE_AVX:
        return None
    try:
        features = binding.get_host_cpu_features()
    except RuntimeError:  # LLVM cannot read this host's features (numba then uses none either)
        return None
    if not features.get("avx512f", False):
        return None
    return f"{features.flatten()},{WIDE_FEATURE}"


def prefer_wide_vectors() -> bool:
    """Ask numba for 512-bit vectors where the CPU has them (module doc); True if set now.
    Idempotent. numba's cache keys compiled kernels by the feature string, so kernels compiled
    either way never mix."""
    features = wide_vector_features()
    if features is None:
        return False
    numba.config.CPU_FEATURES = features
    return True


prefer_wide_vectors()
