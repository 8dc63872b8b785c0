"""Building SynthRooms data sets: every scene's ground truth, 3DGS and contact sheet, with a
progress bar; a finished scene (``DONE`` marker) is never rebuilt, a partial one is redone.
The on-disk layout is described in :mod:`rtgs2.data.readers.synthrooms`."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from rtgs2.data.readers.synthrooms import (
    DEPTH_UNITS_PER_METRE,
    DONE,
    FORMAT,
    LABEL_MAP,
    MANIFEST,
    VERSION,
    read_manifest,
    synthrooms_label_map,
)
from rtgs2.data.views import every_nth_split
from rtgs2.recon.fit import MARKER as RECON_MARKER
from rtgs2.scene.camera import Camera
from rtgs2.scene.cameras_json import write_cameras_json
from rtgs2.scene.ply import write_ply
from rtgs2.synth.cameras import EYE_HEIGHT_RANGE_V2, TARGET_HEIGHT_RANGE_V2, camera_path
from rtgs2.synth.config import SynthConfig, default_root, preset_config
from rtgs2.synth.gaussians import disc_init, fitted_gaussians, surface_gaussians
from rtgs2.synth.layout import generate_room
from rtgs2.synth.layout_v2 import generate_room_v2
from rtgs2.synth.raycast import GroundTruth, render_ground_truth
from rtgs2.synth.room import Room
from rtgs2.synth.shading import ShadingContext, auto_exposure, render_ground_truth_v2
from rtgs2.utils.errors import UserError
from rtgs2.utils.io import atomic_write_text
from rtgs2.utils.lock import LOCK_NAME, OutputLock
from rtgs2.utils.progress import ProgressReport

SHEET_VIEWS = 4  # views on a contact sheet


def scene_seeds(cfg: SynthConfig) -> list[int]:
    """One seed per scene, derived from the data set seed and the scene index (all distinct)."""
    seeds = [int(np.random.SeedSequence([cfg.seed, i]).generate_state(1)[0]) for i in range(cfg.num_scenes)]
    assert len(set(seeds)) == len(seeds), "scene seed collision"
    return seeds


def scene_list(cfg: SynthConfig) -> list[dict]:
    """[{name, seed, split}] for every scene: the last ``num_test_scenes`` are test scenes."""
    n_train = cfg.num_scenes - cfg.num_test_scenes
    out = []
    for i, s in enumerate(scene_seeds(cfg)):
        split, k = ("train", i) if i < n_train else ("test", i - n_train)
        out.append({"name": f"{split}_{k:03d}", "seed": s, "split": split})
    return out


def _write_png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, optimize=False)


def contact_sheet(gts: list[GroundTruth], colorize) -> np.ndarray:
    """[rows*H, 2*W, 3] uint8: each chosen view's RGB beside its coloured labels."""
    rows = [np.concatenate([(g.rgb * 255).round().astype(np.uint8), colorize(g.label)], 1) for g in gts]
    return np.concatenate(rows, 0)


MAX_ROOM_TRIES = 10  # rooms too cramped for a camera path are redrawn (from derived seeds)


def make_scene(seed: int, cfg: SynthConfig) -> tuple[Room, list[Camera]]:
    """The room and cameras of scene ``seed``. Deterministic: if the room of ``seed`` leaves no
    collision-free camera path (rare: about 1 room in 100), the rooms of the derived seeds
    [seed, 1], [seed, 2], ... are tried in turn."""
    heights = {}
    if cfg.rooms == "v2":
        heights = {"eye_height": EYE_HEIGHT_RANGE_V2, "target_height": TARGET_HEIGHT_RANGE_V2}
    for k in range(MAX_ROOM_TRIES):
        s = seed if k == 0 else int(np.random.SeedSequence([seed, k]).generate_state(1)[0])
        room = generate_room_v2(s, cfg.layout) if cfg.rooms == "v2" else generate_room(s, cfg.layout)
        try:
            cams = camera_path(
                room, cfg.num_views, np.random.default_rng(s), width=cfg.width, height=cfg.height,
                fov_x_deg=cfg.fov_x_deg, **heights,
            )  # fmt: skip
        except RuntimeError:
            continue
        if cfg.rooms == "v2":  # the room's camera locks one exposure for the whole capture
            room.lights.exposure = auto_exposure(room, cams)
        return room, cams
    raise RuntimeError(f"scene seed {seed}: no room with a camera path in {MAX_ROOM_TRIES} tries")


