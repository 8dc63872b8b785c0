"""The scenes ``rtgs2 eval`` scores and their Gaussians: the data set's own ``.ply``, those given
with ``gaussians``, or a reconstruction by ``rtgs2 recon`` (default settings), kept in
``<cache>/recon`` and reused; the SynthRooms room of a scene, where there is one."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rtgs2.data.labelsets import load_label_set
from rtgs2.data.open import OpenedDataset, detect_format, open_dataset
from rtgs2.data.readers.gaussian_output import latest_ply
from rtgs2.data.readers.synthrooms import FORMAT as SYNTHROOMS
from rtgs2.data.views import IGNORE_LABEL, SceneViews
from rtgs2.synth.room import Room, read_room
from rtgs2.utils.cache import cache_root
from rtgs2.utils.errors import ConfigError, MissingFileError, UserError


def open_eval_data(data: Path, label_set: str | Path | None) -> tuple[OpenedDataset, list[str], np.ndarray]:
    """The data set at ``data``, the names of its classes and a [256] uint8 table from the label
    values of its label images to those classes (identity, except for a folder with a label set
    of its own, whose values ``label_set``'s ``raw_to_label`` maps as raw ids)."""
    reader, _ = detect_format(data)
    if label_set is not None and reader.own_label_set:
        label_map = load_label_set(label_set)
        return open_dataset(data), list(label_map.names), label_map.lookup_table(IGNORE_LABEL)
    opened = open_dataset(data, label_set)
    if opened.label_map is None:
        raise UserError(f"{data}: the {opened.format} folder has no labels to score against; name its label set with --label-set")
    return opened, list(opened.label_map.names), np.arange(IGNORE_LABEL + 1, dtype=np.uint8)


def select_scenes(opened: OpenedDataset, which: str) -> list[SceneViews]:
    """The scenes ``EvalConfig.scenes`` names."""
    if which == "auto":
        if "test" not in opened.scene_split:
            return list(opened.scenes)
        if not opened.scene_split["test"]:  # e.g. a SynthRooms build whose test scenes are unfinished
            raise UserError(f"{opened.root}: none of its test scenes is here (or finished, for SynthRooms); name the scenes to score")
        return opened.split("test")
    if which == "all" or which in opened.scene_split:
        return opened.split(which)
    if which in [s.name for s in opened.scenes]:
        return [opened.scene(which)]
    raise ConfigError(
        None, "scenes", f"must be auto, all, a scene split of {opened.root} ({', '.join(opened.scene_split) or 'none'}) or a "
        f"scene name ({', '.join(s.name for s in opened.scenes[:8])}), got {which!r}"
    )


def ply_of(path: Path) -> Path | None:
    """A ``.ply`` file itself, or the one of a scene or 3DGS / recon output folder."""
    if path.is_file() and path.suffix == ".ply":
        return path
    if path.is_dir():
        return latest_ply(path) or (path / "point_cloud.ply" if (path / "point_cloud.ply").is_file() else None)
    return None


def scene_gaussians(scenes: Sequence[SceneViews], gaussians: Path | None) -> dict[str, Path | None]:
    """The 3DGS ``.ply`` of each scene: from ``gaussians`` (module doc), else the data set's
    own; None where there is none (it is reconstructed)."""
    if gaussians is None:
        return {v.name: v.gaussians if v.gaussians is not None and v.gaussians.is_file() else None for v in scenes}
    if not gaussians.exists():
        raise MissingFileError(f"gaussians {gaussians} not found")
    if gaussians.is_file() and gaussians.suffix != ".ply":
        raise UserError(f"gaussians {gaussians} is not a .ply file, a 3DGS output folder or a folder of them")
    single = ply_of(gaussians)
    if single is not None:
        if len(scenes) != 1:
            raise UserError(
                f"gaussians {gaussians} holds one scene, but {len(scenes)} scenes are scored: give a folder "
                "holding <scene>.ply or a 3DGS output folder <scene>/ for each"
            )
        return {scenes[0].name: single}
    found = {v.name: ply_of(gaussians / v.name) or ply_of(gaussians / f"{v.name}.ply") for v in scenes}
    missing = [n for n, p in found.items() if p is None]
    if missing:
        raise MissingFileError(
            f"no Gaussians for scenes {missing} in {gaussians} (expected <scene>.ply or a 3DGS output folder <scene>/)"
        )
    return found


def reconstruct(data: Path, views: SceneViews, progress: bool) -> Path:
    """The ``.ply`` of a scene the data set has no Gaussians for: fitted by ``rtgs2 recon`` with
    its default settings into ``<cache>/recon/<data>-<hash>/<scene>`` once, then reused."""
    from rtgs2.data.reconstruct import run_recon
    from rtgs2.recon.config import ReconConfig
    from rtgs2.recon.fit import result_path

    cfg = ReconConfig()
    root = data.resolve()
    dest = cache_root() / "recon" / f"{root.name}-{hashlib.sha256(str(root).encode()).hexdigest()[:10]}" / views.name
    ply = result_path(dest, cfg.iterations)
    if not ply.is_file():
        if progress:
            print(f"eval: scene {views.name} has no Gaussians; fitting them (rtgs2 recon, resumable) into {dest}")
        run_recon(data, dest, cfg, scene=views.name, progress=progress)
    return ply


def scene_room(opened: OpenedDataset, views: SceneViews) -> Room | None:
    """The SynthRooms room of a scene, whose surfaces give the true class of each Gaussian; None
    for other data sets (no such truth)."""
    return read_room(opened.infos[views.name].root) if opened.format == SYNTHROOMS else None
