"""``Room``: a SynthRooms scene as flat primitive arrays (what the ray caster and the surface
sampler read), and ``RoomBuilder``, which turns placed templates into those arrays."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rtgs2.data.readers.synthrooms import CLASS_ID
from rtgs2.synth.furniture import BOX, Template
from rtgs2.synth.materials import MaterialArrays, Material
from rtgs2.utils.errors import MissingFileError, UserError

SHELL_THICKNESS = 0.2  # metres; walls, floor and ceiling are boxes this thick outside the room


@dataclass
class Lights:
    """Point lights: ``pos`` [L, 3] metres, ``color`` [L, 3] linear RGB intensity at 1 m,
    ``ambient`` [3] linear RGB added everywhere (light bounced off the room).

    v2 rooms add (None in v1): ``radius`` [L] metres of each light's emitting sphere (soft
    shadows), ``sun_dir`` [3] unit vector towards the sun, ``sun_color`` [3] and ``sky_color``
    [3] linear RGB radiance of the sun and of the sky seen through windows, and the camera
    response of the room: ``exposure`` (linear gain), ``white_balance`` [3] (per-channel gain)
    and ``tone`` (filmic shoulder strength, 0 = none)."""

    pos: np.ndarray
    color: np.ndarray
    ambient: np.ndarray
    radius: np.ndarray | None = None
    sun_dir: np.ndarray | None = None
    sun_color: np.ndarray | None = None
    sky_color: np.ndarray | None = None
    exposure: float | None = None
    white_balance: np.ndarray | None = None
    tone: float | None = None

    def to_json(self) -> dict:
        """Plain JSON values; fields that are None (all v2 ones in a v1 room) are left out."""
        out = {}
        for k in self.__dataclass_fields__:
            v = getattr(self, k)
            if v is not None:
                out[k] = v.tolist() if isinstance(v, np.ndarray) else float(v)
        return out

    @staticmethod
    def from_json(d: dict) -> Lights:
        arr = {k: (np.asarray(v, dtype=np.float64) if isinstance(v, list) else float(v)) for k, v in d.items()}
        return Lights(**arr)


@dataclass
class ObjectInfo:
    """One instance: id, class name, origin [3] (floor centre of its frame), yaw (radians about +z)."""

    instance: int
    cls: str
    origin: tuple[float, float, float]
    yaw: float


@dataclass
class Room:
    """A scene of M primitives inside the box [0, Lx] x [0, Ly] x [0, Lz] (z up, metres).

    - ``kind``     [M] int8 BOX / CYLINDER / ELLIPSOID
    - ``center``   [M, 3] world metres; ``half`` [M, 3] half extents in the primitive frame
    - ``yaw``      [M] rotation of the primitive frame about +z, radians
    - ``label``    [M] uint8 class id; ``instance`` [M] int32 instance id (> 0)
    - ``material`` per-primitive material parameters; ``lights`` the scene's lights
    """

    size: np.ndarray
    kind: np.ndarray
    center: np.ndarray
    half: np.ndarray
    yaw: np.ndarray
    label: np.ndarray
    instance: np.ndarray
    material: MaterialArrays
    lights: Lights
    objects: list[ObjectInfo] = field(default_factory=list)

    @property
    def num_primitives(self) -> int:
        return len(self.kind)

    @property
    def v2_shading(self) -> bool:
        """Whether the room is shaded as v2 rooms are (:mod:`rtgs2.synth.shading`): it has a
        camera response; v1 rooms have point lights and a plain gamma only."""
        return self.lights.exposure is not None

    def to_local(self, points: np.ndarray, prim: np.ndarray) -> np.ndarray:
        """[P, 3] world points -> [P, 3] coordinates in the frames of primitives ``prim`` [P]."""
        d = points - self.center[prim]
        c, s = np.cos(self.yaw[prim]), np.sin(self.yaw[prim])
        return np.stack([c * d[:, 0] + s * d[:, 1], -s * d[:, 0] + c * d[:, 1], d[:, 2]], axis=1)

    def to_json(self) -> dict:
        """Everything that defines the scene, as plain JSON values (arrays as nested lists)."""
        m = self.material
        return {
            "size": self.size.tolist(),
            "primitives": {
                "kind": self.kind.tolist(),
                "center": self.center.tolist(),
                "half": self.half.tolist(),
                "yaw": self.yaw.tolist(),
                "label": self.label.tolist(),
                "instance": self.instance.tolist(),
            },
            "material": m.to_json(),
            "lights": self.lights.to_json(),
            "objects": [o.__dict__ for o in self.objects],
        }

    @staticmethod
    def from_json(d: dict) -> Room:
        """The room that :meth:`to_json` gave ``d`` (keys it does not write, such as ``seed``, are ignored)."""
        p = d["primitives"]
        ints = {"pattern", "axis", "seed"}
        mats = {k: np.asarray(v, dtype=np.int64 if k in ints else np.float64) for k, v in d["material"].items()}
        return Room(
            size=np.asarray(d["size"], dtype=np.float64),
            kind=np.asarray(p["kind"], dtype=np.int8),
            center=np.asarray(p["center"], dtype=np.float64).reshape(-1, 3),
            half=np.asarray(p["half"], dtype=np.float64).reshape(-1, 3),
            yaw=np.asarray(p["yaw"], dtype=np.float64),
            label=np.asarray(p["label"], dtype=np.uint8),
            instance=np.asarray(p["instance"], dtype=np.int32),
            material=MaterialArrays(**mats),
            lights=Lights.from_json(d["lights"]),
            objects=[ObjectInfo(o["instance"], o["cls"], tuple(o["origin"]), o["yaw"]) for o in d.get("objects", [])],
        )


def read_room(path: str | Path) -> Room:
    """The room of a SynthRooms scene: its ``room.json``, or the scene folder holding it.

    Raises:
        FileNotFoundError: no room.json there.
        ValueError: a file that is not a room.json.
    """
    path = Path(path)
    file = path / "room.json" if path.is_dir() else path
    if not file.is_file():
        raise MissingFileError(f"no SynthRooms room.json at {file}")
    try:
        return Room.from_json(json.loads(file.read_text()))
    except (ValueError, KeyError, TypeError) as e:
        raise UserError(f"{file}: not a SynthRooms room.json ({type(e).__name__}: {e})") from e


class RoomBuilder:
    """Collects objects (templates placed at an origin and yaw) into a :class:`Room`.

    The room's shell (floor, ceiling, 4 walls) is added first as boxes outside the interior.
    """

    def __init__(
        self, size: tuple[float, float, float], wall_material: Material, floor_material: Material, ceiling_material: Material
    ):
        lx, ly, lz = (float(v) for v in size)
        if min(lx, ly, lz) <= 0:
            raise ValueError(f"room size must be positive, got {size}")
        self.size = np.array([lx, ly, lz])
        self._rows: list[tuple] = []
        self._mats: list[Material] = []
        self.objects: list[ObjectInfo] = []
        self.wall_material = wall_material
        t = SHELL_THICKNESS
        self._shell("floor", (-t, -t, -t), (lx + t, ly + t, 0.0), floor_material)
        self._shell("ceiling", (-t, -t, lz), (lx + t, ly + t, lz + t), ceiling_material)
        for lo, hi in (
            ((-t, -t, -t), (lx + t, 0.0, lz + t)),
            ((lx, -t, -t), (lx + t, ly + t, lz + t)),
            ((-t, ly, -t), (lx + t, ly + t, lz + t)),
            ((-t, -t, -t), (0.0, ly + t, lz + t)),
        ):
            self._shell("wall", lo, hi, wall_material)

    @property
    def next_instance(self) -> int:
        return len(self.objects) + 1

    def _shell(self, cls: str, lo, hi, mat: Material) -> None:
        lo, hi = np.asarray(lo, float), np.asarray(hi, float)
        inst = self.next_instance
        self.objects.append(ObjectInfo(inst, cls, tuple(float(v) for v in (lo + hi) / 2), 0.0))
        self._rows.append((BOX, (lo + hi) / 2, (hi - lo) / 2, 0.0, CLASS_ID[cls], inst))
        self._mats.append(mat)

    def add_box(self, cls: str, lo, hi, mat: Material) -> int:
        """An axis-aligned box as its own instance (e.g. a structural column); returns its id."""
        self._shell(cls, lo, hi, mat)
        return self.objects[-1].instance

    def add(self, t: Template, origin, yaw: float, mats: tuple[Material, Material]) -> int:
        """Place ``t`` with its frame at ``origin`` [3] (world metres) rotated by ``yaw``; returns the instance id."""
        inst = self.next_instance
        o = np.asarray(origin, dtype=np.float64)
        c, s = math.cos(yaw), math.sin(yaw)
        self.objects.append(ObjectInfo(inst, t.cls, tuple(float(v) for v in o), float(yaw)))
        for p in t.parts:
            x, y, z = p.center
            world = o + np.array([c * x - s * y, s * x + c * y, z])
            self._rows.append((p.kind, world, np.asarray(p.half, float), float(yaw), CLASS_ID[t.cls], inst))
            self._mats.append(mats[p.slot])
        return inst

    def build(self, lights: Lights) -> Room:
        kind, center, half, yaw, label, inst = zip(*self._rows)
        return Room(
            size=self.size.copy(),
            kind=np.array(kind, dtype=np.int8),
            center=np.array(center, dtype=np.float64),
            half=np.array(half, dtype=np.float64),
            yaw=np.array(yaw, dtype=np.float64),
            label=np.array(label, dtype=np.uint8),
            instance=np.array(inst, dtype=np.int32),
            material=MaterialArrays.stack(self._mats),
            lights=lights,
            objects=list(self.objects),
        )