def build_scene(
    scene_dir: Path, seed: int, cfg: SynthConfig, on_progress: Callable[[str], None] | None = None, index: int = 0
) -> dict:
    """Generate one scene into ``scene_dir`` (overwriting its files); returns timings, seconds.
    ``on_progress(what)`` hears how far the scene is ("ground truth 12/100", "fit 800/3000"): a
    fitted scene takes minutes, and a log should show it is alive. ``index``: the scene's place
    in the data set (``fit_init="mixed"`` alternates by it)."""
    report = on_progress or (lambda what: None)
    t0 = time.perf_counter()
    room, cams = make_scene(seed, cfg)
    names = [f"{i:05d}" for i in range(len(cams))]
    lm = synthrooms_label_map()
    gts = []
    ctx = ShadingContext(room) if cfg.rooms == "v2" else None
    for i, (name, cam) in enumerate(zip(names, cams)):
        report(f"ground truth {i}/{len(cams)}")
        g = render_ground_truth_v2(room, cam, ctx) if ctx is not None else render_ground_truth(room, cam)
        _write_png(scene_dir / "images" / f"{name}.png", (g.rgb * 255).round().astype(np.uint8))
        _write_png(scene_dir / "labels" / f"{name}.png", g.label)
        _write_png(scene_dir / "depth" / f"{name}.png", np.round(g.depth * DEPTH_UNITS_PER_METRE).astype(np.uint16))
        _write_png(scene_dir / "instances" / f"{name}.png", g.instance)
        gts.append(g)
    write_cameras_json(cams, scene_dir / "cameras.json", names)
    atomic_write_text(scene_dir / "room.json", json.dumps({"seed": seed, **room.to_json()}))
    pick = np.linspace(0, len(gts), min(SHEET_VIEWS, len(gts)), endpoint=False).astype(int)  # the path is a loop
    _write_png(scene_dir / "contact_sheet.png", contact_sheet([gts[i] for i in pick], lm.colorize))
    t1 = time.perf_counter()
    if cfg.gaussians == "surface":
        scene, _ = surface_gaussians(room, cfg.surface_spacing)
    else:
        train = [i for i, s in enumerate(every_nth_split(len(cams))) if s == "train"]
        scene = fitted_gaussians(
            [cams[i] for i in train],
            [torch.from_numpy(gts[i].rgb) for i in train],
            [torch.from_numpy(gts[i].depth) for i in train],
            cfg.fit_iterations,
            cfg.fit_init_points,
            seed % 2**31,
            max_gaussians=cfg.fit_max_gaussians,
            out_dir=scene_dir / "fit",
            on_step=lambda step, loss: report(f"fit {step}/{cfg.fit_iterations}"),
            init_scene=disc_init(room, cfg.surface_spacing, cfg.fit_max_gaussians) if discs_first(cfg, index) else None,
        )
    write_ply(scene, scene_dir / "point_cloud.ply")
    shutil.rmtree(scene_dir / "fit", ignore_errors=True)  # checkpoints are only needed to resume
    return {"ground_truth_s": t1 - t0, "gaussians_s": time.perf_counter() - t1, "num_gaussians": scene.num_gaussians}


def discs_first(cfg: SynthConfig, index: int) -> bool:
    """Whether scene ``index``'s fit starts from surface discs (``SynthConfig.fit_init``)."""
    return cfg.fit_init == "surface" or (cfg.fit_init == "mixed" and index % 2 == 1)


def _check_root(root: Path, cfg: SynthConfig) -> None:
    """Refuse a folder that holds something other than this SynthRooms data set."""
    if not root.exists():
        return
    if not root.is_dir():
        raise UserError(f"output {root} exists and is not a folder")
    found = sorted(p.name for p in root.iterdir() if p.name != LOCK_NAME)[:5]
    if not found:
        return
    if not (root / MANIFEST).is_file():
        raise UserError(f"output folder {root} is not empty and is not a SynthRooms data set (holds {found}); nothing written")
    m = read_manifest(root)
    old = m.get("config", {})
    new = cfg.to_json()
    diff = sorted(k for k in set(old) | set(new) if json.dumps(old.get(k)) != json.dumps(new.get(k)))
    if diff:
        raise UserError(
            f"{root} holds a SynthRooms data set built with other parameters "
            f"({', '.join(f'{k}: {old.get(k)!r} -> {new.get(k)!r}' for k in diff)}); "
            "choose another --out or delete it"
        )


