"""Shading of SynthRooms ``v2`` views: light as a camera sees it.

Per visible point: the albedo of its class's material (:mod:`rtgs2.synth.textures`), direct
light from the room's lamps (small spheres: soft shadows), the sky through each window (an area
light per pane) and the sun through the glass (sun patches), bounce light darkened by ambient
occlusion, glossy highlights and mirror reflections (view dependent), and what glows: window
panes show the outside (with parallax), lamp shades shine. Then the room's camera response:
exposure, white balance, a filmic shoulder and the sRGB curve.

Sampling is fixed, not random per pixel: lamps are points (hard shadows, as small bulbs cast),
each window is sampled at fixed spots of its pane, occlusion rays leave in fixed directions of
the surface's frame turned by a smooth noise of the surface position. So there is no pixel
noise: the same surface point has the same colour from every view (up to view-dependent
highlights), a 3DGS can fit it, and a view is a pure function of the room and the camera.
"""

from __future__ import annotations

import numpy as np

from rtgs2.data.readers.synthrooms import CLASS_ID
from rtgs2.data.views import IGNORE_LABEL
from rtgs2.scene.camera import Camera
from rtgs2.synth.accel import build_grid, cast_grid
from rtgs2.synth.materials import albedo, value_noise
from rtgs2.synth.raycast import SHADOW_OFFSET, GroundTruth
from rtgs2.synth.room import Room
from rtgs2.synth.textures import window_view

SAMPLE_CELL = 0.05  # metres: lattice of the smooth noise that turns sample rays (view-independent)
AO_RAYS = 4  # ambient-occlusion rays per point
WINDOW_SPOTS = ((-0.5, -0.5), (0.5, 0.5))  # (u, v) in [-1, 1]^2 of a pane where its sky light is sampled
AO_RADIUS = 0.5  # metres: occluders farther than this do not darken
LIGHT_SOFTENING = 0.05  # m^2 added to d^2 in the inverse-square law (no blow-up at a lamp)
MAX_SKIPS = 3  # glowing parts (shades, diffusers, glass) a shadow ray passes through
REFLECT_BOUNCE_GAIN = 0.6  # radiance of a reflected surface ~ its albedo x this x the view's mean irradiance
GLOW = 2.5  # radiance of a lamp shade per unit of emission x albedo when its lamp is on
SRGB_GAMMA = 2.4
GRAZING = (0.02, 0.1)  # cosines between which light arriving at a grazing angle fades in


class ShadingContext:
    """What shading needs of a room, computed once: window panes, glowing primitives, and a
    ``cast(orig, dirs, t_max)`` through the room's acceleration grid (:mod:`rtgs2.synth.accel`)."""

    def __init__(self, room: Room):
        self.room = room
        mats = room.material
        self.pane = (room.label == CLASS_ID["window"]) & (mats.emission > 0)
        self.glowing = mats.emission > 0  # light passes them: lamp shades, diffusers, glass
        self.panes = np.flatnonzero(self.pane)
        grid = build_grid(room)
        self.cast = lambda o, d, t=np.inf: cast_grid(room, grid, o, d, t)

    def visible(self, orig: np.ndarray, dirs: np.ndarray, dist: np.ndarray, target: int = -1) -> np.ndarray:
        """[P] bool: nothing opaque on the segments ``orig`` [P, 3] + t ``dirs`` [P, 3] (unit),
        0 < t < ``dist`` [P] metres; reaching primitive ``target`` counts as unblocked."""
        ok = np.ones(len(orig), bool)
        todo = np.arange(len(orig))
        o, remaining = orig.copy(), dist.copy()
        for _ in range(MAX_SKIPS + 1):
            if len(todo) == 0:
                break
            t, prim, _ = self.cast(o[todo], dirs[todo], remaining[todo])
            hit = prim >= 0
            passes = hit & (prim != target) & self.glowing[np.maximum(prim, 0)]
            ok[todo[hit & ~passes & (prim != target)]] = False
            nxt = todo[passes]
            o[nxt] += dirs[nxt] * (t[passes] + 1e-4)[:, None]
            remaining[nxt] -= t[passes] + 1e-4
            todo = nxt
        ok[todo] = False  # still inside glowing parts after MAX_SKIPS: call it blocked
        return ok


