"""Reader of built SynthRooms data sets: the on-disk format (names, units, version), the label
set, ``is_synthrooms`` and ``open_synthrooms``. The generator, :mod:`rtgs2.synth`, writes this
format and imports its names from here; nothing here imports the generator.

The layout of a data set root (written by :func:`rtgs2.synth.build.build_synthrooms`)::

    synthrooms.json          manifest: format, version, preset, parameters, scenes (name, seed, split)
    label_map.json           rtgs2.data.LabelMap (17 classes; label 255 = ignore)
    <split>_<iii>/           one folder per scene, split = train | test (disjoint seeds)
        images/<v>.png       RGB, 8-bit
        labels/<v>.png       uint8 class ids (255 = no surface)
        depth/<v>.png        uint16 camera z in millimetres (0 = no surface)
        instances/<v>.png    uint16 instance ids (0 = no surface; ids in room.json "objects")
        cameras.json         INRIA layout (rtgs2.scene.write_cameras_json), view order
        point_cloud.ply      the scene's 3DGS (INRIA .ply)
        room.json            the scene itself: primitives, materials, lights, objects
        contact_sheet.png    a few RGB views beside their coloured labels
        DONE                 completion marker, written last (atomically): the scene is finished

Frame names ``<v>`` are 5-digit view indices; within a scene every 8th view (index % 8 == 0)
is held out for testing (``rtgs2.data.every_nth_split``).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from rtgs2.data.readers.base import SceneReader
from rtgs2.data.readers.common import SceneInfo, stride_select
from rtgs2.data.views import LabelMap, LazyFrames, SceneViews, every_nth_split
from rtgs2.scene.cameras_json import read_cameras_json_named
from rtgs2.utils.errors import MissingFileError, UserError

FORMAT = "synthrooms"
VERSION = 1
MANIFEST = "synthrooms.json"
LABEL_MAP = "label_map.json"
DONE = "DONE"
DEPTH_UNITS_PER_METRE = 1000.0  # depth PNGs hold uint16 millimetres: up to 65.5 m, 1 mm steps

# The label set: 17 classes (label value = index), 255 = ignore.
CLASS_NAMES: tuple[str, ...] = (
    "wall",
    "floor",
    "ceiling",
    "door",
    "window",
    "table",
    "chair",
    "sofa",
    "bed",
    "cabinet",
    "shelf",
    "lamp",
    "picture",
    "rug",
    "plant",
    "monitor",
    "clutter",
)
CLASS_ID: dict[str, int] = {n: i for i, n in enumerate(CLASS_NAMES)}

# Display colours only (never used to render RGB): distinct, NYU/ScanNet-like hues.
_COLORS = [
    (174, 199, 232), (152, 223, 138), (31, 119, 180), (255, 187, 120), (188, 189, 34),
    (140, 86, 75), (255, 152, 150), (214, 39, 40), (197, 176, 213), (148, 103, 189),
    (196, 156, 148), (23, 190, 207), (247, 182, 210), (219, 219, 141), (44, 160, 44),
    (112, 128, 144), (227, 119, 194),
]  # fmt: skip


def synthrooms_label_map() -> LabelMap:
    """The label map of every SynthRooms data set (raw id = label value)."""
    return LabelMap(list(CLASS_NAMES), np.array(_COLORS, dtype=np.uint8), {i: i for i in range(len(CLASS_NAMES))})


def read_manifest(root: str | Path) -> dict:
    """The manifest of a data set root; ``ValueError`` if it is missing or not SynthRooms."""
    path = Path(root) / MANIFEST
    if not path.is_file():
        raise UserError(f"{root}: not a SynthRooms data set (no {MANIFEST})")
    try:
        m = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise UserError(f"{path}: not valid JSON ({e})") from e
    if not isinstance(m, dict) or m.get("format") != FORMAT:
        raise UserError(f"{path}: not a SynthRooms manifest (format {m.get('format') if isinstance(m, dict) else None!r})")
    if m.get("version") != VERSION:
        raise UserError(f"{path}: SynthRooms format version {m.get('version')}, this code reads version {VERSION}")
    return m


def _scene_splits(root: Path) -> dict[str, str]:
    """{scene name: split} of the data set root ``root`` in manifest order ({} if it is not one)."""
    try:
        return {s["name"]: s["split"] for s in read_manifest(root)["scenes"]}
    except (ValueError, OSError):
        return {}


def is_synthrooms(path: str | Path) -> bool:
    """True if ``path`` is a SynthRooms data set root (a folder with a valid manifest)."""
    try:
        read_manifest(path)
    except (ValueError, OSError):
        return False
    return True


def is_scene(path: Path) -> bool:
    """True if ``path`` is a scene folder listed in the manifest of the data set root above it."""
    return path.is_dir() and path.name in _scene_splits(path.parent)


def list_scenes(root: Path) -> list[Path]:
    """The scene folders of data set root ``root``, train scenes first (manifest order)."""
    return [root / name for name in _scene_splits(root)]


def scene_split(root: Path) -> dict[str, list[str]]:
    """{"train": [scene names], "test": [...]} of data set root ``root`` ({} if it is not one)."""
    splits = _scene_splits(root)
    return {k: [n for n, s in splits.items() if s == k] for k in ("train", "test")} if splits else {}


def finished_scenes(root: Path) -> list[Path]:
    """The finished scene folders of ``root`` (:func:`list_scenes` order), warning about the rest:
    a data set whose build is still going on (or was stopped) opens with the scenes it has."""
    scenes = list_scenes(root)
    done = [d for d in scenes if (d / DONE).is_file()]
    if len(done) < len(scenes):
        warnings.warn(
            f"{root}: {len(scenes) - len(done)} of {len(scenes)} scenes are not finished and are left out "
            f"(rtgs2 synth resumes the build)",
            stacklevel=2,
        )
    return done


def finished_split(root: Path) -> dict[str, list[str]]:
    """:func:`scene_split` restricted to the finished scenes."""
    return {k: [n for n in names if (root / n / DONE).is_file()] for k, names in scene_split(root).items()}


def _png(path: Path) -> np.ndarray:
    if not path.is_file():
        raise MissingFileError(f"missing frame file: {path}")
    return np.asarray(Image.open(path))


def read_image(scene_dir: Path, name: str) -> Tensor:
    """[H, W, 3] float32 RGB in [0, 1]."""
    return torch.from_numpy(_png(scene_dir / "images" / f"{name}.png").astype(np.float32) / 255.0)


def read_label(scene_dir: Path, name: str) -> Tensor:
    """[H, W] uint8 class ids (255 = ignore)."""
    return torch.from_numpy(_png(scene_dir / "labels" / f"{name}.png").astype(np.uint8))


def read_depth(scene_dir: Path, name: str) -> Tensor:
    """[H, W] float32 camera z, metres (0 = no surface)."""
    return torch.from_numpy(_png(scene_dir / "depth" / f"{name}.png").astype(np.float32) / DEPTH_UNITS_PER_METRE)


def open_scene(scene_dir: str | Path, label_map: LabelMap | None = None, frame_stride: int = 1) -> SceneViews:
    """One finished SynthRooms scene folder as lazily loaded :class:`SceneViews`, every
    ``frame_stride``-th view. A view keeps the split it was built with (every 8th view of the
    whole scene is held out, and the scene's 3DGS was fitted without them), whatever the stride."""
    d = Path(scene_dir)
    if not (d / DONE).is_file():
        raise UserError(f"{d}: scene is not finished (no {DONE} marker); run the build again to complete it")
    named = read_cameras_json_named(d / "cameras.json")
    built_split = every_nth_split(len(named))
    keep = stride_select(list(range(len(named))), frame_stride)
    names = [named[k][0] for k in keep]
    n = len(names)
    return SceneViews(
        name=d.name,
        cameras=[named[k][1] for k in keep],
        images=LazyFrames(lambda i: read_image(d, names[i]), n),
        labels=LazyFrames(lambda i: read_label(d, names[i]), n),
        depths=LazyFrames(lambda i: read_depth(d, names[i]), n),
        split=[built_split[k] for k in keep],
        label_map=label_map,
        frame_names=names,
        gaussians=d / "point_cloud.ply",
    )


def read_synthrooms_scene(scene_dir: Path, label_map: LabelMap | None = None, frame_stride: int = 1) -> tuple[SceneViews, SceneInfo]:
    """One finished scene folder, labelled with its data set's own label map (``label_map`` must
    be None: SynthRooms labels are class ids of that map)."""
    scene_dir = Path(scene_dir)
    if label_map is not None:
        raise ValueError(f"{scene_dir}: SynthRooms has its own label set; a label map cannot apply")
    views = open_scene(scene_dir, LabelMap.from_json(scene_dir.parent / LABEL_MAP), frame_stride)
    return views, SceneInfo(FORMAT, scene_dir)


READER = SceneReader(
    name=FORMAT,
    is_scene=is_scene,
    missing=f"no {MANIFEST} manifest",
    read=read_synthrooms_scene,
    label_dataset=FORMAT,
    own_label_set=True,
    list_scenes=finished_scenes,
    scene_split=finished_split,
)


@dataclass
class SynthRooms:
    """An opened data set: train and test scenes (disjoint seeds), its label map and manifest.

    Iterating (or indexing) gives all scenes, train first, as :class:`SceneViews`.
    """

    root: Path
    label_map: LabelMap
    train: list[SceneViews]
    test: list[SceneViews]
    manifest: dict = field(repr=False)

    @property
    def scenes(self) -> list[SceneViews]:
        return self.train + self.test

    def __len__(self) -> int:
        return len(self.train) + len(self.test)

    def __iter__(self) -> Iterator[SceneViews]:
        return iter(self.scenes)

    def __getitem__(self, i: int) -> SceneViews:
        return self.scenes[i]


def open_synthrooms(root: str | Path, finished_only: bool = False) -> SynthRooms:
    """Open a built SynthRooms data set; ``ValueError`` if ``root`` is not one or a scene is
    unfinished. ``finished_only`` opens a partial build: only the scenes whose build finished."""
    root = Path(root)
    m = read_manifest(root)
    lm = LabelMap.from_json(root / LABEL_MAP)
    scenes = {"train": [], "test": []}
    for s in m["scenes"]:
        if finished_only and not (root / s["name"] / DONE).is_file():
            continue
        scenes[s["split"]].append(open_scene(root / s["name"], lm))
    return SynthRooms(root, lm, scenes["train"], scenes["test"], m)
