"""The unsupervised over-segmentation: the numba kernel equals the plain reference, and
segments follow colour and orientation boundaries."""

import math

import numpy as np
import torch

from rtgs2.features.segments import felzenszwalb_reference, gaussian_normals, knn_edges, segment_gaussians, segment_graph
from rtgs2.scene.gaussians import GaussianScene
from rtgs2.scene.sh import rgb_to_sh_dc


def _scene(xyz: np.ndarray, rgb: np.ndarray, quats: np.ndarray, log_scales: np.ndarray) -> GaussianScene:
    n = len(xyz)
    sh = torch.zeros(n, 1, 3)
    sh[:, 0] = rgb_to_sh_dc(torch.from_numpy(rgb).float())
    return GaussianScene(
        means=torch.from_numpy(xyz).float(), quats=torch.from_numpy(quats).float(),
        log_scales=torch.from_numpy(log_scales).float(), opacity_logits=torch.zeros(n), sh=sh,
    )  # fmt: skip


def test_kernel_equals_reference_on_random_graphs():
    rng = np.random.default_rng(0)
    for n, scale, min_size in [(40, 0.5, 1), (200, 2.0, 5), (300, 0.1, 10)]:
        ends = np.unique(np.sort(rng.integers(0, n, (4 * n, 2)), axis=1), axis=0)
        ends = ends[ends[:, 0] != ends[:, 1]]
        w = rng.random(len(ends)).astype(np.float32)
        got = segment_graph(n, ends, w, scale, min_size)
        assert np.array_equal(got, felzenszwalb_reference(n, ends, w, scale, min_size))
        assert got.max() + 1 < n  # it merged something


def test_segments_follow_colour_and_orientation_boundaries():
    g = np.stack(np.meshgrid(np.linspace(0, 1, 30), np.linspace(0, 1, 30)), -1).reshape(-1, 2)
    floor = np.c_[g, np.zeros(len(g))]  # z = 0, flat in z
    wall = np.c_[g[:, 0], np.full(len(g), 1.02), g[:, 1]]  # y = 1.02, flat in y
    xyz = np.concatenate([floor, floor + [1.035, 0, 0], wall])  # the light floor touches the grey one
    rgb = np.concatenate([np.full((900, 3), 0.2), np.full((900, 3), 0.8), np.full((900, 3), 0.2)])
    ls = np.log(np.array([0.03, 0.03, 0.001]))
    flat_z = np.tile([1.0, 0, 0, 0], (1800, 1))  # identity: the third axis (smallest) is z
    flat_y = np.tile([math.cos(math.pi / 4), math.sin(math.pi / 4), 0, 0], (900, 1))  # 90 deg about x: z -> -y
    scene = _scene(xyz, rgb, np.concatenate([flat_z, flat_y]), np.tile(ls, (2700, 1)))
    normals = gaussian_normals(scene)
    np.testing.assert_allclose(np.abs(normals[:900, 2]), 1, atol=1e-5)
    np.testing.assert_allclose(np.abs(normals[1800:, 1]), 1, atol=1e-5)
    seg = segment_gaussians(scene, k=8, scale=2.0, min_size=50)
    parts = [seg[:900], seg[900:1800], seg[1800:]]  # grey floor | light floor beside it | grey wall
    assert all(len(np.unique(p)) == 1 for p in parts), [np.unique(p) for p in parts]
    assert len({int(p[0]) for p in parts}) == 3  # the wall is not the floor it touches, though of its colour
    ends, w = knn_edges(xyz, rgb, normals, 8, 1.0)
    assert (ends[:, 0] < ends[:, 1]).all() and len(np.unique(ends, axis=0)) == len(ends)