def parse_shard(text: str) -> tuple[int, int]:
    """'K/N' -> (K, N) with 1 <= K <= N; a UserError naming ``--shard`` otherwise."""
    k, sep, n = text.partition("/")
    try:
        shard = (int(k), int(n))
    except ValueError:
        shard = (0, 0)
    if not sep or not 1 <= shard[0] <= shard[1]:
        raise UserError(f"--shard must be K/N with 1 <= K <= N (e.g. 2/8), got {text!r}")
    return shard


def build_synthrooms(
    out: str | Path | None = None,
    preset: str = "mini",
    *,
    progress: bool = True,
    shard: tuple[int, int] | None = None,
    **overrides,
) -> Path:
    """Build (or finish) a SynthRooms data set and return its root.

    Args:
        out: data set root; default ``<cache>/synthrooms/<preset>`` (cache: $RTGS2_CACHE or ~/.cache/rtgs2).
        preset: 'mini' (tests: 3 scenes x 16 views, 160x120, surface Gaussians) or 'v1'
            (benchmark: 40 train + 10 test scenes x 100 views, 320x240, fitted Gaussians).
        progress: show progress (a bar on a terminal, a dated line every 30 s in a log).
        shard: (K, N): build only the scenes i with i % N == K - 1 (1 <= K <= N). Shards built
            into roots of the same preset and parameters on many machines are merged by copying
            their scene folders into one root; the manifest is the same in all of them.
        overrides: :class:`SynthConfig` fields replacing the preset's (e.g. ``num_scenes=8``).

    Raises:
        ValueError: unknown preset or parameter, non-positive sizes or counts, or an output
            folder holding something else (another data set, other files); nothing is written then.
    """
    cfg = preset_config(preset, **overrides)
    if shard is not None and not (len(shard) == 2 and 1 <= shard[0] <= shard[1]):
        raise ValueError(f"shard must be (K, N) with 1 <= K <= N, got {shard!r}")
    root = Path(out) if out is not None else default_root(preset)
    _check_root(root, cfg)
    scenes = scene_list(cfg)
    mine = scenes if shard is None else [s for i, s in enumerate(scenes) if i % shard[1] == shard[0] - 1]
    root.mkdir(parents=True, exist_ok=True)
    manifest = {"format": FORMAT, "version": VERSION, "preset": preset, "config": cfg.to_json(), "scenes": scenes}
    atomic_write_text(root / MANIFEST, json.dumps(manifest, indent=1))
    synthrooms_label_map().to_json(root / LABEL_MAP)
    # Scenes finished by an earlier run count as done from the start, so the rate and ETA are
    # those of this run's builds.
    done = sum((root / s["name"] / DONE).is_file() for s in mine)
    with OutputLock(root, f"rtgs2 synth --preset {preset}"), ProgressReport(
        "SynthRooms scenes", len(mine), start=done, fields="{scene}", enabled=progress
    ) as bar:
        # Test scenes first: a partial build already holds the whole test split, so a model
        # trained on the train scenes finished so far can be scored as on the full data set.
        for s in sorted(mine, key=lambda s: s["split"] != "test"):
            d = root / s["name"]
            if (d / DONE).is_file():
                continue
            bar.update(done, scene=f"building {s['name']}")
            for sub in ("images", "labels", "depth", "instances"):  # a partial scene is redone
                shutil.rmtree(d / sub, ignore_errors=True)
            if (d / "fit").is_dir() and not (d / "fit" / RECON_MARKER).is_file():
                shutil.rmtree(d / "fit")  # an older rtgs2's fit checkpoints: they record no identity
            d.mkdir(exist_ok=True)
            report = lambda what, name=s["name"]: bar.update(done, scene=f"{name}: {what}")  # noqa: E731
            stats = build_scene(d, s["seed"], cfg, report, index=scenes.index(s))
            atomic_write_text(d / DONE, json.dumps({"seed": s["seed"], **stats}, indent=1))
            done += 1
            bar.update(done, scene=f"{s['name']} done")
    return root
