"""Dice per loss group (marginal Dice): the evaluation counterpart of the partial-label loss."""

from __future__ import annotations

import numpy as np

__all__ = ["dice", "group_dice"]


def dice(pred: np.ndarray, truth: np.ndarray) -> float:
    """Dice of two boolean masks; NaN when both are empty (nothing to score)."""
    p, t = np.asarray(pred, bool), np.asarray(truth, bool)
    denom = int(p.sum()) + int(t.sum())
    return float("nan") if denom == 0 else 2.0 * float(np.logical_and(p, t).sum()) / denom


def group_dice(pred_classes: np.ndarray, target_groups: np.ndarray, class_to_group: tuple[int, ...] | np.ndarray,
               n_groups: int) -> dict[int, float]:
    """Dice per group 1..n_groups-1 of a predicted schema label map against a group-index target.

    The prediction is mapped to groups with ``class_to_group`` (classes in one union count together;
    unannotated classes count as background), so a partially labelled data set is scored only on what
    it labels.
    """
    pred_groups = np.asarray(class_to_group, dtype=np.int64)[np.asarray(pred_classes, dtype=np.int64)]
    return {g: dice(pred_groups == g, target_groups == g) for g in range(1, n_groups)}
