"""Tiny synthetic phantom-like cases for the evaluation tests."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np

from spinedetect.labels import Label

AFFINE = np.diag([1.0, 1.0, 2.0, 1.0])


def schema_labels(shift: int = 0, lesion: bool = True, epidural: bool = True) -> np.ndarray:
    """A 24 x 24 x 16 schema label map: body, posterior elements, disc, CSF, cord, lesion, epidural."""
    a = np.zeros((24, 24, 16), np.uint8)
    a[4:12, 4:12, 2:7] = Label.VERTEBRAL_BODY
    a[4:12, 4:12, 8:13] = Label.VERTEBRAL_BODY
    a[4:12, 4:12, 7] = Label.DISC
    a[4:12, 16:20, 2:13] = Label.POSTERIOR_ELEMENTS
    a[5:11, 12:16, 0:16] = Label.CSF
    a[7:9 + shift, 13:15, 0:16] = Label.CORD
    if lesion:
        a[6:9, 6:9, 3:5] = Label.OSSEOUS_LESION
    if epidural:
        a[10:11, 12:14, 9:11] = Label.EPIDURAL_TUMOUR
    return a


def write_case(folder: Path, name: str, labels: np.ndarray, doc: dict | None = None,
               json_name: str = "truth.json") -> Path:
    case = folder / name
    case.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(labels, AFFINE), str(case / "labels.nii.gz"))
    if doc is not None:
        (case / json_name).write_text(json.dumps(doc))
    return case


def study_doc(alert: str, levels: list[tuple[str, float | None, str | None, int | None]],
              worst: tuple[str | None, float | None, list[float] | None]) -> dict:
    """A report.json / truth.json with the shared keys (levels, worst, alert)."""
    return {
        "alert": {"level": alert, "worst_level": worst[0], "reasons": []},
        "levels": [{"name": n, "canal_area_mm2": 100.0, "canal_compromise_pct": c, "cord_compression_pct": c,
                    "bilsky": b, "genant": g} for n, c, b, g in levels],
        "worst": {"level": worst[0], "canal_compromise_pct": worst[1], "position_mm": worst[2]},
    }
