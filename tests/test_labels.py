import numpy as np

from spinedetect.labels import LABEL_COLOURS, LABEL_NAMES, NUM_CLASSES, Label, bone_mask, canal_mask


def test_schema_values_are_design_values():
    assert [int(v) for v in Label] == list(range(8))
    assert Label.CSF == 4 and Label.CORD == 5 and Label.EPIDURAL_TUMOUR == 7
    assert NUM_CLASSES == 8
    assert set(LABEL_NAMES) == set(Label) == set(LABEL_COLOURS)
    assert len(set(LABEL_COLOURS.values())) == NUM_CLASSES


def test_canal_is_csf_union_cord():
    labels = np.arange(8, dtype=np.uint8).reshape(2, 2, 2)
    assert canal_mask(labels).sum() == 2
    assert set(labels[canal_mask(labels)]) == {4, 5}
    assert set(labels[bone_mask(labels)]) == {1, 2, 6}
