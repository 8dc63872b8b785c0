"""The numba tile binning and row spans: every pixel a splat can reach is visited, and thin tilted
splats are not binned to the tiles of their bounding box that they miss."""

import math

import numpy as np
import torch

import rtgs2.render.numba_kernels as nk
from rtgs2.render import raster_inputs
from rtgs2.render.constants import ALPHA_MAX, ALPHA_MIN, TILE_SIZE
from rtgs2.render.numba_backend import RasterState, _arrays, raster_camera, rasterize_forward
from rtgs2.scene import Camera, GaussianScene
from tests.render.helpers import camera, random_scene


def forward_state(scene: GaussianScene, cam: Camera) -> RasterState:
    inputs = raster_inputs(scene, cam)
    arrays, feats = _arrays(inputs)
    return rasterize_forward(*arrays, feats, raster_camera(inputs)).state


def reachable_pixels(gpar: np.ndarray, r: int, width: int, height: int) -> np.ndarray:
    """[H, W] bool: pixels where splat r reaches alpha >= 1/255, in the float32 operations of the blend."""
    u, v, a, b, c, o = (np.float32(x) for x in gpar[r, :6])
    dx = (np.arange(width, dtype=np.float32) + np.float32(0.5) - u)[None, :]
    dy = (np.arange(height, dtype=np.float32) + np.float32(0.5) - v)[:, None]
    sigma = np.float32(0.5) * (a * (dx * dx) + c * (dy * dy)) + b * dx * dy
    alpha = np.minimum(np.float32(ALPHA_MAX), o * np.exp(-sigma))
    return (sigma >= 0) & (alpha >= np.float32(ALPHA_MIN))


def entry_tiles(state: RasterState, r: int) -> set[int]:
    entries = state.rank_entry[state.rank_off[r] : state.rank_off[r + 1]]
    return set((np.searchsorted(state.tile_off, entries, side="right") - 1).tolist())


def test_every_reachable_pixel_is_binned_and_spanned():
    # Spread past the image, large flat near-opaque splats too: many cross tile borders at any angle.
    cam = camera(70, 50)
    small = random_scene(200, 4, spread=1.8)
    big = random_scene(40, 5)
    big = GaussianScene(big.means, big.quats, big.log_scales + 1.5, big.opacity_logits + 3.0, big.sh)
    tiles_x = math.ceil(cam.width / TILE_SIZE)
    checked = 0
    for scene in (small, big):
        state = forward_state(scene, cam)
        for r in range(len(state.order)):
            ys, xs = np.nonzero(reachable_pixels(state.gpar, r, cam.width, cam.height))
            need = set(((ys // TILE_SIZE) * tiles_x + xs // TILE_SIZE).tolist())
            assert need <= entry_tiles(state, r), f"rank {r}: reachable tiles {need - entry_tiles(state, r)} not binned"
            y0, y1 = nk.row_range(state.gpar, r, 0, cam.height)
            for y, x in zip(ys.tolist(), xs.tolist()):
                x0, x1 = nk.row_span(state.gpar, r, y, 0, cam.width)
                assert y0 <= y < y1 and x0 <= x < x1, f"rank {r}: pixel ({x}, {y}) outside its rows or span"
            checked += len(ys)
    assert checked > 10_000  # the test looked at many pixels


def test_thin_tilted_splat_skips_the_tiles_it_misses():
    # A needle along the image diagonal: its bounding box covers all 10 x 10 tiles, the needle 28.
    scene = GaussianScene.from_activated(
        torch.tensor([[0.0, 0.0, 2.0]]), torch.tensor([[1.0, 0.003, 0.003]]),
        torch.tensor([[math.cos(math.pi / 8), 0.0, 0.0, math.sin(math.pi / 8)]]),  # 45 degrees about z
        torch.tensor([0.9]), torch.tensor([[0.5, 0.5, 0.5]]),
    )  # fmt: skip
    cam = Camera([[80.0, 0, 80], [0, 80.0, 80], [0, 0, 1]], torch.eye(4), 160, 160)
    state = forward_state(scene, cam)
    ys, xs = np.nonzero(reachable_pixels(state.gpar, 0, 160, 160))
    assert (xs.min(), ys.min(), xs.max(), ys.max()) == (0, 0, 159, 159) and abs(xs - ys).max() <= 3  # the needle
    assert len(entry_tiles(state, 0)) <= 30  # the box binning of before took all 100
