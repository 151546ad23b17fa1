"""Real scans as negatives: lesion and tumour known absent in every lesion-free real mapping."""

import numpy as np
import pytest
import torch

from spinedetect.data import RealCordDataset, RealCtDataset, RealMriVbDataset
from spinedetect.data.shared import REAL_CORD_MAPPING, REAL_CT_MAPPING, REAL_MRI_VB_MAPPING, lesion_free_mapping
from spinedetect.labels import Label, LabelMapping
from spinedetect.training.losses import PartialLabelDiceCELoss, encode_target, group_layout

L = Label
OTHER_IN_BACKGROUND = (L.BACKGROUND, L.POSTERIOR_ELEMENTS, L.DISC, L.CSF, L.CORD)


def test_vb_lesion_free_layout_by_hand():
    layout = group_layout(lesion_free_mapping(REAL_MRI_VB_MAPPING))
    assert layout.groups == (OTHER_IN_BACKGROUND, (L.VERTEBRAL_BODY,), (L.OSSEOUS_LESION,), (L.EPIDURAL_TUMOUR,))
    # the old reading, kept for data that may hold lesions: a body value may be lesion, tumour unannotated
    old = group_layout(REAL_MRI_VB_MAPPING)
    assert old.groups[1] == (L.VERTEBRAL_BODY, L.OSSEOUS_LESION) and L.EPIDURAL_TUMOUR in old.groups[0]


def test_ct_lesion_free_vertebra_is_body_and_posterior_elements():
    mapping = lesion_free_mapping(REAL_CT_MAPPING)
    assert mapping.values[27] == (L.VERTEBRAL_BODY, L.POSTERIOR_ELEMENTS) and mapping.values[79] == (L.CORD,)
    layout = group_layout(mapping)
    assert layout.groups == ((L.BACKGROUND, L.DISC, L.CSF), (L.VERTEBRAL_BODY, L.POSTERIOR_ELEMENTS), (L.CORD,),
                             (L.OSSEOUS_LESION,), (L.EPIDURAL_TUMOUR,))


def test_no_source_value_ever_encodes_a_known_absent_group():
    mapping = lesion_free_mapping(REAL_CORD_MAPPING)
    labels = np.array([[[0, 1, 7, 255]]])  # 7 and 255 are values the data set does not define
    coded = encode_target(labels, mapping)
    layout = group_layout(mapping)
    absent = {layout.class_to_group[L.OSSEOUS_LESION], layout.class_to_group[L.EPIDURAL_TUMOUR]}
    assert absent == {2, 3} and coded.tolist() == [[[0, 1, 0, 0]]]


def test_a_value_meaning_only_metastasis_is_refused():
    with pytest.raises(ValueError, match="metastasis only"):
        lesion_free_mapping(LabelMapping("lesions", {1: (L.OSSEOUS_LESION,)}))


def _loss(mapping, predicted: Label) -> float:
    """Loss of a confident prediction of ``predicted`` over a cube that the data set labels body (value 1)."""
    labels = np.zeros((8, 8, 8), np.int32)
    labels[2:6, 2:6, 2:6] = 1
    layout = group_layout(mapping)
    logits = torch.full((1, len(Label), 8, 8, 8), -6.0)
    logits[0, L.BACKGROUND] = 6.0
    inside = torch.from_numpy(labels == 1)
    logits[0, :, inside] = -6.0
    logits[0, predicted, inside] = 6.0
    target = torch.from_numpy(encode_target(labels, mapping)).long()[None, None]
    return float(PartialLabelDiceCELoss()(logits, target, torch.tensor([layout.class_to_group]), [layout.n_groups]))


def test_lesion_on_a_lesion_free_body_costs_loss():
    # old reading: body or lesion inside a body label cost the same; lesion-free: a lesion there is an error
    old_lesion, old_body = _loss(REAL_MRI_VB_MAPPING, L.OSSEOUS_LESION), _loss(REAL_MRI_VB_MAPPING, L.VERTEBRAL_BODY)
    assert old_lesion == pytest.approx(old_body, abs=1e-3)
    free = lesion_free_mapping(REAL_MRI_VB_MAPPING)
    assert _loss(free, L.OSSEOUS_LESION) > _loss(free, L.VERTEBRAL_BODY) + 1.0


def test_real_adapters_lesion_free(shared_data):
    metastasis = {L.OSSEOUS_LESION, L.EPIDURAL_TUMOUR}
    cases = [RealMriVbDataset(shared_data / "real-mri-vb", lesion_free=True).load("VB3_01"),
             RealCordDataset(shared_data / "real-cord", lesion_free=True).load("sct_t1w"),
             RealCtDataset(shared_data / "real-ct", lesion_free=True).load("example_ct"),
             RealCtDataset(shared_data / "real-ct", lesion_free=True).load("example_mr_sm")]
    for case in cases:
        layout = group_layout(case.mapping)
        assert (L.OSSEOUS_LESION,) in layout.groups and (L.EPIDURAL_TUMOUR,) in layout.groups, case.case_id
        coded = encode_target(np.asarray(case.labels.array), case.mapping)
        absent = {layout.class_to_group[c] for c in metastasis}
        assert not np.isin(coded, list(absent)).any(), case.case_id
        assert all(metastasis.isdisjoint(u) for u in case.mapping.values.values())
    default = RealMriVbDataset(shared_data / "real-mri-vb").load("VB3_01")
    assert default.mapping is REAL_MRI_VB_MAPPING
