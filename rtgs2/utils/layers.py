"""Small network layers both networks use (the point backbone in ``features`` and the VDVI net in
``fusion``), defined here so the two stay independent of each other. Attribute names are those of
timm's layers (``fc1``, ``fc2``): they are the keys of the shipped weights' state dicts."""

from __future__ import annotations

import torch.nn as nn
from torch import Tensor


class DropPath(nn.Module):
    """Stochastic depth: in training, zeroes a residual branch for whole rows of the first
    dimension with probability ``p`` and scales the kept rows by 1 / (1 - p).

    A row is a sample of an image batch ``[B, ...]`` (VDVI) or a point of a point-major tensor
    ``[N, C]`` (PTv3, which drops per point).
    """

    def __init__(self, p: float = 0.0):
        super().__init__()
        self.p = p

    def forward(self, x: Tensor) -> Tensor:  # [B, ...] -> same
        if self.p == 0.0 or not self.training:
            return x
        keep = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(1.0 - self.p)
        return x * keep / (1.0 - self.p)


class Mlp(nn.Module):
    """Linear -> GELU -> linear over the last dimension (timm's ``Mlp``; the transformer blocks'
    feed-forward layer in both networks).

    Args:
        dim: channels in and out.
        hidden: channels between the two linear layers.
    """

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:  # [..., dim] -> same
        return self.fc2(self.act(self.fc1(x)))


def inference_copy(model: nn.Module, device) -> nn.Module:
    """``model`` ready for inference on ``device`` without touching the caller's object: the
    model itself when it already is there in eval mode, else a copy moved there and set to eval."""
    import copy

    import torch

    device = torch.device(device)
    params = list(model.parameters())
    here = all(p.device == device for p in params) if params else True
    if here and not model.training:
        return model
    return copy.deepcopy(model).to(device).eval()
