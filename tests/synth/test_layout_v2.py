"""SynthRooms v2 layouts and furniture: determinism, sizes, classes, no interpenetration,
objects inside the room, camera paths, lights, and the furniture each room type needs."""

from __future__ import annotations

from collections import Counter
from functools import lru_cache

import numpy as np
import pytest

from rtgs2.data.readers.synthrooms import CLASS_NAMES
from rtgs2.synth import furniture_v2 as fv
from rtgs2.synth.cameras import camera_path
from rtgs2.synth.furniture import bounds
from rtgs2.synth.layout_v2 import V2_LAYOUT, generate_room_v2, generate_room_v2_kind
from rtgs2.synth.room import Room

SEEDS = range(30)
SHELL = 6  # instances 1-6: floor, ceiling and the four walls (boxes outside the room)


@lru_cache(maxsize=None)
def _room(seed: int) -> tuple[Room, str]:
    return generate_room_v2_kind(seed)


def _prim_boxes(room: Room) -> np.ndarray:
    """[M, 6] world axis-aligned boxes (lo, hi) around every primitive."""
    c, s = np.abs(np.cos(room.yaw)), np.abs(np.sin(room.yaw))
    h = room.half
    ext = np.stack([c * h[:, 0] + s * h[:, 1], s * h[:, 0] + c * h[:, 1], h[:, 2]], 1)
    return np.concatenate([room.center - ext, room.center + ext], 1)


def _classes(room: Room) -> Counter:
    return Counter(o.cls for o in room.objects)


def test_same_seed_same_room():
    a, b, c = generate_room_v2(3), generate_room_v2(3), generate_room_v2(4)
    assert a.to_json() == b.to_json()
    assert a.to_json() != c.to_json()


def test_sizes_in_ranges_and_every_class_appears():
    seen = set()
    for s in SEEDS:
        room, _ = _room(s)
        for v, (lo, hi) in zip(room.size, (V2_LAYOUT.room_x, V2_LAYOUT.room_y, V2_LAYOUT.room_z)):
            assert lo <= v <= hi
        seen |= {CLASS_NAMES[k] for k in np.unique(room.label)}
        assert [o.instance for o in room.objects] == list(range(1, len(room.objects) + 1))
    assert seen == set(CLASS_NAMES), sorted(set(CLASS_NAMES) - seen)


@pytest.mark.parametrize("seed", SEEDS)
def test_parts_of_different_objects_do_not_overlap(seed):
    """Boxes around the primitives of different objects overlap by < 2 mm (things stand on
    tables and shelves: they touch); rugs are the exception, furniture stands on them."""
    room, _ = _room(seed)
    b = _prim_boxes(room)
    cls = np.array([room.objects[i - 1].cls for i in room.instance])
    keep = np.flatnonzero((cls != "rug") & (room.instance > SHELL))
    b, inst = b[keep], room.instance[keep]
    lo, hi = np.maximum(b[:, None, :3], b[None, :, :3]), np.minimum(b[:, None, 3:], b[None, :, 3:])
    clash = ((hi - lo) > 2e-3).all(-1) & (inst[:, None] != inst[None, :])
    pairs = {(room.objects[inst[i] - 1].cls, room.objects[inst[j] - 1].cls) for i, j in zip(*np.nonzero(clash))}
    assert not pairs, f"seed {seed}: {sorted(pairs)}"


@pytest.mark.parametrize("seed", SEEDS)
def test_floor_footprints_disjoint(seed):
    """Floor-standing objects' footprints are disjoint, except chairs tucked under tables."""
    room, _ = _room(seed)
    b = _prim_boxes(room)
    rects, names = [], []
    for o in room.objects[SHELL:]:
        m = room.instance == o.instance
        if o.cls in ("rug", "wall", "door") or b[m, 2].min() > 0.02:  # rugs, trim, and hung or stacked things
            continue
        rects.append(np.concatenate([b[m, :2].min(0), b[m, 3:5].max(0)]))
        names.append(o.cls)
    bad = []
    for i in range(len(rects)):
        for j in range(i):
            r, q = rects[i], rects[j]
            if min(r[2], q[2]) - max(r[0], q[0]) > 1e-3 and min(r[3], q[3]) - max(r[1], q[1]) > 1e-3:
                if {names[i], names[j]} != {"chair", "table"}:
                    bad.append((names[i], names[j]))
    assert not bad, f"seed {seed}: {bad}"


