"""Lesion-wise detection: connected components of a lesion class, matched by overlap.

Rule (stated in every output): lesions are 26-connected components of the class mask; a true lesion
is detected when at least one of its voxels is also predicted as that class (overlap >= 1 voxel), and a
predicted lesion is a false positive when none of its voxels is a true lesion voxel.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from spinedetect.evaluate.metrics import STRUCTURE_26

__all__ = ["MATCH_RULE", "Lesion", "LesionMatch", "match_lesions"]

MATCH_RULE = ("lesions are 26-connected components; a true lesion is detected when a predicted lesion "
              "overlaps it by >= 1 voxel; a predicted lesion overlapping no true lesion is a false positive")


@dataclass(frozen=True)
class Lesion:
    """One connected component: voxel count, volume (mm³), centroid (world mm, RAS+), matched or not."""

    voxels: int
    volume_mm3: float
    centroid_mm: tuple[float, float, float]
    matched: bool
    level: str | None = None


@dataclass(frozen=True)
class LesionMatch:
    """Matching of the true and predicted lesions of one class in one study."""

    true_lesions: tuple[Lesion, ...] = field(default_factory=tuple)
    pred_lesions: tuple[Lesion, ...] = field(default_factory=tuple)

    @property
    def n_true(self) -> int:
        return len(self.true_lesions)

    @property
    def n_detected(self) -> int:
        return sum(les.matched for les in self.true_lesions)

    @property
    def n_false_positive(self) -> int:
        return sum(not les.matched for les in self.pred_lesions)

    @property
    def sensitivity(self) -> float | None:
        """Detected / true lesions; None when the study has no true lesion."""
        return self.n_detected / self.n_true if self.n_true else None

    def to_dict(self) -> dict:
        return {
            "n_true": self.n_true,
            "n_detected": self.n_detected,
            "n_pred": len(self.pred_lesions),
            "n_false_positive": self.n_false_positive,
            "sensitivity": self.sensitivity,
            "true_lesions": [vars(les) | {"centroid_mm": list(les.centroid_mm)} for les in self.true_lesions],
            "false_positives": [vars(les) | {"centroid_mm": list(les.centroid_mm)}
                                for les in self.pred_lesions if not les.matched],
        }


def _components(mask: np.ndarray, other: np.ndarray, affine: np.ndarray,
                voxel_mm3: float) -> list[Lesion]:
    labelled, n = ndimage.label(mask, structure=STRUCTURE_26)
    if n == 0:
        return []
    # Statistics over the mask's voxels only (bincount by component), not over the whole grid.
    coords = np.nonzero(labelled)
    comp = labelled[coords]
    sizes = np.bincount(comp, minlength=n + 1)[1:]
    overlap = np.bincount(comp, weights=other[coords], minlength=n + 1)[1:]
    centres = np.stack([np.bincount(comp, weights=c, minlength=n + 1)[1:] for c in coords], axis=1) / sizes[:, None]
    world = (np.c_[centres, np.ones(n)] @ affine.T)[:, :3]
    return [Lesion(voxels=int(sizes[i]), volume_mm3=float(sizes[i] * voxel_mm3),
                   centroid_mm=tuple(round(float(c), 2) for c in world[i]),  # type: ignore[arg-type]
                   matched=bool(overlap[i] > 0))
            for i in range(n)]


def match_lesions(pred: np.ndarray, truth: np.ndarray, affine: np.ndarray) -> LesionMatch:
    """Match the lesions of boolean masks ``pred`` and ``truth`` (same grid, ``affine`` to RAS+ mm)."""
    pred = np.asarray(pred, dtype=bool)
    truth = np.asarray(truth, dtype=bool)
    if pred.shape != truth.shape:
        raise ValueError(f"masks differ in shape: {pred.shape} vs {truth.shape}")
    affine = np.asarray(affine, dtype=np.float64)
    voxel_mm3 = float(abs(np.linalg.det(affine[:3, :3])))
    return LesionMatch(true_lesions=tuple(_components(truth, pred, affine, voxel_mm3)),
                       pred_lesions=tuple(_components(pred, truth, affine, voxel_mm3)))
