"""Reconstruct the scenes of a data set: readers' ``SceneViews`` -> :func:`fit_gaussians` (``rtgs2 recon``).

The recon library takes plain lists (DESIGN §3: recon imports scene and render only); this
module lives in ``data``, the stage after recon, where a data set's scenes become those lists.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch

from rtgs2.recon.config import ReconConfig
from rtgs2.recon.fit import fit_gaussians
from rtgs2.recon.init import points_from_depth
from rtgs2.scene.gaussians import GaussianScene

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
) -> GaussianScene:
    """Fit one scene from its 'train' views into ``out_dir`` (INRIA layout, resumable).

    Initial points: the reader's SfM point file (``init_points_file``) for ``init="sfm"``, the
    training views' back-projected depth for ``"depth"``; ``"auto"`` takes the file if there
    is one, else depth.
    """
    train = views.indices("train")
    if not train:
        raise ValueError(f"scene {views.name!r} has no 'train' views to fit")
    cams = [views.cameras[i] for i in train]
    imgs = [views.images[i] for i in train]
    use_sfm = init == "sfm" or (init == "auto" and init_points_file is not None)
    if use_sfm:
        if init_points_file is None:
            raise ValueError(f"scene {views.name!r}: init='sfm' but the reader found no SfM point file")
        from rtgs2.data.readers.points import read_init_points

        xyz, rgb = read_init_points(init_points_file)
        points, colors = torch.from_numpy(xyz).float(), torch.from_numpy(rgb).float() / 255.0
    else:
        if views.depths is None:
            raise ValueError(
                f"scene {views.name!r} has no depth maps and no SfM point file: nothing to initialise the Gaussians from"
            )
        depths = [views.depths[i] for i in train]
        points, colors = points_from_depth(cams, imgs, depths, max_init_points, config.seed)
    return fit_gaussians(cams, imgs, config, points, colors, out_dir=out_dir, resume=True, progress=progress)


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
    folders (``out`` for a single scene, ``out/<scene name>`` for several)."""
    from rtgs2.data.open import open_dataset

    ds = open_dataset(data)
    names = [s.name for s in ds.scenes]
    if scene is not None and scene not in names:
        raise ValueError(f"no scene {scene!r} in {data}; scenes: {names}")
    scenes = [ds.scene(scene)] if scene is not None else list(ds.scenes)
    done = []
    for views in scenes:
        dest = out if len(scenes) == 1 else out / views.name
        info = ds.infos.get(views.name)
        points_file = getattr(info, "init_points", None)
        recon_scene(
            views, dest, config, init=init, init_points_file=points_file, max_init_points=max_init_points, progress=progress
        )
        done.append(dest)
    return done
