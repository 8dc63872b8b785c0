"""3DGS scenes of a room: ``surface`` mode samples flat Gaussian discs on the primitives'
surfaces (exact geometry, baked diffuse light; seconds per scene), ``fitted`` mode runs
:func:`rtgs2.recon.fit_gaussians` on the training views, initialised from back-projected depth
(as SfM points would be) or from such discs (:func:`disc_init`), so the result has the artefacts
of a real reconstruction.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from rtgs2.scene.camera import Camera
from rtgs2.scene.gaussians import GaussianScene
from rtgs2.synth.furniture import BOX, CYLINDER
from rtgs2.synth.raycast import shade, to_display
from rtgs2.synth.shading import ShadingContext, camera_response, radiance
from rtgs2.synth.room import Room

DISC_SIGMA = 0.5  # tangential std-dev of a disc, in units of its sample spacing: neighbours overlap at 1 sigma
DISC_THICKNESS = 1e-3  # metres, std-dev along the normal (flat, but not degenerate)
DISC_OPACITY = 0.95
DISC_FILL = 0.95  # disc_init aims at this share of a fit's cap, leaving the fit's densification room
INSIDE_TOL = 2e-3  # metres; samples deeper than this inside another primitive (hidden) are dropped
ROOM_TOL = 1e-3  # metres; samples beyond the room's interior (outer faces of the shell) are dropped
FIT_THREADS = 2  # torch threads of a fit, fixed: float sums (hence the fitted scene) depend on it


def _rotmat_to_quat(R: np.ndarray) -> np.ndarray:
    """[N, 3, 3] rotation matrices -> [N, 4] unit quaternions (wxyz), branch-free enough for
    any rotation (picks the largest of w, x, y, z to divide by)."""
    m = R
    t = np.stack([1 + m[:, 0, 0] + m[:, 1, 1] + m[:, 2, 2], 1 + m[:, 0, 0] - m[:, 1, 1] - m[:, 2, 2],
                  1 - m[:, 0, 0] + m[:, 1, 1] - m[:, 2, 2], 1 - m[:, 0, 0] - m[:, 1, 1] + m[:, 2, 2]], 1)  # fmt: skip
    k = t.argmax(1)
    q = np.zeros((len(R), 4))
    s = np.sqrt(np.maximum(t[np.arange(len(R)), k], 1e-12)) * 2
    a = m[:, 2, 1] - m[:, 1, 2]
    b = m[:, 0, 2] - m[:, 2, 0]
    c = m[:, 1, 0] - m[:, 0, 1]
    d = m[:, 0, 1] + m[:, 1, 0]
    e = m[:, 0, 2] + m[:, 2, 0]
    f = m[:, 1, 2] + m[:, 2, 1]
    rows = [np.stack([s / 4, a / s, b / s, c / s], 1), np.stack([a / s, s / 4, d / s, e / s], 1),
            np.stack([b / s, d / s, s / 4, f / s], 1), np.stack([c / s, e / s, f / s, s / 4], 1)]  # fmt: skip
    for i in range(4):
        q[k == i] = rows[i][k == i]
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def _grid(n: int) -> np.ndarray:
    return (np.arange(n) + 0.5) / n


def _sample_primitive(kind: int, half: np.ndarray, spacing: float):
    """Samples on one primitive in its frame: points [S, 3], tangent frames [S, 3, 3] (columns
    t1, t2, normal) and tangential std-devs [S, 2], metres."""
    pts, frames, sig = [], [], []
    if kind == BOX:
        for ax in range(3):
            u, v = [a for a in range(3) if a != ax]
            nu, nv = max(1, math.ceil(2 * half[u] / spacing)), max(1, math.ceil(2 * half[v] / spacing))
            gu, gv = np.meshgrid((_grid(nu) * 2 - 1) * half[u], (_grid(nv) * 2 - 1) * half[v], indexing="ij")
            for sgn in (-1.0, 1.0):
                p = np.zeros((gu.size, 3))
                p[:, u], p[:, v], p[:, ax] = gu.ravel(), gv.ravel(), sgn * half[ax]
                fr = np.zeros((3, 3))
                fr[u, 0], fr[ax, 2] = 1.0, sgn
                fr[:, 1] = np.cross(fr[:, 2], fr[:, 0])  # t2 = n x t1: a rotation, not a reflection
                pts.append(p)
                frames.append(np.broadcast_to(fr, (len(p), 3, 3)))
                sig.append(np.broadcast_to([2 * half[u] / nu, 2 * half[v] / nv], (len(p), 2)))
    elif kind == CYLINDER:
        r, hz = half[0], half[2]
        assert abs(half[0] - half[1]) < 1e-9, f"cylinders must be circular, got radii {half[:2]}"
        nt, nz = max(3, math.ceil(2 * math.pi * r / spacing)), max(1, math.ceil(2 * hz / spacing))
        th, z = np.meshgrid(_grid(nt) * 2 * math.pi, (_grid(nz) * 2 - 1) * hz, indexing="ij")
        th, z = th.ravel(), z.ravel()
        n = np.stack([np.cos(th), np.sin(th), 0 * th], 1)
        t1 = np.stack([-np.sin(th), np.cos(th), 0 * th], 1)
        t2 = np.broadcast_to([0.0, 0.0, 1.0], t1.shape)
        pts.append(np.concatenate([r * n[:, :2], z[:, None]], 1))
        frames.append(np.stack([t1, t2, n], 2))
        sig.append(np.broadcast_to([2 * math.pi * r / nt, 2 * hz / nz], (len(th), 2)))
        nr = max(1, math.ceil(r / spacing))
        for k in range(nr):  # caps: rings of samples
            rho = (k + 0.5) * r / nr
            m = max(1, math.ceil(2 * math.pi * rho / spacing))
            a = _grid(m) * 2 * math.pi
            for sgn in (-1.0, 1.0):
                p = np.stack([rho * np.cos(a), rho * np.sin(a), np.full(m, sgn * hz)], 1)
                t1 = np.stack([np.cos(a), np.sin(a), 0 * a], 1)
                t2 = np.stack([-np.sin(a), np.cos(a), 0 * a], 1) * sgn
                nn = np.broadcast_to([0.0, 0.0, sgn], t1.shape)
                pts.append(p)
                frames.append(np.stack([t1, t2, nn], 2))
                sig.append(np.broadcast_to([r / nr, 2 * math.pi * rho / m], (m, 2)))
    else:  # ellipsoid: a Fibonacci lattice on the unit sphere, stretched
        a, b, c = half
        p_ = 1.6075  # Knud Thomsen's surface-area approximation
        area = 4 * math.pi * (((a * b) ** p_ + (a * c) ** p_ + (b * c) ** p_) / 3) ** (1 / p_)
        n = max(8, math.ceil(area / spacing**2))
        i = np.arange(n) + 0.5
        z = 1 - 2 * i / n
        phi = i * math.pi * (3 - math.sqrt(5))
        u = np.stack([np.sqrt(1 - z * z) * np.cos(phi), np.sqrt(1 - z * z) * np.sin(phi), z], 1)
        nrm = u / half
        nrm /= np.linalg.norm(nrm, axis=1, keepdims=True)
        helper = np.where(np.abs(nrm[:, 2:3]) < 0.9, [[0.0, 0.0, 1.0]], [[1.0, 0.0, 0.0]])
        t1 = np.cross(helper, nrm)
        t1 /= np.linalg.norm(t1, axis=1, keepdims=True)
        pts.append(u * half)
        frames.append(np.stack([t1, np.cross(nrm, t1), nrm], 2))
        sig.append(np.full((n, 2), math.sqrt(area / n)))
    frames = np.concatenate(frames)
    assert np.allclose(np.linalg.det(frames), 1.0), "surface frames must be rotations"
    return np.concatenate(pts), frames, np.concatenate(sig)


def inside_any(room: Room, points: np.ndarray, exclude: np.ndarray, tol: float) -> np.ndarray:
    """[P] bool: points [P, 3] deeper than ``tol`` metres inside a primitive other than their
    own (``exclude`` [P]). Ellipsoids and cylinders are tested in their scaled unit frames."""
    out = np.zeros(len(points), bool)
    for m in range(room.num_primitives):
        h = room.half[m]
        near = np.abs(points - room.center[m]).max(1) < np.linalg.norm(h) + tol
        near &= exclude != m
        if not near.any():
            continue
        loc = room.to_local(points[near], np.full(int(near.sum()), m))
        if room.kind[m] == BOX:
            ins = (np.abs(loc) < h - tol).all(1)
        elif room.kind[m] == CYLINDER:
            ins = ((loc[:, 0] ** 2 + loc[:, 1] ** 2) < (h[0] - tol) ** 2) & (np.abs(loc[:, 2]) < h[2] - tol)
        else:
            ins = ((loc / np.maximum(h - tol, 1e-9)) ** 2).sum(1) < 1
        out[np.flatnonzero(near)[ins]] = True
    return out


def surface_samples(room: Room, spacing: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Points on every visible-side surface of ``room``, ``spacing`` metres apart (parts outside
    the room or hidden inside another primitive left out).

    Returns:
        points [S, 3] world metres, tangent frames [S, 3, 3] (columns t1, t2, normal), tangential
        sample spacings [S, 2] metres, and the primitive index [S] of each (its class is
        ``room.label[prim]``).
    """
    if not spacing > 0:
        raise ValueError(f"spacing must be positive, got {spacing}")
    P, F, S, I = [], [], [], []
    for m in range(room.num_primitives):
        p, fr, sg = _sample_primitive(int(room.kind[m]), room.half[m], spacing)
        c, s = math.cos(room.yaw[m]), math.sin(room.yaw[m])
        rot = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])
        P.append(p @ rot.T + room.center[m])
        F.append(np.einsum("ij,njk->nik", rot, fr))
        S.append(sg)
        I.append(np.full(len(p), m))
    pts, frames, sig, prim = np.concatenate(P), np.concatenate(F), np.concatenate(S), np.concatenate(I)
    lo, hi = -ROOM_TOL, room.size + ROOM_TOL
    keep = ((pts >= lo) & (pts <= hi)).all(1)
    keep[keep] = ~inside_any(room, pts[keep], prim[keep], INSIDE_TOL)
    return pts[keep], frames[keep], sig[keep], prim[keep]


