"""Fusion losses against their formulas, recomputed directly on tiny examples."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from rtgs2.fusion.losses import (
    FusionLoss,
    FusionLossConfig,
    ceco_loss,
    check_labels,
    class_centres,
    distillation_kl,
    segmentation_ce,
    simplex_etf,
)
from rtgs2.fusion.vdvi import FusionOutput

IGNORE = 255


def tiny_batch(K: int = 4, E: int = 6, seed: int = 0):
    """Logits [2, K, 4, 4], embedding [2, E, 4, 4] and labels [2, 4, 4] with ignored pixels and
    class 3 absent."""
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(2, K, 4, 4, generator=g, dtype=torch.float64)
    embedding = torch.randn(2, E, 4, 4, generator=g, dtype=torch.float64)
    labels = torch.randint(0, 3, (2, 4, 4), generator=g)
    labels[0, 0, :3] = IGNORE
    labels[1, 2:, 1] = IGNORE
    return logits, embedding, labels


def test_label_smoothing_with_ignored_pixels_matches_its_formula() -> None:
    logits, _, labels = tiny_batch()
    eps, K = 0.1, logits.shape[1]
    total, n = 0.0, 0
    for b, i, j in torch.cartesian_prod(torch.arange(2), torch.arange(4), torch.arange(4)).tolist():
        y = labels[b, i, j].item()
        if y == IGNORE:
            continue
        log_p = torch.log_softmax(logits[b, :, i, j], dim=0)
        total += (1 - eps) * -log_p[y].item() + eps * -log_p.sum().item() / K
        n += 1
    assert n == 16 * 2 - 5
    got = segmentation_ce(logits, labels, label_smoothing=eps, ignore_index=IGNORE)
    assert got.item() == pytest.approx(total / n, rel=1e-12)
    # eps = 0 is the plain cross-entropy over labelled pixels
    plain = segmentation_ce(logits, labels, label_smoothing=0.0, ignore_index=IGNORE)
    keep = labels != IGNORE
    log_p = torch.log_softmax(logits, 1).permute(0, 2, 3, 1)[keep]  # [n, K]
    assert plain.item() == pytest.approx(-log_p.gather(1, labels[keep, None]).mean().item())


def test_all_ignored_gives_zero_with_a_gradient() -> None:
    logits, embedding, labels = tiny_batch()
    logits.requires_grad_(True)
    embedding.requires_grad_(True)
    labels[:] = IGNORE
    ce = segmentation_ce(logits, labels, 0.1, IGNORE)
    ceco = ceco_loss(embedding, labels, simplex_etf(4, 6).double(), 0.1, IGNORE)
    assert ce.item() == 0.0 and ceco.item() == 0.0
    (ce + ceco).backward()
    assert logits.grad is not None and embedding.grad is not None


def test_check_labels_names_ids_outside_the_label_map() -> None:
    labels = torch.tensor([[0, 3, IGNORE], [7, 9, 1]], dtype=torch.uint8)
    with pytest.raises(ValueError, match=r"ids \[7, 9\] outside 0\.\.3"):
        check_labels(labels, 4, IGNORE)
    assert check_labels(labels, 10, IGNORE).dtype == torch.int64
    with pytest.raises(ValueError, match="integer tensor"):
        check_labels(labels.float(), 10, IGNORE)


@pytest.mark.parametrize("K, E", [(2, 2), (5, 8), (17, 64)])
def test_simplex_etf_vertices_are_unit_and_equiangular(K: int, E: int) -> None:
    etf = simplex_etf(K, E).double()
    gram = etf @ etf.T
    expected = torch.full((K, K), -1.0 / (K - 1), dtype=torch.float64).fill_diagonal_(1.0)
    torch.testing.assert_close(gram, expected, atol=1e-6, rtol=0)  # float32 storage: ~1e-7 here
    assert torch.equal(simplex_etf(K, E), simplex_etf(K, E))  # fixed, not redrawn per call
    with pytest.raises(ValueError, match="needs an embedding of >= 5 channels"):
        simplex_etf(5, 4)


def test_ceco_matches_a_direct_recomputation() -> None:
    _, embedding, labels = tiny_batch(K=4, E=6)
    etf = simplex_etf(4, 6).double()
    tau = 0.1
    # direct: loop over classes, mean embedding of their pixels, cosine to every vertex
    terms = []
    for k in range(4):
        mask = labels == k
        if not mask.any():
            continue
        centre = embedding.permute(0, 2, 3, 1)[mask].mean(0)
        cosines = torch.stack([centre @ v / centre.norm() for v in etf])  # vertices are unit
        terms.append(-torch.log_softmax(cosines / tau, 0)[k])
    assert len(terms) == 3  # class 3 is absent and contributes nothing
    # labels at the embedding's resolution: nearest sampling is the identity here
    got = ceco_loss(embedding, labels, etf, tau, IGNORE)
    assert got.item() == pytest.approx(torch.stack(terms).mean().item(), rel=1e-12)


def test_ceco_samples_full_resolution_labels_onto_the_embedding() -> None:
    _, embedding, labels = tiny_batch(K=4, E=6)
    full = labels.repeat_interleave(4, 1).repeat_interleave(4, 2)  # [2, 16, 16]: each label a 4x4 block
    etf = simplex_etf(4, 6).double()
    assert ceco_loss(embedding, full, etf).item() == pytest.approx(ceco_loss(embedding, labels, etf).item(), rel=1e-12)


def test_class_centres_are_means_of_labelled_pixels() -> None:
    embedding = torch.arange(8.0).view(1, 2, 2, 2)  # channel 0: 0..3, channel 1: 4..7
    labels = torch.tensor([[[1, 1], [IGNORE, 0]]])
    centres, present = class_centres(embedding, labels, num_classes=3, ignore_index=IGNORE)
    assert present.tolist() == [0, 1]
    torch.testing.assert_close(centres, torch.tensor([[3.0, 7.0], [0.5, 4.5]]))


def output(K: int = 4, E: int = 6, H: int = 8, W: int = 8, depth: bool = False) -> FusionOutput:
    g = torch.Generator().manual_seed(3)
    return FusionOutput(
        torch.randn(2, K, H, W, generator=g),
        torch.randn(2, E, H // 4, W // 4, generator=g),
        torch.rand(2, 1, H, W, generator=g) if depth else None,
    )


def test_fusion_loss_combines_its_switched_terms() -> None:
    out = output(depth=True)
    labels = torch.randint(0, 4, (2, 8, 8), generator=torch.Generator().manual_seed(4))
    depth = torch.rand(2, 8, 8) + 0.5
    depth[0, 0, 0] = 0.0  # no depth: left out of the mean
    ce = segmentation_ce(out.logits, labels, 0.1)
    ceco = ceco_loss(out.embedding, labels, simplex_etf(4, 6), 0.1)
    l1 = (out.depth[:, 0] - depth).abs()[depth > 0].mean()

    full = FusionLoss(FusionLossConfig(depth_weight=2.0), num_classes=4, embedding_dim=6)(out, labels.byte(), depth)
    assert set(full) == {"ce", "ceco", "depth", "total"}
    assert full["total"].item() == pytest.approx((ce + 0.4 * ceco + 2.0 * l1).item(), rel=1e-6)

    plain = FusionLoss(FusionLossConfig(label_smoothing=0.0, ceco_weight=0.0), 4, 6)(out, labels)
    assert set(plain) == {"ce", "total"}
    assert plain["total"].item() == pytest.approx(F.cross_entropy(out.logits, labels).item(), rel=1e-6)


@pytest.mark.parametrize("T", [1.0, 2.0])
def test_distillation_is_the_kl_to_the_teacher_over_labelled_pixels(T: float) -> None:
    student, _, labels = tiny_batch(seed=5)
    teacher, _, _ = tiny_batch(seed=6)
    keep = labels != IGNORE
    per_pixel = F.kl_div(F.log_softmax(student / T, 1), F.log_softmax(teacher / T, 1), log_target=True, reduction="none").sum(1)
    kd = distillation_kl(student, teacher, labels, T)
    assert kd.item() == pytest.approx(T**2 * per_pixel[keep].mean().item(), rel=1e-9)
    assert distillation_kl(teacher, teacher, labels, T).item() == pytest.approx(0.0, abs=1e-12)
    changed = student.clone()
    changed[~keep[:, None].expand_as(changed)] += 5.0  # unlabelled pixels do not count
    assert distillation_kl(changed, teacher, labels, T).item() == pytest.approx(kd.item(), rel=1e-9)
    student.requires_grad_(True)
    distillation_kl(student, teacher.requires_grad_(True), labels, T).backward()
    assert student.grad.abs().sum() > 0 and teacher.grad is None  # the teacher is a fixed target
    out = output()
    teach = torch.randn_like(out.logits)
    labels8 = torch.randint(0, 4, (2, 8, 8), generator=torch.Generator().manual_seed(1))
    terms = FusionLoss(FusionLossConfig(distill_weight=0.5, distill_temperature=T), 4, 6)(out, labels8, teacher=teach)
    plain = FusionLoss(FusionLossConfig(), 4, 6)(out, labels8)
    expected = plain["total"] + 0.5 * distillation_kl(out.logits, teach, labels8, T)
    assert terms["total"].item() == pytest.approx(expected.item(), rel=1e-6)
    with pytest.raises(ValueError, match="needs a teacher's logits"):
        FusionLoss(FusionLossConfig(distill_weight=0.5), 4, 6)(out, labels8)


def test_fusion_loss_rejects_inconsistent_inputs() -> None:
    out = output()
    labels = torch.zeros(2, 8, 8, dtype=torch.long)
    with pytest.raises(ValueError, match=r"labels must be \[B, H, W\] = \[2, 8, 8\]"):
        FusionLoss(FusionLossConfig(), 4, 6)(out, labels[:, :4])
    with pytest.raises(ValueError, match="predicts 4 classes but the loss was built for 5"):
        FusionLoss(FusionLossConfig(), 5, 6)(out, labels)
    with pytest.raises(ValueError, match="needs a model built with depth_head=True"):
        FusionLoss(FusionLossConfig(depth_weight=1.0), 4, 6)(out, labels, torch.ones(2, 8, 8))
    with pytest.raises(ValueError, match="label_smoothing must be in"):
        FusionLossConfig(label_smoothing=1.5)
    assert math.isfinite(FusionLoss(FusionLossConfig(), 4, 6)(out, labels)["total"].item())
