"""INRIA-layout 3DGS ``.ply`` files and the 32-byte ``.splat`` format.

PLY properties are looked up by name (graphdeco-inria/gaussian-splatting
``scene/gaussian_model.py``): ``x y z [nx ny nz] f_dc_0..2 [f_rest_0..] opacity scale_* rot_*``.
``f_rest`` is channel-major (all R coefficients, then G, then B). Per-Gaussian features are
extra float properties ``f_vi_0..f_vi_{D-1}`` (the RT-GS2 code's ``f_pc_*`` are read too).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from plyfile import PlyData, PlyListProperty

from rtgs2.scene.gaussians import GaussianScene
from rtgs2.scene.sh import SH_C0, sh_degree_from_bases
from rtgs2.utils.errors import MissingFileError, UserError
from rtgs2.utils.io import atomic_open, atomic_write_bytes, refuse_folder

FEATURE_PREFIX = "f_vi_"
LEGACY_FEATURE_PREFIXES = ("f_vi_", "f_pc_")
_REQUIRED = ["x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity", "scale_0", "scale_1", "scale_2"]
_REQUIRED += ["rot_0", "rot_1", "rot_2", "rot_3"]
_FLOAT_KINDS = "f"


class PlyFormatError(UserError):
    """A ``.ply`` / ``.splat`` file that is not a valid 3DGS scene; the message names the file."""


def _indexed(names: list[str], prefix: str) -> list[str]:
    pat = re.compile(re.escape(prefix) + r"(\d+)$")
    found = sorted((int(m.group(1)), n) for n in names if (m := pat.match(n)))
    idx = [i for i, _ in found]
    if idx != list(range(len(idx))):
        raise ValueError(f"properties {prefix}* are not numbered 0..{len(idx) - 1}: {idx[:10]}")
    return [n for _, n in found]


def _column(records: np.ndarray, name: str) -> np.ndarray:
    """[N] float32, contiguous copy of one property. A view into the records would keep their
    stride, which torch rejects when the record size is not a multiple of 4 bytes (a ``uchar``
    property among the floats)."""
    return np.ascontiguousarray(records[name], dtype=np.float32)


def _trailing_bytes(path: Path, ply: PlyData) -> int:
    """Bytes after the last element of a binary file whose elements have fixed-size records
    (0 for ASCII files and files with list properties, whose size the header does not fix)."""
    if ply.text or any(isinstance(p, PlyListProperty) for el in ply.elements for p in el.properties):
        return 0
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
    end = head.find(b"end_header")
    if end < 0:
        return 0
    header = head.index(b"\n", end) + 1
    order = "<" if ply.byte_order in ("<", "=") else ">"
    data = sum(el.count * el.dtype(order).itemsize for el in ply.elements)
    return path.stat().st_size - header - data


def read_ply(path: str | Path) -> GaussianScene:
    """Read a 3DGS scene from an INRIA-layout ``.ply`` (binary or ASCII).

    Returns a float32 CPU :class:`GaussianScene`; raises :class:`PlyFormatError` naming the
    file and the problem for a missing file, a truncated or malformed file, missing
    required properties, non-float properties, zero Gaussians or non-finite values.
    """
    path = Path(path)
    refuse_folder(path, ".ply")
    if not path.is_file():
        raise MissingFileError(f"no such .ply file: {path}")
    try:
        ply = PlyData.read(str(path))
        trailing = _trailing_bytes(path, ply)
    except Exception as e:  # plyfile raises several types for truncated / malformed files
        raise PlyFormatError(f"{path}: cannot parse as PLY ({type(e).__name__}: {e})") from e
    if trailing:
        counts = ", ".join(f"{el.count} {el.name}" for el in ply.elements)
        raise PlyFormatError(
            f"{path}: {trailing} bytes follow the last element: the header promises {counts} but the file holds more data"
        )
    if "vertex" not in [el.name for el in ply.elements]:
        raise PlyFormatError(f"{path}: no 'vertex' element")
    v = ply["vertex"].data
    names = list(v.dtype.names or ())
    missing = [n for n in _REQUIRED if n not in names]
    if missing:
        raise PlyFormatError(f"{path}: missing required properties {missing} (has {names[:20]})")
    if len(v) == 0:
        raise PlyFormatError(f"{path}: zero Gaussians")
    try:
        rest = _indexed(names, "f_rest_")
        feat_names: list[str] = []
        for prefix in LEGACY_FEATURE_PREFIXES:
            feat_names = _indexed(names, prefix)
            if feat_names:
                break
    except ValueError as e:
        raise PlyFormatError(f"{path}: {e}") from e
    used = _REQUIRED + rest + feat_names
    wrong = [f"{n}:{v.dtype[n]}" for n in used if v.dtype[n].kind not in _FLOAT_KINDS]
    if wrong:
        raise PlyFormatError(f"{path}: properties must be float, got {wrong}")
    if len(rest) % 3:
        raise PlyFormatError(f"{path}: {len(rest)} f_rest_* properties is not a multiple of 3")
    try:
        sh_degree_from_bases(len(rest) // 3 + 1)
    except ValueError as e:
        raise PlyFormatError(f"{path}: {len(rest)} f_rest_* properties: {e}") from e

    def cols(ns: list[str]) -> np.ndarray:
        return np.stack([_column(v, n) for n in ns], axis=1) if ns else np.zeros((len(v), 0), np.float32)

    n = len(v)
    dc = cols(["f_dc_0", "f_dc_1", "f_dc_2"])[:, None, :]
    k_rest = len(rest) // 3
    rest_arr = cols(rest).reshape(n, 3, k_rest).transpose(0, 2, 1)  # channel-major -> [N, K-1, 3]
    arrays = {
        "means": cols(["x", "y", "z"]),
        "quats": cols(["rot_0", "rot_1", "rot_2", "rot_3"]),
        "log_scales": cols(["scale_0", "scale_1", "scale_2"]),
        "opacity_logits": _column(v, "opacity"),
        "sh": np.ascontiguousarray(np.concatenate([dc, rest_arr], axis=1)),
        "features": cols(feat_names) if feat_names else None,
    }
    for name, a in arrays.items():
        if a is not None and not np.isfinite(a).all():
            bad = int((~np.isfinite(a.reshape(n, -1))).any(axis=1).sum())
            raise PlyFormatError(f"{path}: {name} has non-finite values (NaN/Inf) in {bad} of {n} Gaussians")
    qn = np.linalg.norm(arrays["quats"], axis=1)
    if (qn == 0).any():
        raise PlyFormatError(f"{path}: {int((qn == 0).sum())} Gaussians have a zero quaternion")
    return GaussianScene(**{k: (None if a is None else torch.from_numpy(a)) for k, a in arrays.items()})


def write_ply(scene: GaussianScene, path: str | Path) -> None:
    """Write ``scene`` as a binary little-endian INRIA-layout ``.ply`` (float32 properties).

    Normals are written as zeros (as the INRIA trainer does); features go to ``f_vi_*``.
    Reading the file back gives the same float32 values bit for bit. The file is written
    to a temporary name and renamed, so a crash never leaves a half-written scene.
    """
    s = scene.detach().to("cpu")
    n, k = s.num_gaussians, s.sh.shape[1]
    cols: list[tuple[str, np.ndarray]] = []
    f32 = lambda t: t.numpy().astype(np.float32, copy=False)  # noqa: E731
    means = f32(s.means)
    cols += [(c, means[:, i]) for i, c in enumerate("xyz")]
    cols += [(c, np.zeros(n, np.float32)) for c in ("nx", "ny", "nz")]
    sh = f32(s.sh)
    cols += [(f"f_dc_{i}", sh[:, 0, i]) for i in range(3)]
    rest = sh[:, 1:, :].transpose(0, 2, 1).reshape(n, 3 * (k - 1))  # -> channel-major
    cols += [(f"f_rest_{i}", rest[:, i]) for i in range(rest.shape[1])]
    cols += [("opacity", f32(s.opacity_logits))]
    ls, q = f32(s.log_scales), f32(s.quats)
    cols += [(f"scale_{i}", ls[:, i]) for i in range(3)]
    cols += [(f"rot_{i}", q[:, i]) for i in range(4)]
    if s.features is not None:
        feats = f32(s.features)
        cols += [(f"{FEATURE_PREFIX}{i}", feats[:, i]) for i in range(feats.shape[1])]
    data = np.empty(n, dtype=[(name, "<f4") for name, _ in cols])
    for name, c in cols:
        data[name] = c
    header = ["ply", "format binary_little_endian 1.0", f"element vertex {n}"]
    header += [f"property float {name}" for name, _ in cols] + ["end_header"]
    with atomic_open(path, "wb") as fh:
        fh.write(("\n".join(header) + "\n").encode("ascii"))
        fh.write(data.tobytes())


_SPLAT_DTYPE = np.dtype([("pos", "<f4", 3), ("scale", "<f4", 3), ("rgba", "u1", 4), ("rot", "u1", 4)])
_SPLAT_OPACITY_EPS = 0.5 / 255  # u8 opacity 0 or 255 would be an infinite logit: clamp half a step inside


def read_splat(path: str | Path) -> GaussianScene:
    """Read the 32-byte-per-Gaussian ``.splat`` format (antimatter15/splat).

    Layout: position 3×f32, scale 3×f32 (already exponentiated), RGBA u8 (SH-DC colour and
    sigmoid opacity), rotation u8 wxyz (``q/|q|*128 + 128``). SH degree 0 only.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"no such .splat file: {path}")
    raw = path.read_bytes()
    if len(raw) == 0 or len(raw) % _SPLAT_DTYPE.itemsize:
        raise PlyFormatError(f"{path}: size {len(raw)} bytes is not a positive multiple of 32 (truncated?)")
    d = np.frombuffer(raw, dtype=_SPLAT_DTYPE)
    pos, scale = d["pos"].astype(np.float32), d["scale"].astype(np.float32)
    if not (np.isfinite(pos).all() and np.isfinite(scale).all()):
        raise PlyFormatError(f"{path}: non-finite positions or scales")
    if (scale <= 0).any():
        raise PlyFormatError(f"{path}: {int((scale <= 0).any(1).sum())} Gaussians have non-positive scales")
    rgba = d["rgba"].astype(np.float32) / 255.0
    quat = (d["rot"].astype(np.float32) - 128.0) / 128.0
    if (np.linalg.norm(quat, axis=1) == 0).any():
        raise PlyFormatError(f"{path}: zero quaternions")
    op = np.clip(rgba[:, 3], _SPLAT_OPACITY_EPS, 1 - _SPLAT_OPACITY_EPS)
    return GaussianScene(
        means=torch.from_numpy(pos),
        quats=torch.from_numpy(quat),
        log_scales=torch.from_numpy(np.log(scale)),
        opacity_logits=torch.from_numpy(np.log(op / (1 - op)).astype(np.float32)),
        sh=torch.from_numpy(((rgba[:, :3] - 0.5) / SH_C0).astype(np.float32)[:, None, :]),
    )


