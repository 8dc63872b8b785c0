"""SynthRooms v2 appearance: materials by class (rtgs2.synth.appearance), the procedural
textures (rtgs2.synth.textures) and the view through a window."""

from __future__ import annotations

import colorsys

import numpy as np
import pytest

from rtgs2.data.readers.synthrooms import CLASS_NAMES
from rtgs2.synth import textures as tx
from rtgs2.synth.appearance import object_materials, room_style
from rtgs2.synth.materials import CHECKER, PLAIN, V2_PATTERN_BASE, Material, MaterialArrays, albedo

LUMA = np.array([0.2126, 0.7152, 0.0722])


def _eval(m: Material, pts: np.ndarray) -> np.ndarray:
    return albedo(pts, MaterialArrays.stack([m]), np.zeros(len(pts), np.int64))


def _rooms(n: int, seed: int = 0):
    """(style, {class: materials}) of ``n`` rooms drawn from one generator."""
    rng = np.random.default_rng(seed)
    for _ in range(n):
        style = room_style(rng)
        yield style, {c: object_materials(c, rng, style) for c in CLASS_NAMES}


def _material_ok(m: Material) -> None:
    for col in (m.a, m.b, m.c):
        assert np.all(np.isfinite(col)) and min(col) >= 0.0 and max(col) <= 1.0, m
    assert m.pattern in tx.FAMILIES, m
    assert m.scale > 0 and m.axis in (0, 1, 2) and 0 <= m.specular <= 1 and 0 <= m.reflect <= 1 and m.emission >= 0, m


def test_every_class_gives_four_valid_materials():
    for _, mats in _rooms(30):
        for cls, ms in mats.items():
            assert len(ms) == 4, cls
            for m in ms:
                _material_ok(m)
        assert mats["window"][0].pattern == tx.WINDOW_VIEW and mats["window"][0].emission > 0
        assert mats["lamp"][0].emission > 0 and mats["lamp"][2].emission > 0
        assert mats["picture"][0].pattern == tx.CANVAS


def test_unknown_class_is_an_error():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="unknown class"):
        object_materials("spaceship", rng, room_style(rng))


def test_materials_and_textures_are_deterministic():
    one, two = list(_rooms(3, seed=7)), list(_rooms(3, seed=7))
    assert [(s, m) for s, m in one] == [(s, m) for s, m in two]
    pts = np.random.default_rng(1).uniform(-1, 1, (500, 3))
    for cls, ms in one[0][1].items():
        for m in ms:
            np.testing.assert_array_equal(_eval(m, pts), _eval(m, pts.copy()), err_msg=cls)
    assert list(_rooms(1, seed=8))[0][1] != one[0][1]


def _generic(code: int) -> Material:
    """A material of every v2 family with plausible shape parameters."""
    param = {tx.PLANKS: 0.15, tx.BRICK: 0.07, tx.TILES: 1.0, tx.WALLPAPER: 1.0, tx.BEDDING: 2.0}.get(code, 0.0)
    scale = {tx.WEAVE: 0.002, tx.WOOD: 0.005, tx.PLANKS: 1.2, tx.BRICK: 0.22, tx.TILES: 0.3}.get(code, 0.15)
    return Material((0.6, 0.5, 0.4), (0.2, 0.3, 0.1), code, scale, 0, 0.1, 20.0, 99, c=(0.9, 0.9, 0.85), param=param)


@pytest.mark.parametrize("name", tx.V2_PATTERNS)
def test_every_pattern_is_finite_in_range_and_varies(name):
    code = V2_PATTERN_BASE + tx.V2_PATTERNS.index(name)
    pts = np.random.default_rng(2).uniform(-2, 2, (4000, 3))
    for axis in (0, 2):
        out = _eval(Material(**{**_generic(code).__dict__, "axis": axis}), pts)
        assert out.shape == (4000, 3) and np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
        if name not in ("glass", "window_view"):  # every texture has some structure
            assert out.std(0).max() > 1e-3, name


