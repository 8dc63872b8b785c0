"""The hand-made geometric context: known answers on planes, a line and a box-shaped room; a
brute-force PCA agrees; rotation about z and translation change nothing; metric columns scale."""

import math

import numpy as np
import pytest

from rtgs2.features.context import CONTEXT_NAMES, context_names, geometric_context, metric_columns

COL = {name: i for i, name in enumerate(CONTEXT_NAMES)}


def _turn(xyz: np.ndarray, degrees: float, shift=(0.0, 0.0, 0.0)) -> np.ndarray:
    a = math.radians(degrees)
    rot = np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])
    return xyz @ rot.T + np.asarray(shift)


def _room(g: np.random.Generator, n: int = 4000) -> tuple[np.ndarray, np.ndarray]:
    """Random points on the floor, walls and a table of a 5 x 3.5 x 2.6 m room, random colours."""
    u = g.random((n, 3))
    part = g.integers(0, 4, n)
    xyz = u * [5.0, 3.5, 2.6]
    xyz[part == 0, 2] = 0.0  # floor
    xyz[part == 1, 0] = 0.0  # wall x = 0
    xyz[part == 2, 1] = 3.5  # wall y = 3.5
    table = part == 3
    xyz[table] = np.column_stack([1 + u[table, 0], 1 + u[table, 1], np.full(table.sum(), 0.75)])
    return xyz, g.random((n, 3))


def test_names_and_metric_columns():
    assert len(CONTEXT_NAMES) == 18 and CONTEXT_NAMES[-2:] == ("height", "wall_distance")
    assert context_names((8,))[:5] == ("normal_z_8", "linearity_8", "planarity_8", "scattering_8", "extent_8")
    metric = [n for n, m in zip(CONTEXT_NAMES, metric_columns()) if m]
    assert metric == ["extent_16", "extent_64", "height", "wall_distance"]


def test_planes_and_line_have_their_shapes():
    g = np.random.default_rng(0)
    n = 2000
    flat = np.column_stack([g.random(n) * 4, g.random(n) * 3, np.full(n, 0.8)])
    wall = np.column_stack([np.full(n, 1.5), g.random(n) * 4, g.random(n) * 2.5])
    line = np.column_stack([np.linspace(0, 4, n), np.linspace(0, 2, n), np.linspace(0, 1, n)]) + g.normal(0, 1e-4, (n, 3))
    col = g.random((n, 3))
    for k in (16, 64):
        f = geometric_context(flat, col)
        assert f[:, COL[f"normal_z_{k}"]].min() > 0.9999
        assert f[:, COL[f"planarity_{k}"]].mean() > 0.5 and f[:, COL[f"scattering_{k}"]].max() < 1e-6
        w = geometric_context(wall, col)
        assert w[:, COL[f"normal_z_{k}"]].max() < 1e-4 and w[:, COL[f"planarity_{k}"]].mean() > 0.5
        ln = geometric_context(line, col)
        assert ln[:, COL[f"linearity_{k}"]].min() > 0.95
        assert ln[:, COL[f"planarity_{k}"]].max() < 0.05 and ln[:, COL[f"scattering_{k}"]].max() < 0.05
    # the line's extent: k points spaced |(4, 2, 1)| / (n - 1) apart span (k - 1) steps; std of
    # a uniform spread of length L is L / sqrt(12)
    step = math.sqrt(16 + 4 + 1) / (n - 1)
    mid = slice(100, n - 100)  # away from the ends (one-sided neighbourhoods)
    np.testing.assert_allclose(ln[mid, COL["extent_64"]], step * math.sqrt((64**2 - 1) / 12), rtol=1e-2)


def test_matches_a_brute_force_pca():
    g = np.random.default_rng(1)
    xyz, col = _room(g, 600)
    xyz += g.normal(0, 0.01, xyz.shape)  # no exact ties among neighbour distances
    got = geometric_context(xyz, col, neighbours=(8, 20))
    d = np.linalg.norm(xyz[:, None] - xyz[None], axis=2)
    for j, k in enumerate((8, 20)):
        nn = np.argsort(d, axis=1, kind="stable")[:, :k]
        for i in range(600):
            p = xyz[nn[i]]
            w, v = np.linalg.eigh(np.cov(p.T, bias=True))
            l3, l2, l1 = w
            want = [abs(v[2, 0]), (l1 - l2) / l1, (l2 - l3) / l1, l3 / l1, math.sqrt(l1), *col[nn[i]].mean(0)]
            # worst difference seen 3e-8 (float32 output; 2-core CPU, 2026-12)
            np.testing.assert_allclose(got[i, 8 * j : 8 * j + 8], want, rtol=0, atol=1e-6)