def _smooth_rand(points: np.ndarray, stream: int) -> np.ndarray:
    """[P] numbers in [0, 1) varying smoothly over ``SAMPLE_CELL`` metres, from a ``stream`` id:
    where they pick sample rays, neighbouring points share rays, so shading has no speckle."""
    return value_noise(points / SAMPLE_CELL, np.full(len(points), stream, np.int64))


def _tangents(n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    helper = np.where(np.abs(n[:, 2:3]) < 0.9, [[0.0, 0.0, 1.0]], [[1.0, 0.0, 0.0]])
    t1 = np.cross(helper, n)
    t1 /= np.linalg.norm(t1, axis=1, keepdims=True)
    return t1, np.cross(n, t1)


def _yaw_rotate(v: np.ndarray, yaw: np.ndarray, inverse: bool) -> np.ndarray:
    c, s = np.cos(yaw), np.sin(yaw)
    s = -s if inverse else s
    return np.stack([c * v[:, 0] - s * v[:, 1], s * v[:, 0] + c * v[:, 1], v[:, 2]], 1)


def emitted(ctx: ShadingContext, points: np.ndarray, prim: np.ndarray, view_dirs: np.ndarray, alb: np.ndarray) -> np.ndarray:
    """[P, 3] linear radiance that primitives ``prim`` [P] give off at ``points`` [P, 3] seen
    along ``view_dirs`` [P, 3]: the outside through window panes, the glow of lamp shades."""
    room = ctx.room
    out = np.zeros((len(points), 3))
    pane = ctx.pane[prim]
    if pane.any():
        yaw = room.yaw[prim[pane]]
        d_local = _yaw_rotate(view_dirs[pane], yaw, inverse=True)
        p_local = room.to_local(points[pane], prim[pane])
        sky = room.lights.sky_color if room.lights.sky_color is not None else np.ones(3)
        scale = float(np.mean(sky)) * room.material.emission[prim[pane]][:, None]
        out[pane] = window_view(d_local, p_local, room.material.seed[prim[pane]]) * scale
    glow = ~pane & (room.material.emission[prim] > 0)
    if glow.any():
        on = float(room.lights.color.max()) if len(room.lights.color) else 0.0
        out[glow] = alb[glow] * room.material.emission[prim[glow]][:, None] * GLOW * min(on, 1.0)
    return out


def radiance(
    ctx: ShadingContext, points: np.ndarray, normals: np.ndarray, prim: np.ndarray, view_dirs: np.ndarray | None
) -> np.ndarray:
    """Linear RGB [P, 3] leaving surface ``points`` [P, 3] (unit ``normals`` [P, 3] facing the
    viewer, primitives ``prim`` [P]) towards the eye along ``view_dirs`` [P, 3] (unit, eye to
    point); None: the view-independent part only, as if seen head-on (no highlights, no
    reflections), for surface-sampled Gaussians."""
    room, lights = ctx.room, ctx.room.lights
    n_pts = len(points)
    alb = albedo(room.to_local(points, prim), room.material, prim)
    start = points + normals * SHADOW_OFFSET
    diffuse = np.zeros((n_pts, 3))
    spec = np.zeros((n_pts, 3))
    ks, shin = room.material.specular[prim], room.material.shininess[prim]

    def add_light(ldir: np.ndarray, energy: np.ndarray) -> None:
        cos = np.maximum(np.einsum("ij,ij->i", normals, ldir), 0.0)
        # fade out grazing light: a shadow ray skimming its own surface (a ceiling beside a
        # flush ceiling light) is hit or missed by rounding, which would speckle the surface
        cos = cos * np.clip((cos - GRAZING[0]) / (GRAZING[1] - GRAZING[0]), 0.0, 1.0)
        diffuse[:] += energy * cos[:, None]
        if view_dirs is not None:
            h = ldir - view_dirs
            h /= np.linalg.norm(h, axis=1, keepdims=True) + 1e-12
            spec[:] += energy * (ks * np.maximum(np.einsum("ij,ij->i", normals, h), 0.0) ** shin * (cos > 0))[:, None]

    radius = lights.radius if lights.radius is not None else np.zeros(len(lights.pos))
    for pos, color, r in zip(lights.pos, lights.color, radius):
        if not color.any():
            continue
        to_l = pos - start
        dist = np.linalg.norm(to_l, axis=1)
        ldir = to_l / dist[:, None]
        facing = np.einsum("ij,ij->i", normals, ldir) > 0
        vis = np.zeros(n_pts, bool)
        # stop at the bulb's surface: a lamp's stem or socket ends at its centre, and a shadow ray
        # ending exactly there would be blocked or not by rounding (speckle on nearby walls)
        reach = np.maximum(dist[facing] - r, 1e-3)
        vis[facing] = ctx.visible(start[facing], ldir[facing], reach)
        add_light(ldir, (vis / (dist**2 + LIGHT_SOFTENING))[:, None] * color)

    sky = lights.sky_color if lights.sky_color is not None else np.zeros(3)
    for m in ctx.panes:  # each pane is an area light of the sky's radiance, sampled at fixed spots
        c, s = np.cos(room.yaw[m]), np.sin(room.yaw[m])
        inward = np.array([-s, c, 0.0])
        along = np.array([c, s, 0.0])
        hx, hy, hz = room.half[m]
        for u, v in WINDOW_SPOTS:
            target = room.center[m] + inward * hy + u * hx * along + np.array([0.0, 0.0, v * hz])
            to_l = target - start
            dist = np.linalg.norm(to_l, axis=1)
            ldir = to_l / dist[:, None]
            cos_w = np.maximum(-ldir @ inward, 0.0)
            facing = (np.einsum("ij,ij->i", normals, ldir) > 0) & (cos_w > 0)
            vis = np.zeros(n_pts, bool)
            vis[facing] = ctx.visible(start[facing], ldir[facing], dist[facing] - 2e-3, target=m)
            area = 4 * hx * hz / len(WINDOW_SPOTS)
            add_light(ldir, (vis * cos_w * area / (dist**2 + LIGHT_SOFTENING))[:, None] * sky)

    if lights.sun_color is not None and lights.sun_color.any() and len(ctx.panes):
        sun = np.broadcast_to(lights.sun_dir, points.shape)
        facing = normals @ lights.sun_dir > 0
        lit = np.zeros(n_pts, bool)
        if facing.any():  # the sun reaches a point when its ray leaves the room through a pane
            t, hit, _ = ctx.cast(start[facing], np.ascontiguousarray(sun[facing]))
            lit[facing] = (hit >= 0) & ctx.pane[np.maximum(hit, 0)]
        add_light(np.ascontiguousarray(sun), lit[:, None] * lights.sun_color)

    # Ambient occlusion: how far short rays in fixed directions of the surface frame get.
    t1, t2 = _tangents(normals)
    open_share = np.zeros(n_pts)
    turn = _smooth_rand(points, 80) * 2 * np.pi
    for k in range(AO_RAYS):
        r = np.sqrt((k + 0.5) / AO_RAYS)  # stratified in cos-weighted radius
        phi = turn + 2 * np.pi * k * 0.618034  # golden-angle spread around the normal
        d = t1 * (r * np.cos(phi))[:, None] + t2 * (r * np.sin(phi))[:, None] + normals * np.sqrt(1 - r * r)
        t, _, _ = ctx.cast(start, d, np.full(n_pts, AO_RADIUS))
        open_share += np.minimum(t / AO_RADIUS, 1.0)
    ao = open_share / AO_RAYS
    out = alb * (diffuse + lights.ambient * ao[:, None]) + spec
    if view_dirs is None:
        return out + emitted(ctx, points, prim, -normals, alb)
    out += emitted(ctx, points, prim, view_dirs, alb)
    glossy = room.material.reflect[prim] > 0
    if glossy.any():  # one mirror bounce: windows and lamps seen in a glossy floor or screen
        n_g, v_g = normals[glossy], view_dirs[glossy]
        mirror = v_g - 2 * np.einsum("ij,ij->i", v_g, n_g)[:, None] * n_g
        t, hit, _ = ctx.cast(start[glossy], mirror)
        seen = np.zeros((len(t), 3))
        ok = hit >= 0
        if ok.any():
            p2 = start[glossy][ok] + mirror[ok] * t[ok, None]
            a2 = albedo(room.to_local(p2, hit[ok]), room.material, hit[ok])
            level = (diffuse + lights.ambient).mean(0)
            seen[ok] = a2 * level * REFLECT_BOUNCE_GAIN + emitted(ctx, p2, hit[ok], mirror[ok], a2)
        cos = np.abs(np.einsum("ij,ij->i", v_g, n_g))
        f0 = room.material.reflect[prim[glossy]]
        fresnel = f0 + (1 - f0) * (1 - cos) ** 5 * 0.5  # Schlick, halved: rough, not mirror-like
        out[glossy] += fresnel[:, None] * seen
    return out


def camera_response(room: Room, linear: np.ndarray) -> np.ndarray:
    """Linear radiance [..., 3] -> display RGB in [0, 1] as the room's camera records it:
    exposure gain, white balance, a filmic shoulder (bright windows roll off instead of
    clipping hard) and the sRGB transfer curve."""
    lights = room.lights
    x = linear * (lights.exposure or 1.0) * (lights.white_balance if lights.white_balance is not None else 1.0)
    tone = lights.tone or 0.0
    x = np.maximum(x, 0.0)
    x = x * (1 + tone) / (1 + tone * x)  # 1 -> 1; brighter values compress
    x = np.clip(x, 0.0, 1.0)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * x ** (1 / SRGB_GAMMA) - 0.055)


