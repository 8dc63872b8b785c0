"""``SceneViews``: the one interface every data set reader yields (posed views of one scene)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

import numpy as np
from torch import Tensor

from rtgs2.scene.camera import Camera
from rtgs2.utils.errors import MissingFileError, UserError

IGNORE_LABEL = 255  # uint8 label images: 255 = ignore / unlabelled
TEST_EVERY = 8  # within a scene, every 8th view (index % 8 == 0) is held out (INRIA llffhold, RT-GS2)

T = TypeVar("T")


class LazyFrames(Sequence[T], Generic[T]):
    """A sequence whose items are loaded on access by ``load(i)`` (frames stay on disk)."""

    def __init__(self, load: Callable[[int], T], length: int):
        self._load, self._len = load, length

    def __len__(self) -> int:
        return self._len

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(self._len))]
        if not -self._len <= i < self._len:
            raise IndexError(f"frame {i} out of range (0..{self._len - 1})")
        return self._load(i % self._len)


@dataclass
class LabelMap:
    """Class names and colours of a label set, and the mapping from a data set's raw ids.

    - ``names``  K class names; label value k in a label image means ``names[k]``
    - ``colors`` [K, 3] uint8 display colours
    - ``raw_to_label`` raw id -> label in 0..K-1; raw ids absent from it map to IGNORE_LABEL
    """

    names: list[str]
    colors: np.ndarray
    raw_to_label: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.colors = np.asarray(self.colors, dtype=np.uint8).reshape(-1, 3)
        if len(self.names) != len(self.colors):
            raise ValueError(f"{len(self.names)} names but {len(self.colors)} colours")
        if len(self.names) >= IGNORE_LABEL:
            raise ValueError(f"at most {IGNORE_LABEL} classes fit in uint8 labels, got {len(self.names)}")
        bad = {r: l for r, l in self.raw_to_label.items() if not (0 <= l < len(self.names) or l == IGNORE_LABEL)}
        if bad:
            raise ValueError(f"raw_to_label maps to labels outside 0..{len(self.names) - 1}: {bad}")

    @property
    def num_classes(self) -> int:
        return len(self.names)

    def lookup_table(self, max_raw: int | None = None) -> np.ndarray:
        """[R] uint8 table: raw id -> label (IGNORE_LABEL where unmapped)."""
        size = (max(self.raw_to_label, default=0) if max_raw is None else max_raw) + 1
        lut = np.full(size, IGNORE_LABEL, dtype=np.uint8)
        for r, l in self.raw_to_label.items():
            if r < size:
                lut[r] = l
        return lut

    def map_raw(self, raw: np.ndarray) -> tuple[np.ndarray, dict[int, int]]:
        """Map a raw-id image to labels; also returns {unknown raw id: pixel count}."""
        raw = np.asarray(raw).astype(np.int64)
        lut = self.lookup_table(max(int(raw.max(initial=0)), max(self.raw_to_label, default=0)))
        out = lut[raw]
        known = np.zeros(len(lut), dtype=bool)
        known[list(self.raw_to_label)] = True
        ids, counts = np.unique(raw[~known[raw]], return_counts=True)
        return out, {int(i): int(c) for i, c in zip(ids, counts)}

    def colorize(self, labels: np.ndarray) -> np.ndarray:
        """[H, W] uint8 labels -> [H, W, 3] uint8 colours (ignore = black)."""
        table = np.zeros((256, 3), dtype=np.uint8)
        table[: self.num_classes] = self.colors
        return table[np.asarray(labels, dtype=np.uint8)]

    def to_json(self, path: str | Path) -> None:
        data = {
            "names": self.names,
            "colors": self.colors.tolist(),
            "raw_to_label": {str(k): v for k, v in sorted(self.raw_to_label.items())},
            "ignore_label": IGNORE_LABEL,
        }
        Path(path).write_text(json.dumps(data, indent=1))

    @classmethod
    def from_json(cls, path: str | Path) -> LabelMap:
        path = Path(path)
        if not path.is_file():
            raise MissingFileError(f"no such label map: {path}")
        try:
            d = json.loads(path.read_text())
            return cls(d["names"], np.array(d["colors"]), {int(k): int(v) for k, v in d.get("raw_to_label", {}).items()})
        except (KeyError, ValueError, TypeError) as e:
            raise UserError(f"{path}: invalid label map ({e})") from e


def every_nth_split(num_views: int, every: int = TEST_EVERY) -> list[str]:
    """'test' for views whose index (in sorted order) is a multiple of ``every``, else 'train'."""
    return ["test" if i % every == 0 else "train" for i in range(num_views)]


@dataclass
class SceneViews:
    """Posed views of one scene, loaded lazily.

    - ``cameras``   list of V :class:`Camera` (OpenCV axes, +0.5 pixel centres)
    - ``images``    V × [H, W, 3] float32 RGB in [0, 1]
    - ``labels``    V × [H, W] uint8 (IGNORE_LABEL = 255), or None
    - ``depths``    V × [H, W] float32 camera z in metres (0 = unknown), or None
    - ``split``     V × 'train' | 'test'
    - ``label_map`` the label set of ``labels`` (or None)
    - ``gaussians`` path of the scene's 3DGS ``.ply`` if there is one
    """

    name: str
    cameras: list[Camera]
    images: Sequence[Tensor]
    labels: Sequence[Tensor] | None = None
    depths: Sequence[Tensor] | None = None
    split: list[str] | None = None
    label_map: LabelMap | None = None
    frame_names: list[str] | None = None
    gaussians: Path | None = None

    def __post_init__(self) -> None:
        v = len(self.cameras)
        if v == 0:
            raise ValueError(f"scene {self.name!r} has no views")
        if self.split is None:
            self.split = every_nth_split(v)
        if self.frame_names is None:
            self.frame_names = [f"{i:05d}" for i in range(v)]
        for name in ("images", "labels", "depths", "split", "frame_names"):
            seq = getattr(self, name)
            if seq is not None and len(seq) != v:
                raise ValueError(f"scene {self.name!r}: {len(seq)} {name} for {v} cameras")
        bad = set(self.split) - {"train", "test"}
        if bad:
            raise ValueError(f"scene {self.name!r}: split values must be 'train' or 'test', got {sorted(bad)}")

    def __len__(self) -> int:
        return len(self.cameras)

    def indices(self, split: str) -> list[int]:
        """View indices of ``split`` ('train', 'test' or 'all')."""
        if split == "all":
            return list(range(len(self)))
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train', 'test' or 'all', got {split!r}")
        return [i for i, s in enumerate(self.split) if s == split]
