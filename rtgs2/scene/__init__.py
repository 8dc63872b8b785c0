"""3DGS scenes, cameras, spherical harmonics and their file formats."""

from rtgs2.scene.camera import Camera
from rtgs2.scene.cameras_json import read_cameras_json, write_cameras_json
from rtgs2.scene.gaussians import GaussianScene
from rtgs2.scene.paths import orbit, smooth_path
from rtgs2.scene.ply import PlyFormatError, read_ply, read_splat, write_ply, write_splat
from rtgs2.scene.sh import eval_sh

__all__ = [
    "Camera",
    "GaussianScene",
    "PlyFormatError",
    "eval_sh",
    "orbit",
    "read_cameras_json",
    "read_ply",
    "read_splat",
    "smooth_path",
    "write_cameras_json",
    "write_ply",
    "write_splat",
]
