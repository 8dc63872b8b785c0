import numpy as np
import pytest
import torch
from plyfile import PlyData, PlyElement

from rtgs2.scene import PlyFormatError, read_ply, read_splat, write_ply, write_splat
from rtgs2.scene.sh import SH_C0

from .conftest import random_scene

FIELDS = ("means", "quats", "log_scales", "opacity_logits", "sh", "features")


def assert_same_bits(a, b):
    for f in FIELDS:
        x, y = getattr(a, f), getattr(b, f)
        if x is None:
            assert y is None, f
        else:
            assert x.dtype == y.dtype == torch.float32, f
            assert torch.equal(x.view(torch.int32), y.view(torch.int32)), f"{f} differs"


@pytest.mark.parametrize("degree,dim", [(0, 0), (1, 3), (3, 32)])
def test_write_read_is_bit_exact(tmp_path, degree, dim):
    scene = random_scene(200, degree, dim, seed=degree)
    scene.means[0, 0] = float(np.float32(np.nextafter(np.float32(1), np.float32(2))))  # an odd bit pattern
    write_ply(scene, tmp_path / "s.ply")
    back = read_ply(tmp_path / "s.ply")
    assert_same_bits(scene, back)
    assert back.sh_degree == degree and back.feature_dim == dim


def test_f_rest_is_channel_major(tmp_path):
    scene = random_scene(5, 1, seed=1)
    write_ply(scene, tmp_path / "s.ply")
    v = PlyData.read(str(tmp_path / "s.ply"))["vertex"]
    # f_rest_0..2 are the three degree-1 coefficients of the RED channel (INRIA layout).
    for k in range(3):
        np.testing.assert_array_equal(v[f"f_rest_{k}"], scene.sh[:, 1 + k, 0].numpy())
        np.testing.assert_array_equal(v[f"f_rest_{3 + k}"], scene.sh[:, 1 + k, 1].numpy())


def _write_vertices(path, props: dict[str, np.ndarray], text=False):
    n = len(next(iter(props.values())))
    data = np.empty(n, dtype=[(k, v.dtype) for k, v in props.items()])
    for k, v in props.items():
        data[k] = v
    PlyData([PlyElement.describe(data, "vertex")], text=text).write(str(path))


def _minimal_props(n=4, seed=0):
    rng = np.random.default_rng(seed)
    names = ["x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity", "scale_0", "scale_1", "scale_2"]
    names += ["rot_0", "rot_1", "rot_2", "rot_3"]
    return {k: rng.standard_normal(n).astype(np.float32) for k in names}


def test_reads_files_without_normals_or_f_rest_in_any_property_order(tmp_path):
    props = _minimal_props()
    shuffled = dict(reversed(list(props.items())))
    shuffled["f_pc_1"] = np.ones(4, np.float32)  # RT-GS2 code's feature name, out of order
    shuffled["f_pc_0"] = np.zeros(4, np.float32)
    _write_vertices(tmp_path / "a.ply", shuffled, text=True)
    s = read_ply(tmp_path / "a.ply")
    assert s.sh_degree == 0 and s.feature_dim == 2
    np.testing.assert_array_equal(s.means[:, 1].numpy(), props["y"])
    np.testing.assert_array_equal(s.opacity_logits.numpy(), props["opacity"])
    np.testing.assert_array_equal(s.features[:, 1].numpy(), np.ones(4))


def test_real_donut_loads(donut_path):
    s = read_ply(donut_path)
    assert s.num_gaussians == 45624 and s.sh_degree == 0 and s.features is None
    norms = s.quats.norm(dim=1)
    assert float((norms - 1).abs().max()) > 0.1  # not unit length: kept raw, as the file stores them


@pytest.mark.parametrize(
    "mutate,message",
    [
        (lambda p: p.pop("opacity"), "missing required properties"),
        (lambda p: p.update(x=np.arange(4, dtype=np.int32)), "must be float"),
        (lambda p: p["scale_0"].__setitem__(2, np.nan), "non-finite"),
        (lambda p: p["y"].__setitem__(0, np.inf), "non-finite"),
        (lambda p: p.update({f"f_rest_{i}": np.zeros(4, np.float32) for i in range(4)}), "f_rest"),
        (lambda p: [p.__setitem__(k, np.zeros(4, np.float32)) for k in ("rot_0", "rot_1", "rot_2", "rot_3")], "zero quaternion"),
    ],
)
def test_bad_ply_is_rejected_with_file_name(tmp_path, mutate, message):
    props = _minimal_props()
    mutate(props)
    path = tmp_path / "bad.ply"
    _write_vertices(path, props)
    with pytest.raises(PlyFormatError, match=message) as info:
        read_ply(path)
    assert "bad.ply" in str(info.value)