@pytest.mark.parametrize("seed", SEEDS)
def test_objects_inside_room_and_camera_path(seed):
    room, _ = _room(seed)
    b = _prim_boxes(room)[room.instance > SHELL]
    assert (b[:, :3] >= -1e-6).all() and (b[:, 3:] <= room.size + 1e-6).all()
    cams = camera_path(room, 40, np.random.default_rng(seed))
    assert len(cams) == 40
    assert len(room.lights.pos) > 0


def test_room_types_have_their_furniture():
    need = {
        "bedroom": {"bed": 1},
        "dining": {"table": 1, "chair": 2},
        "living": {"sofa": 1},
        "office": {"table": 1, "chair": 1},
        "living_dining": {"sofa": 1},  # its dining half is dropped when the sofa group leaves no room (~1 in 30)
    }
    kinds = set()
    for s in SEEDS:
        room, kind = _room(s)
        kinds.add(kind)
        have = _classes(room)
        assert all(have[c] >= n for c, n in need[kind].items()), (s, kind, dict(have))
        assert have["door"] >= 1 and have["window"] >= 1 and have["lamp"] >= 1, (s, kind, dict(have))
    assert kinds == set(need)


def test_templates_stay_in_their_boxes():
    """Every template's parts lie inside [-w/2, w/2] x [-d/2, d/2] x [0, h] of its size; windows
    have one slot-0 part (the pane); lamps' bulbs lie inside their bounds."""
    rng = np.random.default_rng(0)
    makers = [
        fv.sofa, lambda r: fv.sofa(r, 1), lambda r: fv.sofa(r, 3, True), fv.chair, lambda r: fv.chair(r, office=True),
        lambda r: fv.chair(r, stool=True), fv.bed, fv.shelf, lambda r: fv.shelf(r, "cube"), fv.floor_lamp, fv.table_lamp,
        fv.ceiling_light, lambda r: fv.ceiling_light(r, True, 0.4), fv.plant, lambda r: fv.plant(r, True), fv.monitor,
        lambda r: fv.monitor(r, True), lambda r: fv.monitor(r, True, True), lambda r: fv.book_row(r, 0.7, 0.3, 0.3),
        fv.floor_clutter, fv.rug, fv.door, lambda r: fv.door(r, True), fv.window, lambda r: fv.curtain(r, 0.4, 2.3),
        fv.picture, lambda r: fv.picture(r, mirror=True),
        *[lambda r, k=k: fv.table(r, k) for k in fv.TABLE_KINDS],
        *[lambda r, k=k: fv.cabinet(r, k) for k in fv.CABINET_KINDS],
        *[lambda r, k=k: fv.clutter(r, 0.4, k) for k in fv.CLUTTER_KINDS],
    ]  # fmt: skip
    for make in makers:
        for _ in range(30):
            t = make(rng)
            lo, hi = bounds(t)
            w, d, h = t.size
            assert (lo >= np.array([-w / 2, -d / 2, 0]) - 1e-9).all() and (hi <= np.array([w / 2, d / 2, h]) + 1e-9).all(), t.cls
            if t.cls == "window" and all(p.slot != 3 for p in t.parts):  # a window, not a curtain
                assert t.parts[fv.pane_index(t)].slot == 0
            lp = fv.light_point(t)
            if lp is not None:
                assert (lp[0] >= lo).all() and (lp[0] <= hi).all() and lp[1] > 0
