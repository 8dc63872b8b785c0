"""``rtgs2 synth`` (build a SynthRooms data set), ``rtgs2 synth-join`` (join several into one) and
``rtgs2 synth-report`` (describe one).

``Synth`` nests :class:`SynthConfig`, so each of its fields is a flag (``--num-scenes``,
``--width``, ``--layout.room-x`` ...). ``--preset`` chooses the defaults of those flags: the
entry point reads it from the arguments before parsing them (:meth:`Synth.defaults`), so
``--preset v1 --num-scenes 5`` is v1 with 5 scenes and ``--preset v1 --help`` shows v1's values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Annotated, Literal, Optional

import tyro

from rtgs2.synth.config import PRESETS, SynthConfig

PresetName = Literal[tuple(PRESETS)]  # type: ignore[valid-type] # the names, as choices of --preset


@dataclass
class Synth:
    """Build (or finish) a SynthRooms data set: procedural labelled rooms, ground truth and a 3DGS
    per scene. The preset sets the defaults of the other flags (see `rtgs2 synth --preset v1 --help`)."""

    out: Optional[Path] = None
    """Data set root (default: $RTGS2_CACHE or ~/.cache/rtgs2, then synthrooms/<preset>)."""
    preset: PresetName = "mini"
    """Preset: mini (tests, seconds), v1 (the first benchmark, fitted Gaussians) or v2 (rooms
    that look like real rooms, fitted Gaussians; ~90 min on 2 cores)."""
    shard: Optional[str] = None
    """K/N: build only shard K of N (scenes i with i % N == K - 1), e.g. 3/16 on the third of
    16 machines; copying the shards' scene folders into one root gives the whole data set."""
    config: Annotated[SynthConfig, tyro.conf.arg(name="")] = PRESETS["mini"]

    @classmethod
    def defaults(cls, args: Sequence[str]) -> Synth:
        """The defaults of ``rtgs2 synth ARGS``: the values of the preset that ARGS name with
        ``--preset P`` or ``--preset=P`` (the last one, as the parser takes), else of mini. An
        unknown name is left for the parser to reject with the list of choices."""
        preset = "mini"
        for flag, value in zip(args, [*args[1:], None]):
            if flag == "--preset" and value is not None:
                preset = value
            elif flag.startswith("--preset="):
                preset = flag.partition("=")[2]
        return cls(preset=preset, config=PRESETS[preset]) if preset in PRESETS else cls()

    def main(self) -> None:
        from rtgs2.synth.build import build_synthrooms

        from rtgs2.synth.build import parse_shard

        shard = parse_shard(self.shard) if self.shard is not None else None  # before any work
        config = {f.name: getattr(self.config, f.name) for f in fields(self.config)}
        root = build_synthrooms(self.out, self.preset, shard=shard, **config)
        what = f"shard {shard[0]}/{shard[1]} of the " if shard else ""
        print(f"SynthRooms {what}data set ready: {root}")


@dataclass
class SynthJoin:
    """Join finished SynthRooms data sets into one, of links: the first set's train and test scenes
    under their names, the train scenes of each further set under a prefix (x_, y_, ...; their test
    scenes are left out), one manifest recording the parts. E.g. v3 with two more seeds' rooms:
    `rtgs2 synth --preset v3 --seed 1 --num-scenes 32 --test-fraction 0 --out S1` (likewise S2), then
    `rtgs2 synth-join --out V3X96 ~/.cache/rtgs2/synthrooms/v3 S1 S2`."""

    data: tyro.conf.Positional[list[Path]]
    """The data set roots, the base first."""
    out: Path
    """The joined root: a new folder (or an earlier join of the same sets, redone)."""
    prefixes: Optional[list[str]] = None
    """Scene-name prefixes of the sets after the first, one each (default: x_ y_ z_ a_ ...)."""

    def main(self) -> None:
        from rtgs2.data.readers.synthrooms import scene_split
        from rtgs2.synth.join import join_synthrooms

        root = join_synthrooms(self.out, self.data, self.prefixes)
        split = scene_split(root)
        print(f"SynthRooms join ready: {root} ({len(split['train'])} train, {len(split['test'])} test scenes)")


@dataclass
class SynthReport:
    """Print a SynthRooms data set's per-class pixel share, the scores of two colour-only pixel
    classifiers (k-NN and an RGB histogram; train scenes -> test scenes) beside the majority-class
    rate, the build time and size, and the held-out PSNR / SSIM of the scenes' 3DGS."""

    data: Path
    """Data set root."""
    k: int = 15
    """Neighbours of the k-NN classifier."""
    pixels_per_view: int = 500
    """Random labelled pixels sampled per view."""
    seed: int = 0
    """Seed of the pixel sampling."""
    fit_quality: bool = True
    """Render each scene's 3DGS at its held-out views and print PSNR / SSIM (about 1 s a scene)."""

    def main(self) -> None:
        from rtgs2.eval.synth_report import print_report

        print_report(self.data, self.k, self.pixels_per_view, self.seed, self.fit_quality)
