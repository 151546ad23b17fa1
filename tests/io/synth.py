"""Tiny synthetic DICOM series written with pydicom, for io tests and the io benchmark.

Pixel values encode their own indices: stored value at DICOM row r, column c of slice k is
``c + cols * r + cols * rows * k`` (modulo 2^15), so a test can recover where every voxel came from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, CTImageStorage, generate_uid

__all__ = ["write_series", "slice_pixels", "lps_of_pixel"]


def slice_pixels(rows: int, cols: int, k: int) -> np.ndarray:
    """Stored values (rows, cols) of slice ``k``: each pixel's own (column, row, slice) index, encoded."""
    r, c = np.indices((rows, cols))
    return ((c + cols * r + cols * rows * k) % 32768).astype(np.uint16)


def lps_of_pixel(origin: Sequence[float], iop: Sequence[float], pixel_spacing: Sequence[float],
                 normal_step: np.ndarray, r: int, c: int, k: int) -> np.ndarray:
    """DICOM patient (LPS) position of the centre of pixel (row r, column c) of slice k."""
    row_dir, col_dir = np.asarray(iop[:3], float), np.asarray(iop[3:], float)
    return (np.asarray(origin, float) + c * pixel_spacing[1] * row_dir + r * pixel_spacing[0] * col_dir
            + k * normal_step)


def write_series(folder: Path, *, rows: int = 16, cols: int = 16, n_slices: int = 8,
                 pixel_spacing: tuple[float, float] = (0.8, 0.8), slice_step: float = 2.0,
                 iop: Sequence[float] = (1, 0, 0, 0, 1, 0), origin: Sequence[float] = (-10.0, -20.0, 30.0),
                 modality: str = "MR", description: str = "t2_tse_sag", study_uid: str | None = None,
                 series_uid: str | None = None, series_number: int = 1, echo_time: float | None = 90.0,
                 image_type: Sequence[str] = ("ORIGINAL", "PRIMARY", "M", "ND"), slope: float | None = None,
                 intercept: float | None = None, name: Callable[[int], str] = lambda k: f"IM{k:04d}.dcm",
                 slices: Sequence[int] | None = None, acquisition_number: int = 1,
                 extra: Callable[[Dataset, int], None] | None = None) -> list[Path]:
    """Write a single-frame series into ``folder`` (one file per slice index in ``slices``); returns the paths.

    Slice k lies at ``origin + k * slice_step * (row_dir x col_dir)``. ``extra(ds, k)`` may edit each
    dataset before it is saved.
    """
    folder.mkdir(parents=True, exist_ok=True)
    study_uid = study_uid or generate_uid()
    series_uid = series_uid or generate_uid()
    frame_uid = generate_uid()
    normal = np.cross(np.asarray(iop[:3], float), np.asarray(iop[3:], float))
    sop_class = CTImageStorage if modality == "CT" else MRImageStorage
    paths = []
    for k in (range(n_slices) if slices is None else slices):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = sop_class
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID = sop_class
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.Modality = modality
        ds.PatientName = "Synthetic^Test"
        ds.PatientID = "SYN"
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        ds.FrameOfReferenceUID = frame_uid
        ds.SeriesNumber = series_number
        ds.InstanceNumber = int(k) + 1
        ds.AcquisitionNumber = acquisition_number
        ds.SeriesDescription = description
        ds.ImageType = list(image_type)
        if echo_time is not None:
            ds.EchoTime = echo_time
        ds.PatientPosition = "HFS"
        ds.ImageOrientationPatient = [float(v) for v in iop]
        ds.ImagePositionPatient = [float(v) for v in np.asarray(origin, float) + k * slice_step * normal]
        ds.PixelSpacing = [float(v) for v in pixel_spacing]
        ds.SliceThickness = abs(slice_step)
        ds.Rows, ds.Columns = rows, cols
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        if slope is not None:
            ds.RescaleSlope = slope
        if intercept is not None:
            ds.RescaleIntercept = intercept
        ds.PixelData = slice_pixels(rows, cols, k).tobytes()
        if extra is not None:
            extra(ds, k)
        path = folder / name(k)
        path.parent.mkdir(parents=True, exist_ok=True)
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths
