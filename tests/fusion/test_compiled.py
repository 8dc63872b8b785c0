"""The compiled per-frame call of the fusion network: the eager outputs, bfloat16's ahead-of-time package
kept and reused, and eager where compiling fails."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch._inductor  # (monkeypatched below: imported by torch only when something compiles)

from rtgs2.fusion import compiled as compiled_module
from rtgs2.fusion.compiled import CompiledCoarseLogits, native_bfloat16, package_key, resolve_precision
from rtgs2.fusion.vdvi import build_fusion, inference_model
from rtgs2.utils.errors import UserError


def _model(fusion: str = "mid") -> torch.nn.Module:
    torch.manual_seed(0)
    return inference_model(build_fusion("small", "both", fusion=fusion, num_classes=5, feature_dim=8).eval())


def _inputs(height: int = 48, width: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    image = torch.rand(1, 3, height, width, generator=g)
    features = torch.nn.functional.normalize(torch.randn(1, 8, height // 4, width // 4, generator=g), dim=1)
    return image, features


@pytest.mark.parametrize("fusion", ["mid", "late"])
def test_the_compiled_call_gives_the_eager_logits(fusion: str) -> None:
    model, (image, features) = _model(fusion), _inputs()
    call = CompiledCoarseLogits(model)
    with torch.inference_mode():
        expected, h, w = model.coarse_logits(image, features)
        got, gh, gw = call(image, features)
    assert call.fallback is None, call.fallback
    assert (gh, gw) == (h, w) and got.shape == expected.shape
    # measured 5e-6 on the shipped model at 320x240: inductor reorders the sums
    assert float((got - expected).abs().max()) < 1e-4


def test_a_failed_compile_warns_once_and_runs_eagerly(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_a, **_k):
        raise RuntimeError("no C++ compiler found\nsecond line")

    monkeypatch.setattr(compiled_module.torch, "compile", lambda fn, **_k: broken)
    model, (image, features) = _model(), _inputs()
    call = CompiledCoarseLogits(model)
    with torch.inference_mode(), pytest.warns(UserWarning, match="no C.. compiler found"):
        got, _, _ = call(image, features)
    assert call.fallback == "no C++ compiler found"
    with torch.inference_mode(), warnings.catch_warnings(record=True) as later:
        warnings.simplefilter("always")
        assert torch.equal(got, model.coarse_logits(image, features)[0])
        call(image, features)
    assert not later  # warned once, not per frame


def test_an_error_of_the_inputs_is_the_models_own_and_keeps_the_compiled_call(monkeypatch: pytest.MonkeyPatch) -> None:
    model = _model()
    monkeypatch.setattr(compiled_module.torch, "compile", lambda fn, **_k: fn)  # "compiled" = eager: fast
    call = CompiledCoarseLogits(model)
    image, _ = _inputs()
    wrong = torch.zeros(1, 3, 12, 16)  # 3 channels where the model reads 8
    with torch.inference_mode(), pytest.raises(ValueError, match="features must be"):
        call(image, wrong)
    assert call.fallback is None


def test_the_bfloat16_call_gives_float32_logits_close_to_the_eager_ones_and_its_package_is_reused(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, (image, features) = _model(), _inputs()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    call = CompiledCoarseLogits(model, precision="bfloat16", package_folder=tmp_path)
    with torch.inference_mode():
        expected, h, w = model.coarse_logits(image, features)
        got, gh, gw = call(image, features)
    assert call.fallback is None, call.fallback
    assert call.precision == "bfloat16" and got.dtype == torch.float32 and (gh, gw) == (h, w)
    # bfloat16 keeps 8 bits of mantissa: ~1 % of the logits' range, not float32's 1e-6
    scale = float(expected.abs().max())
    err = float((got - expected).abs().max())
    assert 1e-6 * scale < err < 0.05 * scale, (err, scale)
    agree = (got.argmax(1) == expected.argmax(1)).float().mean()
    assert agree > 0.9, agree
    for k, v in model.state_dict().items():  # freezing does not touch the caller's model
        assert v.dtype == before[k].dtype and torch.equal(v, before[k]), k
    assert not torch._inductor.config.freezing  # set for the package's build only, not left on for other compiles
    assert [p.name for p in tmp_path.iterdir()] == [f"{package_key(model, (image, features), 'bfloat16')}.pt2"]

    # a second call (a later run) loads the package: nothing is built, the same logits come out
    def no_build(*_a, **_k):
        raise AssertionError("the package was built again")

    monkeypatch.setattr(torch._inductor, "aoti_compile_and_package", no_build)
    again = CompiledCoarseLogits(model, precision="bfloat16", package_folder=tmp_path)
    with torch.inference_mode():
        assert torch.equal(again(image, features)[0], got)
    assert again.fallback is None, again.fallback

    # a package damaged on disk is built again in its place (here "built" = the good bytes written back)
    (package,) = tmp_path.iterdir()
    good = package.read_bytes()
    package.write_bytes(good[: len(good) // 2])
    built = []

    def rebuild(program, package_path, **_k):
        built.append(package_path)
        with open(package_path, "wb") as f:
            f.write(good)

    monkeypatch.setattr(torch._inductor, "aoti_compile_and_package", rebuild)
    repaired = CompiledCoarseLogits(model, precision="bfloat16", package_folder=tmp_path)
    with torch.inference_mode():
        assert torch.equal(repaired(image, features)[0], got)
    assert repaired.fallback is None and len(built) == 1 and package.read_bytes() == good


def test_a_package_is_named_by_the_weights_the_input_size_and_layout_and_the_thread_count() -> None:
    model, inputs = _model(), _inputs()
    key = package_key(model, inputs, "bfloat16")
    assert package_key(model, inputs, "bfloat16") == key  # stable
    assert package_key(model, _inputs(64, 96), "bfloat16") != key
    # the renderer's channels-last views: the same values, other strides (the built code assumes them)
    views = tuple(x.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2) for x in inputs)
    assert all(torch.equal(a, b) for a, b in zip(views, inputs))
    assert package_key(model, views, "bfloat16") != key
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(threads + 1)
        assert package_key(model, inputs, "bfloat16") != key
    finally:
        torch.set_num_threads(threads)
    with torch.no_grad():
        next(model.parameters())[0].add_(1e-3)
    assert package_key(model, inputs, "bfloat16") != key


def test_a_failed_package_build_leaves_no_file_and_runs_eagerly(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(program, package_path, **_k):
        with open(package_path, "wb") as f:  # a half-written package, then the failure
            f.write(b"half")
        raise RuntimeError("C++ compile error")

    monkeypatch.setattr(torch._inductor, "aoti_compile_and_package", broken)
    model, (image, features) = _model(), _inputs()
    call = CompiledCoarseLogits(model, precision="bfloat16", package_folder=tmp_path)
    with torch.inference_mode(), pytest.warns(UserWarning, match="C.. compile error"):
        got, _, _ = call(image, features)
    assert call.fallback == "C++ compile error" and not list(tmp_path.iterdir())
    with torch.inference_mode():
        assert torch.equal(got, model.coarse_logits(image, features)[0])


def test_auto_precision_is_bfloat16_only_where_the_cpu_computes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    for amx, avx512_bf16, expected in ((False, False, "float32"), (True, False, "bfloat16"), (False, True, "bfloat16")):
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda v=amx: v, raising=False)
        monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda v=avx512_bf16: v, raising=False)
        assert native_bfloat16("cpu") == (expected == "bfloat16")
        assert resolve_precision("auto", "cpu") == expected
    model, inputs = _model(), _inputs()  # a package laid out for one kind of bfloat16 unit is not another's
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True, raising=False)
    on_amx = package_key(model, inputs, "bfloat16")
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    assert package_key(model, inputs, "bfloat16") != on_amx
    monkeypatch.delattr(torch.cpu, "_is_amx_tile_supported")  # a torch without the probes: no
    monkeypatch.delattr(torch.cpu, "_is_avx512_bf16_supported")
    assert resolve_precision("auto") == "float32"
    assert resolve_precision("bfloat16") == "bfloat16" and resolve_precision("float32") == "float32"
    with pytest.raises(UserError, match="unknown network precision 'half'"):
        resolve_precision("half")