def test_height_above_the_floor():
    g = np.random.default_rng(2)
    xyz, col = _room(g)
    xyz[:, 2] += 1.3  # the room stands anywhere
    h = geometric_context(xyz, col)[:, COL["height"]]
    on_floor = np.isclose(xyz[:, 2], 1.3)
    np.testing.assert_allclose(h[on_floor], 0.0, atol=1e-6)
    np.testing.assert_allclose(h, xyz[:, 2] - 1.3, atol=1e-5)


def test_distance_to_the_walls_of_a_box_room_turned_about_z():
    # A 6 x 4 m room on a regular grid (its principal axes are exactly its walls), turned 30 deg.
    s = np.arange(0, 6.0001, 0.1)
    t = np.arange(0, 4.0001, 0.1)
    h = np.arange(0.1, 2.5001, 0.1)
    floor = np.stack(np.meshgrid(s, t, [0.0], indexing="ij"), -1).reshape(-1, 3)
    walls = [np.stack(np.meshgrid(s, [y], h, indexing="ij"), -1).reshape(-1, 3) for y in (0.0, 4.0)]
    walls += [np.stack(np.meshgrid([x], t, h, indexing="ij"), -1).reshape(-1, 3) for x in (0.0, 6.0)]
    room = np.concatenate([floor, *walls])
    outside = np.array([[-0.5, 2.0, 1.0]])  # beyond a wall (a floater): distance 0
    xyz = _turn(np.concatenate([room, outside]), 30.0, (2.0, -7.0, 0.5))
    f = geometric_context(xyz, np.full(xyz.shape, 0.5))
    want = np.minimum.reduce([room[:, 0], 6 - room[:, 0], room[:, 1], 4 - room[:, 1]])
    np.testing.assert_allclose(f[:-1, COL["wall_distance"]], want, atol=1e-5)
    assert f[-1, COL["wall_distance"]] == 0.0
    mid = np.argmin(np.abs(room - [3.0, 2.0, 0.0]).sum(1))
    assert abs(f[mid, COL["wall_distance"]] - 2.0) < 1e-5


def test_invariant_to_rotation_about_z_and_translation_metric_columns_scale():
    g = np.random.default_rng(3)
    xyz, col = _room(g)
    xyz += g.normal(0, 0.005, xyz.shape)
    base = geometric_context(xyz, col)
    for degrees, shift in ((37.0, (3.0, -2.0, 1.5)), (-120.0, (0.0, 0.0, 0.0)), (90.0, (-10.0, 4.0, 0.0))):
        # worst difference seen 1.2e-10 (2-core CPU, 2026-12)
        np.testing.assert_allclose(geometric_context(_turn(xyz, degrees, shift), col), base, rtol=0, atol=1e-6)
    scaled = geometric_context(xyz * 2.5, col)
    metric = metric_columns()
    # worst seen 4.8e-7 m on the metric columns (float32 rounding of lengths up to 5 m), 1.2e-10 on the others
    np.testing.assert_allclose(scaled[:, metric], 2.5 * base[:, metric], rtol=0, atol=5e-6)
    np.testing.assert_allclose(scaled[:, ~metric], base[:, ~metric], rtol=0, atol=1e-6)


def test_float32_inputs_and_bad_arguments():
    g = np.random.default_rng(4)
    xyz, col = _room(g, 300)
    out = geometric_context(xyz.astype(np.float32), col.astype(np.float32))
    assert out.dtype == np.float32 and out.shape == (300, len(CONTEXT_NAMES)) and np.isfinite(out).all()
    dup = np.repeat(xyz[:5], 20, axis=0)  # coincident centres: no shape, but no NaN either
    assert np.isfinite(geometric_context(dup, np.zeros_like(dup))).all()
    with pytest.raises(ValueError, match="at least 64 Gaussians"):
        geometric_context(xyz[:40], col[:40])
    with pytest.raises(ValueError, match=r"\[N, 3\]"):
        geometric_context(xyz, col[:, :2])
    with pytest.raises(ValueError, match="increasing sizes >= 3"):
        geometric_context(xyz, col, neighbours=(64, 16))
