"""Process groups for ``torchrun``: one call sets up DDP from the environment torchrun gives
(RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT), gloo on the CPU and nccl on CUDA; a plain
``python`` run is a world of one and needs no group."""

from __future__ import annotations

import os
from dataclasses import dataclass

from rtgs2.utils.errors import UserError


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands: ``rank`` of ``world_size``, ``local_rank`` on its host."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """True for the process that writes checkpoints, logs and progress."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def dist_info_from_env() -> DistInfo:
    """The torchrun variables, or a world of one when they are absent."""
    try:
        return DistInfo(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0)))
    except ValueError as e:
        raise UserError(f"torchrun environment variables RANK / WORLD_SIZE / LOCAL_RANK must be integers: {e}") from None


def init_distributed(device: str = "cpu") -> DistInfo:
    """Join the process group when started by torchrun (``WORLD_SIZE`` > 1): backend nccl for
    a CUDA ``device`` (this rank's GPU is ``cuda:<LOCAL_RANK>``), gloo otherwise."""
    import torch
    import torch.distributed as dist

    info = dist_info_from_env()
    if not info.distributed or dist.is_initialized():
        return info
    backend = "nccl" if device.startswith("cuda") else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(info.local_rank)
    dist.init_process_group(backend=backend, rank=info.rank, world_size=info.world_size)
    return info


def shutdown_distributed() -> None:
    """Leave the process group, if one was joined."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
