"""Joining SynthRooms data sets into one (``rtgs2 synth-join``): more train rooms for a model
without rebuilding any.

The joined root holds one link per scene folder, the label map and one manifest. The first
set is the base: its train and test scenes keep their names, so a model trained on the join is
scored on the base's test rooms. Each further set adds its train scenes under a prefix
(``x_train_000``; its test scenes are left out, so every test room is unseen by every part's
training). The manifest is the base's with the scene list replaced and ``joined`` recording the
parts (root, preset, seed, prefix, scenes taken). The shipped image-only fallback was trained on
``v3`` joined with ``v3 --seed 1`` and ``--seed 2`` (README, Training).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from rtgs2.data.readers.synthrooms import DONE, LABEL_MAP, MANIFEST, read_manifest
from rtgs2.utils.errors import UserError
from rtgs2.utils.io import atomic_write_text
from rtgs2.utils.lock import OutputLock, check_output_folder

PREFIX_LETTERS = "xyzabcdefghijklmnopqrstuvw"  # the default prefix of the k-th further set: x_, y_, z_, a_ ...


def default_prefixes(num_parts: int) -> list[str]:
    """The scene-name prefixes of the sets after the base: ``x_``, ``y_``, ``z_``, ``a_`` ..."""
    if num_parts - 1 > len(PREFIX_LETTERS):
        raise UserError(f"{num_parts} data sets to join: give --prefixes for the {num_parts - 1} after the first")
    return [f"{c}_" for c in PREFIX_LETTERS[: num_parts - 1]]


def join_synthrooms(out: str | Path, parts: Sequence[str | Path], prefixes: Sequence[str] | None = None) -> Path:
    """Join the finished SynthRooms data sets ``parts`` (the first one the base) into ``out``
    (module doc); returns ``out``. ``prefixes``: one per part after the first (default
    :func:`default_prefixes`). Running it again on the same parts redoes the links and the
    manifest (a part that gained scenes adds them); nothing else in ``out`` is touched.

    Raises:
        UserError: fewer than two parts, a part that is not a SynthRooms root or has unfinished
            scenes, label maps that differ, a bad or repeated prefix, names that collide, or
            ``out`` holding something other than a join of these parts.
    """
    parts = [Path(p).resolve() for p in parts]
    if len(parts) < 2:
        raise UserError(f"give at least two data sets to join, got {len(parts)}")
    if len(set(parts)) < len(parts):
        raise UserError("a data set is given twice: " + ", ".join(sorted({str(p) for p in parts if parts.count(p) > 1})))
    prefixes = list(prefixes) if prefixes is not None else default_prefixes(len(parts))
    if len(prefixes) != len(parts) - 1:
        raise UserError(f"{len(prefixes)} prefixes for {len(parts) - 1} data sets after the first; give one each")
    for p in prefixes:
        if not p or "/" in p or p.startswith(".") or prefixes.count(p) > 1:
            raise UserError(f"prefix {p!r}: give distinct, non-empty prefixes without '/' or a leading '.'")
    out = Path(out)
    if out.resolve() in parts:
        raise UserError(f"--out {out} is one of the data sets to join; give a new folder")
    manifests = [read_manifest(p) for p in parts]
    base_labels = (parts[0] / LABEL_MAP).read_bytes()
    for part, m in zip(parts, manifests):
        unfinished = [s["name"] for s in m["scenes"] if not (part / s["name"] / DONE).is_file()]
        if unfinished:
            raise UserError(
                f"{part}: {len(unfinished)} scenes are not finished ({', '.join(unfinished[:3])} ...); "
                f"rtgs2 synth --out {part} finishes the build"
            )
        if (part / LABEL_MAP).read_bytes() != base_labels:
            raise UserError(f"{part}: its {LABEL_MAP} differs from {parts[0]}'s; only sets of one label map join")
    scenes = []  # (name in the join, folder, manifest entry): the base's train, the others' train, the base's test
    base = manifests[0]["scenes"]
    scenes += [(s["name"], parts[0] / s["name"], s) for s in base if s["split"] == "train"]
    for part, m, prefix in zip(parts[1:], manifests[1:], prefixes):
        scenes += [(prefix + s["name"], part / s["name"], s) for s in m["scenes"] if s["split"] == "train"]
    scenes += [(s["name"], parts[0] / s["name"], s) for s in base if s["split"] == "test"]
    names = [n for n, _, _ in scenes]
    if len(set(names)) < len(names):
        raise UserError(f"scene names collide in the join ({sorted({n for n in names if names.count(n) > 1})[:3]}); give other --prefixes")
    record = [
        {"root": str(part), "preset": m.get("preset"), "seed": m.get("config", {}).get("seed"), "prefix": prefix,
         "train": sum(s["split"] == "train" for s in m["scenes"]), "test": sum(s["split"] == "test" for s in m["scenes"]) if k == 0 else 0}
        for k, (part, m, prefix) in enumerate(zip(parts, manifests, ["", *prefixes]))
    ]  # fmt: skip
    _check_out(out, record)
    with OutputLock(out, f"rtgs2 synth-join --out {out}"):
        for name, folder, _ in scenes:
            link = out / name
            if link.is_symlink():
                link.unlink()
            elif link.exists():
                raise UserError(f"{link} exists and is not a link of an earlier join; nothing was changed there")
            link.symlink_to(folder, target_is_directory=True)
        (out / LABEL_MAP).write_bytes(base_labels)
        manifest = {**manifests[0], "scenes": [{**s, "name": n} for n, _, s in scenes], "joined": record}
        atomic_write_text(out / MANIFEST, json.dumps(manifest, indent=1))  # last: the join is whole
    return out


def _check_out(out: Path, record: list[dict]) -> None:
    """Refuse an ``out`` that holds anything but an earlier join of the same parts."""
    check_output_folder(out, MANIFEST, "a joined SynthRooms data set", "; give a new folder")
    if (out / MANIFEST).is_file():
        earlier = read_manifest(out).get("joined")
        if earlier is None:
            raise UserError(f"{out} is a SynthRooms data set, not a join; give a new folder")
        if [(r["root"], r["prefix"]) for r in earlier] != [(r["root"], r["prefix"]) for r in record]:
            raise UserError(f"{out} joins other data sets ({', '.join(r['root'] for r in earlier)}); give a new folder")
