import math

import torch
import torch.nn.functional as F

from rtgs2.features.contrastive import matched_rows, near_pairs, point_info_nce, segment_info_nce


def test_matched_rows_pairs_equal_ids():
    a = torch.tensor([5, 1, 9, 3])
    b = torch.tensor([3, 7, 5, 2, 1])
    ra, rb = matched_rows(a, b)
    assert torch.equal(a[ra], b[rb]) and a[ra].tolist() == [1, 3, 5]
    ra, rb = matched_rows(torch.tensor([4]), torch.tensor([], dtype=torch.long))
    assert len(ra) == len(rb) == 0
    # floaters (id -1, any number of them on both sides) match nothing
    fa, fb = torch.tensor([-1, 5, -1, 1]), torch.tensor([1, -1, 5, -1, -1])
    ra, rb = matched_rows(fa, fb)
    assert fa[ra].tolist() == fb[rb].tolist() == [1, 5]


def test_info_nce_matches_its_formula_and_retrieval():
    g = torch.Generator().manual_seed(0)
    fa = F.normalize(torch.randn(6, 4, generator=g), dim=1)
    fb = F.normalize(torch.randn(6, 4, generator=g), dim=1)
    loss, acc = point_info_nce(fa, fb, 0.1)
    s = fa @ fb.T / 0.1
    direct = -sum(s[i, i] - torch.logsumexp(s[i], 0) for i in range(6)) / 6
    torch.testing.assert_close(loss, direct)
    assert float(acc) == float((s.argmax(1) == torch.arange(6)).float().mean())
    loss_same, acc_same = point_info_nce(fa, fa, 0.01)  # identical views: near-perfect retrieval
    assert float(acc_same) == 1.0 and float(loss_same) < math.log(6) / 10


def test_excluded_negatives_leave_the_denominator():
    g = torch.Generator().manual_seed(1)
    fa = F.normalize(torch.randn(5, 4, generator=g), dim=1)
    fb = F.normalize(torch.randn(5, 4, generator=g), dim=1)
    xyz = torch.tensor([[0.0, 0, 0], [0.05, 0, 0], [1, 0, 0], [1, 0.05, 0], [3, 0, 0]])
    near = near_pairs(xyz, 0.1)
    assert near.sum() == 5 + 4 and near[0, 1] and near[2, 3] and not near[0, 2]
    loss, acc = point_info_nce(fa, fb, 0.1, exclude=near)
    s = fa @ fb.T / 0.1
    keep = ~near | torch.eye(5, dtype=torch.bool)  # the positive always stays
    direct = -sum(s[i, i] - torch.logsumexp(s[i][keep[i]], 0) for i in range(5)) / 5
    torch.testing.assert_close(loss, direct)
    assert float(acc) == float((s.masked_fill(~keep, -1e9).argmax(1) == torch.arange(5)).float().mean())
    loss_all, acc_all = point_info_nce(fa, fb, 0.1, exclude=torch.ones(5, 5, dtype=torch.bool))
    assert float(loss_all) == 0.0 and float(acc_all) == 1.0  # no negatives left: nothing to learn


def test_segment_info_nce_contrasts_segment_means():
    g = torch.Generator().manual_seed(2)
    fa = F.normalize(torch.randn(40, 8, generator=g), dim=1)
    fb = F.normalize(torch.randn(40, 8, generator=g), dim=1)
    segment = torch.tensor([7] * 10 + [3] * 12 + [9] * 15 + [5] * 3)  # segment 5 is too small
    loss, acc = segment_info_nce(fa, fb, segment, 0.2, min_points=8)
    means = [(F.normalize(f[segment == s].mean(0), dim=0)) for f in (fa, fb) for s in (3, 7, 9)]
    expect, expect_acc = point_info_nce(torch.stack(means[:3]), torch.stack(means[3:]), 0.2)
    torch.testing.assert_close(loss, expect)
    assert float(acc) == float(expect_acc)
    loss_one, _ = segment_info_nce(fa, fb, torch.tensor([1] * 38 + [2] * 2), 0.2, min_points=8)  # one segment left
    assert float(loss_one) == 0.0
