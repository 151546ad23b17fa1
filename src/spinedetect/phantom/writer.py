"""Writing a phantom: NIfTI image + label map, truth.json, and optionally a DICOM series (all atomic)."""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
from pathlib import Path
from typing import Sequence

import numpy as np

from spinedetect.atomic import atomic_write_bytes
from spinedetect.config import config_to_dict
from spinedetect.errors import InputError
from spinedetect.io.volume import Volume
from spinedetect.phantom.generator import Phantom

__all__ = ["write_phantom", "write_nifti_deterministic", "FORMATS"]

log = logging.getLogger(__name__)

FORMATS = ("nifti", "dicom")


def write_nifti_deterministic(volume: Volume, path: Path) -> Path:
    """``.nii.gz`` with qform = sform = affine; gzip without timestamp or name so bytes depend on data only."""
    img = volume.to_nifti()
    img.header.set_xyzt_units("mm", "sec")
    if volume.array.dtype == np.uint8:
        img.header.set_intent("label", name="spinedetect schema")
    data = img.to_bytes()
    # level 1: noisy float images barely compress further, and it is several times faster
    return atomic_write_bytes(path, gzip.compress(data, compresslevel=1, mtime=0))


def write_phantom(ph: Phantom, out_dir: str | Path, formats: Sequence[str] = ("nifti",)) -> dict[str, Path]:
    """Write ``ph`` into ``out_dir``: image.nii.gz, labels.nii.gz, truth.json and/or dicom/*.dcm.

    truth.json is always written. Returns the paths by key (image, labels, truth, dicom).
    """
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise InputError("Unknown phantom output format", expected=f"one or more of {', '.join(FORMATS)}",
                         found=", ".join(bad) if bad else "none")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    if "nifti" in formats:
        paths["image"] = write_nifti_deterministic(ph.image, out / "image.nii.gz")
        paths["labels"] = write_nifti_deterministic(ph.labels, out / "labels.nii.gz")
    if "dicom" in formats:
        from spinedetect.io.dicom_writer import write_dicom_series

        t = ph.truth
        salt = hashlib.sha256(json.dumps(config_to_dict(ph.config), sort_keys=True).encode()).hexdigest()[:16]
        write_dicom_series(ph.image, out / "dicom", modality=t.modality,
                           series_description=str(ph.image.meta.get("series_description", "PHANTOM")),
                           patient_name=f"PHANTOM^{ph.seed}", patient_id=f"SPD-{ph.seed}", seed=ph.seed,
                           acquisition=t.acquisition, contrast=t.contrast, uid_salt=salt)
        paths["dicom"] = out / "dicom"
    text = json.dumps(ph.truth.to_dict(), indent=1, sort_keys=False) + "\n"
    paths["truth"] = atomic_write_bytes(out / "truth.json", text.encode("utf-8"))
    log.info("phantom %d written to %s", ph.seed, out)
    return paths