def surface_gaussians(room: Room, spacing: float) -> tuple[GaussianScene, np.ndarray]:
    """Flat Gaussian discs on every visible-side surface of ``room``, ``spacing`` metres apart
    (at the points of :func:`surface_samples`).

    Colours are the ray caster's view-independent shading (albedo x (ambient + diffuse with
    shadows), and v2's occlusion, windows, glow and camera response), as display RGB in SH degree 0. Returns the scene and the primitive index [N]
    of each Gaussian (its label is ``room.label[prim]``).
    """
    pts, frames, sig, prim = surface_samples(room, spacing)
    if room.v2_shading:
        color = camera_response(room, radiance(ShadingContext(room), pts, frames[:, :, 2], prim, None))
    else:
        color = to_display(shade(room, pts, frames[:, :, 2], prim, None))
    scales = np.concatenate([sig * DISC_SIGMA, np.full((len(pts), 1), DISC_THICKNESS)], 1)
    scene = GaussianScene.from_activated(
        means=torch.from_numpy(pts).float(),
        scales=torch.from_numpy(scales).float(),
        quats=torch.from_numpy(_rotmat_to_quat(frames)).float(),
        opacities=torch.full((len(pts),), DISC_OPACITY),
        colors=torch.from_numpy(color).float(),
    )
    return scene, prim


