"""What the cards of trained weights share: the command that reproduces them (the commit: rtgs2.utils.git)."""

from __future__ import annotations

from dataclasses import asdict, fields


def config_flags(cfg) -> str:
    """The CLI flags that set every field of the config dataclass ``cfg`` that differs from its default."""
    default = asdict(type(cfg)())
    parts = []
    for f in fields(cfg):
        v = getattr(cfg, f.name)
        if v != default[f.name]:
            flag = "--" + f.name.replace("_", "-")
            parts.append(flag if v is True else f"--no-{flag[2:]}" if v is False else f"{flag} {v}")
    return " ".join(parts)


def launcher(world_size: int) -> str:
    """How a training with ``world_size`` processes is started: the random draws of each step
    are seeded per rank, so the same weights need the same number of processes."""
    return "rtgs2" if world_size == 1 else f"torchrun --nproc-per-node {world_size} -m rtgs2.cli"