def test_planks_differ_more_across_a_seam_than_within_a_board():
    m = _generic(tx.PLANKS)  # boards 15 cm wide along x (axis 2: the floor plane)
    m = Material(**{**m.__dict__, "axis": 2, "a": (0.4, 0.25, 0.12), "b": (0.15, 0.08, 0.04), "c": (0.02, 0.01, 0.0)})
    rng = np.random.default_rng(3)
    rows = rng.integers(-20, 20, 2000)
    x = rng.uniform(-5, 5, 2000)

    def at(v):
        return _eval(m, np.stack([x, v, np.zeros_like(x)], 1))

    edge = rows * 0.15
    across = np.abs(at(edge - 0.03) - at(edge + 0.03)).sum(1).mean()
    within = np.abs(at(edge + 0.04) - at(edge + 0.10)).sum(1).mean()
    assert across > 1.5 * within
    np.testing.assert_allclose(at(edge + 0.0003), np.tile(m.c, (2000, 1)), atol=1e-9)  # the seam is colour c


def test_tile_grout_is_colour_c_and_tiles_are_not():
    m = Material(**{**_generic(tx.TILES).__dict__, "axis": 2})
    rng = np.random.default_rng(4)
    k = rng.integers(-10, 10, 1000)
    grout = np.stack([k * 0.3 + 0.001, rng.uniform(-3, 3, 1000), np.zeros(1000)], 1)
    np.testing.assert_allclose(_eval(m, grout), np.tile(m.c, (1000, 1)), atol=1e-9)
    inside = np.stack([k * 0.3 + 0.15, np.floor(rng.uniform(-3, 3, 1000) / 0.3) * 0.3 + 0.15, np.zeros(1000)], 1)
    assert np.abs(_eval(m, inside) - m.c).sum(1).min() > 0.2


def test_brick_courses_repeat_at_brick_height():
    m = _generic(tx.BRICK)  # courses of 7 cm + 1 cm mortar on a vertical wall (axis 0)
    z = np.arange(0, 2.0, 0.002)
    out = _eval(m, np.stack([np.full_like(z, 0.05), np.zeros_like(z), z], 1))
    mortar = out @ LUMA > 0.72  # mortar c is far lighter than any brick face
    starts = z[1:][mortar[1:] & ~mortar[:-1]]
    np.testing.assert_allclose(np.diff(starts), 0.08, atol=0.005)


def _sat(c) -> float:
    return colorsys.rgb_to_hsv(*(np.asarray(c) ** (1 / 2.2)))[1]


def test_class_distributions_differ_yet_overlap():
    rooms = list(_rooms(200, seed=5))
    luma = {cls: np.mean([LUMA @ np.asarray(m[cls][0].a) for _, m in rooms]) for cls in ("ceiling", "floor", "wall")}
    assert luma["ceiling"] > luma["floor"] and luma["ceiling"] > 0.5
    assert np.mean([_sat(s.wall.a) for s, _ in rooms]) < 0.3  # walls: mostly whites, neutrals, pastels
    assert np.mean([m["plant"][0].a[1] > m["plant"][0].a[0] for _, m in rooms]) > 0.9  # plants are green
    assert np.mean([_sat(m["rug"][0].a) for _, m in rooms]) > np.mean([_sat(s.wall.a) for s, _ in rooms])
    walls = np.array([s.wall.a for s, _ in rooms])
    cabinets = np.array([m["cabinet"][0].a for _, m in rooms])
    gap = np.abs(cabinets[:, None] - walls[None]).sum(2).min()
    assert gap < 0.02  # some cabinet is painted like some wall (white on white)
    tables = {m["table"][0].pattern for _, m in rooms}
    assert {tx.WOOD, tx.STONE}.issubset(tables) and len(tables) >= 4
    floors = [s.floor.pattern for s, _ in rooms]
    assert floors.count(tx.PLANKS) > max(floors.count(p) for p in set(floors) - {tx.PLANKS})


