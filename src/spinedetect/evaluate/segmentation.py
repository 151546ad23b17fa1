"""Per-case segmentation scores: Dice and HD95 per schema class and per annotated union, and lesions.

The prediction (schema values) is resampled onto the truth grid by nearest neighbour in world space
when the grids differ, then each class is compared on the truth's grid. Which classes are scored comes
from the truth's :class:`~spinedetect.labels.LabelMapping`: every union its values stand for (a
"vertebral body" id stands for body ∪ osseous lesion); for schema truth also each class alone and the
canal (CSF ∪ cord) and bone (body ∪ posterior elements ∪ lesion) unions. Classes the truth does not
annotate are not scored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from spinedetect.errors import InputError
from spinedetect.evaluate.lesions import LesionMatch, match_lesions
from spinedetect.evaluate.metrics import dice, hausdorff95, spacing_of
from spinedetect.evaluate.resample import resample_labels, same_grid
from spinedetect.labels import BONE, CANAL, LABEL_NAMES, SCHEMA_MAPPING, Label, LabelMapping, union_mask

__all__ = ["ClassScore", "CaseSegmentation", "union_key", "union_title", "scored_unions",
           "LESION_CLASSES", "evaluate_segmentation"]

#: Classes scored lesion-wise (connected components) as well as voxel-wise.
LESION_CLASSES: tuple[Label, ...] = (Label.OSSEOUS_LESION, Label.EPIDURAL_TUMOUR)


def union_key(union: tuple[Label, ...]) -> str:
    """Machine name of a union of classes, e.g. ``"vertebral_body+osseous_lesion"``."""
    return "+".join(Label(c).name.lower() for c in union)


def union_title(union: tuple[Label, ...]) -> str:
    """Readable name of a union, e.g. ``"vertebral body ∪ osseous lesion"``."""
    return " ∪ ".join(LABEL_NAMES[Label(c)] for c in union)


def scored_unions(mapping: LabelMapping) -> list[tuple[Label, ...]]:
    """The unions scored for truth read through ``mapping`` (see the module docstring)."""
    unions = list(mapping.unions())
    if mapping is SCHEMA_MAPPING:
        unions += [tuple(CANAL), tuple(BONE)]
    return unions


@dataclass(frozen=True)
class ClassScore:
    """Dice and HD95 (mm) of one class or union in one case, with voxel counts on the truth grid."""

    dice: float
    hd95_mm: float
    pred_voxels: int
    truth_voxels: int

    @property
    def status(self) -> str:
        """``scored``, ``absent`` (both empty), ``missed`` (prediction empty) or ``spurious`` (truth empty)."""
        if self.pred_voxels == 0 and self.truth_voxels == 0:
            return "absent"
        if self.pred_voxels == 0:
            return "missed"
        if self.truth_voxels == 0:
            return "spurious"
        return "scored"

    def to_dict(self) -> dict:
        def finite(x: float) -> float | None:
            return round(x, 4) if math.isfinite(x) else None

        return {"dice": finite(self.dice), "hd95_mm": finite(self.hd95_mm), "status": self.status,
                "pred_voxels": self.pred_voxels, "truth_voxels": self.truth_voxels}


@dataclass(frozen=True)
class CaseSegmentation:
    """Scores of one case: per union key, lesion matching per lesion class, and what was done to it."""

    classes: dict[str, ClassScore]
    lesions: dict[str, LesionMatch] = field(default_factory=dict)
    resampled: bool = False


def _check_values(labels: np.ndarray, allowed: set[int], what: str) -> None:
    present = {int(v) for v in np.unique(labels)} - {0}
    unknown = sorted(present - allowed)
    if unknown:
        raise InputError(f"{what} has label values outside its mapping",
                         expected=f"values in {sorted(allowed)}", found=f"{unknown[:8]}",
                         hint="Choose the matching --truth-format")


def evaluate_segmentation(pred: np.ndarray, pred_affine: np.ndarray, truth: np.ndarray,
                          truth_affine: np.ndarray, mapping: LabelMapping = SCHEMA_MAPPING) -> CaseSegmentation:
    """Score a schema prediction against a truth label map read through ``mapping``.

    Arrays are (i, j, k) with 4x4 RAS+ affines; the prediction is resampled (nearest neighbour, world
    space) onto the truth grid when they differ. Distances are in mm on the truth grid.
    """
    _check_values(pred, {int(c) for c in Label} - {0}, "prediction")
    _check_values(truth, set(mapping.values), f"truth ({mapping.name})")
    resampled = not same_grid(pred.shape, pred_affine, truth.shape, truth_affine)
    pred_t = resample_labels(pred, pred_affine, truth.shape, truth_affine) if resampled else pred
    index, unions = mapping.union_index_map(truth)
    spacing = spacing_of(truth_affine)
    scores: dict[str, ClassScore] = {}
    truth_masks: dict[tuple[Label, ...], np.ndarray] = {}
    for union in scored_unions(mapping):
        if union in unions:
            t_mask = index == unions.index(union) + 1
        else:  # a derived union of schema classes (canal, bone): truth is a schema map here
            t_mask = union_mask(truth, union)
        p_mask = union_mask(pred_t, union)
        truth_masks[union] = t_mask
        scores[union_key(union)] = ClassScore(dice(p_mask, t_mask), hausdorff95(p_mask, t_mask, spacing),
                                              int(p_mask.sum()), int(t_mask.sum()))
    lesions = {union_key((c,)): match_lesions(union_mask(pred_t, (c,)), truth_masks[(c,)], truth_affine)
               for c in LESION_CLASSES if (c,) in truth_masks}
    return CaseSegmentation(scores, lesions, resampled)
