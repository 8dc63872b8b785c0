"""What ``rtgs2 features`` does: read a scene, extract its features, write it back with them."""

from __future__ import annotations

from pathlib import Path

from rtgs2.features.extract import extract_features
from rtgs2.features.inputs import choose_frame
from rtgs2.features.io import load_feature_net
from rtgs2.scene.gaussians import GaussianScene
from rtgs2.scene.ply import read_ply, vertex_property_names, write_ply_with_features
from rtgs2.utils.errors import UserError
from rtgs2.utils.io import check_writable

PREVIEW_SOFTWARE = "rtgs2 features"  # the PNG text chunk that marks a preview rtgs2 wrote


def check_output_ply(scene: Path, out: Path) -> None:
    """``out`` may be new or an earlier ``rtgs2 features`` output (a .ply with ``f_vi_*``) other
    than the input; nothing else is overwritten, and an unwritable place is found now."""
    if out.suffix.lower() != ".ply":
        raise UserError(f"output {out} must be a .ply file")
    if out.exists() and not out.is_file():
        raise UserError(f"output {out} exists and is not a file")
    if out.exists() and out.resolve() == scene.resolve():
        raise UserError(f"output {out} is the input scene: write the features to another file")
    if out.exists() and not _has_features(out):
        raise UserError(f"output {out} exists and is not an earlier rtgs2 features output: choose a new file (nothing was written)")
    check_writable(out, "output")


def check_preview(preview: Path) -> None:
    """``preview`` may be a new .png or one that ``rtgs2 features`` wrote; writable."""
    if preview.suffix.lower() != ".png":
        raise UserError(f"preview {preview} must be a .png file")
    if preview.is_file():
        from PIL import Image

        try:
            software = Image.open(preview).info.get("Software")
        except OSError:
            software = None
        if software != PREVIEW_SOFTWARE:
            raise UserError(f"preview {preview} exists and was not written by rtgs2 features: choose a new file (nothing was written)")
    check_writable(preview, "preview")


def _has_features(path: Path) -> bool:
    """Whether ``path`` is a PLY whose header declares ``f_vi_0`` (as ``rtgs2 features`` writes)."""
    return "f_vi_0" in (vertex_property_names(path) or set())


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
    check_output_ply(scene_path, out)  # every output is checked before the work
    if preview is not None:
        check_preview(preview)
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
