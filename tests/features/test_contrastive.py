import math

import torch
import torch.nn.functional as F

from rtgs2.features.contrastive import matched_rows, point_info_nce


def test_matched_rows_pairs_equal_ids():
    a = torch.tensor([5, 1, 9, 3])
    b = torch.tensor([3, 7, 5, 2, 1])
    ra, rb = matched_rows(a, b)
    assert torch.equal(a[ra], b[rb]) and a[ra].tolist() == [1, 3, 5]
    ra, rb = matched_rows(torch.tensor([4]), torch.tensor([], dtype=torch.long))
    assert len(ra) == len(rb) == 0


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
