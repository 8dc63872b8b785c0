"""coarse_to_labels: the fused upsampling, arg-max and confidence against the torch composition."""

import pytest
import torch

from rtgs2.fusion.labels import coarse_to_labels, coarse_to_labels_reference


@pytest.mark.parametrize("height,width,scale", [(48, 64, 4), (37, 45, 4), (1, 3, 4), (96, 128, 8), (75, 90, 12)])
def test_labels_and_confidence_match_the_upsampled_logits(height: int, width: int, scale: int) -> None:
    """Scale 4: the network read the view; 8, 12: it read the view at 1/2, 1/3 of its size."""
    torch.manual_seed(0)
    s = scale // 4
    hc, wc = -(-height // (32 * s)) * 8, -(-width // (32 * s)) * 8  # the network's grid: its padded image / 4
    coarse = (torch.randn(1, 17, hc, wc) * 3).contiguous(memory_format=torch.channels_last)[0]
    labels, confidence = coarse_to_labels(coarse, height, width, scale=scale)
    want_labels, want_confidence = coarse_to_labels_reference(coarse, height, width, scale)
    assert labels.shape == (height, width) and labels.dtype == torch.uint8
    logits = torch.nn.functional.interpolate(coarse[None], scale_factor=scale, mode="bilinear")[0, :, :height, :width]
    top2 = logits.topk(2, dim=0).values
    clear = (top2[0] - top2[1]) > 1e-4  # where float rounding cannot swap the first two
    assert bool((labels == want_labels)[clear].all()) and float(clear.float().mean()) > 0.95
    assert torch.allclose(confidence, want_confidence, rtol=1e-5, atol=1e-6)
    only, none = coarse_to_labels(coarse, height, width, with_confidence=False, scale=scale)
    assert none is None and torch.equal(only, labels)


def test_ties_take_the_first_class_and_sizes_are_checked() -> None:
    coarse = torch.zeros(5, 2, 2)
    coarse[3] = 1.0
    coarse[1] = 1.0  # a tie of classes 1 and 3: torch's arg-max keeps the first
    labels, confidence = coarse_to_labels(coarse, 8, 8)
    assert bool((labels == 1).all())
    assert torch.allclose(confidence, torch.full((8, 8), 1 / (2 + 3 * torch.e**-1)), rtol=1e-5)
    with pytest.raises(ValueError, match="at most 256 classes"):
        coarse_to_labels(torch.zeros(257, 2, 2), 8, 8)
    with pytest.raises(ValueError, match="larger than x4"):
        coarse_to_labels(torch.zeros(3, 2, 2), 9, 8)
    with pytest.raises(ValueError, match="larger than x8"):
        coarse_to_labels(torch.zeros(3, 2, 2), 17, 8, scale=8)
    with pytest.raises(ValueError, match="positive integer"):
        coarse_to_labels(torch.zeros(3, 2, 2), 8, 8, scale=0)