def write_splat(scene: GaussianScene, path: str | Path) -> None:
    """Write the ``.splat`` format (lossy: u8 colour, opacity and rotation; SH-DC only)."""
    s = scene.detach().to("cpu")
    d = np.empty(s.num_gaussians, dtype=_SPLAT_DTYPE)
    d["pos"] = s.means.numpy()
    d["scale"] = s.scales.numpy()
    rgba = np.concatenate([s.base_colors.numpy(), s.opacities.numpy()[:, None]], axis=1)
    d["rgba"] = np.clip(np.round(rgba * 255), 0, 255).astype(np.uint8)
    d["rot"] = np.clip(np.round(s.rotations.numpy() * 128 + 128), 0, 255).astype(np.uint8)
    atomic_write_bytes(path, d.tobytes())


def vertex_property_names(path: str | Path) -> set[str] | None:
    """The vertex property names a PLY file's header declares (read from its first 64 KiB, no
    data loaded), or None for a file that is not a readable PLY: lets a command tell its own
    earlier output (with ``f_vi_*`` or label properties) from a user's file before overwriting."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(1 << 16)
    except OSError:
        return None
    end = head.find(b"end_header")
    if not head.startswith(b"ply") or end < 0:
        return None
    names = re.findall(rb"^property\s+\S+\s+(\S+)\s*$", head[:end], flags=re.MULTILINE)
    return {n.decode("ascii", "replace") for n in names}


def write_ply_with_features(src: str | Path, features: torch.Tensor, dst: str | Path) -> None:
    """Copy the ``.ply`` at ``src`` to ``dst`` with per-Gaussian ``features`` [N, D] as float
    properties ``f_vi_0..f_vi_{D-1}``; every other element and property is kept as it was
    (features already in the file, ``f_vi_*`` or ``f_pc_*``, are replaced). Atomic."""
    src, dst = Path(src), Path(dst)
    ply = PlyData.read(str(src))
    v = ply["vertex"].data
    feats = features.detach().cpu().numpy().astype("<f4")
    if feats.ndim != 2 or feats.shape[0] != len(v):
        raise ValueError(f"features must have shape [N={len(v)}, D], got {list(feats.shape)}")
    pat = re.compile(r"^(" + "|".join(map(re.escape, LEGACY_FEATURE_PREFIXES)) + r")\d+$")
    kept = [(n, v.dtype[n]) for n in v.dtype.names if not pat.match(n)]
    data = np.empty(len(v), dtype=kept + [(f"{FEATURE_PREFIX}{i}", "<f4") for i in range(feats.shape[1])])
    for n, _ in kept:
        data[n] = v[n]
    for i in range(feats.shape[1]):
        data[f"{FEATURE_PREFIX}{i}"] = feats[:, i]
    _write_with_vertex(ply, data, dst)


def write_ply_with_properties(
    src: str | Path,
    properties: Mapping[str, np.ndarray],  # name -> [N]; its dtype is the PLY type (uint8: uchar, float32: float)
    dst: str | Path,
    *,
    zeroed: Sequence[str] = (),
) -> None:
    """Copy the ``.ply`` at ``src`` to ``dst`` with per-Gaussian ``properties`` set: a property the
    file already has is replaced where it stands (in the new array's type), a new one is appended.
    Properties whose names start with a prefix in ``zeroed`` are set to 0 ("f_rest_": a colour
    without view dependence). Every other element and property is kept as it was. Atomic.

    Raises:
        ValueError: an array that is not [N] for the file's N Gaussians.
    """
    src, dst = Path(src), Path(dst)
    ply = PlyData.read(str(src))
    v = ply["vertex"].data
    arrays = {name: np.asarray(a) for name, a in properties.items()}
    for name, a in arrays.items():
        if a.shape != (len(v),):
            raise ValueError(f"property {name} must have shape [N={len(v)}], got {list(a.shape)}")
    names = list(v.dtype.names)
    dtype = [(n, arrays[n].dtype.newbyteorder("<") if n in arrays else v.dtype[n]) for n in names]
    dtype += [(n, a.dtype.newbyteorder("<")) for n, a in arrays.items() if n not in names]
    data = np.empty(len(v), dtype=dtype)
    for n in names:
        data[n] = 0 if n.startswith(tuple(zeroed)) else v[n]
    for n, a in arrays.items():
        data[n] = a
    _write_with_vertex(ply, data, dst)


def _write_with_vertex(ply: PlyData, data: np.ndarray, dst: Path) -> None:
    """Write ``ply`` to ``dst`` (atomically) with its vertex element's records replaced by ``data``."""
    from plyfile import PlyElement

    elements = [PlyElement.describe(data, "vertex") if el.name == "vertex" else el for el in ply.elements]
    out = PlyData(elements, text=ply.text, byte_order=ply.byte_order, comments=ply.comments, obj_info=ply.obj_info)
    with atomic_open(dst, "wb") as f:
        out.write(f)
