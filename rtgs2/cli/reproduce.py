"""``rtgs2 reproduce``: data, trainings and the results table in one resumable command
(:func:`rtgs2.eval.reproduce.reproduce`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Optional


@dataclass
class Reproduce:
    """Build SynthRooms, pre-train the features, train the full, image-only and Z-only fusion models, fine-tune
    and evaluate: the paper-style table (OUT/results.md). A rerun continues where it stopped; each step says how
    long is left."""

    preset: Literal["v3x3", "v3", "v2", "v1", "mini"] = "v3x3"
    """v3x3 (the shipped default model): v3's chain, then the three fusion variants anew on 94 v3-style train rooms (two more builds of v3,
    seeds 1 and 2, joined to it) with v3's features, the image-only and Z-only ones joined as the late-fusion full model (about 5 h after v3's);
    v3: v2's chain, then each model continued on SynthRooms v3 (v2's rooms,
    half of them fitted as users' captures are; about 4 h after v2's); v2: the chain on SynthRooms v2
    (rooms that look like real ones; about 6 h on 2 CPU cores); v1: the first table, on v1 (about 14 h);
    mini: every step in minutes (numbers meaningless)."""
    out: Optional[Path] = None
    """Output folder (default: $RTGS2_CACHE or ~/.cache/rtgs2, then reproduce/<preset>). A preset that continues
    another (v3x3: v3, v3: v2) keeps that chain beside it, in OUT/../<that preset>, and reuses it when finished there."""
    num_threads: int = 0
    """torch CPU threads of the trainings and the evaluation (0 = leave as is)."""
    build_jobs: int = 1
    """Build the data set as this many shards at once, 2 threads each (e.g. 8 on 16 cores)."""

    def main(self) -> None:
        from rtgs2.eval.reproduce import reproduce

        reproduce(self.preset, self.out, num_threads=self.num_threads, build_jobs=self.build_jobs)
