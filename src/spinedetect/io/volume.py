"""The in-memory image every step after io works on."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import nibabel as nib
import numpy as np

__all__ = ["SourceIds", "Volume"]


@dataclass(frozen=True)
class SourceIds:
    """DICOM identifiers of the images a volume was built from (empty for NIfTI/MHA input)."""

    study_instance_uid: str | None = None
    series_instance_uid: str | None = None
    sop_instance_uids: tuple[str, ...] = ()
    frame_of_reference_uid: str | None = None


@dataclass
class Volume:
    """A 3-D image or label map on a world grid.

    ``array`` is indexed (i, j, k); ``affine`` (4x4, float64) maps a voxel index (i, j, k, 1) to world
    millimetres in RAS+ (x grows towards the patient's Right, y Anterior, z Superior; nibabel's
    convention). DICOM's LPS is converted by io and never seen elsewhere. ``modality`` is the DICOM
    modality ("MR", "CT") or None; ``meta`` holds the few header facts later steps need (series
    description, echo time, ...); ``notes`` records every problem found and the rule that handled it.
    """

    array: np.ndarray
    affine: np.ndarray
    modality: str | None = None
    source: SourceIds = field(default_factory=SourceIds)
    meta: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.affine = np.asarray(self.affine, dtype=np.float64)
        if self.affine.shape != (4, 4):
            raise ValueError(f"affine must be 4x4, got {self.affine.shape}")
        if self.array.ndim != 3:
            raise ValueError(f"array must be 3-D (i, j, k), got {self.array.ndim}-D shape {self.array.shape}")

    @property
    def shape(self) -> tuple[int, int, int]:
        """Array shape (i, j, k) in voxels."""
        return tuple(int(s) for s in self.array.shape)  # type: ignore[return-value]

    @property
    def spacing(self) -> tuple[float, float, float]:
        """Voxel size along i, j, k in millimetres."""
        return tuple(float(s) for s in np.linalg.norm(self.affine[:3, :3], axis=0))  # type: ignore[return-value]

    @property
    def orientation(self) -> str:
        """Axis codes of i, j, k (e.g. ``"RAS"``, ``"PIR"``), as nibabel names the nearest world axes."""
        return "".join(nib.orientations.aff2axcodes(self.affine))

    def to_nifti(self) -> nib.Nifti1Image:
        """A NIfTI image of this volume with qform and sform both set to the affine."""
        img = nib.Nifti1Image(self.array, self.affine)
        img.set_qform(self.affine, code=1)
        img.set_sform(self.affine, code=1)
        return img