def _luminance(rgb: np.ndarray) -> np.ndarray:
    return rgb @ np.array([0.2126, 0.7152, 0.0722])


def auto_exposure(room: Room, cameras: list[Camera], ctx: ShadingContext | None = None, stride: int = 8) -> float:
    """The room's exposure gain: its ``lights.exposure`` key (the target median) over the median
    white-balanced luminance of every ``stride``-th view at a quarter of its size. One gain per
    room (a capture with locked exposure, as 3DGS captures are), so colours agree across views."""
    ctx = ctx or ShadingContext(room)
    lum = []
    for cam in cameras[::stride]:
        small = cam.resized(max(8, cam.width // 4), max(6, cam.height // 4))
        lin, _, _, _ = _trace(ctx, small)
        wb = room.lights.white_balance if room.lights.white_balance is not None else np.ones(3)
        lum.append(_luminance(lin.reshape(-1, 3) * wb))
    median = float(np.median(np.concatenate(lum)))
    return float(room.lights.exposure or 0.2) / max(median, 1e-6)


def _trace(ctx: ShadingContext, camera: Camera):
    o, d = camera.pixel_rays()  # d has camera-z 1, so t is the depth
    dirs = d.numpy().reshape(-1, 3).astype(np.float64)
    eye = o.numpy().astype(np.float64)
    t, prim, normal = ctx.cast(np.broadcast_to(eye, dirs.shape), dirs)
    hit = prim >= 0
    lin = np.zeros((len(dirs), 3))
    if hit.any():
        pts = eye + t[hit, None] * dirs[hit]
        vd = dirs[hit] / np.linalg.norm(dirs[hit], axis=1, keepdims=True)
        lin[hit] = radiance(ctx, pts, normal[hit], prim[hit], vd)
    return lin.reshape(camera.height, camera.width, 3), t, prim, hit


def render_ground_truth_v2(room: Room, camera: Camera, ctx: ShadingContext | None = None) -> GroundTruth:
    """Ray-cast display RGB (v2 shading and camera response), depth, label and instance id at
    every pixel centre of ``camera``."""
    ctx = ctx or ShadingContext(room)
    lin, t, prim, hit = _trace(ctx, camera)
    h, w = camera.height, camera.width
    label = np.full(h * w, IGNORE_LABEL, np.uint8)
    label[hit] = room.label[prim[hit]]
    inst = np.zeros(h * w, np.uint16)
    inst[hit] = room.instance[prim[hit]]
    depth = np.where(hit, t, 0.0)
    rgb = camera_response(room, lin)
    return GroundTruth(rgb.astype(np.float32), depth.reshape(h, w).astype(np.float32), label.reshape(h, w), inst.reshape(h, w))
