"""``SynthConfig`` (what a SynthRooms build makes), its presets, and where a preset is built by default.

Plain dataclasses and the standard library only: the CLI imports this module to build its
flags, and ``rtgs2 --help`` must not load torch or numba."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Literal

from rtgs2.utils.cache import cache_root
from rtgs2.utils.errors import ConfigError, UserError, check

GaussianMode = Literal["surface", "fitted"]
FitInit = Literal["depth", "surface", "mixed"]
RoomGenerator = Literal["v1", "v2"]


@dataclass(frozen=True)
class LayoutConfig:
    """Ranges of the room generator."""

    room_x: tuple[float, float] = (3.5, 7.0)
    """Room length along x, metres (min, max)."""
    room_y: tuple[float, float] = (3.0, 6.0)
    """Room length along y, metres (min, max)."""
    room_z: tuple[float, float] = (2.5, 3.1)
    """Ceiling height, metres (min, max)."""
    material_pool_seed: int = 1234
    """Seed of the material pool shared by every scene and every class (v1 rooms only)."""
    material_pool_size: int = 64
    """Number of materials in the pool (v1 rooms only)."""

    def __post_init__(self) -> None:
        for name in ("room_x", "room_y", "room_z"):
            lo, hi = getattr(self, name)
            if not 0 < lo <= hi:
                raise ConfigError(self, name, f"must be two lengths in metres with 0 < min <= max, got {lo} {hi}")
        if self.material_pool_size <= 0:
            raise ConfigError(self, "material_pool_size", f"must be positive, got {self.material_pool_size}")


@dataclass(frozen=True)
class SynthConfig:
    """Parameters of a SynthRooms data set (a scene is fully determined by them and its seed)."""

    num_scenes: int = 3
    """Scenes in all (train + test)."""
    test_fraction: float = 0.2
    """Share of the scenes held out as test scenes (at least one when there are 2+ scenes)."""
    seed: int = 0
    """Seed of the data set; scene seeds are derived from it and the scene index."""
    num_views: int = 16
    """Views per scene (every 8th is a held-out test view)."""
    width: int = 160
    """Image width, pixels."""
    height: int = 120
    """Image height, pixels."""
    fov_x_deg: float = 90.0
    """Horizontal field of view, degrees."""
    gaussians: GaussianMode = "surface"
    """3DGS per scene: 'surface' (discs sampled on the surfaces) or 'fitted' (rtgs2.recon)."""
    surface_spacing: float = 0.05
    """Distance between surface Gaussians, metres ('surface' mode)."""
    fit_iterations: int = 3000
    """Optimisation steps per scene ('fitted' mode)."""
    fit_init_points: int = 100_000
    """Back-projected depth points that initialise the fit ('fitted' mode)."""
    fit_max_gaussians: int = 0
    """Cap on the fitted scene's Gaussians, 0 = none ('fitted' mode; bounds the fit's time)."""
    fit_init: FitInit = "depth"
    """What a fit starts from ('fitted' mode): 'depth' (isotropic Gaussians at back-projected depth
    pixels, as from SfM points: after a short fit they stay round and half transparent), 'surface'
    (flat, nearly opaque discs on the surfaces, as a long fit ends up: :func:`synth.gaussians.disc_init`)
    or 'mixed' (depth for even scene indices, surface for odd ones: both kinds in one data set)."""
    layout: LayoutConfig = field(default_factory=LayoutConfig)
    """Ranges of the room generator."""
    rooms: RoomGenerator = "v1"
    """Room generator: 'v1' (primitive furniture, one material pool for all classes, point
    lights) or 'v2' (furniture of parts, materials by class, windows, sun, occlusion, a
    camera response per room)."""

    def __post_init__(self) -> None:
        for name in ("num_scenes", "num_views", "width", "height", "fit_iterations", "fit_init_points"):
            v = getattr(self, name)
            check(self, isinstance(v, int) and not isinstance(v, bool) and v > 0, name, "a positive integer")
        seed = self.seed
        check(self, isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0, "seed", "a non-negative integer")
        check(self, 0 <= self.test_fraction < 1, "test_fraction", "in [0, 1)")
        check(self, 0 < self.fov_x_deg < 180, "fov_x_deg", "in (0, 180)")
        check(self, self.gaussians in ("surface", "fitted"), "gaussians", "'surface' or 'fitted'")
        check(self, isinstance(self.fit_max_gaussians, int) and self.fit_max_gaussians >= 0, "fit_max_gaussians",
              "a non-negative integer")  # fmt: skip
        check(self, self.rooms in ("v1", "v2"), "rooms", "'v1' or 'v2'")
        check(self, self.fit_init in ("depth", "surface", "mixed"), "fit_init", "'depth', 'surface' or 'mixed'")
        check(self, self.surface_spacing > 0, "surface_spacing", "positive")

    @property
    def num_test_scenes(self) -> int:
        if self.num_scenes < 2:
            return 0
        return min(self.num_scenes - 1, max(1, round(self.num_scenes * self.test_fraction)))

    def to_json(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "layout"}
        d["layout"] = {f.name: getattr(self.layout, f.name) for f in fields(self.layout)}
        if d["rooms"] == "v1":  # written as before 'rooms' existed: v1 manifests stay byte-identical and resume
            del d["rooms"]
        if d["fit_init"] == "depth":  # likewise for v1 and v2 before 'fit_init'
            del d["fit_init"]
        return d

    @staticmethod
    def from_json(d: dict) -> SynthConfig:
        lay = d.get("layout", {})
        lay = {k: tuple(v) if isinstance(v, list) else v for k, v in lay.items()}
        return SynthConfig(**{**{k: v for k, v in d.items() if k != "layout"}, "layout": LayoutConfig(**lay)})


MINI = SynthConfig()
PRESETS: dict[str, SynthConfig] = {
    "mini": MINI,  # tests / CI: 2 train + 1 test scenes, 16 views, 160x120, surface Gaussians
    # benchmark: 40 train + 10 test scenes. Fit length and cap bound the build time (<= 2 h on 2
    # cores); build time, size and held-out PSNR measured in benchmarks/RESULTS.md
    "v1": replace(
        MINI, num_scenes=50, num_views=100, width=320, height=240, gaussians="fitted", surface_spacing=0.025,
        fit_iterations=300, fit_max_gaussians=150_000,
    ),  # fmt: skip
    # rooms that look and are built like real ones: 32 train + 8 test scenes of
    # 64 views, rooms from 2.5 x 3 m to 10 x 7 m. Sized for ~90 min on 2 cores: a scene took
    # ~50 s of ground truth and 165 s for a 300-step fit capped at 150k (2026-12-05), so the fit
    # is 200 steps capped at 100k (benchmarks/RESULTS.md has the measured build)
    "v2": replace(
        MINI, num_scenes=40, num_views=64, width=320, height=240, gaussians="fitted",
        surface_spacing=0.025, fit_iterations=200, fit_max_gaussians=100_000, rooms="v2",
        layout=LayoutConfig(room_x=(2.5, 10.0), room_y=(3.0, 7.0), room_z=(2.4, 3.2)),
    ),  # fmt: skip
}
# v2's rooms and views (the same seeds: the same scenes), half of them fitted from flat surface
# discs: fits of real captures are flat and mostly opaque, v2's 200-step fits round and half
# transparent, and models trained on v2 alone fail on the former (benchmarks/RESULTS.md 2026-12-05).
PRESETS["v3"] = replace(PRESETS["v2"], fit_init="mixed")


def preset_config(preset: str, **overrides) -> SynthConfig:
    """The config of ``preset`` with ``overrides`` (field names of :class:`SynthConfig`) applied."""
    if preset not in PRESETS:
        raise UserError(f"unknown SynthRooms preset {preset!r}; choose one of {sorted(PRESETS)}")
    names = {f.name for f in fields(SynthConfig)}
    bad = sorted(set(overrides) - names)
    if bad:
        raise UserError(f"unknown SynthRooms parameter(s) {bad}; valid: {sorted(names)}")
    return replace(PRESETS[preset], **overrides)


def default_root(preset: str) -> Path:
    """Where ``preset`` is built by default: <cache>/synthrooms/<preset>."""
    return cache_root() / "synthrooms" / preset
