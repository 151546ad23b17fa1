"""Adapters for the real cases in ../shared/data (see its README.md).

- real-mri-vb: lumbar MRI, one id per vertebral body (bodies only; posterior elements, discs and canal
  are unannotated).
- real-cord: cervical T1/T2 MRI with a manual cord mask (cord only).
- real-ct: TotalSegmentator outputs: CT 25-33 sacrum..T11 + 79 spinal cord; MR 19 vertebrae,
  20 intervertebral discs, 21 spinal cord.

Every real scan of the shared data is free of metastasis. With ``lesion_free=True`` an adapter says so
to the partial-label loss: osseous lesion and epidural tumour are annotated but no value stands for them
(known absent: the loss pushes them down everywhere), a body value is the body alone and a vertebra value
body ∪ posterior elements. ``lesion_free=False`` keeps the older reading, in which a bone value may hold a
lesion and lesion/tumour are unannotated (the shipped default model was trained so); use it for any data
set that may hold metastases.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from spinedetect.data.base import Case, DatasetAdapter, read_image, require_dir
from spinedetect.errors import InputError
from spinedetect.labels import BONE, Label, LabelMapping

__all__ = ["RealMriVbDataset", "RealCordDataset", "RealCtDataset", "REAL_MRI_VB_MAPPING", "REAL_CORD_MAPPING",
           "REAL_CT_MAPPING", "REAL_MR_TOTALSEG_MAPPING", "VB_GROUPS", "lesion_free_mapping"]

REAL_MRI_VB_MAPPING = LabelMapping("real-mri-vb",
                                   {v: (Label.VERTEBRAL_BODY, Label.OSSEOUS_LESION) for v in range(1, 41)})
REAL_CORD_MAPPING = LabelMapping("real-cord", {1: (Label.CORD,)})
REAL_CT_MAPPING = LabelMapping("real-ct (TotalSegmentator CT)",
                               {**{v: BONE for v in range(25, 34)}, 79: (Label.CORD,)})
REAL_MR_TOTALSEG_MAPPING = LabelMapping("real-ct (TotalSegmentator MR)",
                                        {19: BONE, 20: (Label.DISC,), 21: (Label.CORD,)})

#: Classes a metastasis-free scan is known not to hold.
METASTASIS: tuple[Label, ...] = (Label.OSSEOUS_LESION, Label.EPIDURAL_TUMOUR)


def lesion_free_mapping(mapping: LabelMapping) -> LabelMapping:
    """``mapping`` read for a metastasis-free scan: lesion and tumour leave every union and become
    annotated with no value (known absent); the other annotated classes stay as they are."""
    values = {v: tuple(c for c in union if c not in METASTASIS) for v, union in mapping.values.items()}
    empty = sorted(v for v, union in values.items() if not union)
    if empty:
        raise ValueError(f"{mapping.name}: values {empty} stand for metastasis only; a lesion-free reading "
                         "would leave them meaning nothing")
    annotated = tuple(sorted({*mapping.annotated, *METASTASIS}))
    return LabelMapping(f"{mapping.name}, lesion-free", values, annotated)


#: Cases of real-mri-vb that share a subject or protocol and must stay on one side of a split.
VB_GROUPS: dict[str, tuple[str, ...]] = {
    "VB1_10": ("VB1_10", "VB1_11"),
    "VB1_02": ("VB1_02", "VB1_03", "VB1_06", "VB1_07", "VB1_08"),
}


def _folder(root: str | Path) -> Path:
    return require_dir(root, "shared data", hint="Pass the data root, e.g. ../shared/data/real-mri-vb")


class _RealDataset(DatasetAdapter):
    """A folder of real cases; ``lesion_free`` chooses the reading of its labels (module docstring)."""

    def __init__(self, root: str | Path, *, lesion_free: bool = False) -> None:
        self.root = _folder(root)
        self.lesion_free = lesion_free

    def mapping(self, base: LabelMapping) -> LabelMapping:
        """``base`` as this adapter reads it."""
        return lesion_free_mapping(base) if self.lesion_free else base


class RealMriVbDataset(_RealDataset):
    """real-mri-vb: ``<case>_img.nii.gz`` + ``<case>_vb.nii.gz``; subject groups from :data:`VB_GROUPS`."""

    name = "real-mri-vb"
    modality = "MR"

    def case_ids(self) -> list[str]:
        return sorted(p.name[: -len("_img.nii.gz")] for p in self.root.glob("*_img.nii.gz")
                      if (self.root / p.name.replace("_img.", "_vb.")).is_file())

    def subject(self, case_id: str) -> str:
        for group, members in VB_GROUPS.items():
            if case_id in members:
                return group
        return case_id

    def load(self, case_id: str) -> Case:
        image = read_image(self.root / f"{case_id}_img.nii.gz", modality="MR", dtype=np.float32)
        labels = read_image(self.root / f"{case_id}_vb.nii.gz", dtype=np.int32)
        return Case(case_id, self.subject(case_id), image, labels, self.mapping(REAL_MRI_VB_MAPPING),
                    {"source": self.name})


class RealCordDataset(_RealDataset):
    """real-cord: ``sct_t2`` and ``sct_t1w`` with ``<case>_seg-manual.nii.gz`` (cord = 1), one subject."""

    name = "real-cord"
    modality = "MR"

    def case_ids(self) -> list[str]:
        return sorted(p.name[: -len("_seg-manual.nii.gz")] for p in self.root.glob("*_seg-manual.nii.gz")
                      if (self.root / p.name.replace("_seg-manual", "")).is_file())

    def subject(self, case_id: str) -> str:
        return "sct"

    def load(self, case_id: str) -> Case:
        image = read_image(self.root / f"{case_id}.nii.gz", modality="MR", dtype=np.float32)
        labels = read_image(self.root / f"{case_id}_seg-manual.nii.gz", dtype=np.int32)
        return Case(case_id, self.subject(case_id), image, labels, self.mapping(REAL_CORD_MAPPING),
                    {"source": self.name})


class RealCtDataset(_RealDataset):
    """real-ct: ``example_ct`` (CT) and ``example_mr_sm`` (MR) with ``<case>_spine_labels.nii.gz``."""

    name = "real-ct"
    _CASES = {"example_ct": ("CT", REAL_CT_MAPPING), "example_mr_sm": ("MR", REAL_MR_TOTALSEG_MAPPING)}

    def case_ids(self) -> list[str]:
        return sorted(c for c in self._CASES if (self.root / f"{c}.nii.gz").is_file()
                      and (self.root / f"{c}_spine_labels.nii.gz").is_file())

    def load(self, case_id: str) -> Case:
        if case_id not in self._CASES:
            raise InputError(f"Unknown real-ct case {case_id!r}", expected=f"one of {sorted(self._CASES)}",
                             found=repr(case_id))
        modality, mapping = self._CASES[case_id]
        image = read_image(self.root / f"{case_id}.nii.gz", modality=modality, dtype=np.float32)
        labels = read_image(self.root / f"{case_id}_spine_labels.nii.gz", dtype=np.int32)
        return Case(case_id, case_id, image, labels, self.mapping(mapping), {"source": self.name})
