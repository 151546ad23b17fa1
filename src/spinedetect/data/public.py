"""Adapters for the public spine data sets, in the layouts they are published in.

- SPIDER (lumbar MRI): ``images/<case>.mha`` and ``masks/<case>.mha``; values 1-25 vertebrae,
  100 spinal canal, 201-225 intervertebral discs. Cases are ``<patient>_t1``, ``<patient>_t2`` ...
- VerSe (CT): ``rawdata/sub-*/<prefix>_ct.nii.gz``, ``derivatives/sub-*/<prefix>_seg-vert_msk.nii.gz``
  (one value per vertebra, 1-28) and ``<prefix>_seg-subreg_ctd.json`` (centroids).
- TotalSegmentator's data set (CT): ``<subject>/ct.nii.gz`` + ``<subject>/segmentations/<structure>.nii.gz``,
  one binary mask per structure (``vertebrae_L1``, ``sacrum``, ``spinal_cord`` ...).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from spinedetect.data.base import Case, DatasetAdapter, read_image, require_dir
from spinedetect.errors import InputError
from spinedetect.io.volume import Volume
from spinedetect.labels import BONE, CANAL, Label, LabelMapping

__all__ = ["SpiderDataset", "VerseDataset", "TotalSegmentatorDataset", "SPIDER_MAPPING", "VERSE_MAPPING",
           "TOTALSEG_STRUCTURES", "TOTALSEG_MAPPING"]

# A whole-vertebra label covers body, posterior elements and any metastasis inside them.
SPIDER_MAPPING = LabelMapping(
    "SPIDER",
    {**{v: BONE for v in range(1, 26)}, 100: CANAL, **{v: (Label.DISC,) for v in range(201, 226)}},
)
VERSE_MAPPING = LabelMapping("VerSe", {v: BONE for v in range(1, 29)})

#: TotalSegmentator structure file stems read by the adapter, in the order of their label values (1..).
TOTALSEG_STRUCTURES: tuple[str, ...] = (
    *(f"vertebrae_C{i}" for i in range(1, 8)), *(f"vertebrae_T{i}" for i in range(1, 13)),
    *(f"vertebrae_L{i}" for i in range(1, 6)), "vertebrae_S1", "sacrum", "spinal_cord",
)
TOTALSEG_MAPPING = LabelMapping(
    "TotalSegmentator",
    {i + 1: ((Label.CORD,) if name == "spinal_cord" else BONE) for i, name in enumerate(TOTALSEG_STRUCTURES)},
)


class SpiderDataset(DatasetAdapter):
    """SPIDER lumbar MRI (images/ and masks/ of .mha files); subject = the patient number."""

    name = "SPIDER"
    modality = "MR"

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        require_dir(self.root / "images", "SPIDER images")
        require_dir(self.root / "masks", "SPIDER masks")

    def case_ids(self) -> list[str]:
        return sorted(p.name[: -len(".mha")] for p in (self.root / "images").glob("*.mha")
                      if (self.root / "masks" / p.name).is_file())

    def subject(self, case_id: str) -> str:
        return case_id.split("_")[0]

    def load(self, case_id: str) -> Case:
        image = read_image(self.root / "images" / f"{case_id}.mha", modality="MR", dtype=np.float32)
        labels = read_image(self.root / "masks" / f"{case_id}.mha", dtype=np.int32)
        return Case(case_id, self.subject(case_id), image, labels, SPIDER_MAPPING, {"source": self.name})


class VerseDataset(DatasetAdapter):
    """VerSe CT in its BIDS-like layout; subject = the ``sub-*`` folder."""

    name = "VerSe"
    modality = "CT"

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        require_dir(self.root / "rawdata", "VerSe rawdata")
        require_dir(self.root / "derivatives", "VerSe derivatives")

    def _paths(self, case_id: str) -> tuple[Path, Path, Path]:
        sub = case_id.split("_")[0]
        der = self.root / "derivatives" / sub
        return (self.root / "rawdata" / sub / f"{case_id}_ct.nii.gz", der / f"{case_id}_seg-vert_msk.nii.gz",
                der / f"{case_id}_seg-subreg_ctd.json")

    def case_ids(self) -> list[str]:
        ids = [p.name[: -len("_ct.nii.gz")] for p in (self.root / "rawdata").glob("sub-*/*_ct.nii.gz")]
        return sorted(i for i in ids if self._paths(i)[1].is_file())

    def subject(self, case_id: str) -> str:
        return case_id.split("_")[0]

    def load(self, case_id: str) -> Case:
        image_path, mask_path, ctd_path = self._paths(case_id)
        image = read_image(image_path, modality="CT", dtype=np.float32)
        labels = read_image(mask_path, dtype=np.int32)
        meta: dict = {"source": self.name}
        if ctd_path.is_file():
            meta["centroids"] = _read_verse_centroids(ctd_path)
        return Case(case_id, self.subject(case_id), image, labels, VERSE_MAPPING, meta)


def _read_verse_centroids(path: Path) -> dict:
    """VerSe centroid JSON -> {"direction": axis codes, "centroids": {label: (X, Y, Z) voxels}}."""
    entries = json.loads(path.read_text(encoding="utf-8"))
    out: dict = {"direction": None, "centroids": {}}
    for entry in entries:
        if "direction" in entry:
            out["direction"] = "".join(entry["direction"])
        elif "label" in entry:
            out["centroids"][int(entry["label"])] = (float(entry["X"]), float(entry["Y"]), float(entry["Z"]))
    return out


class TotalSegmentatorDataset(DatasetAdapter):
    """TotalSegmentator's CT data set: ``<subject>/ct.nii.gz`` + one mask per structure."""

    name = "TotalSegmentator"
    modality = "CT"

    def __init__(self, root: str | Path) -> None:
        self.root = require_dir(Path(root), "TotalSegmentator")

    def case_ids(self) -> list[str]:
        return sorted(p.parent.name for p in self.root.glob("*/ct.nii.gz")
                      if (p.parent / "segmentations").is_dir())

    def load(self, case_id: str) -> Case:
        folder = self.root / case_id
        image = read_image(folder / "ct.nii.gz", modality="CT", dtype=np.float32)
        labels = np.zeros(image.shape, dtype=np.int32)
        found = []
        for value, name in enumerate(TOTALSEG_STRUCTURES, start=1):
            path = folder / "segmentations" / f"{name}.nii.gz"
            if not path.is_file():
                continue
            mask = read_image(path)
            if mask.shape != image.shape or not np.allclose(mask.affine, image.affine, atol=1e-3):
                raise InputError(f"Mask {path} is not on the grid of {folder / 'ct.nii.gz'}",
                                 expected=f"shape {image.shape} and the same affine", found=f"shape {mask.shape}")
            labels[np.asarray(mask.array) > 0] = value
            found.append(name)
        if not found:
            raise InputError(f"No spine structure masks in {folder / 'segmentations'}",
                             expected=f"files such as {TOTALSEG_STRUCTURES[0]}.nii.gz", found="none")
        mapping = _present_only(TOTALSEG_MAPPING, found)
        return Case(case_id, case_id, image, Volume(labels, image.affine), mapping,
                    {"source": self.name, "structures": found})


def _present_only(mapping: LabelMapping, found: list[str]) -> LabelMapping:
    """Cord is annotated only where its mask file exists (older releases lack some structures)."""
    if "spinal_cord" in found:
        return mapping
    values = {v: u for v, u in mapping.values.items() if u != (Label.CORD,)}
    return LabelMapping(mapping.name + " (no cord)", values)


