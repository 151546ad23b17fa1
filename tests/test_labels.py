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


def test_label_mapping_unions_and_unannotated():
    from spinedetect.labels import SCHEMA_MAPPING, LabelMapping

    vert = (Label.VERTEBRAL_BODY, Label.POSTERIOR_ELEMENTS, Label.OSSEOUS_LESION)
    m = LabelMapping("toy", {1: vert, 2: vert, 100: (Label.CSF, Label.CORD)})
    assert m.unions() == [vert, (Label.CSF, Label.CORD)]
    assert Label.DISC in m.unannotated and Label.CSF not in m.unannotated
    coded, unions = m.union_index_map(np.array([[[0, 1, 2, 100, 7]]]))
    assert coded.tolist() == [[[0, 1, 1, 2, 0]]]
    assert len(SCHEMA_MAPPING.unions()) == 7 and SCHEMA_MAPPING.unannotated == ()
