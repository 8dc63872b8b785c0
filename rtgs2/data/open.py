"""``open_dataset(path)``: choose the reader from a folder's contents and return an :class:`OpenedDataset`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rtgs2.data.labelsets import label_set_info, load_label_set
from rtgs2.data.readers import colmap, gaussian_output, nerfstudio, replica, scannet, scannetpp, synthrooms
from rtgs2.data.readers.base import SceneReader
from rtgs2.data.readers.common import SceneInfo, check_frame_stride
from rtgs2.data.splits import load_split
from rtgs2.data.views import LabelMap, SceneViews
from rtgs2.utils.errors import MissingFileError, UserError

# Order matters: a ScanNet++ scene also holds COLMAP and nerfstudio files, and the RT-GS2
# re-packed layout holds a COLMAP model beside the trainer output.
READERS: tuple[SceneReader, ...] = (
    synthrooms.READER,
    scannetpp.READER,
    replica.READER,
    scannet.READER,
    gaussian_output.READER,
    colmap.READER,
    nerfstudio.READER,
)


class UnknownFormatError(UserError):
    """A folder that matches none of the known formats; the message lists what each one missed."""


class NotAFolderError(UserError, NotADirectoryError):
    """A file where a data set folder is expected."""


@dataclass
class OpenedDataset:
    """Scenes of one data set folder, as :func:`open_dataset` returns them (not a
    ``torch.utils.data.Dataset``: training wraps its views in one of those).

    - ``format``      the reader used ("replica", "scannet", ..., "synthrooms")
    - ``scenes``      one :class:`SceneViews` per scene (frames load lazily)
    - ``infos``       {scene name: :class:`SceneInfo`} (dropped frames, warnings, unknown label ids)
    - ``label_map``   the label set the labels are mapped to (None: no labels)
    - ``scene_split`` {split name: [scene names present]}: the folder's own (SynthRooms' train /
      test scenes), then those of ``split_scenes`` (empty if neither)
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


def _resolve_label_set(reader: SceneReader, path: Path, label_set: str | Path | None) -> tuple[LabelMap | None, str | None]:
    """The label map handed to ``reader.read`` and the label set's name."""
    if reader.own_label_set:
        if label_set is not None:
            raise UserError(f"{path}: {reader.name} has its own label set; label set {label_set!r} cannot apply")
        return None, reader.name
    if not reader.has_labels:
        if label_set is not None:
            raise UserError(f"format {reader.name!r} has no labels; label set {label_set!r} cannot apply")
        return None, None
    if label_set is None:
        return (load_label_set(reader.default_label_set), reader.default_label_set) if reader.default_label_set else (None, None)
    lpath = Path(label_set)
    if lpath.suffix == ".json" and lpath.is_file():
        return load_label_set(lpath), str(lpath)
    info = label_set_info(str(label_set))
    if reader.label_dataset is not None and info["dataset"] != reader.label_dataset:
        raise UserError(f"label set {label_set!r} is for {info['dataset']!r} data, but the folder is {reader.name!r}")
    return load_label_set(str(label_set)), str(label_set)


def detect_format(path: str | Path) -> tuple[SceneReader, list[Path]]:
    """The first reader with scene folders at ``path`` (the folder itself or below it), and
    those folders. Raises :class:`UnknownFormatError` saying what each format missed,
    :class:`NotAFolderError` (a ``NotADirectoryError``) for a file, ``MissingFileError`` (a
    ``FileNotFoundError``) for nothing at all."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise NotAFolderError(
            f"{path} is a file; a data set folder is expected (one scene folder or a folder of them: "
            f"{', '.join(r.name for r in READERS)})"
        )
    if not path.is_dir():
        raise MissingFileError(f"no such data set folder: {path}")
    for reader in READERS:  # the folder itself first: an ns-process-data folder holds a COLMAP model below it
        if reader.is_scene(path):
            return reader, [path]
    for reader in READERS:
        found = reader.find_scenes(path)
        if found:
            return reader, found
    tried = "; ".join(f"{r.name}: {r.missing}" for r in READERS)
    raise UnknownFormatError(f"{path} matches no known data set format. Tried {tried}")


def open_dataset(
    path: str | Path,
    label_set: str | Path | None = None,
    split_scenes: str | Path | None = None,
    frame_stride: int = 1,
) -> OpenedDataset:
    """Open a data set folder (one scene or a folder of scenes) with the matching reader.

    Args:
        path: the folder.
        label_set: a shipped label set name (see ``rtgs2.data.labelsets.available_label_sets``)
            or a LabelMap JSON path; None takes the format's default (Replica: replica_rtgs2_46,
            ScanNet: scannet_20, ScanNet++: scannetpp_top100; 3DGS output: no labels;
            SynthRooms: its own, the only one that applies).
        split_scenes: a shipped scene split name (e.g. "replica_rtgs2") or a JSON path; the
            listed scenes found in the folder go to ``OpenedDataset.scene_split``.
        frame_stride: keep every n-th frame of each scene (RT-GS2: 3 on Replica, 7 on ScanNet);
            a positive integer.
    """
    check_frame_stride(frame_stride)
    path = Path(path)
    reader, dirs = detect_format(path)
    lm, ls_name = _resolve_label_set(reader, path, label_set)
    read = [reader.read(d, lm, frame_stride) for d in dirs]
    names = [v.name for v, _ in read]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise UserError(f"{path}: several scene folders share the names {sorted(dup)}")
    scenes = [v for v, _ in read]
    if reader.own_label_set:
        lm = scenes[0].label_map
    ds = OpenedDataset(path, reader.name, scenes, {v.name: i for v, i in read}, lm, ls_name, reader.split_of(path))
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
