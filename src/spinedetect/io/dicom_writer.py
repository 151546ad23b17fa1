"""Write a :class:`Volume` as a DICOM series (MR or CT Image Storage), one file per slice along k.

Geometry: slice ``k`` holds ``array[:, :, k]`` with columns along i and rows along j, so the row direction
cosine (ImageOrientationPatient[:3]) is the i axis and the column direction the j axis, in LPS
(x and y of RAS negated). PixelSpacing is (row spacing = j spacing, column spacing = i spacing).
UIDs derive from the seed (``pydicom.uid.generate_uid(entropy_srcs=...)``), dates are fixed and the
identity is synthetic, so the same volume and seed give byte-identical files.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, MRImageStorage, PYDICOM_IMPLEMENTATION_UID, generate_uid

from spinedetect.atomic import atomic_path
from spinedetect.errors import InputError
from spinedetect.io.volume import Volume

__all__ = ["write_dicom_series", "derived_uid"]

log = logging.getLogger(__name__)

_RAS_TO_LPS = np.diag([-1.0, -1.0, 1.0])
_FIXED_DATE = "20000101"
_FIXED_TIME = "120000"
# Sequence parameters that make each synthetic contrast look plausible in a viewer's header panel.
_MR_PARAMS = {
    "T1": {"ScanningSequence": "SE", "SequenceVariant": "SK", "RepetitionTime": 600.0, "EchoTime": 10.0},
    "T2": {"ScanningSequence": "SE", "SequenceVariant": "SK", "RepetitionTime": 3500.0, "EchoTime": 100.0},
    "STIR": {"ScanningSequence": ["SE", "IR"], "SequenceVariant": "SK", "RepetitionTime": 4000.0,
             "EchoTime": 60.0, "InversionTime": 150.0},
}


def derived_uid(seed: int, *parts: object) -> str:
    """A UID under pydicom's root derived from ``seed`` and ``parts`` (same inputs, same UID)."""
    return generate_uid(entropy_srcs=["spinedetect", str(int(seed)), *(str(p) for p in parts)])


def _atomic_save(ds: Dataset, path: Path) -> None:
    with atomic_path(path) as tmp:
        ds.save_as(tmp, enforce_file_format=True)


