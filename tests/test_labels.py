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


def test_union_mask_is_isin_for_every_label_type():
    from spinedetect.labels import union_mask

    rng = np.random.default_rng(0)
    values = rng.integers(0, 256, (7, 6, 5))
    for dtype in (np.uint8, np.int16, np.uint16, np.int64):
        labels = values.astype(dtype)
        for classes in ((1, 2, 6), [4], (3, 250), ()) + (((3, 300, -1),) if dtype == np.uint8 else ()):
            got = union_mask(labels, classes)
            assert got.dtype == bool and got.shape == labels.shape
            assert np.array_equal(got, np.isin(values, [c for c in classes if 0 <= c < 256])), (dtype, classes)


def test_voxels_of_lists_a_masks_voxels_in_c_order():
    from spinedetect.measure.vertebrae import voxels_of

    labels = np.random.default_rng(1).integers(0, 8, (6, 7, 5)).astype(np.uint8)
    flat, ijk = voxels_of(labels, (4, 5, 7))
    mask = np.isin(labels, [4, 5, 7])
    assert np.array_equal(ijk, np.argwhere(mask)) and np.array_equal(flat, np.flatnonzero(mask))
    flat, ijk = voxels_of(np.zeros((2, 3, 4), dtype=np.uint8), (1,))
    assert flat.shape == (0,) and ijk.shape == (0, 3)


def test_label_mapping_unions_and_unannotated():
    from spinedetect.labels import SCHEMA_MAPPING, LabelMapping

    vert = (Label.VERTEBRAL_BODY, Label.POSTERIOR_ELEMENTS, Label.OSSEOUS_LESION)
    m = LabelMapping("toy", {1: vert, 2: vert, 100: (Label.CSF, Label.CORD)})
    assert m.unions() == [vert, (Label.CSF, Label.CORD)]
    assert Label.DISC in m.unannotated and Label.CSF not in m.unannotated
    coded, unions = m.union_index_map(np.array([[[0, 1, 2, 100, 7]]]))
    assert coded.tolist() == [[[0, 1, 1, 2, 0]]]
    assert len(SCHEMA_MAPPING.unions()) == 7 and SCHEMA_MAPPING.unannotated == ()
