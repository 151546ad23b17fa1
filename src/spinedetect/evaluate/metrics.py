"""Overlap, surface-distance and agreement metrics on boolean masks and ordinal ratings.

Masks are boolean arrays indexed (i, j, k); distances are in world millimetres, computed from the voxel
spacing (the column norms of the affine, so rotated grids are exact; sheared grids are not supported).

Empty masks, stated once (every summary follows these rules):

- Dice: both empty -> NaN (nothing to score; left out of means and counted as "absent in both");
  exactly one empty -> 0.0.
- HD95: both empty -> NaN; exactly one empty -> +inf (no surface to measure to). Summaries leave
  +inf out of the mean/median and count such cases as "missed" (truth present, prediction empty) or
  "spurious" (prediction present, truth empty); the Dice of those cases is 0 and does enter the mean.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import ndimage

__all__ = [
    "STRUCTURE_26",
    "dice",
    "hausdorff95",
    "surface_distances",
    "spacing_of",
    "confusion_matrix",
    "weighted_kappa",
    "sensitivity_specificity",
]

#: 26-connectivity in 3-D: a voxel touches every voxel in its 3x3x3 neighbourhood.
STRUCTURE_26 = np.ones((3, 3, 3), dtype=bool)


def spacing_of(affine: np.ndarray) -> tuple[float, float, float]:
    """Voxel size (mm) along i, j, k: the column norms of the 4x4 voxel-to-world affine."""
    return tuple(float(s) for s in np.linalg.norm(np.asarray(affine, dtype=np.float64)[:3, :3], axis=0))  # type: ignore[return-value]


def dice(pred: np.ndarray, truth: np.ndarray) -> float:
    """Dice coefficient 2|P ∩ T| / (|P| + |T|) of two boolean masks of one shape.

    Both empty -> NaN; exactly one empty -> 0.0 (module docstring).
    """
    pred = np.asarray(pred, dtype=bool)
    truth = np.asarray(truth, dtype=bool)
    if pred.shape != truth.shape:
        raise ValueError(f"masks differ in shape: {pred.shape} vs {truth.shape}")
    total = int(pred.sum()) + int(truth.sum())
    if total == 0:
        return float("nan")
    return 2.0 * int(np.logical_and(pred, truth).sum()) / total


#: Face neighbours (6-connectivity): the erosion that defines surface voxels, as in MONAI's get_mask_edges.
STRUCTURE_6 = ndimage.generate_binary_structure(3, 1)


def _surface(mask: np.ndarray) -> np.ndarray:
    # A surface voxel belongs to the mask and shares a face with a voxel outside it; the array border
    # counts as outside (binary_erosion's border_value=0), so masks cut by the edge are closed.
    return mask & ~ndimage.binary_erosion(mask, structure=STRUCTURE_6, border_value=0)


def surface_distances(pred: np.ndarray, truth: np.ndarray,
                      spacing: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Distances (mm) from each surface voxel of ``pred`` to the surface of ``truth``, and back.

    Both masks must be non-empty. Voxel centres are the points; ``spacing`` is (di, dj, dk) in mm.
    The work is cropped to the bounding box of both masks, which leaves every distance unchanged.
    """
    pred = np.asarray(pred, dtype=bool)
    truth = np.asarray(truth, dtype=bool)
    if pred.shape != truth.shape:
        raise ValueError(f"masks differ in shape: {pred.shape} vs {truth.shape}")
    if not pred.any() or not truth.any():
        raise ValueError("surface distances need two non-empty masks")
    # Crop to the bounding box of both masks grown by one voxel (clipped to the array): the margin is
    # background or the array border, so surfaces and distances are exactly those of the full arrays.
    both = pred | truth
    box = tuple(slice(max(s.start - 1, 0), min(s.stop + 1, n))
                for s, n in zip(ndimage.find_objects(both.astype(np.uint8))[0], both.shape))
    pred_s = _surface(pred[box])
    truth_s = _surface(truth[box])
    sampling = [float(s) for s in spacing]
    to_truth = ndimage.distance_transform_edt(~truth_s, sampling=sampling)
    to_pred = ndimage.distance_transform_edt(~pred_s, sampling=sampling)
    return to_truth[pred_s], to_pred[truth_s]


def hausdorff95(pred: np.ndarray, truth: np.ndarray, spacing: Sequence[float]) -> float:
    """95 % Hausdorff distance (mm) between the surfaces of two boolean masks.

    The larger of the two directed 95th percentiles (prediction -> truth and truth -> prediction), as
    in MONAI's ``compute_hausdorff_distance(percentile=95)``. Both empty -> NaN, one empty -> +inf.
    """
    p_any = bool(np.any(pred))
    t_any = bool(np.any(truth))
    if not p_any and not t_any:
        return float("nan")
    if p_any != t_any:
        return float("inf")
    d_pt, d_tp = surface_distances(pred, truth, spacing)
    return float(max(np.percentile(d_pt, 95), np.percentile(d_tp, 95)))


def confusion_matrix(truth: Sequence[int], pred: Sequence[int], n_categories: int) -> np.ndarray:
    """Counts ``C[t, p]`` of items rated ``t`` by the truth and ``p`` by the prediction (0-based ordinals)."""
    cm = np.zeros((n_categories, n_categories), dtype=np.int64)
    for t, p in zip(truth, pred, strict=True):
        if not (0 <= t < n_categories and 0 <= p < n_categories):
            raise ValueError(f"ratings must be in 0..{n_categories - 1}, got truth {t}, prediction {p}")
        cm[t, p] += 1
    return cm


def weighted_kappa(confusion: np.ndarray, weights: str = "linear") -> float:
    """Cohen's kappa with linear (|i-j|/(k-1)) or quadratic disagreement weights from a confusion matrix.

    ``kappa = 1 - sum(w * observed) / sum(w * expected)``, expected = outer(row sums, column sums) / n.
    NaN with no items. When the expected disagreement is zero (every rating in one category on both
    sides) kappa is undefined by the formula; it is then 1.0 if the observed disagreement is also zero.
    """
    cm = np.asarray(confusion, dtype=np.float64)
    k = cm.shape[0]
    if cm.shape != (k, k):
        raise ValueError(f"confusion matrix must be square, got {cm.shape}")
    n = cm.sum()
    if n == 0:
        return float("nan")
    idx = np.arange(k)
    diff = np.abs(idx[:, None] - idx[None, :]) / max(k - 1, 1)
    if weights == "linear":
        w = diff
    elif weights == "quadratic":
        w = diff ** 2
    else:
        raise ValueError(f"weights must be 'linear' or 'quadratic', got {weights!r}")
    expected = np.outer(cm.sum(axis=1), cm.sum(axis=0)) / n
    observed_d = float((w * cm).sum())
    expected_d = float((w * expected).sum())
    if expected_d == 0.0:
        return 1.0 if observed_d == 0.0 else float("nan")
    return 1.0 - observed_d / expected_d


def sensitivity_specificity(truth: Sequence[bool], pred: Sequence[bool]) -> tuple[float | None, float | None]:
    """(sensitivity, specificity) of binary predictions; None where there are no positives/negatives."""
    t = np.asarray(truth, dtype=bool)
    p = np.asarray(pred, dtype=bool)
    pos = int(t.sum())
    neg = int((~t).sum())
    sens = float((t & p).sum() / pos) if pos else None
    spec = float((~t & ~p).sum() / neg) if neg else None
    return sens, spec
