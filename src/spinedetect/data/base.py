"""What every dataset adapter yields: a case (image, source label map, label mapping) on a RAS grid."""

from __future__ import annotations

import abc
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import nibabel as nib
import numpy as np

from spinedetect.errors import InputError
from spinedetect.io.volume import Volume
from spinedetect.labels import LabelMapping

__all__ = ["Case", "DatasetAdapter", "read_image", "require_dir", "LPS_TO_RAS"]

log = logging.getLogger(__name__)

#: Flips x and y: converts an LPS world affine (ITK, DICOM) to RAS (nibabel) and back.
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


@dataclass
class Case:
    """One training/evaluation case.

    ``labels`` holds the data set's own label values on the image grid; ``mapping`` says which union of
    schema classes each value stands for and which classes the data set does not annotate.
    ``subject`` groups cases of one person (splits keep a subject on one side).
    """

    case_id: str
    subject: str
    image: Volume
    labels: Volume
    mapping: LabelMapping
    meta: dict[str, Any] = field(default_factory=dict)


class DatasetAdapter(abc.ABC):
    """A source of cases: lists its case ids and loads one case at a time (lazily, files are large)."""

    name: str = "dataset"
    modality: str = "MR"

    @abc.abstractmethod
    def case_ids(self) -> list[str]:
        """Ids of the cases this source holds, sorted."""

    @abc.abstractmethod
    def load(self, case_id: str) -> Case:
        """Read one case."""

    def subject(self, case_id: str) -> str:
        """Subject of ``case_id`` (default: the case itself)."""
        return case_id

    def __iter__(self) -> Iterator[Case]:
        for case_id in self.case_ids():
            yield self.load(case_id)

    def __len__(self) -> int:
        return len(self.case_ids())


def read_image(path: Path, *, modality: str | None = None, dtype: type | None = None) -> Volume:
    """Read a NIfTI (nibabel) or MHA/NRRD (SimpleITK) file into a RAS :class:`Volume`.

    ITK images are LPS with arrays in (z, y, x) order: the array is transposed to (i, j, k) and the
    direction/origin flipped to RAS.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"Image file {path} does not exist", expected="a readable image file",
                         found="no file", hint="Check the data set folder layout")
    name = path.name.lower()
    if name.endswith((".nii", ".nii.gz")):
        img = nib.load(str(path))
        array = np.asanyarray(img.dataobj)
        if array.ndim == 4 and array.shape[3] == 1:
            array = array[..., 0]
        affine = img.affine
    elif name.endswith((".mha", ".mhd", ".nrrd")):
        import SimpleITK as sitk

        img = sitk.ReadImage(str(path))
        array = sitk.GetArrayFromImage(img).transpose(2, 1, 0)
        direction = np.asarray(img.GetDirection(), dtype=np.float64).reshape(3, 3)
        lps = np.eye(4)
        lps[:3, :3] = direction * np.asarray(img.GetSpacing())[None, :]
        lps[:3, 3] = img.GetOrigin()
        affine = LPS_TO_RAS @ lps
    else:
        raise InputError(f"Cannot read {path}", expected="a .nii, .nii.gz, .mha, .mhd or .nrrd file",
                         found=path.suffix or "no suffix")
    if array.ndim != 3:
        raise InputError(f"Image {path} is not 3-D", expected="a 3-D volume", found=f"shape {array.shape}")
    if dtype is not None:
        array = array.astype(dtype)
    return Volume(array=np.ascontiguousarray(array), affine=affine, modality=modality,
                  meta={"path": str(path)})


def require_dir(path: str | Path, what: str, hint: str = "Point the dataset root at the unpacked download") -> Path:
    """``path`` as a Path when it is a folder, else an InputError naming ``what`` was expected there."""
    path = Path(path)
    if not path.is_dir():
        raise InputError(f"{what} folder {path} does not exist", expected=f"the {what} layout",
                         found="no such folder", hint=hint)
    return path
