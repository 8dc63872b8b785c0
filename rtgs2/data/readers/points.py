"""Points to initialise a reconstruction from: COLMAP ``points3D`` or the INRIA trainer's
``input.ply`` (``scene/dataset_readers.py::storePly``: x y z nx ny nz red green blue)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from plyfile import PlyData

from rtgs2.data.readers.colmap import read_points3d
from rtgs2.utils.errors import MissingFileError, UserError


def read_init_points(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Positions [P, 3] float64 (world metres) and colours [P, 3] uint8 from a COLMAP
    ``points3D.{bin,txt}`` or a point-cloud ``.ply`` with x, y, z, red, green, blue
    (e.g. ``SceneInfo.init_points``). ValueError names the file and what it lacks."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"no such point file: {path}")
    if path.stem == "points3D" and path.suffix in (".bin", ".txt"):
        pts = read_points3d(path.parent)
        return pts.xyz, pts.rgb
    if path.suffix != ".ply":
        raise UserError(f"{path}: expected COLMAP points3D.bin/.txt or a .ply point cloud")
    try:
        v = PlyData.read(str(path))["vertex"].data
    except Exception as e:  # plyfile raises several types for malformed files
        raise UserError(f"{path}: cannot read a 'vertex' element ({type(e).__name__}: {e})") from e
    names = set(v.dtype.names or ())
    missing = [n for n in ("x", "y", "z", "red", "green", "blue") if n not in names]
    if missing:
        raise UserError(f"{path}: point cloud lacks properties {missing}")
    xyz = np.stack([v["x"], v["y"], v["z"]], axis=1).astype(np.float64)
    rgb = np.stack([v["red"], v["green"], v["blue"]], axis=1).astype(np.uint8)
    return xyz, rgb
