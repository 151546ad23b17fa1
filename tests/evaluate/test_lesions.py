import numpy as np
import pytest

from spinedetect.evaluate import match_lesions


def test_lesion_matching_counts():
    truth = np.zeros((32, 32, 32), bool)
    pred = np.zeros_like(truth)
    truth[2:6, 2:6, 2:6] = True          # A: found by a large overlap
    truth[10:14, 10:14, 10:14] = True    # B: found by a single voxel of overlap
    truth[20:24, 20:24, 20:24] = True    # C: missed
    pred[3:7, 3:7, 3:7] = True
    pred[13:16, 13:16, 13:16] = True     # shares exactly voxel (13, 13, 13) with B
    pred[28:30, 2:4, 2:4] = True         # false positive
    pred[25, 28, 28] = True              # a second false positive ...
    pred[26, 29, 29] = True              # ... diagonal neighbour: same component (26-connectivity)
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    m = match_lesions(pred, truth, affine)
    assert (m.n_true, m.n_detected, len(m.pred_lesions), m.n_false_positive) == (3, 2, 4, 2)
    assert m.sensitivity == pytest.approx(2 / 3)
    a = next(les for les in m.true_lesions if les.voxels == 64 and les.centroid_mm[0] == pytest.approx(7.0))
    assert a.matched and a.volume_mm3 == pytest.approx(64 * 8.0)
    d = m.to_dict()
    assert d["n_false_positive"] == 2 and len(d["false_positives"]) == 2


def test_no_true_lesion_gives_no_sensitivity():
    truth = np.zeros((8, 8, 8), bool)
    pred = truth.copy()
    pred[1, 1, 1] = True
    m = match_lesions(pred, truth, np.eye(4))
    assert m.sensitivity is None and m.n_false_positive == 1
