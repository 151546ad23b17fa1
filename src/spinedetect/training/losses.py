"""Partial-label (marginal) Dice + cross-entropy loss.

A data set that labels only some schema classes, or labels unions of them (a "vertebra" value stands
for body ∪ posterior elements ∪ osseous lesion), cannot be trained against with a plain softmax loss:
the network would be punished for splitting a vertebra into body and posterior elements. The marginal
loss sums the softmax probabilities of the schema classes inside each union into one "group" and merges
the classes the data set does not annotate with background; Dice and cross-entropy are then taken over
the groups. With every class annotated (the schema mapping, phantoms) the groups are the classes and the
loss is the standard Dice + CE.

Shapes: logits (B, C, X, Y, Z) over the C schema classes; targets (B, 1, X, Y, Z) of group indices;
``class_to_group`` (B, C) giving, per sample, the group of each schema class.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from spinedetect.labels import NUM_CLASSES, Label, LabelMapping

__all__ = ["GroupLayout", "group_layout", "encode_target", "marginal_log_probs", "PartialLabelDiceCELoss"]


@dataclass(frozen=True)
class GroupLayout:
    """How one label mapping partitions the schema classes into loss groups.

    Group 0 is background ∪ the unannotated classes; groups 1.. are the mapping's unions in value order,
    then every annotated class that no value stands for (annotated, hence known to be absent).
    """

    groups: tuple[tuple[Label, ...], ...]
    class_to_group: tuple[int, ...]

    @property
    def n_groups(self) -> int:
        """Number of groups (background group included)."""
        return len(self.groups)

    def names(self) -> list[str]:
        """Readable group names, e.g. ``"background+epidural tumour"``, ``"thecal sac CSF+spinal cord"``."""
        from spinedetect.labels import LABEL_NAMES

        return ["+".join(LABEL_NAMES[c] for c in g) for g in self.groups]


def group_layout(mapping: LabelMapping) -> GroupLayout:
    """The loss groups of ``mapping``; raises ValueError when two of its unions overlap."""
    unions = mapping.unions()
    seen: set[Label] = set()
    for union in unions:
        overlap = seen.intersection(union)
        if overlap:
            raise ValueError(f"{mapping.name}: unions overlap on classes {sorted(int(c) for c in overlap)}; "
                             "a marginal loss needs disjoint unions")
        seen.update(union)
    background = (Label.BACKGROUND, *mapping.unannotated)
    singles = [(c,) for c in mapping.annotated if c not in seen and c is not Label.BACKGROUND]
    groups = (background, *unions, *singles)
    c2g = [0] * NUM_CLASSES
    for g, members in enumerate(groups):
        for c in members:
            c2g[int(c)] = g
    return GroupLayout(groups=tuple(groups), class_to_group=tuple(c2g))


def encode_target(labels: np.ndarray, mapping: LabelMapping) -> np.ndarray:
    """Source label values -> group indices of :func:`group_layout` (uint8, same shape; unmapped -> 0)."""
    coded, _ = mapping.union_index_map(labels)
    return coded


def marginal_log_probs(logits: torch.Tensor, class_to_group: torch.Tensor, n_groups: int) -> torch.Tensor:
    """Log of the summed softmax probabilities per group, for one sample.

    ``logits`` (C, *S), ``class_to_group`` (C,) long; returns (n_groups, *S). Computed as a grouped
    log-sum-exp so that small group probabilities keep their precision.
    """
    logits = logits.float()
    top = logits.amax(dim=0, keepdim=True).detach()
    exp = torch.exp(logits - top)
    sums = torch.zeros((n_groups, *logits.shape[1:]), dtype=exp.dtype, device=exp.device)
    sums = sums.index_add(0, class_to_group.to(exp.device), exp)
    total = exp.sum(dim=0, keepdim=True)
    return torch.log(sums.clamp_min(torch.finfo(sums.dtype).tiny)) - torch.log(total)


class PartialLabelDiceCELoss(nn.Module):
    """Marginal soft-Dice (mean over groups) + marginal cross-entropy (mean over voxels), per sample.

    Matches MONAI's ``DiceCELoss(to_onehot_y=True, softmax=True)`` (``batch=False``, default smoothing)
    when every sample's groups are the schema classes.
    """

    def __init__(self, dice_weight: float = 1.0, ce_weight: float = 1.0,
                 smooth_nr: float = 1e-5, smooth_dr: float = 1e-5) -> None:
        super().__init__()
        self.dice_weight = dice_weight
        self.ce_weight = ce_weight
        self.smooth_nr = smooth_nr
        self.smooth_dr = smooth_dr

    def forward(self, logits: torch.Tensor, target: torch.Tensor, class_to_group: torch.Tensor,
                n_groups: torch.Tensor | list[int]) -> torch.Tensor:
        """Mean loss over the batch (see module docstring for shapes)."""
        losses = []
        for b in range(logits.shape[0]):
            k = int(n_groups[b])
            logp = marginal_log_probs(logits[b], class_to_group[b], k)
            tgt = target[b, 0].long()
            ce = -logp.gather(0, tgt.unsqueeze(0)).mean()
            prob = logp.exp()
            onehot = torch.zeros_like(prob).scatter_(0, tgt.unsqueeze(0), 1.0)
            dims = tuple(range(1, prob.ndim))
            inter = (prob * onehot).sum(dims)
            denom = prob.sum(dims) + onehot.sum(dims)
            dice = 1.0 - (2.0 * inter + self.smooth_nr) / (denom + self.smooth_dr)
            losses.append(self.dice_weight * dice.mean() + self.ce_weight * ce)
        return torch.stack(losses).mean()
