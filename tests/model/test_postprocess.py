import numpy as np
import pytest

from spinedetect.labels import NUM_CLASSES, Label
from spinedetect.model.postprocess import component_volumes, labels_from_probabilities, remove_small_components

AFFINE = np.diag([0.5, 0.5, 2.0, 1.0])  # 0.5 mm³ voxels


def _scene():
    """A 40-voxel tumour (20 mm³), a 4-voxel one (2 mm³) and a 4-voxel lesion; CSF second most probable."""
    labels = np.zeros((20, 20, 6), dtype=np.uint8)
    labels[2:7, 2:6, 1:3] = Label.EPIDURAL_TUMOUR
    labels[12:14, 12:14, 4] = Label.EPIDURAL_TUMOUR
    labels[15:17, 2:4, 4] = Label.OSSEOUS_LESION
    probs = np.zeros((NUM_CLASSES, *labels.shape), dtype=np.float32)
    probs[Label.BACKGROUND] = 0.5
    for c in (Label.EPIDURAL_TUMOUR, Label.OSSEOUS_LESION):
        probs[c][labels == c] = 0.6
    probs[Label.CSF][labels == Label.EPIDURAL_TUMOUR] = 0.55
    return labels, probs


def test_component_volumes_are_26_connected_in_mm3():
    mask = np.zeros((4, 4, 4), dtype=bool)
    mask[0, 0, 0] = mask[1, 1, 1] = True  # diagonal neighbours: one piece
    mask[3, 3, 3] = True
    comp, volumes = component_volumes(mask, 2.5)
    assert comp.max() == 2 and sorted(volumes.tolist()) == [2.5, 5.0]


def test_small_pieces_go_to_the_next_most_probable_class():
    labels, probs = _scene()
    out = remove_small_components(labels, probs, AFFINE, {Label.EPIDURAL_TUMOUR: 10.0})
    assert (out == Label.EPIDURAL_TUMOUR).sum() == 40  # the 20 mm³ piece stays whole
    assert (out[12:14, 12:14, 4] == Label.CSF).all()  # the 2 mm³ one becomes CSF, its runner-up
    assert (out == Label.OSSEOUS_LESION).sum() == 4  # other classes untouched
    assert (labels[12:14, 12:14, 4] == Label.EPIDURAL_TUMOUR).all()  # the input is not changed
    lesion_gone = remove_small_components(labels, probs, AFFINE, {Label.OSSEOUS_LESION: 2.5})
    assert not (lesion_gone == Label.OSSEOUS_LESION).any() and (lesion_gone[15:17, 2:4, 4] == Label.BACKGROUND).all()


def test_pieces_at_the_volume_corners_and_an_absent_class():
    """Components are found within each class's bounding box: pieces at opposite corners of the volume
    are both seen, and a class that is absent changes nothing."""
    labels = np.zeros((12, 10, 8), dtype=np.uint8)
    labels[0, 0, 0] = Label.EPIDURAL_TUMOUR  # 0.5 mm³, in one corner
    labels[9:12, 7:10, 5:8] = Label.EPIDURAL_TUMOUR  # 13.5 mm³, against the opposite faces
    probs = np.zeros((NUM_CLASSES, *labels.shape), dtype=np.float32)
    probs[Label.BACKGROUND] = 0.5
    probs[Label.EPIDURAL_TUMOUR][labels == Label.EPIDURAL_TUMOUR] = 0.6
    probs[Label.CSF, 0, 0, 0] = 0.55
    out = remove_small_components(labels, probs, AFFINE, {Label.EPIDURAL_TUMOUR: 5.0, Label.OSSEOUS_LESION: 5.0})
    assert out[0, 0, 0] == Label.CSF
    expected = labels.copy()
    expected[0, 0, 0] = Label.CSF
    assert np.array_equal(out, expected)


@pytest.mark.parametrize("limit", [0.0, 2.0])
def test_a_limit_at_or_below_every_piece_changes_nothing(limit):
    labels, probs = _scene()
    assert np.array_equal(remove_small_components(labels, probs, AFFINE, {Label.EPIDURAL_TUMOUR: limit}), labels)


def test_a_negative_minimum_volume_is_refused():
    from spinedetect.config import config_from_mapping
    from spinedetect.errors import ConfigError
    from spinedetect.training.config import InferenceConfig

    with pytest.raises(ConfigError, match="min_tumour_mm3 must be >= 0"):
        config_from_mapping(InferenceConfig, {"min_tumour_mm3": -5})


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16])
def test_labels_from_probabilities_equal_numpy_argmax_with_ties_and_nan(dtype):
    rng = np.random.default_rng(11)
    probs = rng.integers(0, 4, size=(6, 9, 8, 7)).astype(dtype)  # few distinct values: many ties
    if probs.dtype.kind == "f":
        probs[2, 0] = np.nan  # a NaN after finite values
        probs[0, 1, 1] = np.nan  # a NaN in the first class
        probs[[1, 4], 2, 2] = np.nan  # two NaNs: the first wins
    got = labels_from_probabilities(probs)
    assert got.dtype == np.uint8 and np.array_equal(got, probs.argmax(axis=0))


def test_labels_from_probabilities_refuses_more_classes_than_uint8_holds():
    with pytest.raises(ValueError, match="256 classes"):
        labels_from_probabilities(np.zeros((257, 2, 2, 2), dtype=np.float32))
