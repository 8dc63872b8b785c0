"""Where a result was made, in words, for weights cards: a model trained on 2 CPU cores and one
trained on a GPU in minutes are told apart by their cards, not by their numbers."""

from __future__ import annotations

import os
import platform


def machine_description() -> str:
    """E.g. ``"x86_64, 2 CPU cores, torch 2.13.0+cpu, no GPU"`` or ``"..., GPU NVIDIA H200"``."""
    import torch

    gpu = f"GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else "no GPU"
    return f"{platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__}, {gpu}"
