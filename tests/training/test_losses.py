import math

import numpy as np
import pytest
import torch
from monai.losses import DiceCELoss

from spinedetect.labels import NUM_CLASSES, SCHEMA_MAPPING, Label, LabelMapping
from spinedetect.training.losses import PartialLabelDiceCELoss, encode_target, group_layout

torch.set_num_threads(1)
VERT = (Label.VERTEBRAL_BODY, Label.POSTERIOR_ELEMENTS, Label.OSSEOUS_LESION)
SPIDER_LIKE = LabelMapping("spider-like", {1: VERT, 100: (Label.CSF, Label.CORD), 201: (Label.DISC,)})


def _batch(layout, target):
    c2g = torch.tensor([layout.class_to_group] * target.shape[0])
    return c2g, [layout.n_groups] * target.shape[0]


def test_equals_standard_dice_ce_when_everything_is_annotated():
    torch.manual_seed(0)
    logits = torch.randn(2, NUM_CLASSES, 6, 5, 4)
    target = torch.randint(0, NUM_CLASSES, (2, 1, 6, 5, 4))
    layout = group_layout(SCHEMA_MAPPING)
    assert layout.class_to_group == tuple(range(NUM_CLASSES))
    ours = PartialLabelDiceCELoss()(logits, target, *_batch(layout, target))
    ref = DiceCELoss(to_onehot_y=True, softmax=True)(logits, target)
    assert torch.allclose(ours, ref, atol=1e-5), (ours, ref)


def test_gradients_flow_only_through_the_marginals():
    layout = group_layout(SPIDER_LIKE)
    torch.manual_seed(1)
    probs = torch.softmax(torch.randn(1, NUM_CLASSES, 4, 4, 2), dim=1).requires_grad_(True)
    target = torch.randint(0, layout.n_groups, (1, 1, 4, 4, 2))
    loss = PartialLabelDiceCELoss()(torch.log(probs), target, *_batch(layout, target))
    loss.backward()
    grad = probs.grad[0]
    # every class in one group receives the same gradient: the loss sees only the group's sum
    for members in layout.groups:
        idx = [int(c) for c in members]
        assert torch.allclose(grad[idx], grad[idx[0]].expand_as(grad[idx]), atol=1e-6)
    assert not torch.allclose(grad[int(Label.CSF)], grad[int(Label.DISC)])
    # moving probability inside a group leaves the loss unchanged
    with torch.no_grad():
        moved = probs.detach().clone()
        moved[:, [4, 5]] = moved[:, [5, 4]]
        moved[:, [1, 2, 6]] = moved[:, [6, 1, 2]]
        again = PartialLabelDiceCELoss()(torch.log(moved), target, *_batch(layout, target))
    assert torch.allclose(loss, again, atol=1e-6)


def test_known_toy_case():
    # cord-only data set: groups = {background + all unannotated}, {cord}
    mapping = LabelMapping("cord-only", {1: (Label.CORD,)})
    layout = group_layout(mapping)
    assert layout.n_groups == 2 and layout.groups[1] == (Label.CORD,)
    probs = torch.full((1, NUM_CLASSES, 2, 1, 1), 0.1)
    probs[0, int(Label.CORD), 0] = 0.3  # voxel 0: p(cord) 0.3, p(rest) 0.7
    probs[0, int(Label.CORD), 1] = 0.3
    target = torch.tensor(encode_target(np.array([1, 0]).reshape(2, 1, 1), mapping)).reshape(1, 1, 2, 1, 1)
    loss = PartialLabelDiceCELoss()(torch.log(probs), target, *_batch(layout, target))
    ce = -(math.log(0.3) + math.log(0.7)) / 2
    dice_bg = 1 - (2 * 0.7 + 1e-5) / (1.4 + 1 + 1e-5)
    dice_cord = 1 - (2 * 0.3 + 1e-5) / (0.6 + 1 + 1e-5)
    assert loss.item() == pytest.approx(ce + (dice_bg + dice_cord) / 2, abs=1e-5)


def test_overlapping_unions_are_refused():
    bad = LabelMapping("bad", {1: VERT, 2: (Label.VERTEBRAL_BODY,)})
    with pytest.raises(ValueError, match="overlap"):
        group_layout(bad)


def test_layout_puts_unannotated_with_background():
    layout = group_layout(SPIDER_LIKE)
    assert layout.groups[0] == (Label.BACKGROUND, Label.EPIDURAL_TUMOUR)
    assert layout.class_to_group[int(Label.CORD)] == layout.class_to_group[int(Label.CSF)] == 2
    assert layout.names()[2] == "thecal sac CSF+spinal cord"
