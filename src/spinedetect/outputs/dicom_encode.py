"""A study's DICOM SEG and SR as file bytes: source headers read, object built, de-identified, encoded.

Each function does the whole job for one object from picklable inputs and returns picklable bytes, so
the batch can run it in a side process (spinedetect.batch.side_process) beside the measurement, while
the files themselves are still written by the batch (atomically, into its staging folder).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from pydicom.dataset import Dataset

from spinedetect.io import SeriesInfo, Volume, read_series_headers
from spinedetect.outputs.deidentify import UIDMap, deidentify, summarise
from spinedetect.outputs.dicom_seg import build_segmentation, dicom_bytes
from spinedetect.outputs.dicom_sr import build_measurement_report

__all__ = ["EncodedDicom", "encode_segmentation", "encode_measurement_report"]


@dataclass(frozen=True)
class EncodedDicom:
    """A DICOM file's bytes; ``deidentified``: what de-identification changed (``deidentify.summarise``)."""

    data: bytes
    deidentified: list[dict[str, object]] | None = None


#: The last series' headers: the SR of a study reuses those its SEG read (one entry per process, keyed by
#: each file's path, inode, size and modification time, so a changed file is read again).
_headers: tuple[tuple[object, ...] | None, list[Dataset]] | None = None


def _source_headers(series: SeriesInfo) -> list[Dataset] | None:
    """The series' headers, or None where its files do not each carry their plane (multi-frame objects)."""
    global _headers
    try:
        key = tuple((str(p), st.st_ino, st.st_size, st.st_mtime_ns)
                    for p, st in ((p, os.stat(p)) for p in series.files))
    except OSError:
        key = None  # read_series_headers says which file is missing
    cached = _headers
    if key is None or cached is None or cached[0] != key:
        cached = _headers = (key, read_series_headers(series))
    headers = cached[1]
    return headers if all("ImagePositionPatient" in ds for ds in headers) else None


def _encode(build: Callable[[Sequence[Dataset]], Dataset], series: SeriesInfo,
            uid_map: UIDMap | None) -> EncodedDicom | None:
    headers = _source_headers(series)
    if headers is None:
        return None
    ds = build(headers)
    touched = summarise(deidentify(ds, uid_map)) if uid_map is not None else None
    return EncodedDicom(dicom_bytes(ds), touched)


def encode_segmentation(labels: Volume, series: SeriesInfo, uid_seed: str,
                        uid_map: UIDMap | None = None) -> EncodedDicom | None:
    """The DICOM SEG of ``labels`` referencing ``series`` (None: the source is a multi-frame object).

    ``uid_seed`` makes the UIDs reproducible; ``uid_map`` de-identifies it (PS3.15 basic profile).
    """
    return _encode(lambda headers: build_segmentation(labels, headers, uid_seed=uid_seed), series, uid_map)


def encode_measurement_report(report: Mapping[str, Any], series: SeriesInfo, uid_seed: str,
                              uid_map: UIDMap | None = None) -> EncodedDicom | None:
    """The DICOM SR (TID 1500) of ``report`` (report.json) for ``series`` (None: a multi-frame source)."""
    return _encode(lambda headers: build_measurement_report(report, headers, uid_seed=uid_seed), series, uid_map)