def test_zero_gaussians_truncated_and_missing_files(tmp_path):
    _write_vertices(tmp_path / "empty.ply", {k: v[:0] for k, v in _minimal_props().items()})
    with pytest.raises(PlyFormatError, match="zero Gaussians"):
        read_ply(tmp_path / "empty.ply")
    write_ply(random_scene(100), tmp_path / "full.ply")
    raw = (tmp_path / "full.ply").read_bytes()
    (tmp_path / "cut.ply").write_bytes(raw[: len(raw) - 1000])
    with pytest.raises(PlyFormatError, match="cut.ply"):
        read_ply(tmp_path / "cut.ply")
    (tmp_path / "junk.ply").write_bytes(b"not a ply at all\n")
    with pytest.raises(PlyFormatError, match="junk.ply"):
        read_ply(tmp_path / "junk.ply")
    with pytest.raises(FileNotFoundError, match="nowhere.ply"):
        read_ply(tmp_path / "nowhere.ply")


def test_read_splat_decodes_the_32_byte_layout(tmp_path):
    dt = np.dtype([("pos", "<f4", 3), ("scale", "<f4", 3), ("rgba", "u1", 4), ("rot", "u1", 4)])
    d = np.zeros(2, dtype=dt)
    d["pos"] = [[1, 2, 3], [-1, 0, 0.5]]
    d["scale"] = [[0.1, 0.2, 0.3], [1, 1, 1]]
    d["rgba"] = [[255, 0, 128, 191], [0, 0, 0, 64]]
    d["rot"] = [[255, 128, 128, 128], [128, 128, 128, 255]]  # identity; 180° about z (w=0, z=1)
    (tmp_path / "a.splat").write_bytes(d.tobytes())
    s = read_splat(tmp_path / "a.splat")
    np.testing.assert_allclose(s.means.numpy(), d["pos"])
    np.testing.assert_allclose(s.scales.numpy(), d["scale"], rtol=1e-6)
    np.testing.assert_allclose(s.opacities.numpy(), [191 / 255, 64 / 255], rtol=1e-5)
    np.testing.assert_allclose((s.sh[:, 0] * SH_C0 + 0.5).numpy(), d["rgba"][:, :3] / 255, atol=1e-6)
    np.testing.assert_allclose(s.rotations.numpy(), [[1, 0, 0, 0], [0, 0, 0, 1]], atol=1e-2)
    (tmp_path / "b.splat").write_bytes(d.tobytes()[:40])
    with pytest.raises(PlyFormatError, match="multiple of 32"):
        read_splat(tmp_path / "b.splat")


def test_splat_round_trip_within_quantisation(tmp_path):
    scene = random_scene(100, 0, seed=3)
    write_splat(scene, tmp_path / "s.splat")
    back = read_splat(tmp_path / "s.splat")
    torch.testing.assert_close(back.means, scene.means)
    torch.testing.assert_close(back.log_scales, scene.log_scales)
    col = scene.base_colors.clamp(0, 1)
    assert float((back.base_colors - col).abs().max()) <= 0.5 / 255 + 1e-6
    dots = (back.rotations * scene.rotations).sum(1).abs()
    assert float(dots.min()) > 0.999


@pytest.mark.parametrize("extra", ["u1", "i2", "f8", "u1u1u1"])
def test_extra_properties_of_any_type_and_record_size_load(tmp_path, extra):
    """A record that is not a multiple of 4 bytes (a uchar label or red/green/blue from other
    tools) used to give strided views that torch rejects."""
    props = _minimal_props(6, seed=2)
    extras = {"u1": ["label"], "i2": ["segment"], "f8": ["confidence"], "u1u1u1": ["red", "green", "blue"]}[extra]
    dtype = extra[:2]
    mixed = {}
    for i, (k, v) in enumerate(props.items()):
        mixed[k] = v
        if i == 2:  # extras in the middle of the record, misaligning what follows
            for name in extras:
                mixed[name] = np.arange(6).astype(dtype)
    _write_vertices(tmp_path / "x.ply", mixed)
    s = read_ply(tmp_path / "x.ply")
    np.testing.assert_array_equal(s.opacity_logits.numpy(), props["opacity"])
    np.testing.assert_array_equal(s.quats[:, 3].numpy(), props["rot_3"])


def test_big_endian_file_loads(tmp_path):
    props = _minimal_props(5, seed=3)
    n = 5
    data = np.empty(n, dtype=[(k, ">f4") for k in props] + [("flag", "u1")])
    for k, v in props.items():
        data[k] = v
    PlyData([PlyElement.describe(data, "vertex")], byte_order=">").write(str(tmp_path / "be.ply"))
    s = read_ply(tmp_path / "be.ply")
    np.testing.assert_array_equal(s.means[:, 2].numpy(), props["z"])


def test_data_beyond_the_promised_vertices_is_an_error(tmp_path):
    _write_vertices(tmp_path / "ok.ply", _minimal_props(4))
    raw = (tmp_path / "ok.ply").read_bytes()
    header_end = raw.index(b"end_header\n") + len(b"end_header\n")
    fewer = raw[:header_end].replace(b"element vertex 4", b"element vertex 3") + raw[header_end:]
    (tmp_path / "fewer.ply").write_bytes(fewer)
    with pytest.raises(PlyFormatError, match=r"fewer\.ply: 56 bytes follow the last element.*3 vertex"):
        read_ply(tmp_path / "fewer.ply")
    assert read_ply(tmp_path / "ok.ply").num_gaussians == 4
