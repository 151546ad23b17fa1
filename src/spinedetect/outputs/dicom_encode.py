"""A study's DICOM SEG and SR as file bytes: source headers read, object built, de-identified, encoded.

Each function does the whole job for one object from picklable inputs and returns picklable bytes, so
the batch can run it in a side process (spinedetect.batch.side_process) beside the measurement, while
the files themselves are still written by the batch (atomically, into its staging folder).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from pydicom.dataset import Dataset

from spinedetect.errors import SpinedetectError
from spinedetect.io import SeriesInfo, Volume, read_series_headers
from spinedetect.outputs.deidentify import UIDMap, deidentify, summarise
from spinedetect.outputs.dicom_seg import build_segmentation, dicom_bytes
from spinedetect.outputs.dicom_sr import build_measurement_report

__all__ = ["EncodedDicom", "prefetch_headers", "encode_segmentation", "encode_measurement_report"]


@dataclass(frozen=True)
class EncodedDicom:
    """A DICOM file's bytes; ``deidentified``: what de-identification changed (``deidentify.summarise``)."""

    data: bytes
    deidentified: list[dict[str, object]] | None = None


#: Series headers recently read in this process, keyed by each file's path, inode, size and modification
#: time (a changed file is read again). A few entries: headers read ahead for the next studies (while the
#: model runs) must not push out those of the study whose SEG and SR are being built.
_HEADER_CACHE_SIZE = 4
_headers: OrderedDict[tuple[object, ...], list[Dataset]] = OrderedDict()
_headers_lock = threading.Lock()  # without the helper, studies finishing on worker threads share the cache


def _series_key(series: SeriesInfo) -> tuple[object, ...] | None:
    try:
        return tuple((str(p), st.st_ino, st.st_size, st.st_mtime_ns)
                     for p, st in ((p, os.stat(p)) for p in series.files))
    except OSError:
        return None  # read_series_headers says which file is missing


def _cached_headers(series: SeriesInfo) -> list[Dataset]:
    key = _series_key(series)
    with _headers_lock:
        if key is not None and key in _headers:
            _headers.move_to_end(key)
            return _headers[key]
    headers = read_series_headers(series)
    if key is not None:
        with _headers_lock:
            _headers[key] = headers
            while len(_headers) > _HEADER_CACHE_SIZE:
                _headers.popitem(last=False)
    return headers


def prefetch_headers(series: SeriesInfo) -> None:
    """Read ``series``' headers into this process's cache, so that its SEG and SR need not wait for them.

    The batch asks the helper for this while the model runs (its second core is mostly idle then). A
    series that cannot be read is left for the SEG/SR job, which reports why.
    """
    try:
        _cached_headers(series)
    except (SpinedetectError, OSError):
        pass


def _source_headers(series: SeriesInfo) -> list[Dataset] | None:
    """The series' headers, or None where its files do not each carry their plane (multi-frame objects)."""
    headers = _cached_headers(series)
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
