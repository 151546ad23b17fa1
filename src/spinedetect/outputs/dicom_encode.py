"""A study's DICOM SEG and SR as file bytes: source headers read, object built, de-identified, encoded.

Each function does the whole job for one object from picklable inputs and returns picklable bytes, so
the batch can run it in a side process (spinedetect.batch.side_process) beside the measurement, while
the files themselves are still written by the batch (atomically, into its staging folder).

A SEG or SR must reference its source by Study, Series, SOP Instance and SOP Class UIDs. Where the source
headers leave them blank (anonymised exports do), the copies read here get new valid UIDs
(:func:`complete_source_uids`): the study and series UIDs that discovery derived (SeriesInfo), SOP
instance UIDs derived from each file's series, name, instance number and position, and the SOP class from
the file meta or the modality. They are reproducible (the same source gives the same UIDs, in SEG and SR
alike) and ``EncodedDicom.notes`` says which were made.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from pydicom.dataset import Dataset
from pydicom.uid import CTImageStorage, MRImageStorage, generate_uid

from spinedetect.errors import SpinedetectError
from spinedetect.io import SeriesInfo, Volume, read_series_headers
from spinedetect.outputs.deidentify import UIDMap, deidentify, summarise
from spinedetect.outputs.dicom_seg import build_segmentation, dicom_bytes
from spinedetect.outputs.dicom_sr import build_measurement_report

__all__ = ["EncodedDicom", "complete_source_uids", "prefetch_headers", "encode_segmentation",
           "encode_measurement_report"]


@dataclass(frozen=True)
class EncodedDicom:
    """A DICOM file's bytes; ``deidentified``: what de-identification changed (``deidentify.summarise``);
    ``notes``: what was made up for it (new UIDs for a source that had none)."""

    data: bytes
    deidentified: list[dict[str, object]] | None = None
    notes: tuple[str, ...] = ()


#: Series headers recently read in this process, keyed by each file's path, inode, size and modification
#: time (a changed file is read again). A few entries: headers read ahead for the next studies (while the
#: model runs) must not push out those of the study whose SEG and SR are being built.
_HEADER_CACHE_SIZE = 4
_headers: OrderedDict[tuple[object, ...], tuple[list[Dataset], tuple[str, ...]]] = OrderedDict()
_headers_lock = threading.Lock()  # without the helper, studies finishing on worker threads share the cache


def _series_key(series: SeriesInfo) -> tuple[object, ...] | None:
    try:
        return tuple((str(p), st.st_ino, st.st_size, st.st_mtime_ns)
                     for p, st in ((p, os.stat(p)) for p in series.files))
    except OSError:
        return None  # read_series_headers says which file is missing


#: the image storage SOP class of a source whose header and file meta both leave it blank
_SOP_CLASS_OF_MODALITY = {"CT": CTImageStorage, "MR": MRImageStorage}


def _blank(ds: Dataset, keyword: str) -> bool:
    return not str(ds.get(keyword, "") or "").strip()


def complete_source_uids(headers: Sequence[Dataset], series: SeriesInfo) -> tuple[str, ...]:
    """Fill, in place, the UIDs a SEG/SR needs that ``headers`` (``series``' files, in ``series.files`` order)
    leave blank or out; returns the note saying what was filled (empty when nothing was)."""
    filled: dict[str, int] = {}

    def fill(ds: Dataset, keyword: str, value: str) -> None:
        setattr(ds, keyword, value)
        filled[keyword] = filled.get(keyword, 0) + 1

    for ds, path in zip(headers, series.files):
        if _blank(ds, "StudyInstanceUID"):
            fill(ds, "StudyInstanceUID", series.study_instance_uid)
        if _blank(ds, "SeriesInstanceUID"):
            fill(ds, "SeriesInstanceUID", series.series_instance_uid)
        if _blank(ds, "SOPInstanceUID"):
            fill(ds, "SOPInstanceUID", generate_uid(entropy_srcs=[
                "spinedetect blank SOPInstanceUID", series.series_instance_uid, path.name,
                str(ds.get("InstanceNumber", "")), str(ds.get("ImagePositionPatient", ""))]))
        if _blank(ds, "SOPClassUID"):
            meta_class = str(getattr(getattr(ds, "file_meta", None), "MediaStorageSOPClassUID", "") or "").strip()
            sop_class = meta_class or _SOP_CLASS_OF_MODALITY.get(str(ds.get("Modality", "")).upper(), "")
            if sop_class:
                fill(ds, "SOPClassUID", sop_class)
    if not filled:
        return ()
    what = ", ".join(f"{k} ({n} of {len(headers)} files)" for k, n in filled.items())
    return (f"the source DICOM leaves {what} blank: the SEG/SR reference new UIDs derived from the source's "
            "folder and headers (reproducible), which a PACS cannot match to the source images",)


def _cached_headers(series: SeriesInfo) -> tuple[list[Dataset], tuple[str, ...]]:
    """The series' headers, blank UIDs completed (:func:`complete_source_uids`), and the note on them."""
    key = _series_key(series)
    with _headers_lock:
        if key is not None and key in _headers:
            _headers.move_to_end(key)
            return _headers[key]
    headers = read_series_headers(series)
    entry = (headers, complete_source_uids(headers, series))
    if key is not None:
        with _headers_lock:
            _headers[key] = entry
            while len(_headers) > _HEADER_CACHE_SIZE:
                _headers.popitem(last=False)
    return entry


def prefetch_headers(series: SeriesInfo) -> None:
    """Read ``series``' headers into this process's cache, so that its SEG and SR need not wait for them.

    The batch asks the helper for this while the model runs (its second core is mostly idle then). A
    series that cannot be read is left for the SEG/SR job, which reports why.
    """
    try:
        _cached_headers(series)
    except (SpinedetectError, OSError):
        pass


def _encode(build: Callable[[Sequence[Dataset]], Dataset], series: SeriesInfo,
            uid_map: UIDMap | None) -> EncodedDicom | None:
    """The object ``build`` makes of the series' headers, encoded; None where the files do not each carry
    their plane (multi-frame objects)."""
    headers, notes = _cached_headers(series)
    if not all("ImagePositionPatient" in ds for ds in headers):
        return None
    ds = build(headers)
    touched = summarise(deidentify(ds, uid_map)) if uid_map is not None else None
    return EncodedDicom(dicom_bytes(ds), touched, notes)


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
