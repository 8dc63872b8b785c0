"""Feature-network speed: extraction over a whole scene and one training step.

    .venv/bin/python benchmarks/features.py                    # full grid, appends to RESULTS.md
    .venv/bin/python benchmarks/features.py --sizes 50000 --no-append
    python benchmarks/features.py --device cuda                # the network on a GPU

Each configuration runs in a fresh process (so its peak resident memory is its own): the
procedural room of ``benchmarks/scenes.py`` with N Gaussians, ``extract_features`` with random
weights of the given size (speed does not depend on the weights), one warm-up and ``repeats``
timed runs (median wall time), and the process's peak RSS (on a GPU, also the peak memory torch
allocated there; each timed run ends with the results on the host or a synchronize). The training step is one
contrastive step (forward + backward + Adam) on two samples of ``train_points`` Gaussians.
Pause background jobs before timing (or read the load average printed with the row).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import tyro

RESULTS = Path(__file__).with_name("RESULTS.md")


@dataclass
class Config:
    sizes: list[int] = field(default_factory=lambda: [50_000, 200_000, 1_000_000])
    """Numbers of Gaussians."""
    models: list[str] = field(default_factory=lambda: ["small", "paper"])
    """Network sizes."""
    repeats: int = 3
    """Timed extractions per configuration."""
    threads: int = 2
    """torch threads."""
    train_points: int = 24_000
    """Gaussians per sample in the training-step row."""
    device: str = "cpu"
    """Where the network runs: cpu or cuda."""
    append: bool = True
    """Append the table to benchmarks/RESULTS.md."""


def _case(kind: str, model: str, n: int, repeats: int, threads: int, device: str) -> dict:
    """Run in a child process: time one configuration, report JSON on stdout."""
    import numpy as np
    import torch

    sys.path.insert(0, str(Path(__file__).parent))
    from scenes import room_scene

    from rtgs2.features.extract import extract_features
    from rtgs2.features.inputs import SceneFrame
    from rtgs2.features.ptv3 import VARIANTS

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = VARIANTS[model]().eval().to(device)
    scene = room_scene(n, seed=0)
    times = []
    if kind == "extract":
        for i in range(repeats + 1):
            t = time.perf_counter()
            extract_features(scene, net, frame=SceneFrame(), device=device)  # returns on the host
            times.append(time.perf_counter() - t)
    else:
        from rtgs2.features.inputs import gaussian_arrays
        from rtgs2.train.config import FeatureTrainConfig
        from rtgs2.train.features import pair_loss

        net.train()
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        arrays = gaussian_arrays(scene)
        rng = np.random.default_rng(0)
        cfg = FeatureTrainConfig()
        for i in range(repeats + 1):
            # two overlapping samples of 2n/3 Gaussians each, as two views of one scene
            a = arrays.subset(np.sort(rng.choice(n, 2 * n // 3, replace=False)))
            b = arrays.subset(np.sort(rng.choice(n, 2 * n // 3, replace=False)))
            t = time.perf_counter()
            loss, _ = pair_loss(net, [(a, b)], cfg, rng)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = {"median_s": statistics.median(times[1:]), "peak_mb": peak_mb}
    if device.startswith("cuda"):
        out["gpu_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return out


def main(cfg: Config) -> None:
    cases = [("extract", m, n) for m in cfg.models for n in cfg.sizes] + [("train step", m, cfg.train_points * 3 // 2) for m in cfg.models]
    rows = []
    for kind, model, n in cases:
        cmd = [sys.executable, __file__, "--child", kind, model, str(n), str(cfg.repeats), str(cfg.threads), cfg.device]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            rows.append((kind, model, n, "failed: " + (proc.stderr.strip().splitlines() or ["?"])[-1], "", ""))
        else:
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            gpu = f"{r['gpu_peak_mb']:.0f}" if "gpu_peak_mb" in r else "-"
            rows.append((kind, model, n, f"{r['median_s']:.2f}", f"{r['peak_mb']:.0f}", gpu))
        print(" | ".join(map(str, rows[-1])), flush=True)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    where = "the CPU"
    if cfg.device.startswith("cuda"):
        import torch

        where = f"{torch.cuda.get_device_name(torch.device(cfg.device))} (torch {torch.__version__})"
    head = (
        f"## features: extraction and one training step — {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC\n\n"
        f"`benchmarks/features.py`, network on {where}, {cfg.threads} torch threads, median of {cfg.repeats} after a warm-up, peak RSS of "
        f"the process; {platform.processor() or platform.machine()}, {os.cpu_count()} cores, load average at the end: {load}. "
        f"Training step: two samples of {cfg.train_points} Gaussians, forward + backward + Adam.\n\n"
        "| what | model | Gaussians | seconds | peak RSS MB | peak GPU MB |\n| --- | --- | ---: | ---: | ---: | ---: |\n"
    )
    table = head + "".join(f"| {k} | {m} | {n:,} | {s} | {mb} | {g} |\n" for k, m, n, s, mb, g in rows)
    print(table)
    if cfg.append:
        with RESULTS.open("a") as f:
            f.write("\n" + table)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        kind, model, n, repeats, threads, device = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), sys.argv[7]
        print(json.dumps(_case(kind, model, n, repeats, threads, device)))
    else:
        main(tyro.cli(Config))
