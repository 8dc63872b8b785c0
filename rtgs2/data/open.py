"""``open_dataset(path)``: choose the reader from a folder's contents and return a typed :class:`Dataset`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rtgs2.data.labelsets import label_set_info, load_label_set
from rtgs2.data.readers import colmap, gaussian_output, nerfstudio, replica, scannet, scannetpp, synthrooms
from rtgs2.data.readers.common import SceneInfo, scene_dirs
from rtgs2.data.splits import load_split
from rtgs2.data.views import LabelMap, SceneViews

ReadScene = Callable[[Path, "LabelMap | None", int], "tuple[SceneViews, SceneInfo]"]


@dataclass(frozen=True)
class Format:
    """A folder format: how to recognise one of its scene folders and read it."""

    name: str
    is_scene: Callable[[Path], bool]
    missing: str  # what a folder lacks when it is not this format
    read_scene: ReadScene
    label_dataset: str | None = None  # whose shipped label sets apply; None: labels only with an explicit set
    default_label_set: str | None = None
    has_labels: bool = True


# Order matters: a ScanNet++ scene also holds COLMAP and nerfstudio files, and the RT-GS2
# re-packed layout holds a COLMAP model beside the trainer output.
FORMATS: tuple[Format, ...] = (
    Format("scannetpp", scannetpp.is_scene, scannetpp.describe_missing(Path()), scannetpp.read_scannetpp_scene, "scannetpp", scannetpp.DEFAULT_LABEL_SET),
    Format("replica", replica.is_scene, replica.describe_missing(Path()), replica.read_replica_scene, "replica", replica.DEFAULT_LABEL_SET),
    Format("scannet", scannet.is_scene, scannet.describe_missing(Path()), scannet.read_scannet_scene, "scannet", scannet.DEFAULT_LABEL_SET),
    Format("gaussian_output", gaussian_output.is_scene, gaussian_output.describe_missing(Path()), gaussian_output.read_gaussian_scene),
    Format("colmap", colmap.is_scene, colmap.describe_missing(Path()), lambda s, lm, k: colmap.read_colmap(s, k)[0], has_labels=False),
    Format("nerfstudio", nerfstudio.is_scene, nerfstudio.describe_missing(Path()), lambda s, lm, k: nerfstudio.read_nerfstudio(s, k)[0], has_labels=False),
)  # fmt: skip


class UnknownFormatError(ValueError):
    """A folder that matches none of the known formats; the message lists what each one missed."""


@dataclass
class Dataset:
    """Scenes of one data set folder.

    - ``format``      the reader used ("replica", "scannet", ..., "synthrooms")
    - ``scenes``      one :class:`SceneViews` per scene (frames load lazily)
    - ``infos``       {scene name: :class:`SceneInfo`} (dropped frames, warnings, unknown label ids)
    - ``label_map``   the label set the labels are mapped to (None: no labels)
    - ``scene_split`` {split name: [scene names present]} from ``split_scenes`` (empty if none)
    - ``missing_scenes`` {split name: [listed scene names not found in the folder]}
    """

    root: Path
    format: str
    scenes: list[SceneViews]
    infos: dict[str, SceneInfo] = field(default_factory=dict)
    label_map: LabelMap | None = None
    label_set: str | None = None
    scene_split: dict[str, list[str]] = field(default_factory=dict)
    missing_scenes: dict[str, list[str]] = field(default_factory=dict)

    def scene(self, name: str) -> SceneViews:
        for s in self.scenes:
            if s.name == name:
                return s
        raise KeyError(f"no scene {name!r} in {self.root}; scenes: {[s.name for s in self.scenes]}")

    def split(self, name: str) -> list[SceneViews]:
        """Scenes of a scene split ('all' for every scene)."""
        if name == "all":
            return list(self.scenes)
        if name not in self.scene_split:
            raise KeyError(f"no scene split {name!r}; have {sorted(self.scene_split) + ['all']}")
        return [self.scene(n) for n in self.scene_split[name]]


def _resolve_label_set(fmt: Format, label_set: str | Path | None) -> tuple[LabelMap | None, str | None]:
    if not fmt.has_labels:
        if label_set is not None:
            raise ValueError(f"format {fmt.name!r} has no labels; label_set={label_set!r} cannot apply")
        return None, None
    if label_set is None:
        return (load_label_set(fmt.default_label_set), fmt.default_label_set) if fmt.default_label_set else (None, None)
    path = Path(label_set)
    if path.suffix == ".json" and path.is_file():
        return load_label_set(path), str(path)
    info = label_set_info(str(label_set))
    if fmt.label_dataset is not None and info["dataset"] != fmt.label_dataset:
        raise ValueError(f"label set {label_set!r} is for {info['dataset']!r} data, but the folder is {fmt.name!r}")
    return load_label_set(str(label_set)), str(label_set)


def _open_synthrooms(path: Path) -> Dataset:
    """Dataset of a SynthRooms root: its train / test scene lists become ``scene_split``."""
    sr = synthrooms.open_synthrooms(path)
    scenes = list(sr.scenes)
    infos = {s.name: SceneInfo("synthrooms", path / s.name) for s in scenes}
    split = {k: [s.name for s in getattr(sr, k)] for k in ("train", "test") if hasattr(sr, k)}
    return Dataset(path, "synthrooms", scenes, infos, sr.label_map, "synthrooms", split)


def detect_format(path: str | Path) -> tuple[Format, list[Path]]:
    """The first format with scene folders at ``path`` (the folder itself or up to two levels
    below), and those folders. Raises :class:`UnknownFormatError` saying what each format missed."""
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"no such data set folder: {path}")
    for fmt in FORMATS:  # the folder itself first: an ns-process-data folder holds a COLMAP model below it
        if fmt.is_scene(path):
            return fmt, [path]
    for fmt in FORMATS:
        found = scene_dirs(path, fmt.is_scene)
        if found:
            return fmt, found
    tried = "; ".join(f"{f.name}: {f.missing}" for f in FORMATS)
    tried = f"synthrooms: no synthrooms.json manifest; {tried}"
    raise UnknownFormatError(f"{path} matches no known data set format. Tried {tried}")


def open_dataset(
    path: str | Path,
    label_set: str | Path | None = None,
    split_scenes: str | Path | None = None,
    frame_stride: int = 1,
) -> Dataset:
    """Open a data set folder (one scene or a folder of scenes) with the matching reader.

    Args:
        path: the folder.
        label_set: a shipped label set name (see ``rtgs2.data.labelsets.available_label_sets``)
            or a LabelMap JSON path; None takes the format's default (Replica: replica_rtgs2_46,
            ScanNet: scannet_20, ScanNet++: scannetpp_top100; 3DGS output: no labels).
        split_scenes: a shipped scene split name (e.g. "replica_rtgs2") or a JSON path; the
            listed scenes found in the folder go to ``Dataset.scene_split``.
        frame_stride: keep every n-th frame of each scene (RT-GS2: 3 on Replica, 7 on ScanNet).
    """
    path = Path(path)
    if synthrooms.is_synthrooms(path):
        if label_set is not None:
            raise ValueError(f"{path}: SynthRooms has its own label set; label_set={label_set!r} cannot apply")
        ds = _open_synthrooms(path)
    else:
        fmt, dirs = detect_format(path)
        lm, ls_name = _resolve_label_set(fmt, label_set)
        read = [fmt.read_scene(d, lm, frame_stride) for d in dirs]
        names = [v.name for v, _ in read]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"{path}: several scene folders share the names {sorted(dup)}")
        ds = Dataset(path, fmt.name, [v for v, _ in read], {v.name: i for v, i in read}, lm, ls_name)
    if split_scenes is not None:
        present = {s.name for s in ds.scenes}
        for split, listed in load_split(split_scenes).items():
            ds.scene_split[split] = [s for s in listed if s in present]
            gone = [s for s in listed if s not in present]
            if gone:
                ds.missing_scenes[split] = gone
    return ds


def print_catalog() -> None:
    """Print the shipped label sets and scene splits (name, data set, size, source)."""
    from rich.console import Console
    from rich.table import Table

    from rtgs2.data.labelsets import available_label_sets, label_set_info
    from rtgs2.data.splits import available_splits, split_info

    t = Table("label set", "data set", "classes", "source", title="label sets")
    for n in available_label_sets():
        i = label_set_info(n)
        t.add_row(n, i["dataset"], str(len(i["names"])), i["source"])
    s = Table("scene split", "data set", "scenes", "source", title="scene splits")
    for n in available_splits():
        i = split_info(n)
        s.add_row(n, i["dataset"], ", ".join(f"{k} {len(v)}" for k, v in i["splits"].items()), i["source"])
    Console().print(t, s)
