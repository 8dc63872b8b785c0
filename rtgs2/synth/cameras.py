"""Camera paths through a room: smooth, at human height, looking at furniture, never inside
an object or too close to a wall (as a person walking around with a camera would)."""

from __future__ import annotations

import numpy as np

from rtgs2.scene.camera import Camera
from rtgs2.scene.paths import catmull_rom
from rtgs2.synth.room import Room

CLEARANCE = 0.45  # metres of free floor around the camera's path (no furniture, no wall)
GRID = 0.05  # metres per cell of the free-space map
EYE_HEIGHT_RANGE = (1.35, 1.75)  # metres, (min, max) of the camera's height (v1)
TARGET_HEIGHT_RANGE = (0.3, 1.3)  # metres, (min, max) of the height of the points looked at (v1)
# v2: a hand-held capture, Replica/ScanNet-like: lower and higher eyes, and some views up to
# the ceiling's lights and the tops of wardrobes or down to the floor
EYE_HEIGHT_RANGE_V2 = (1.2, 1.8)
TARGET_HEIGHT_RANGE_V2 = (0.1, 2.3)
MIN_LOOK_DISTANCE = 0.8  # metres, horizontal distance eye -> target (no looking straight down)
PREFERRED_LOOK_DISTANCE = 1.5  # metres; look at things at least this far when there are some
MAX_PATH_TRIES = 200
STRUCTURE = ("wall", "floor", "ceiling", "door", "window", "picture", "rug")  # never path obstacles / targets


def free_space(room: Room) -> tuple[np.ndarray, np.ndarray]:
    """Free-floor map: bool [Gx, Gy] (True = a camera may stand here) and the cell centres' x, y.

    A cell is free when it is ``CLEARANCE`` from every wall and from every primitive's
    footprint (its oriented rectangle: exact for boxes, conservative for round shapes).
    """
    lx, ly, _ = room.size
    xs = np.arange(GRID / 2, lx, GRID)
    ys = np.arange(GRID / 2, ly, GRID)
    gx, gy = np.meshgrid(xs, ys, indexing="ij")
    free = (gx > CLEARANCE) & (gx < lx - CLEARANCE) & (gy > CLEARANCE) & (gy < ly - CLEARANCE)
    cls = np.array([room.objects[i - 1].cls for i in room.instance])
    obstacle = ~np.isin(cls, ("floor", "ceiling", "rug")) & (room.center[:, 2] - room.half[:, 2] < EYE_HEIGHT_RANGE[1] + 0.3)
    for m in np.flatnonzero(obstacle):
        c, s = np.cos(room.yaw[m]), np.sin(room.yaw[m])
        px, py = gx - room.center[m, 0], gy - room.center[m, 1]
        dx = np.maximum(np.abs(c * px + s * py) - room.half[m, 0], 0)
        dy = np.maximum(np.abs(-s * px + c * py) - room.half[m, 1], 0)
        free &= dx * dx + dy * dy > CLEARANCE**2
    return free, np.stack([gx, gy], -1)


def _targets(room: Room, target_height: tuple[float, float] = TARGET_HEIGHT_RANGE) -> np.ndarray:
    """[T, 3] points worth looking at: the centres of the furniture's primitives (heights
    clipped to ``target_height``, metres)."""
    keep = np.array([room.objects[i - 1].cls not in STRUCTURE for i in room.instance])
    pts = room.center[keep].copy()
    if len(pts) == 0:  # an empty room: look at the walls' middles
        lx, ly, lz = room.size
        pts = np.array([[lx / 2, 0, 1.0], [lx, ly / 2, 1.0], [lx / 2, ly, 1.0], [0, ly / 2, 1.0]])
    pts[:, 2] = np.clip(pts[:, 2], *target_height)
    return pts


def _spread(candidates: np.ndarray, k: int) -> np.ndarray:
    """``k`` of ``candidates`` [C, 2] far from each other (greedy farthest-point selection)."""
    chosen = [0]
    d = np.linalg.norm(candidates - candidates[0], axis=1)
    while len(chosen) < k:
        chosen.append(int(d.argmax()))
        d = np.minimum(d, np.linalg.norm(candidates - candidates[chosen[-1]], axis=1))
    return candidates[chosen]


def camera_path(
    room: Room,
    num_views: int,
    rng: np.random.Generator,
    *,
    width: int = 320,
    height: int = 240,
    fov_x_deg: float = 90.0,
    num_keys: int = 5,
    eye_height: tuple[float, float] = EYE_HEIGHT_RANGE,
    target_height: tuple[float, float] = TARGET_HEIGHT_RANGE,
) -> list[Camera]:
    """``num_views`` cameras on a closed smooth loop through ``num_keys`` random free spots,
    eyes at ``eye_height`` (min, max) metres, looking at furniture at ``target_height``.

    Every camera centre lies in free space (see :func:`free_space`) and looks at a point
    interpolated between furniture targets. Raises ``RuntimeError`` if the room has no
    room for a path (never for rooms from ``generate_room``: they keep walkways).
    """
    if num_views <= 0:
        raise ValueError(f"num_views must be positive, got {num_views}")
    free, cells = free_space(room)
    spots = cells[free]
    if len(spots) < num_keys:
        raise RuntimeError(f"room has only {len(spots)} free cells; cannot place a camera path")
    targets = _targets(room, target_height)
    lx, ly, _ = room.size
    dense = max(num_views, 200)  # check the spline finely, not only at the views
    for attempt in range(MAX_PATH_TRIES):
        # wide loops first; if obstacles cut them, random keys; in cramped rooms, small triangles
        nk = num_keys if attempt < MAX_PATH_TRIES * 3 // 4 else 3
        cand = spots[rng.choice(len(spots), min(len(spots), 40 if attempt < MAX_PATH_TRIES // 4 else nk), replace=False)]
        keys = _spread(cand, nk)
        centre = keys.mean(0)
        keys = keys[np.argsort(np.arctan2(keys[:, 1] - centre[1], keys[:, 0] - centre[0]))]  # a loop, not a zigzag
        eyes = np.concatenate([keys, rng.uniform(*eye_height, (nk, 1))], 1)
        looks = []
        for e in eyes:
            dist = np.hypot(*(targets[:, :2] - e[:2]).T)
            limit = PREFERRED_LOOK_DISTANCE if (dist > PREFERRED_LOOK_DISTANCE).any() else MIN_LOOK_DISTANCE + 0.3
            far = targets[dist > limit]
            if len(far) == 0:
                break
            looks.append(far[rng.integers(0, len(far))])
        if len(looks) < nk:
            continue
        looks = np.array(looks)
        path = catmull_rom(eyes, dense, closed=True)
        ij = np.floor(path[:, :2] / GRID).astype(int)
        ok = (ij >= 0).all() and (ij[:, 0] < free.shape[0]).all() and (ij[:, 1] < free.shape[1]).all()
        if not ok or not free[ij[:, 0], ij[:, 1]].all():
            continue
        e = catmull_rom(eyes, num_views, closed=True)
        e[:, 2] = np.clip(e[:, 2], *eye_height)  # the spline overshoots its keys slightly
        t = catmull_rom(looks, num_views, closed=True)
        if (np.hypot(*(t[:, :2] - e[:, :2]).T) < MIN_LOOK_DISTANCE / 2).any():
            continue
        return [Camera.look_at(a, b, fov_x_deg=fov_x_deg, width=width, height=height) for a, b in zip(e, t)]
    raise RuntimeError(f"no collision-free camera path found in {MAX_PATH_TRIES} tries (room {room.size.round(2).tolist()})")