def write_dicom_series(volume: Volume, out_dir: str | Path, *, modality: str, series_description: str,
                       patient_name: str, patient_id: str, seed: int, study_uid: str | None = None,
                       series_uid: str | None = None, frame_of_reference_uid: str | None = None,
                       series_number: int = 1, acquisition: str | None = None,
                       contrast: str | None = None, uid_salt: str = "") -> list[Path]:
    """Write ``volume`` as ``out_dir/IM0001.dcm ...`` (one file per k slice); returns the paths in k order.

    ``modality`` "MR" (uint16 pixels, RescaleSlope/Intercept restore the float values) or "CT" (int16,
    RescaleIntercept -1024, Hounsfield units). Stale ``IM*.dcm`` files from an earlier write are removed.
    UIDs derive from ``seed`` and ``uid_salt`` (e.g. a digest of the generating configuration, so two
    different phantoms with the same seed never share a study or series UID).
    """
    modality = modality.upper()
    if modality not in ("MR", "CT"):
        raise InputError("Cannot write this modality as DICOM", expected="MR or CT", found=repr(modality))
    arr = np.asarray(volume.array)
    if not np.all(np.isfinite(arr)):
        raise InputError("Volume has non-finite values", expected="finite intensities", found="NaN or inf")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    aff = volume.affine
    spacing = np.linalg.norm(aff[:3, :3], axis=0)
    dirs = aff[:3, :3] / spacing
    row_cos = _RAS_TO_LPS @ dirs[:, 0]
    col_cos = _RAS_TO_LPS @ dirs[:, 1]
    normal = np.cross(row_cos, col_cos)
    slice_step = _RAS_TO_LPS @ aff[:3, 2]
    thickness = float(abs(slice_step @ normal))

    if modality == "CT":
        intercept, slope = -1024.0, 1.0
        stored = np.clip(np.rint((arr - intercept) / slope), -32768, 32767).astype(np.int16)
        bits_signed = 1
    else:
        lo, hi = float(arr.min()), float(arr.max())
        intercept = min(lo, 0.0)
        slope = max((hi - intercept) / 65000.0, 1e-6)
        stored = np.clip(np.rint((arr - intercept) / slope), 0, 65535).astype(np.uint16)
        bits_signed = 0

    study_uid = study_uid or derived_uid(seed, "study", uid_salt)
    series_uid = series_uid or derived_uid(seed, "series", uid_salt, series_number, series_description)
    for_uid = frame_of_reference_uid or derived_uid(seed, "frame-of-reference", uid_salt)
    sop_class = CTImageStorage if modality == "CT" else MRImageStorage
    ni, nj, nk = arr.shape
    paths: list[Path] = []
    for k in range(nk):
        sop_uid = derived_uid(seed, "sop", series_uid, k)
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = sop_class
        meta.MediaStorageSOPInstanceUID = sop_uid
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
        ds = Dataset()
        ds.file_meta = meta
        ds.SpecificCharacterSet = "ISO_IR 100"
        ds.ImageType = ["DERIVED", "SECONDARY", "AXIAL" if modality == "CT" else "OTHER"]
        ds.SOPClassUID = sop_class
        ds.SOPInstanceUID = sop_uid
        ds.StudyDate = ds.SeriesDate = ds.ContentDate = ds.AcquisitionDate = _FIXED_DATE
        ds.StudyTime = ds.SeriesTime = ds.ContentTime = ds.AcquisitionTime = _FIXED_TIME
        ds.AccessionNumber = f"SPD{int(seed):07d}"
        ds.Modality = modality
        ds.Manufacturer = "spinedetect phantom"
        ds.InstitutionName = "synthetic"
        ds.ReferringPhysicianName = ""
        ds.StudyDescription = "SPINE PHANTOM"
        ds.SeriesDescription = series_description
        ds.PatientName = patient_name
        ds.PatientID = patient_id
        ds.PatientBirthDate = "19600101"
        ds.PatientSex = "O"
        ds.PatientAge = "060Y"
        ds.BodyPartExamined = "SPINE"
        ds.SliceThickness = f"{thickness:.6g}"
        ds.SpacingBetweenSlices = f"{thickness:.6g}"
        ds.PatientPosition = "HFS"
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        ds.StudyID = "1"
        ds.SeriesNumber = int(series_number)
        ds.AcquisitionNumber = 1
        ds.InstanceNumber = k + 1
        pos = _RAS_TO_LPS @ (aff[:3, 3] + k * aff[:3, 2])
        ds.ImagePositionPatient = [f"{v:.6f}" for v in pos]
        ds.ImageOrientationPatient = [f"{v:.8f}" for v in (*row_cos, *col_cos)]
        ds.FrameOfReferenceUID = for_uid
        ds.PositionReferenceIndicator = ""
        ds.SliceLocation = f"{float(pos @ normal):.6f}"
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.Rows = nj
        ds.Columns = ni
        ds.PixelSpacing = [f"{spacing[1]:.6g}", f"{spacing[0]:.6g}"]
        ds.BitsAllocated = 16
        ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = bits_signed
        ds.RescaleIntercept = f"{intercept:.6g}"
        ds.RescaleSlope = f"{slope:.10g}"
        if modality == "CT":
            ds.RescaleType = "HU"
            ds.KVP = "120"
            ds.WindowCenter, ds.WindowWidth = "400", "1800"
        else:
            params = _MR_PARAMS.get(contrast or "", {"ScanningSequence": "RM", "SequenceVariant": "NONE",
                                                     "RepetitionTime": 2000.0, "EchoTime": 50.0})
            ds.ScanningSequence = params["ScanningSequence"]
            ds.SequenceVariant = params["SequenceVariant"]
            ds.ScanOptions = ""
            ds.MRAcquisitionType = "2D"
            ds.RepetitionTime = f"{params['RepetitionTime']:g}"
            ds.EchoTime = f"{params['EchoTime']:g}"
            if "InversionTime" in params:
                ds.InversionTime = f"{params['InversionTime']:g}"
            ds.EchoTrainLength = 1
            ds.MagneticFieldStrength = "1.5"
            ds.ImagedNucleus = "1H"
        if acquisition:
            ds.ImageComments = f"spinedetect phantom, {acquisition} acquisition, seed {int(seed)}"
        ds.PixelData = np.ascontiguousarray(stored[:, :, k].T).tobytes()
        path = out / f"IM{k + 1:04d}.dcm"
        _atomic_save(ds, path)
        paths.append(path)
    keep = {p.name for p in paths}
    for stale in out.glob("IM*.dcm"):
        if stale.name not in keep:
            stale.unlink()
    log.info("wrote %d %s slices to %s", len(paths), modality, out)
    return paths
