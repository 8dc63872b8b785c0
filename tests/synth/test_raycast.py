"""SynthRooms ray caster against analytic distances, normals and labels of known layouts."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from rtgs2.data.readers.synthrooms import CLASS_ID
from rtgs2.scene.camera import Camera
from rtgs2.synth.furniture import BOX, CYLINDER, ELLIPSOID, Part, Template
from rtgs2.synth.materials import Material
from rtgs2.synth.raycast import cast, render_ground_truth
from rtgs2.synth.room import Lights, RoomBuilder

PLAIN = Material((0.5, 0.5, 0.5), (0.5, 0.5, 0.5), 0, 0.1, 0, 0.0, 10.0, 0)
ROOM = (6.0, 4.0, 3.0)
# Ray-cast hits are solved in float64 and written as float32: 1e-5 m covers the float32 rounding.
DEPTH_ATOL = 1e-5


def _room(*objects):
    b = RoomBuilder(ROOM, PLAIN, PLAIN, PLAIN)
    for t, origin, yaw in objects:
        b.add(t, origin, yaw, (PLAIN, PLAIN))
    return b.build(Lights(np.array([[3.0, 2.0, 2.7]]), np.ones((1, 3)), np.full(3, 0.2)))


def test_empty_room_depth_is_distance_to_wall():
    room = _room()
    cam = Camera.look_at((2.0, 2.0, 1.5), (6.0, 2.0, 1.5), width=64, height=48)  # faces the x = 6 wall
    gt = render_ground_truth(room, cam)
    # A plane at distance 4 along the optical axis has depth (camera z) 4 at every pixel that hits it.
    wall = gt.label == CLASS_ID["wall"]
    assert wall[20:28, 28:36].all()
    np.testing.assert_allclose(gt.depth[20:28, 28:36], 4.0, atol=DEPTH_ATOL)
    assert (gt.label != 255).all() and (gt.depth > 0).all()  # a closed room: every ray hits
    assert (gt.label[0] == CLASS_ID["ceiling"]).any() and (gt.label[-1] == CLASS_ID["floor"]).any()


@pytest.mark.parametrize("yaw", [0.0, 0.7])
def test_box_depth_and_label(yaw):
    box = Template("cabinet", [Part(BOX, (0.0, 0.0, 0.5), (0.3, 0.2, 0.5))], (0.6, 0.4, 1.0))
    room = _room((box, (4.0, 2.0, 0.0), yaw))
    eye = np.array([1.0, 2.0, 0.5])
    cam = Camera.look_at(eye, (4.0, 2.0, 0.5), width=65, height=49)
    gt = render_ground_truth(room, cam)
    # The centre pixel's ray runs along +x through the box centre; the box face it meets is at
    # the distance where the rotated rectangle's boundary crosses the x axis.
    c, s = math.cos(yaw), math.sin(yaw)
    t_face = min(0.3 / abs(c) if c else np.inf, 0.2 / abs(s) if s else np.inf)
    expected = 3.0 - t_face
    assert gt.label[24, 32] == CLASS_ID["cabinet"]
    assert gt.instance[24, 32] == room.objects[-1].instance
    # the centre pixel centre is at x = 32.5, half a pixel off the axis: depth changes by < 1e-2 there
    assert abs(gt.depth[24, 32] - expected) < 1e-2


def test_shapes_analytic_hits_and_normals():
    parts = [
        Part(ELLIPSOID, (0.0, 0.0, 1.0), (0.3, 0.3, 0.3)),  # sphere of radius 0.3
        Part(CYLINDER, (0.0, 1.0, 1.0), (0.2, 0.2, 0.4)),
        Part(ELLIPSOID, (0.0, -1.0, 1.0), (0.1, 0.4, 0.2)),
    ]
    room = _room((Template("clutter", parts, (1, 1, 1)), (3.0, 2.0, 0.0), 0.0))
    o = np.array([[1.0, 2.0, 1.0], [1.0, 3.0, 1.0], [1.0, 1.0, 1.0], [3.0, 3.0, 2.5], [1.0, 2.0, 1.2]])
    d = np.array([[1.0, 0, 0], [1.0, 0, 0], [1.0, 0, 0], [0, 0, -1.0], [1.0, 0, 0]])
    t, prim, n = cast(room, o, d)
    np.testing.assert_allclose(t[:4], [2.0 - 0.3, 2.0 - 0.2, 2.0 - 0.1, 2.5 - 1.4], atol=1e-12)
    # off-centre sphere hit: x = 3 - sqrt(0.09 - 0.04), normal along (hit - centre) / r
    x = 3 - math.sqrt(0.09 - 0.04)
    assert t[4] == pytest.approx(x - 1.0, abs=1e-12)
    np.testing.assert_allclose(n[4], [(x - 3) / 0.3, 0, 0.2 / 0.3], atol=1e-12)
    np.testing.assert_allclose(n[:4], [[-1, 0, 0], [-1, 0, 0], [-1, 0, 0], [0, 0, 1]], atol=1e-12)
    assert (room.label[prim] == CLASS_ID["clutter"]).all()


def test_t_max_and_misses():
    room = _room()
    t, prim, _ = cast(room, np.array([3.0, 2.0, 1.5]), np.array([[1.0, 0, 0], [0, 0, 1.0]]), np.array([2.0, 10.0]))
    assert prim[0] == -1 and t[0] == 2.0  # the wall at distance 3 lies beyond t_max
    assert room.label[prim[1]] == CLASS_ID["ceiling"] and t[1] == pytest.approx(1.5)


def test_object_centre_projects_onto_its_label():
    table = Template("table", [Part(BOX, (0.0, 0.0, 0.72), (0.5, 0.4, 0.02))], (1, 0.8, 0.74))
    chair = Template("chair", [Part(BOX, (0.0, 0.0, 0.45), (0.22, 0.22, 0.45))], (0.44, 0.44, 0.9))
    room = _room((table, (3.0, 1.5, 0.0), 0.0), (chair, (4.5, 3.0, 0.0), 0.3))
    cam = Camera.look_at((1.0, 1.0, 1.6), (3.5, 2.2, 0.6), width=160, height=120)
    gt = render_ground_truth(room, cam)
    eye, dirs = cam.pixel_rays()
    for cls, top in (("table", (3.0, 1.5, 0.74)), ("chair", (4.5, 3.0, 0.9))):
        uv, _ = cam.project(torch.tensor([top], dtype=torch.float64))
        j, i = int(uv[0, 0]), int(uv[0, 1])  # the pixel that sees the top face's centre
        assert gt.label[i, j] == CLASS_ID[cls], cls
        # its ray (camera-z-normalised, so t = depth) meets the plane z = top there
        d = dirs[i, j].numpy()
        assert gt.depth[i, j] == pytest.approx((top[2] - float(eye[2])) / d[2], abs=DEPTH_ATOL)


def test_shading_is_view_dependent_and_shadowed():
    shiny = Material((0.5, 0.5, 0.5), (0.5, 0.5, 0.5), 0, 0.1, 0, 0.8, 20.0, 0)
    b = RoomBuilder(ROOM, shiny, shiny, shiny)
    blocker = Template("table", [Part(BOX, (0.0, 0.0, 1.5), (0.3, 0.3, 0.05))], (0.6, 0.6, 1.55))
    b.add(blocker, (3.0, 2.0, 0.0), 0.0, (PLAIN, PLAIN))
    room = b.build(Lights(np.array([[3.0, 2.0, 2.7]]), np.ones((1, 3)), np.full(3, 0.05)))
    from rtgs2.synth.raycast import shade

    pts = np.array([[3.0, 2.0, 0.0], [1.0, 2.0, 0.0]])  # floor under the blocker / in the open
    nrm = np.array([[0, 0, 1.0], [0, 0, 1.0]])
    diffuse = shade(room, pts, nrm, np.array([0, 0]), None)
    assert diffuse[0].sum() < 0.5 * diffuse[1].sum()  # the blocker's shadow
    # the same floor point seen from two directions differs by the specular term
    v1 = np.array([[0.0, 0, -1.0]] * 2)
    v2 = np.array([[math.sqrt(0.5), 0, -math.sqrt(0.5)]] * 2)
    assert not np.allclose(shade(room, pts, nrm, np.array([0, 0]), v1)[1], shade(room, pts, nrm, np.array([0, 0]), v2)[1])


def test_ray_caster_keeps_torch_thread_count():
    """numba's parallel ray caster shares the OpenMP runtime with torch: it must not change torch's threads."""
    import numba

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("one numba thread: nothing to reset")
    room = _room()
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        render_ground_truth(room, Camera.look_at((2.0, 2.0, 1.5), (6.0, 2.0, 1.5), width=32, height=24))
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
