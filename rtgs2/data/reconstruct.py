"""Reconstruct the scenes of a data set: readers' ``SceneViews`` -> :func:`fit_gaussians` (``rtgs2 recon``).

The recon library takes plain lists (recon imports only the scene and render stages); this
module lives in ``data``, the stage after recon, where a data set's scenes become those lists.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch

from rtgs2.recon.config import ReconConfig
from rtgs2.recon.fit import check_output_folder, fit_gaussians
from rtgs2.recon.init import points_from_depth
from rtgs2.scene.gaussians import GaussianScene
from rtgs2.utils.errors import ConfigError, UserError
from rtgs2.utils.lock import LOCK_NAME, OutputLock

InitSource = Literal["auto", "sfm", "depth"]


def recon_scene(
    views,  # rtgs2.data.SceneViews: cameras, images, depths, split, name
    out_dir: Path,
    config: ReconConfig,
    *,
    init: InitSource = "auto",
    init_points_file: Path | None = None,
    max_init_points: int = 100_000,
    progress: bool = True,
    identity: dict | None = None,
) -> GaussianScene:
    """Fit one scene from its 'train' views into ``out_dir`` (INRIA layout, resumable).

    Initial points: the reader's SfM point file (``init_points_file``) for ``init="sfm"``, the
    training views' back-projected depth for ``"depth"``; ``"auto"`` takes the file if there
    is one, else depth. ``identity`` (e.g. data path and scene) is recorded in the checkpoints;
    a resume with another identity is refused.
    """
    train = views.indices("train")
    if not train:
        raise UserError(f"scene {views.name!r} has no 'train' views to fit")
    cams = [views.cameras[i] for i in train]
    imgs = [views.images[i] for i in train]
    use_sfm = init == "sfm" or (init == "auto" and init_points_file is not None)
    if use_sfm:
        if init_points_file is None:
            raise UserError(f"scene {views.name!r}: init='sfm' but the reader found no SfM point file")
        from rtgs2.data.readers.points import read_init_points

        xyz, rgb = read_init_points(init_points_file)
        points, colors = torch.from_numpy(xyz).float(), torch.from_numpy(rgb).float() / 255.0
    else:
        if views.depths is None:
            raise UserError(
                f"scene {views.name!r} has no depth maps and no SfM point file: nothing to initialise the Gaussians from"
            )
        depths = [views.depths[i] for i in train]
        points, colors = points_from_depth(cams, imgs, depths, max_init_points, config.seed)
    ident = {"scene": views.name, "init": "sfm" if use_sfm else "depth", **(identity or {})}
    return fit_gaussians(
        cams, imgs, config, points, colors, out_dir=out_dir, resume=True, progress=progress, identity=ident
    )


def run_recon(
    data: Path,
    out: Path,
    config: ReconConfig,
    *,
    scene: str | None = None,
    init: InitSource = "auto",
    max_init_points: int = 100_000,
    progress: bool = True,
) -> list[Path]:
    """Fit every scene of the data set at ``data`` (or only ``scene``); returns the output
    folders (``out`` for a single scene, ``out/<scene name>`` for several).

    Every output folder is checked before any work (a file, or a folder holding anything but an
    earlier recon output, is refused), and ``out`` is locked for the run: a second run on it
    is refused while this one lives.
    """
    from rtgs2.data.open import open_dataset

    if max_init_points < 1:
        raise ConfigError(None, "max_init_points", f"must be positive, got {max_init_points}")
    ds = open_dataset(data)
    names = [s.name for s in ds.scenes]
    if scene is not None and scene not in names:
        raise UserError(f"no scene {scene!r} in {data}; scenes: {names}")
    scenes = [ds.scene(scene)] if scene is not None else list(ds.scenes)
    dests = [out] if len(scenes) == 1 else [out / v.name for v in scenes]
    check_output_folder(out) if len(scenes) == 1 else _check_parent_folder(out, [v.name for v in scenes])
    for d in dests:
        check_output_folder(d)
    with OutputLock(out, f"rtgs2 recon --data {data}"):
        for views, dest in zip(scenes, dests):
            info = ds.infos.get(views.name)
            points_file = getattr(info, "init_points", None)
            recon_scene(
                views, dest, config, init=init, init_points_file=points_file, max_init_points=max_init_points,
                progress=progress, identity={"data": str(Path(data).resolve())},
            )  # fmt: skip
    return dests


def _check_parent_folder(out: Path, scene_names: list[str]) -> None:
    """The folder of a multi-scene run holds only its scenes' folders (and the run's lock)."""
    if out.exists() and not out.is_dir():
        raise UserError(f"output {out} exists and is not a folder; give a folder for the reconstructions")
    if out.is_dir():
        foreign = sorted(p.name for p in out.iterdir() if p.name not in scene_names and p.name != LOCK_NAME)
        if foreign:
            raise UserError(
                f"output folder {out} holds files that are not this data set's reconstructions ({foreign[:5]}); "
                "choose an empty or new folder (nothing was written)"
            )
