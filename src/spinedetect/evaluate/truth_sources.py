"""Where ground truth lives and what its label values mean (data only, plus the file-name rules).

Truth formats (``--truth-format``):

- ``schema``: schema label maps (spinedetect's own values), ``DIR/<case>/labels.nii.gz`` or flat
  ``DIR/<case>_labels.nii.gz`` / ``DIR/<case>.nii.gz``.
- ``phantom``: the phantom generator's folders: as ``schema`` plus ``DIR/<case>/truth.json``.
- ``real-mri-vb``: ``DIR/<case>_vb.nii.gz``, ids 1..N are vertebral bodies (a metastasis in a body is
  inside the labelled body, so each id stands for body ∪ osseous lesion); nothing else is annotated.
- ``real-cord``: ``DIR/<case>_seg-manual.nii.gz`` (cord = 1); only the cord is annotated.
- ``totalseg-ct``: ``DIR/<case>_spine_labels.nii.gz`` with TotalSegmentator CT values: 25 sacrum, 26 S1,
  27..33 L5..T11 (whole vertebra = body ∪ posterior elements ∪ osseous lesion), 79 spinal cord.
- ``totalseg-mr``: as ``totalseg-ct`` with TotalSegmentator MR values: 19 vertebrae, 20 discs, 21 cord.

Predictions are always schema label maps, laid out as ``schema``. Cases pair by name; a label map whose
values fall outside the format's mapping is skipped and reported (never silently re-coded).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from spinedetect.errors import InputError
from spinedetect.labels import SCHEMA_MAPPING, Label, LabelMapping

__all__ = ["TruthFormat", "TRUTH_MAPPINGS", "CaseFiles", "find_cases", "detect_format", "PAIRING_RULE"]

log = logging.getLogger(__name__)

PAIRING_RULE = ("cases pair by name: a case is DIR/<case>/labels.nii.gz (with report.json / truth.json beside "
                "it), or a flat file DIR/<case>_labels.nii.gz (or DIR/<case>.nii.gz when no *_labels file "
                "exists); real-data truth uses its own file names (<case>_vb, <case>_seg-manual, "
                "<case>_spine_labels); cases on one side only are reported, not scored")


class TruthFormat(str, Enum):
    """Layout and label values of a truth folder."""

    SCHEMA = "schema"
    PHANTOM = "phantom"
    REAL_MRI_VB = "real-mri-vb"
    REAL_CORD = "real-cord"
    TOTALSEG_CT = "totalseg-ct"
    TOTALSEG_MR = "totalseg-mr"


_VERTEBRA = (Label.VERTEBRAL_BODY, Label.POSTERIOR_ELEMENTS, Label.OSSEOUS_LESION)
_BODY = (Label.VERTEBRAL_BODY, Label.OSSEOUS_LESION)

#: Highest vertebral-body id accepted in real-mri-vb files (the data have at most 9).
MAX_VB_ID = 30

TRUTH_MAPPINGS: dict[TruthFormat, LabelMapping] = {
    TruthFormat.SCHEMA: SCHEMA_MAPPING,
    TruthFormat.PHANTOM: SCHEMA_MAPPING,
    TruthFormat.REAL_MRI_VB: LabelMapping("real-mri-vb", {v: _BODY for v in range(1, MAX_VB_ID + 1)}),
    TruthFormat.REAL_CORD: LabelMapping("real-cord", {1: (Label.CORD,)}),
    TruthFormat.TOTALSEG_CT: LabelMapping("totalseg-ct", {**{v: _VERTEBRA for v in range(25, 34)},
                                                          79: (Label.CORD,)}),
    TruthFormat.TOTALSEG_MR: LabelMapping("totalseg-mr", {19: _VERTEBRA, 20: (Label.DISC,),
                                                          21: (Label.CORD,)}),
}

#: File-name suffix of the label maps of each real-data format (the case name is what precedes it).
_SUFFIX: dict[TruthFormat, str] = {
    TruthFormat.REAL_MRI_VB: "_vb.nii.gz",
    TruthFormat.REAL_CORD: "_seg-manual.nii.gz",
    TruthFormat.TOTALSEG_CT: "_spine_labels.nii.gz",
    TruthFormat.TOTALSEG_MR: "_spine_labels.nii.gz",
}


@dataclass(frozen=True)
class CaseFiles:
    """The files of one case: its label map and, where present, report.json / truth.json beside it."""

    name: str
    labels: Path
    json: Path | None = None


def _nifti_stem(path: Path) -> str:
    name = path.name
    for ext in (".nii.gz", ".nii"):
        if name.endswith(ext):
            return name[: -len(ext)]
    return name


def _schema_cases(folder: Path, json_name: str) -> dict[str, CaseFiles]:
    cases: dict[str, CaseFiles] = {}
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        for name in ("labels.nii.gz", "labels.nii"):
            if (sub / name).is_file():
                js = sub / json_name
                cases[sub.name] = CaseFiles(sub.name, sub / name, js if js.is_file() else None)
                break
    flat = sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith((".nii.gz", ".nii")))
    tagged = [p for p in flat if _nifti_stem(p).endswith("_labels")]
    # With *_labels files present, the other NIfTI files are images beside them, not label maps.
    for p in tagged or flat:
        stem = _nifti_stem(p)
        name = stem[: -len("_labels")] if tagged else stem
        if name in cases:
            raise InputError(f"Case '{name}' appears twice in {folder}", expected="one label map per case",
                             found=f"{cases[name].labels.name} and {p.name}", hint="Remove one of them")
        js = folder / f"{name}_{json_name}"
        cases[name] = CaseFiles(name, p, js if js.is_file() else None)
    return cases


def find_cases(folder: Path, fmt: TruthFormat, *, json_name: str = "truth.json") -> dict[str, CaseFiles]:
    """Cases of ``folder`` laid out as ``fmt``, by name (sorted). ``json_name``: report.json or truth.json."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"Folder {folder} does not exist", expected="a folder of cases",
                         found="no folder at that path", hint="Check --pred / --truth")
    if fmt in (TruthFormat.SCHEMA, TruthFormat.PHANTOM):
        return _schema_cases(folder, json_name)
    suffix = _SUFFIX[fmt]
    return {p.name[: -len(suffix)]: CaseFiles(p.name[: -len(suffix)], p)
            for p in sorted(folder.glob(f"*{suffix}"))}


def detect_format(folder: Path) -> TruthFormat:
    """Guess the truth format of ``folder`` from its file names (``--truth-format auto``).

    phantom when any case folder holds truth.json; real-mri-vb / real-cord / totalseg-ct by their file
    suffixes; schema otherwise. TotalSegmentator MR is never guessed (same names as CT): name it.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"Folder {folder} does not exist", expected="a folder of truth cases",
                         found="no folder at that path", hint="Check --truth")
    if any(folder.glob("*/truth.json")) or any(folder.glob("*_truth.json")):
        return TruthFormat.PHANTOM
    for fmt in (TruthFormat.REAL_MRI_VB, TruthFormat.REAL_CORD, TruthFormat.TOTALSEG_CT):
        if any(folder.glob(f"*{_SUFFIX[fmt]}")):
            log.info("truth format of %s guessed as %s from its file names", folder, fmt.value)
            return fmt
    return TruthFormat.SCHEMA
