"""What ``rtgs2 features`` does: read a scene, extract its features, write it back with them."""

from __future__ import annotations

from pathlib import Path

from rtgs2.features.extract import extract_features
from rtgs2.features.inputs import choose_frame
from rtgs2.features.io import load_feature_net
from rtgs2.scene.gaussians import GaussianScene
from rtgs2.scene.ply import read_ply, write_ply_with_features


def check_output_ply(scene: Path, out: Path) -> None:
    """``out`` may be new or an existing ``.ply`` other than the input; nothing else is overwritten."""
    if out.suffix.lower() != ".ply":
        raise ValueError(f"output {out} must be a .ply file")
    if out.exists() and not out.is_file():
        raise ValueError(f"output {out} exists and is not a file")
    if out.exists() and out.resolve() == scene.resolve():
        raise ValueError(f"output {out} is the input scene: write the features to another file")


def run_features(
    scene_path: Path,
    out: Path,
    weights: Path | None = None,
    metres_per_unit: float | None = None,
    up: str = "+z",
    preview: Path | None = None,
) -> GaussianScene:
    """Read ``scene_path``, compute its features, write ``out`` (and ``preview``); prints the
    frame chosen and what was written."""
    check_output_ply(scene_path, out)
    if preview is not None and preview.suffix.lower() != ".png":
        raise ValueError(f"preview {preview} must be a .png file")
    model = load_feature_net(weights)  # before the work: a bad weights file fails fast
    scene = read_ply(scene_path)
    frame = choose_frame(scene, metres_per_unit, up)
    print(f"frame: {frame.note}")
    feats = extract_features(scene, model, frame=frame)
    write_ply_with_features(scene_path, feats, out)
    with_features = GaussianScene(scene.means, scene.quats, scene.log_scales, scene.opacity_logits, scene.sh, feats)
    print(f"{scene.num_gaussians} Gaussians, {feats.shape[1]} features each: {out}")
    if preview is not None:
        from rtgs2.features.preview import write_preview

        write_preview(scene, feats, preview, frame)
        print(f"preview: {preview}")
    return with_features
