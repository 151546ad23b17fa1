"""Tiny single-frame MR series written with pydicom, for output writers' tests (no phantom needed)."""

from __future__ import annotations

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

from spinedetect.io.volume import Volume

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0])


def rotation(axis: str, degrees: float) -> np.ndarray:
    a = np.deg2rad(degrees)
    c, s = np.cos(a), np.sin(a)
    return {"x": np.array([[1, 0, 0], [0, c, -s], [0, s, c]]),
            "y": np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]]),
            "z": np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])}[axis]


def make_series(orientation: str, rows: int = 12, cols: int = 10, n: int = 6,
                pixel_spacing=(0.8, 0.7), slice_spacing: float = 3.0, tilt_deg: float = 0.0,
                seed: int = 0) -> tuple[list[Dataset], np.ndarray]:
    """Datasets of one series and the RAS affine of the (col, row, slice) voxel grid they span."""
    row_dir, col_dir = {
        "axial": ([1, 0, 0], [0, 1, 0]),
        "sagittal": ([0, 1, 0], [0, 0, -1]),
        "coronal": ([1, 0, 0], [0, 0, -1]),
    }[orientation]
    rot = rotation("x", tilt_deg) @ rotation("z", tilt_deg / 2)
    row_dir = rot @ np.asarray(row_dir, float)
    col_dir = rot @ np.asarray(col_dir, float)
    normal = np.cross(row_dir, col_dir)
    origin = np.array([-20.0, 15.0, 40.0])
    study, series, frame = (generate_uid(entropy_srcs=[str(seed), k]) for k in ("st", "se", "for"))
    datasets = []
    rng = np.random.default_rng(seed)
    for z in range(n):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = MRImageStorage
        sop = generate_uid(entropy_srcs=[str(seed), "sop", str(z)])
        ds.file_meta.MediaStorageSOPInstanceUID = sop
        ds.SOPClassUID, ds.SOPInstanceUID = MRImageStorage, sop
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.Modality = "MR"
        ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = "TEST^SERIES", "T1", "", "O"
        ds.StudyDate, ds.StudyTime, ds.AccessionNumber, ds.ReferringPhysicianName = "20260101", "120000", "", ""
        ds.StudyID, ds.SeriesNumber, ds.InstanceNumber = "1", 1, z + 1
        ds.Manufacturer = "test"
        ds.PositionReferenceIndicator = ""
        ds.ImagePositionPatient = [float(v) for v in origin + z * slice_spacing * normal]
        ds.ImageOrientationPatient = [float(v) for v in (*row_dir, *col_dir)]
        ds.PixelSpacing = [pixel_spacing[0], pixel_spacing[1]]
        ds.SliceThickness = slice_spacing
        ds.Rows, ds.Columns = rows, cols
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "NONE"]
        ds.ScanningSequence, ds.SequenceVariant, ds.ScanOptions, ds.MRAcquisitionType = "SE", "NONE", "", "2D"
        ds.EchoTime, ds.RepetitionTime, ds.EchoTrainLength = 90.0, 3000.0, 1
        ds.PixelData = rng.integers(0, 1000, (rows, cols), dtype=np.uint16).tobytes()
        datasets.append(ds)
    # voxel (i=column, j=row, k=slice) -> LPS, then RAS
    lps = np.eye(4)
    lps[:3, 0] = row_dir * pixel_spacing[1]
    lps[:3, 1] = col_dir * pixel_spacing[0]
    lps[:3, 2] = normal * slice_spacing
    lps[:3, 3] = origin
    ras = np.eye(4)
    ras[:3] = np.vstack([LPS_TO_RAS @ lps[:3, :]])
    return datasets, ras


def random_labels(affine: np.ndarray, shape: tuple[int, int, int], seed: int = 0) -> Volume:
    rng = np.random.default_rng(seed)
    arr = np.zeros(shape, dtype=np.uint8)
    for value in range(1, 8):
        lo = rng.integers(0, np.maximum(np.array(shape) - 2, 1))
        hi = lo + rng.integers(1, 4, size=3)
        arr[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]] = value
    return Volume(arr, affine, modality="MR")
