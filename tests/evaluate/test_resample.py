import numpy as np
import pytest

from spinedetect.evaluate import evaluate_segmentation, resample_labels
from spinedetect.labels import Label


def test_same_grid_is_returned_unchanged():
    a = np.zeros((4, 5, 6), np.uint8)
    assert resample_labels(a, np.eye(4), a.shape, np.eye(4)) is a


def test_resampling_to_a_coarser_shifted_grid_follows_world_space():
    src = np.zeros((20, 20, 20), np.uint8)
    src[8:12, 4:16, 0:20] = 3                      # 1 mm grid, origin 0
    target = np.diag([2.0, 2.0, 2.0, 1.0])
    target[:3, 3] = (1.0, 0.0, 0.0)                # 2 mm grid, centres at x = 1, 3, 5, ...
    out = resample_labels(src, np.eye(4), (10, 10, 10), target)
    assert out.dtype == src.dtype
    # target i -> x = 1 + 2 i; source voxel x = 8..11 is labelled -> i = 4 (x=9), i = 5 (x=11)
    assert np.unique(np.nonzero(out)[0]).tolist() == [4, 5]
    assert set(np.unique(out).tolist()) <= {0, 3}


def test_prediction_on_flipped_grid_scores_perfectly():
    truth = np.zeros((16, 12, 10), np.uint8)
    truth[4:10, 3:8, 2:7] = int(Label.VERTEBRAL_BODY)
    truth[5:7, 8:10, 2:7] = int(Label.CORD)
    t_aff = np.diag([1.0, 1.5, 2.0, 1.0])
    # the same labels stored with i reversed (an LPS-like storage order): same world positions
    pred = truth[::-1].copy()
    p_aff = t_aff.copy()
    p_aff[0, 0] = -1.0
    p_aff[0, 3] = 15.0
    seg = evaluate_segmentation(pred, p_aff, truth, t_aff)
    assert seg.resampled
    assert seg.classes["vertebral_body"].dice == 1.0
    assert seg.classes["cord"].hd95_mm == 0.0
    # and a prediction on a 2x finer grid of the same field of view
    fine = np.repeat(np.repeat(np.repeat(truth, 2, 0), 2, 1), 2, 2)
    f_aff = np.diag([0.5, 0.75, 1.0, 1.0])
    f_aff[:3, 3] = (-0.25, -0.375, -0.5)       # voxel corners of the two grids coincide
    seg = evaluate_segmentation(fine, f_aff, truth, t_aff)
    assert seg.classes["vertebral_body"].dice == pytest.approx(1.0)