def _sphere(n: int, rng) -> np.ndarray:
    d = rng.normal(size=(n, 3))
    return d / np.linalg.norm(d, axis=1, keepdims=True)


def test_window_view_is_bright_above_and_shows_parallax():
    rng = np.random.default_rng(6)
    n = 20000
    d = _sphere(n, rng)
    d[:, 1] = -np.abs(d[:, 1])  # looking out (outside is -y)
    p = np.stack([rng.uniform(-0.5, 0.5, n), np.zeros(n), rng.uniform(0, 1.2, n)], 1)
    seed = rng.integers(0, 1000, n)
    out = tx.window_view(d, p, seed)
    assert out.shape == (n, 3) and np.isfinite(out).all() and out.min() >= 0 and out.max() < 5
    lum = out @ LUMA
    assert lum[d[:, 2] > 0.3].mean() > 1.5 * lum[d[:, 2] < -0.3].mean()
    assert lum.std() > 0.1  # it varies with direction
    moved = tx.window_view(d, p + np.array([0.4, 0.0, 0.3]), seed)  # same directions, another spot
    low = np.abs(d[:, 2]) < 0.3
    changed = np.abs(moved - out).sum(1) > 1e-3
    assert changed[low].mean() > 0.1  # near the horizon the backdrop moves (parallax)
    sky = d[:, 2] > 0.9
    assert changed[sky].mean() < 0.2  # the sky, infinitely far, does not


def test_v1_materials_are_unchanged():
    rng = np.random.default_rng(7)
    pts = rng.uniform(-1, 1, (1000, 3))
    plain = Material((0.2, 0.4, 0.6), (0.9, 0.1, 0.1), PLAIN, 0.3, 0, 0.0, 10.0, 5)
    np.testing.assert_array_equal(_eval(plain, pts), np.tile(plain.a, (1000, 1)))
    checker = Material((0.2, 0.4, 0.6), (0.9, 0.1, 0.1), CHECKER, 0.3, 0, 0.0, 10.0, 5)
    t = np.mod(np.floor(pts / 0.3).sum(1), 2)[:, None]
    np.testing.assert_array_equal(_eval(checker, pts), np.asarray(checker.a) * (1 - t) + np.asarray(checker.b) * t)
    # a v1 primitive beside v2 ones evaluates as it does alone
    mats = MaterialArrays.stack([checker, _generic(tx.PLANKS), _generic(tx.FOLIAGE)])
    prim = rng.integers(0, 3, 1000)
    mixed = albedo(pts, mats, prim)
    np.testing.assert_array_equal(mixed[prim == 0], _eval(checker, pts[prim == 0]))


def test_fitted_rug_has_its_border_at_the_edges():
    from rtgs2.synth.appearance import fit_rug

    m = Material((0.6, 0.1, 0.1), (0.1, 0.1, 0.5), tx.RUG, 0.4, 2, 0.0, 5.0, 3, c=(0.9, 0.9, 0.8))
    w, d = 2.4, 1.6
    fitted = fit_rug(m, w, d)
    rim = np.stack([np.linspace(-1.0, 1.0, 200), np.full(200, d / 2 - 0.05), np.zeros(200)], 1)  # 5 cm inside the edge
    centre_field = np.stack([np.linspace(-0.05, 0.05, 200), np.full(200, 0.55), np.zeros(200)], 1)
    assert np.abs(_eval(fitted, rim) - np.asarray(m.a)).sum(1).min() > 0.3  # the border holds no field colour
    assert np.abs(_eval(m, centre_field) - _eval(fitted, centre_field)).max() > 0.1  # unfitted: border elsewhere
    assert fit_rug(_generic(tx.PLANKS), w, d) == _generic(tx.PLANKS)
