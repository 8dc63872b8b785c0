"""Random fusion models saved as files and a small real 3DGS scene, for the pipeline tests.
A random model's labels mean nothing: tests check shapes, files and rules, never quality."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from rtgs2.fusion.io import save_fusion
from rtgs2.fusion.vdvi import build_fusion
from rtgs2.scene import Camera, GaussianScene, read_ply
from tests.conftest import DONUT

CLASSES = ["floor", "wall", "table", "chair"]


@pytest.fixture(scope="session")
def fusion_file(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """``fusion_file(inputs)``: a randomly initialised small fusion model (4 classes) saved once per session."""
    folder = tmp_path_factory.mktemp("fusion")

    def make(inputs: str) -> Path:
        path = folder / f"{inputs}.pt"
        if not path.is_file():
            torch.manual_seed(0)
            save_fusion(build_fusion("small", inputs, num_classes=len(CLASSES), class_names=CLASSES), path)
        return path

    return make


@pytest.fixture(scope="session")
def small_donut() -> GaussianScene:
    """Every 8th Gaussian of the donut (~5.7k; 0.2 m across, z up), no features."""
    scene = read_ply(DONUT)
    return scene.subset(torch.arange(0, scene.num_gaussians, 8)).with_features(None)


def donut_camera(width: int = 64, height: int = 48) -> Camera:
    """A view of the whole donut from 30 degrees above, with empty background around it."""
    return Camera.look_at((0.35, 0.0, 0.25), (0.0, 0.0, 0.04), fov_x_deg=60.0, width=width, height=height)
