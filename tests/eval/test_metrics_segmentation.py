import numpy as np
import pytest

from rtgs2.eval.metrics import confusion_matrix, segmentation_metrics


def test_metrics_by_hand():
    target = np.array([0, 0, 1, 1, 1, 2, 255])
    pred = np.array([0, 1, 1, 1, 0, 0, 2])
    c = confusion_matrix(pred, target, 4)
    assert c.sum() == 6 and c[0, 0] == 1 and c[1, 0] == 1 and c[2, 0] == 1
    m = segmentation_metrics(c)
    # IoU: class 0: 1/(2+3-1)=0.25, class 1: 2/(3+3-2)=0.5, class 2: 0/(1+0)=0; class 3 absent
    assert m["miou"] == pytest.approx((0.25 + 0.5 + 0.0) / 3)
    assert m["macc"] == pytest.approx((0.5 + 2 / 3 + 0) / 3)
    assert m["oacc"] == pytest.approx(3 / 6)
    assert np.isnan(m["per_class"]["iou"][3])


def test_out_of_range_labels_are_refused():
    with pytest.raises(ValueError, match="0..2"):
        confusion_matrix(np.array([0, 3]), np.array([0, 1]), 3)


def test_unlabelled_predictions_count_as_wrong_in_a_column_of_their_own():
    from rtgs2.eval.metrics import confusion_with_unlabelled

    pred = np.array([0, 255, 1, 255, 1])
    target = np.array([0, 0, 1, 1, 255])  # the last pixel is ignored: its prediction does not count
    c = confusion_with_unlabelled(pred, target, 2)
    np.testing.assert_array_equal(c, [[1, 0, 1], [0, 1, 1], [0, 0, 0]])
    m = segmentation_metrics(c)
    assert m["oacc"] == pytest.approx(0.5)  # 2 of the 4 scored pixels; the unlabelled ones are wrong
