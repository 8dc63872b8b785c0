"""``SceneReader``: the one interface of every folder format :func:`rtgs2.data.open_dataset` reads."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rtgs2.data.readers.common import SceneInfo, scene_dirs
from rtgs2.data.views import LabelMap, SceneViews

ReadScene = Callable[[Path, "LabelMap | None", int], "tuple[SceneViews, SceneInfo]"]


@dataclass(frozen=True)
class SceneReader:
    """A folder format: how to recognise one of its scene folders, and how to read one.

    - ``name``       the format's name ("replica", "colmap", ...), ``OpenedDataset.format``
    - ``is_scene``   ``is_scene(path)``: is ``path`` one scene folder of this format
    - ``missing``    what a folder lacks when it is not this format (for "unknown format" errors)
    - ``read``       ``read(scene_dir, label_map, frame_stride) -> (SceneViews, SceneInfo)``: one
      scene, its labels mapped by ``label_map`` (None: no labels, or the folder's own set for
      ``own_label_set`` formats), every ``frame_stride``-th frame
    - ``label_dataset``     whose shipped label sets apply (None: any set, given explicitly)
    - ``default_label_set`` the shipped set used when none is chosen (None: no labels by default)
    - ``has_labels``        False for formats without semantic labels (COLMAP, nerfstudio)
    - ``own_label_set``     the folder names its own classes (SynthRooms): no set can be chosen
    - ``list_scenes``       ``list_scenes(root)``: the scene folders of a data set root, for
      formats whose root says which they are (SynthRooms' manifest); default: the folders up
      to two levels below ``root`` that ``is_scene`` accepts
    - ``scene_split``       ``scene_split(root)``: {split: [scene names]} a data set root defines
      itself (SynthRooms' train / test scenes); default: none
    """

    name: str
    is_scene: Callable[[Path], bool]
    missing: str
    read: ReadScene
    label_dataset: str | None = None
    default_label_set: str | None = None
    has_labels: bool = True
    own_label_set: bool = False
    list_scenes: Callable[[Path], list[Path]] | None = None
    scene_split: Callable[[Path], dict[str, list[str]]] | None = None

    def find_scenes(self, root: Path) -> list[Path]:
        """The scene folders at ``root`` (``[root]`` if it is one), in reading order."""
        if self.is_scene(root):
            return [root]
        return self.list_scenes(root) if self.list_scenes is not None else scene_dirs(root, self.is_scene)

    def split_of(self, root: Path) -> dict[str, list[str]]:
        """The scene split ``root`` defines itself ({} for most formats)."""
        return self.scene_split(root) if self.scene_split is not None else {}
