"""Unsupervised over-segmentation of a scene's Gaussians (segment-level contrast uses it).

Felzenszwalb & Huttenlocher's graph segmentation (2004) on the k-nearest-neighbour graph of
the Gaussian centres, as ScanNet's mesh segmentator does on mesh edges: an edge weighs the
colour difference of its ends plus how much their normals (each Gaussian's shortest axis,
sign-free) disagree; edges are visited lightest first and join two segments when the edge is
no heavier than either segment's largest internal edge plus ``scale / size``. Segments smaller
than ``min_size`` then join a neighbour. The result follows colour and surface-orientation
boundaries, so a segment rarely spans two objects, which is what a self-supervised objective
may treat as "the same thing".
"""

from __future__ import annotations

import numba
import numpy as np
import torch
from scipy.spatial import cKDTree

from rtgs2.render.projection import quat_to_rotmat
from rtgs2.scene.gaussians import GaussianScene
import rtgs2.utils.numba_target  # noqa: F401 (before any @njit: numba's vector width, see the module)


def gaussian_normals(scene: GaussianScene) -> np.ndarray:
    """[N, 3] float32 unit normals: each Gaussian's axis of least extent (sign arbitrary)."""
    rot = quat_to_rotmat(scene.rotations.detach().cpu().float())  # [N, 3, 3], columns = axes
    shortest = scene.log_scales.detach().cpu().argmin(1)
    return rot[torch.arange(len(rot)), :, shortest].numpy().astype(np.float32)


def knn_edges(xyz: np.ndarray, colour: np.ndarray, normal: np.ndarray, k: int, normal_weight: float) -> tuple[np.ndarray, np.ndarray]:
    """Edges of the k-nearest-neighbour graph, each once: ([E, 2] int64 ends, [E] float32
    weight = |colour_i - colour_j| + normal_weight * (1 - |n_i . n_j|))."""
    _, nbr = cKDTree(xyz).query(xyz, k=min(k + 1, len(xyz)))
    src = np.repeat(np.arange(len(xyz)), nbr.shape[1] - 1)
    dst = nbr[:, 1:].reshape(-1)
    ends = np.unique(np.sort(np.stack([src, dst], 1), axis=1), axis=0)
    i, j = ends[:, 0], ends[:, 1]
    w = np.linalg.norm(colour[i] - colour[j], axis=1) + normal_weight * (1 - np.abs((normal[i] * normal[j]).sum(1)))
    return ends.astype(np.int64), w.astype(np.float32)


@numba.njit(cache=True)
def _find(parent, x):
    root = x
    while parent[root] != root:
        root = parent[root]
    while parent[x] != root:  # path compression
        parent[x], x = root, parent[x]
    return root


@numba.njit(cache=True)
def _felzenszwalb(n, ends, weights, order, scale, min_size):
    parent = np.arange(n)
    size = np.ones(n, np.int64)
    internal = np.zeros(n, np.float32)  # largest edge inside each segment (at its root)
    for e in order:
        a, b = _find(parent, ends[e, 0]), _find(parent, ends[e, 1])
        if a == b:
            continue
        w = weights[e]
        if w <= internal[a] + scale / size[a] and w <= internal[b] + scale / size[b]:
            if size[a] < size[b]:
                a, b = b, a
            parent[b] = a
            size[a] += size[b]
            internal[a] = max(internal[a], internal[b], w)
    for e in order:  # small segments join their lightest-edge neighbour
        a, b = _find(parent, ends[e, 0]), _find(parent, ends[e, 1])
        if a != b and (size[a] < min_size or size[b] < min_size):
            if size[a] < size[b]:
                a, b = b, a
            parent[b] = a
            size[a] += size[b]
    roots = np.empty(n, np.int64)
    for i in range(n):
        roots[i] = _find(parent, i)
    return roots


def felzenszwalb_reference(n: int, ends: np.ndarray, weights: np.ndarray, scale: float, min_size: int) -> np.ndarray:
    """The segmentation of :func:`segment_graph` in plain Python (slow; for tests): [n] labels
    0..S-1 in order of first appearance."""
    label = list(range(n))  # no union-find: relabel whole segments on a merge
    members = {i: [i] for i in range(n)}
    internal = {i: 0.0 for i in range(n)}
    order = np.argsort(weights, kind="stable")

    def merge(a: int, b: int) -> None:
        if len(members[a]) < len(members[b]):
            a, b = b, a
        for m in members.pop(b):
            label[m] = a
            members[a].append(m)
        internal[a] = max(internal[a], internal.pop(b))

    for e in order:
        a, b = label[ends[e, 0]], label[ends[e, 1]]
        w = float(weights[e])
        if a != b and w <= internal[a] + scale / len(members[a]) and w <= internal[b] + scale / len(members[b]):
            internal[a] = max(internal[a], w)
            merge(a, b)
    for e in order:
        a, b = label[ends[e, 0]], label[ends[e, 1]]
        if a != b and (len(members[a]) < min_size or len(members[b]) < min_size):
            merge(a, b)
    return _first_appearance(np.array(label))


def _first_appearance(roots: np.ndarray) -> np.ndarray:
    _, first, inverse = np.unique(roots, return_index=True, return_inverse=True)
    rank = np.empty(len(first), np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[inverse]


def segment_graph(n: int, ends: np.ndarray, weights: np.ndarray, scale: float, min_size: int) -> np.ndarray:
    """Felzenszwalb segmentation of a weighted graph: [n] int64 labels 0..S-1 (first appearance)."""
    if n == 0:
        return np.zeros(0, np.int64)
    order = np.argsort(weights, kind="stable")
    roots = _felzenszwalb(n, ends.astype(np.int64), weights.astype(np.float32), order, np.float32(scale), int(min_size))
    return _first_appearance(roots)


def segment_gaussians(
    scene: GaussianScene,
    k: int = 10,
    normal_weight: float = 1.0,
    scale: float = 2.0,
    min_size: int = 100,
) -> np.ndarray:
    """[N] int64 segment of each Gaussian (0..S-1).

    Args:
        scene: the neighbour graph joins its centres; base colours and orientations weigh the edges.
        k: neighbours per Gaussian.
        normal_weight: weight of the normal disagreement (0-1) against the colour distance (RGB 0-1).
        scale: Felzenszwalb's k: larger gives larger segments.
        min_size: Gaussians in the smallest segment kept.
    """
    if len(scene.means) < 2:
        return np.zeros(len(scene.means), np.int64)
    xyz = scene.means.detach().cpu().numpy()
    colour = scene.base_colors.detach().cpu().clamp(0, 1).numpy()
    ends, w = knn_edges(xyz.astype(np.float64), colour, gaussian_normals(scene), k, normal_weight)
    return segment_graph(len(xyz), ends, w, scale, min_size)
