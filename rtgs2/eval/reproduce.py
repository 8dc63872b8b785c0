"""``rtgs2 reproduce``: the whole results table from nothing, in one resumable command.

Steps, in order: build the SynthRooms data set; pre-train the feature network; train the
fusion network in its three input variants (full, image only, Z only) on the same budget;
evaluate them on the test scenes, with the full model also fine-tuned on each and its labels
lifted onto the Gaussians (``rtgs2 eval --finetune-steps N --lift``). A preset that continues
another (``ReproducePreset.base``: v3 continues v2) first runs that one's whole chain into
``out/../<base>`` (step ``base``) and starts each training from its counterpart there (or takes
its features as they are and trains the fusion variants anew: v3x3). A preset with
``extra_seeds`` trains on its data set joined with further builds' train rooms; one with
``late_fusion`` joins the image-only and Z-only models as the late-fusion full row (step
``fusion-late``, ``rtgs2 train join``), the mid-fusion model scored beside it.
Every step is the library call of its own command, writing into ``out/<step>`` (the data set
into its usual cache folder), and each resumes where it stopped; ``out/reproduce.json`` records
the finished steps, so a rerun skips them and says which step it is in and about how long is
left. One process: the steps share the machine's cores (run the trainings under ``torchrun``
yourself for DDP; their cards say how).
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, replace
from pathlib import Path

from rtgs2.eval.config import EvalConfig
from rtgs2.eval.reproduce_config import PRESETS, ReproducePreset
from rtgs2.train.config import FINETUNE, FeatureTrainConfig, FusionTrainConfig, identity_config, identity_fields
from rtgs2.utils.cache import cache_root
from rtgs2.utils.errors import ConfigError, UserError
from rtgs2.utils.io import atomic_write_text
from rtgs2.utils.lock import OutputLock, check_output_folder

MARKER = "reproduce.json"
INPUT_VARIANTS = ("both", "image", "features")  # the fusion models' inputs: the rows full, image only, Z only
LATE = "fusion-late"  # the image-only and Z-only models joined (ReproducePreset.late_fusion)


def step_names(preset: ReproducePreset | None = None) -> list[str]:
    """The steps of ``preset`` in order (None: of a preset that continues no other)."""
    base = ["base"] if preset is not None and preset.base is not None else []
    late = [LATE] if preset is not None and preset.late_fusion else []
    return [*base, "data", "features", *(f"fusion-{v}" for v in INPUT_VARIANTS), *late, "eval"]


def base_out(out: Path, preset: ReproducePreset) -> Path:
    """Where the chain ``preset`` continues is (re)produced: beside ``out``, named after it (with
    the default ``out``, that preset's own default folder: a finished one is reused)."""
    return out.parent / preset.base


def default_out(preset: str) -> Path:
    """Where ``preset`` is reproduced by default: ``<cache>/reproduce/<preset>``."""
    return cache_root() / "reproduce" / preset


def reproduce(preset: str = "v3x3", out: str | Path | None = None, *, num_threads: int = 0, build_jobs: int = 1) -> Path:
    """Run (or continue) every step of ``preset`` (module doc); returns ``out/results.md``.
    ``build_jobs`` > 1 builds the data set as that many shards at once (processes of 2 threads
    each: a machine of many cores builds it in a fraction of the time, byte for byte the same).

    Raises:
        ValueError: unknown preset, or ``out`` is a file or a folder holding other things.
        CheckpointMismatchError: a step's folder holds a run of another config (from another preset).
    """
    if preset not in PRESETS:
        raise UserError(f"unknown reproduce preset {preset!r} (known: {', '.join(PRESETS)})")
    if not isinstance(num_threads, int) or num_threads < 0:
        raise ConfigError(None, "num_threads", f"must be 0 (leave as is) or a positive count, got {num_threads}")
    if not isinstance(build_jobs, int) or build_jobs < 1:
        raise ConfigError(None, "build_jobs", f"must be a positive count, got {build_jobs}")
    p = PRESETS[preset]
    if p.base is not None and p.base not in PRESETS:
        raise UserError(f"reproduce preset {preset!r} continues {p.base!r}, which is not a preset")
    if p.features is None and p.base is None:
        raise UserError(f"reproduce preset {preset!r} takes its features from a base chain but names none")
    _step_configs(p, num_threads)  # every step's config is checked before the first step runs
    out = Path(out) if out is not None else default_out(preset)
    if p.base is not None and base_out(out, p).resolve() == out.resolve():
        raise UserError(f"--out {out} is where preset {preset!r} keeps the chain it continues ({p.base!r}); give another --out")
    check_output_folder(out, MARKER, "an rtgs2 reproduce output", "; give another --out")
    out.mkdir(parents=True, exist_ok=True)
    with OutputLock(out, f"rtgs2 reproduce --preset {preset} --out {out}"):
        state = _read_state(out, preset)
        names = step_names(p)
        _forget_changed_steps(state, p, names, out)
        for k, name in enumerate(names, 1):
            if name in state["done"]:
                continue
            left = sum(_minutes(p, n, out) for n in names if n not in state["done"])
            print(f"reproduce {preset}: step {k}/{len(names)} {name} (about {_hours(left)} left in all)", flush=True)
            t0 = time.perf_counter()
            _run_step(name, p, out, num_threads, build_jobs)
            state["done"][name] = {"seconds": round(time.perf_counter() - t0, 1), "config": _step_identity(p, name)}
            atomic_write_text(out / MARKER, json.dumps(state, indent=1) + "\n")
        shutil.copyfile(out / "eval" / "results.md", out / "results.md")
    print(f"reproduce {preset}: done; table in {out / 'results.md'}")
    return out / "results.md"


def _minutes(p: ReproducePreset, name: str, out: Path) -> float:
    """Estimated minutes of step ``name`` on 2 cores (``base``: the steps of the chain it continues
    not yet done there)."""
    if name != "base":
        return p.minutes.get(name, 0)
    base, marker = PRESETS[p.base], base_out(out, p) / MARKER
    done = json.loads(marker.read_text()).get("done", {}) if marker.is_file() else {}
    return sum(_minutes(base, n, marker.parent) for n in step_names(base) if n not in done)


def _read_state(out: Path, preset: str) -> dict:
    if (out / MARKER).is_file():
        state = json.loads((out / MARKER).read_text())
        if state.get("preset") != preset:
            raise UserError(f"{out} reproduces preset {state.get('preset')!r}, not {preset!r}; give another --out")
        return state
    state = {"preset": preset, "config": _preset_json(PRESETS[preset]), "done": {}}
    atomic_write_text(out / MARKER, json.dumps(state, indent=1) + "\n")
    return state


def _preset_json(p: ReproducePreset) -> dict:
    """``p`` as ``reproduce.json`` holds it (JSON reads tuples back as lists)."""
    return json.loads(json.dumps(asdict(p)))


def _variant_dropout(variant: str, dropout: float) -> float:
    """The Z dropout of fusion variant ``variant`` in a preset of ``dropout``: the full model's
    alone (the image-only and Z-only models have no Z beside an image to drop)."""
    return dropout if variant == "both" else 0.0


def _step_identity(p: ReproducePreset, name: str) -> dict | None:
    """What step ``name`` of preset ``p`` depends on, as JSON reads it back (thread count left out;
    ``base``: the whole preset it continues, so a change there redoes this chain too)."""
    if name == "base":  # what each of its steps depends on (not its ETA minutes)
        base = PRESETS[p.base]
        return {"base": p.base, "steps": {n: _comparable(n, _step_identity(base, n)) for n in step_names(base)}}
    return _identity_in(_preset_json(p), name)


def _move_aside(out: Path, step: str) -> None:
    """Rename a training or evaluation step's folder to ``<step>.old-<n>`` before it is redone: its
    checkpoints (the evaluation's: its fine-tuning runs) are of the old recipe (a training refuses
    them), and nothing of a finished run is deleted."""
    folder = out / step
    if step in ("features", *(f"fusion-{v}" for v in INPUT_VARIANTS), LATE, "eval") and folder.is_dir():
        n = 1
        while (out / f"{step}.old-{n}").exists():
            n += 1
        folder.rename(out / f"{step}.old-{n}")
        print(f"reproduce: the old {step} run is kept in {out / f'{step}.old-{n}'}", flush=True)


def _forget_changed_steps(state: dict, p: ReproducePreset, names: list[str], out: Path) -> None:
    """Drop from ``state["done"]`` each step whose recorded config is not the preset's any more
    (the code changed it since) and the steps that read its output: every later step, except
    that a fusion variant's output is read by the evaluation (and the late join) alone; a training step's old folder
    is moved aside (:func:`_move_aside`). Steps recorded before per-step configs are compared
    with the preset the state was made for."""
    recorded_preset = state.get("config", {})
    for k, name in enumerate(names):
        if name not in state["done"]:
            continue
        done = state["done"][name]
        recorded = done["config"] if isinstance(done, dict) and "config" in done else _identity_in(recorded_preset, name)
        if _comparable(name, recorded) != _comparable(name, _step_identity(p, name)):
            readers = [n for n in (LATE, "eval") if n in names[k + 1 :]] if name.startswith("fusion-") else names[k + 1 :]
            redo = [n for n in (name, *readers) if n in state["done"]]
            print(f"reproduce: the preset's {name} config changed since it ran; redoing {', '.join(redo)}", flush=True)
            for n in redo:
                del state["done"][n]
                _move_aside(out, n)
    state["config"] = _preset_json(p)


def _comparable(name: str, identity: dict | None) -> dict | None:
    """A step identity without the trainings' later options at their defaults (recorded states
    hold them or not, as the code of their day did)."""
    if name == "features" and identity is not None and "features" in identity:
        return identity  # the base's features, copied
    kind = FeatureTrainConfig if name == "features" else FusionTrainConfig if name.startswith("fusion-") else None
    return identity_fields(identity, kind) if kind is not None and identity is not None else identity


def _identity_in(preset: dict, name: str) -> dict | None:
    """What step ``name`` depends on in a preset held as JSON (``_preset_json``; None: no preset)."""
    if not preset:
        return None
    if name == "data":  # (further builds' keys only where there are some, as older states lack them)
        extra = {k: preset[k] for k in ("extra_seeds", "extra_scenes")} if preset.get("extra_seeds") else {}
        return {"data": preset.get("data"), **extra}
    if name == "base":  # (states with a base step always record their per-step configs)
        return {"base": preset.get("base")}
    if name == LATE:  # a join: what it reads is the image-only and Z-only steps'
        return {"late_fusion": True}
    # a continued chain's trainings also depend on what they start from (keys absent otherwise,
    # as in the states of presets that continue none)
    base = {"base": preset["base"]} if preset.get("base") is not None else {}
    if name == "features":
        if "features" in preset and preset["features"] is None:
            return {"features": "the base's", **base}
        return {**preset.get("features", {}), "num_threads": 0, **base}
    if name.startswith("fusion-"):
        fusion = dict(preset.get("fusion", {}))
        if "feature_dropout" in fusion:  # (a record from before the option has none)
            fusion["feature_dropout"] = _variant_dropout(name.removeprefix("fusion-"), fusion["feature_dropout"])
        start = base if preset.get("fusion_from_base", True) else {}
        return {**fusion, "num_threads": 0, **start}
    # the fine-tuning recipe is the code's (FINETUNE), not the preset's: a new one redoes the table
    scoring = {k: preset.get(k) for k in ("finetune_steps", "fps_frames", "figure_views")}
    late = {"late_fusion": True} if preset.get("late_fusion") else {}  # (older states have no key)
    return {**scoring, **late, "finetune": identity_config(FINETUNE)}


def data_root(preset: ReproducePreset) -> Path:
    """The data set the trainings read: ``data``'s usual root, or with ``extra_seeds`` the join of
    it and its further builds (``<cache>/synthrooms/<data>_seeds_0_1_2``)."""
    from rtgs2.synth.config import default_root

    if not preset.extra_seeds:
        return default_root(preset.data)
    return default_root(f"{preset.data}_seeds_" + "_".join(map(str, (_seed(preset.data), *preset.extra_seeds))))


def extra_roots(preset: ReproducePreset) -> list[Path]:
    """Where the further builds of ``preset.data`` go: ``<cache>/synthrooms/<data>_seed<S>``."""
    from rtgs2.synth.config import default_root

    return [default_root(f"{preset.data}_seed{s}") for s in preset.extra_seeds]


def _seed(data: str) -> int:
    from rtgs2.synth.config import preset_config

    return preset_config(data).seed


def _step_configs(p: ReproducePreset, num_threads: int) -> dict:
    """The config of every training and evaluation step (built here, so a bad value is refused
    before hours of work)."""
    configs = {"features": replace(p.features, num_threads=num_threads) if p.features is not None else None}
    for v in INPUT_VARIANTS:
        dropout = _variant_dropout(v, p.fusion.feature_dropout)
        configs[f"fusion-{v}"] = replace(p.fusion, inputs=v, num_threads=num_threads, feature_dropout=dropout)
    configs["eval"] = EvalConfig(
        finetune_steps=p.finetune_steps, fps_frames=p.fps_frames, figure_views=p.figure_views, lift=True,
        num_threads=num_threads,
    )  # fmt: skip
    return configs


def _run_step(name: str, p: ReproducePreset, out: Path, num_threads: int, build_jobs: int = 1) -> None:
    data = data_root(p)
    features = out / "features" / "weights.pt"
    cfg = _step_configs(p, num_threads).get(name)
    base = base_out(out, p) if p.base is not None else None
    if name == "base":
        reproduce(p.base, base, num_threads=num_threads, build_jobs=build_jobs)
    elif name == "data":
        from rtgs2.synth.build import build_synthrooms
        from rtgs2.synth.config import default_root

        builds = [(default_root(p.data), {})]
        extra = {"num_scenes": p.extra_scenes, "test_fraction": 0.0}
        builds += [(root, {"seed": s, **extra}) for root, s in zip(extra_roots(p), p.extra_seeds)]
        for root, overrides in builds:
            if build_jobs > 1:
                _build_shards(root, p.data, build_jobs, overrides)
            build_synthrooms(root, p.data, **overrides)  # finishes (or checks) the whole set
        if p.extra_seeds:
            from rtgs2.synth.join import join_synthrooms

            join_synthrooms(data, [root for root, _ in builds])
    elif name == "features":
        if cfg is None:  # the base's features as they are: a copy, so every later step reads out/features
            (out / "features").mkdir(parents=True, exist_ok=True)
            for f in ("weights.pt", "weights.json"):
                if (base / "features" / f).is_file():
                    shutil.copyfile(base / "features" / f, out / "features" / f)
            return
        from rtgs2.train.features import train_features

        init = base / "features" / "weights.pt" if base is not None else None
        train_features(data, out / "features", cfg, init_weights=init)
    elif name == LATE:
        from rtgs2.fusion.late import join_late_files

        joined = out / LATE / "best.pt"
        for f in (joined, joined.with_suffix(".json")):  # a join killed before the step was recorded
            f.unlink(missing_ok=True)
        join_late_files(out / "fusion-image" / "best.pt", out / "fusion-features" / "best.pt", joined)
    elif name.startswith("fusion-"):
        from rtgs2.train.fusion import train_fusion

        feature_weights = None if cfg.inputs == "image" else features
        init = base / name / "best.pt" if base is not None and p.fusion_from_base else None
        train_fusion(data, out / name, cfg, feature_weights=feature_weights, init_weights=init)
    elif name == "eval":
        from rtgs2.eval.run import evaluate

        weights = [out / f"fusion-{v}" / "best.pt" for v in INPUT_VARIANTS]
        names = ()
        if p.late_fusion:  # the joined model is the full row, psi's beside it
            weights, names = [out / LATE / "best.pt", *weights[1:], weights[0]], ["full", "image only", "Z only", "full, mid fusion"]
        evaluate(data, out / "eval", weights, names=names, feature_weights=features, config=cfg)
    else:
        raise AssertionError(name)


def _build_shards(data: Path, preset: str, jobs: int, overrides: dict | None = None) -> None:
    """Build ``preset`` (its fields ``overrides`` changed: seed, num_scenes ...) as ``jobs`` shards
    in parallel processes (``rtgs2 synth --shard k/jobs``,
    each into a root of its own beside ``data``: a build locks its root), 2 numba threads each (a
    scene's fit uses 2 torch threads), then move the finished scenes into ``data``. A rerun
    resumes each shard. Raises when a shard fails, naming its log."""
    import os
    import subprocess
    import sys

    from rtgs2.data.readers.synthrooms import DONE, LABEL_MAP, MANIFEST

    env = {**os.environ, "NUMBA_NUM_THREADS": "2", "OMP_NUM_THREADS": "2"}
    procs = []
    for k in range(1, jobs + 1):
        root = data.parent / f"{data.name}.shard{k}of{jobs}"
        root.mkdir(parents=True, exist_ok=True)
        log = root.with_suffix(".log")
        args = [sys.executable, "-m", "rtgs2.cli", "synth", "--preset", preset, "--out", str(root), "--shard", f"{k}/{jobs}"]
        args += [a for key, value in (overrides or {}).items() for a in (f"--{key.replace('_', '-')}", str(value))]
        with open(log, "a") as fh:
            procs.append((k, root, log, subprocess.Popen(args, stdout=fh, stderr=subprocess.STDOUT, env=env)))
    failed = [(k, log) for k, _, log, proc in procs if proc.wait() != 0]
    if failed:
        raise RuntimeError(f"data shards failed: {', '.join(f'{k}/{jobs} (log {log})' for k, log in failed)}")
    data.mkdir(parents=True, exist_ok=True)
    for name in (MANIFEST, LABEL_MAP):  # the same in every shard: the preset's
        if not (data / name).is_file():
            shutil.copyfile(procs[0][1] / name, data / name)
    for _, root, _, _ in procs:
        for scene in sorted(p.parent for p in root.glob(f"*/{DONE}")):
            if not (data / scene.name / DONE).is_file():
                shutil.rmtree(data / scene.name, ignore_errors=True)  # a partial scene of an earlier run
                scene.rename(data / scene.name)
        shutil.rmtree(root)


def _hours(minutes: float) -> str:
    return f"{minutes:.0f} min" if minutes < 90 else f"{minutes / 60:.1f} h"