def disc_init(room: Room, spacing: float, max_gaussians: int) -> GaussianScene:
    """:func:`surface_gaussians` at ``spacing``, or at the larger spacing that gives about
    ``max_gaussians`` discs (0 = no cap): a fit's start that is already flat and opaque, as the
    Gaussians of a long fit of real images are (a short fit from isotropic points stays round and
    half transparent; a subsampled cloud of discs would leave holes)."""
    n = len(surface_samples(room, spacing)[0])
    if max_gaussians > 0 and n > DISC_FILL * max_gaussians:
        spacing *= math.sqrt(n / (DISC_FILL * max_gaussians))  # the count falls with spacing^2
    return surface_gaussians(room, spacing)[0]


def fitted_gaussians(
    cameras: Sequence[Camera],  # V training cameras
    images: Sequence[Tensor],  # V x [H, W, 3] RGB in [0, 1]
    depths: Sequence[Tensor],  # V x [H, W] camera z, metres (0 = none)
    iterations: int,
    max_init_points: int,
    seed: int,
    max_gaussians: int = 0,
    out_dir: Path | None = None,
    progress: bool = False,
    on_step: Callable[[int, float], None] | None = None,
    init_scene: GaussianScene | None = None,
) -> GaussianScene:
    """A 3DGS reconstruction from the training views (``rtgs2.recon``), initialised from
    ``max_init_points`` back-projected depth pixels, or from ``init_scene`` when given (e.g.
    :func:`disc_init`), at most ``max_gaussians`` Gaussians (0 = no cap); checkpoints in
    ``out_dir`` let it resume. ``on_step(step, loss)`` follows the fit."""
    from rtgs2.recon import ReconConfig, fit_gaussians, points_from_depth

    cfg = ReconConfig(iterations=iterations, seed=seed, num_threads=FIT_THREADS, max_gaussians=max_gaussians)
    if init_scene is not None:
        return fit_gaussians(
            cameras, images, cfg, None, None, out_dir=out_dir, progress=progress, on_step=on_step, init_scene=init_scene
        )
    pts, cols = points_from_depth(cameras, images, depths, max_init_points, seed)
    return fit_gaussians(
        cameras, images, cfg, pts, cols, out_dir=out_dir, resume=True, progress=progress, on_step=on_step
    )
