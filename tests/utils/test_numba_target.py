"""numba's target: 512-bit vectors where the CPU has AVX-512, unless the user chose otherwise."""

import subprocess
import sys

import numba
import pytest
from llvmlite import binding

from rtgs2.utils import numba_target
from rtgs2.utils.numba_target import ENV_SWITCH, WIDE_FEATURE, wide_vector_features

HAS_AVX512 = bool(binding.get_host_cpu_features().get("avx512f", False))


@pytest.mark.skipif(not HAS_AVX512, reason="the CPU has no AVX-512")
def test_the_host_features_lose_the_256_bit_preference(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(numba.config, "CPU_FEATURES", None)
    monkeypatch.delenv(ENV_SWITCH, raising=False)
    features = wide_vector_features()
    assert features is not None and features.endswith("," + WIDE_FEATURE)
    assert "+avx512f" in features.split(",")


def test_the_users_choice_and_the_switch_are_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(numba.config, "CPU_FEATURES", "+avx2")
    assert wide_vector_features() is None
    assert not numba_target.prefer_wide_vectors()
    assert numba.config.CPU_FEATURES == "+avx2"
    monkeypatch.setattr(numba.config, "CPU_FEATURES", None)
    monkeypatch.setattr(numba.config, "CPU_NAME", "skylake-avx512")
    assert wide_vector_features() is None
    monkeypatch.setattr(numba.config, "CPU_NAME", None)
    monkeypatch.setattr(numba.config, "ENABLE_AVX", False)  # NUMBA_ENABLE_AVX=0: numba drops the avx features
    assert wide_vector_features() is None
    monkeypatch.setattr(numba.config, "ENABLE_AVX", True)
    monkeypatch.setenv(ENV_SWITCH, "0")
    assert wide_vector_features() is None


def test_the_kernels_target_machine_gets_the_features() -> None:
    # a fresh process: numba fixes its target when it creates the first jitted function
    code = (
        "import rtgs2.render.numba_kernels_frame\n"
        "from numba.core.registry import cpu_target\n"
        "print(cpu_target.target_context.codegen()._tm_features.split(',')[-1])\n"
    )
    last = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert (last == WIDE_FEATURE) == HAS_AVX512
