"""MixStyle for the image encoder: a training-time augmentation of Enc_VD's feature statistics.

Each SynthRooms room has its own materials, light and camera response, and image-only models
fit their training rooms' looks (validation on held-out views of them ~66 % mIoU, unseen rooms
~48 %). MixStyle (Zhou et al., "Domain Generalization with MixStyle", ICLR 2021) mixes, at the
early stages of the encoder, each view's per-channel feature mean and standard deviation (its
"style") with another view's of the batch, so that the later stages see new looks built from the
ones at hand. Only training changes: at inference the hooks are absent (or the module is in eval
mode) and the network is untouched.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle

MIX_STYLE_ALPHA = 0.1  # Beta(alpha, alpha) of the mixing weight: mostly near 0 or 1 (the paper's value)
MIX_STYLE_STAGES = 2  # Enc_VD's first two stages (strides 4, 8): style lives in the early features
_EPS = 1e-6


def mix_style(x: Tensor, alpha: float = MIX_STYLE_ALPHA) -> Tensor:
    """Each view's feature statistics mixed with the next view's of the batch.

    Args:
        x: [B, C, H, W] feature maps, B >= 2 (a batch of one is returned as is).
        alpha: concentration of the Beta distribution the per-view weight lam is drawn from
            (torch's global generator: seeded by the trainer per step and rank).

    Returns:
        [B, C, H, W]: ``(x - mu) / sigma * sigma_mix + mu_mix`` with ``mu_mix = lam * mu +
        (1 - lam) * mu[perm]`` (likewise sigma), mu / sigma the per-view, per-channel mean and
        standard deviation over H, W, detached (the gradient flows through the normalised map
        only, as in the paper), perm the batch rolled by one (every view meets another's style).
    """
    b = x.shape[0]
    if b < 2:
        return x
    mu = x.mean(dim=(2, 3), keepdim=True).detach()
    sigma = (x.var(dim=(2, 3), keepdim=True) + _EPS).sqrt().detach()
    lam = torch.distributions.Beta(alpha, alpha).sample((b, 1, 1, 1)).to(dtype=x.dtype, device=x.device)
    perm = torch.roll(torch.arange(b, device=x.device), 1)
    mu_mix = lam * mu + (1 - lam) * mu[perm]
    sigma_mix = lam * sigma + (1 - lam) * sigma[perm]
    return (x - mu) / sigma * sigma_mix + mu_mix


def attach_mix_style(encoder: nn.Module, probability: float) -> list[RemovableHandle]:
    """Apply :func:`mix_style` to the outputs of the first :data:`MIX_STYLE_STAGES` stages of
    Enc_VD, each with ``probability`` per forward pass, while ``encoder`` is in training mode.

    Args:
        encoder: a ``ConvNeXtEncoder`` (``stages``) or ``ResNetEncoder`` (``layer1``, ``layer2``, ...).
        probability: chance, per stage and forward pass, that the batch's styles are mixed (0-1).

    Returns:
        the hooks' handles (``handle.remove()`` detaches them).
    """
    if not 0.0 <= probability <= 1.0:
        raise ValueError(f"mix-style probability must be in [0, 1], got {probability}")
    if hasattr(encoder, "stages"):
        stages = list(encoder.stages)[:MIX_STYLE_STAGES]
    else:
        stages = [getattr(encoder, f"layer{i + 1}") for i in range(MIX_STYLE_STAGES)]

    def hook(module: nn.Module, inputs: tuple, output: Tensor) -> Tensor | None:
        if not module.training or probability == 0.0 or float(torch.rand(())) >= probability:
            return None
        return mix_style(output)

    return [stage.register_forward_hook(hook) for stage in stages]
