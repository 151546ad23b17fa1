import math

import numpy as np
import pytest

from spinedetect.errors import InputError
from spinedetect.evaluate import TRUTH_MAPPINGS, TruthFormat, evaluate_segmentation
from spinedetect.labels import Label
from tests.evaluate.conftest import AFFINE, schema_labels


def test_prediction_equal_to_truth_scores_dice_1_hd95_0():
    truth = schema_labels()
    seg = evaluate_segmentation(truth.copy(), AFFINE, truth, AFFINE)
    assert not seg.resampled
    assert set(seg.classes) >= {"vertebral_body", "cord", "osseous_lesion", "csf+cord",
                                "vertebral_body+posterior_elements+osseous_lesion"}
    for key, s in seg.classes.items():
        assert s.dice == 1.0 and s.hd95_mm == 0.0, key
    assert seg.lesions["osseous_lesion"].n_detected == 1
    assert seg.lesions["epidural_tumour"].n_false_positive == 0


def test_statuses_for_missing_and_spurious_classes():
    truth = schema_labels(epidural=False)
    pred = schema_labels(lesion=False)
    seg = evaluate_segmentation(pred, AFFINE, truth, AFFINE)
    assert seg.classes["osseous_lesion"].status == "missed" and seg.classes["osseous_lesion"].dice == 0.0
    assert seg.classes["epidural_tumour"].status == "spurious" and math.isinf(seg.classes["epidural_tumour"].hd95_mm)
    assert seg.classes["osseous_lesion"].to_dict()["hd95_mm"] is None
    assert seg.lesions["osseous_lesion"].sensitivity == 0.0
    assert seg.lesions["epidural_tumour"].n_false_positive == 1


def test_cord_dice_of_a_wider_cord():
    truth = schema_labels()
    pred = schema_labels(shift=1)  # cord 3 voxels wide instead of 2 along i
    seg = evaluate_segmentation(pred, AFFINE, truth, AFFINE)
    assert seg.classes["cord"].dice == pytest.approx(2 * 2 / (2 + 3))
    assert seg.classes["csf+cord"].dice == 1.0  # the canal is unchanged


def test_union_mapping_scores_only_annotated_union():
    truth_vb = np.zeros((24, 24, 16), np.uint8)
    truth = schema_labels()
    bodies = np.isin(truth, [Label.VERTEBRAL_BODY, Label.OSSEOUS_LESION])
    truth_vb[bodies] = 1
    truth_vb[bodies & (np.arange(16)[None, None, :] >= 8)] = 2   # two body ids
    seg = evaluate_segmentation(truth, AFFINE, truth_vb, AFFINE, TRUTH_MAPPINGS[TruthFormat.REAL_MRI_VB])
    assert list(seg.classes) == ["vertebral_body+osseous_lesion"]
    assert seg.classes["vertebral_body+osseous_lesion"].dice == 1.0
    assert seg.lesions == {}


def test_values_outside_mapping_are_refused():
    truth = np.zeros((8, 8, 8), np.uint8)
    truth[2:4, 2:4, 2:4] = 99
    with pytest.raises(InputError, match="outside its mapping"):
        evaluate_segmentation(truth * 0, np.eye(4), truth, np.eye(4), TRUTH_MAPPINGS[TruthFormat.REAL_CORD])
    with pytest.raises(InputError, match="prediction"):
        evaluate_segmentation(truth, np.eye(4), truth * 0, np.eye(4))
