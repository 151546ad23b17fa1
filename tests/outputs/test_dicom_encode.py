"""The SEG/SR encoders' header cache: headers read ahead are reused, a changed series is read again."""

from __future__ import annotations

import os

import highdicom as hd
import pydicom
import pytest

from spinedetect.errors import InputError
from spinedetect.io import discover_series
from spinedetect.outputs import dicom_encode
from spinedetect.outputs.dicom_encode import encode_measurement_report, prefetch_headers
from tests.outputs.dicom_fixtures import make_series
from tests.outputs.test_dicom_sr import REPORT


@pytest.fixture()
def series(tmp_path):
    datasets, _ = make_series("sagittal", seed=7)
    for k, ds in enumerate(datasets):
        ds.save_as(tmp_path / f"{k:03d}.dcm", enforce_file_format=True)
    return discover_series(tmp_path).series[0]


@pytest.fixture()
def reads(monkeypatch):
    """Count the header reads of the encoders (fresh cache)."""
    calls: list[int] = []
    real = dicom_encode.read_series_headers
    monkeypatch.setattr(dicom_encode, "_headers", type(dicom_encode._headers)())
    monkeypatch.setattr(dicom_encode, "read_series_headers", lambda s: calls.append(1) or real(s))
    return calls


def test_headers_read_ahead_serve_the_sr_and_a_changed_file_is_read_again(series, reads):
    prefetch_headers(series)
    assert len(reads) == 1
    sr = pydicom.dcmread(pydicom.filebase.DicomBytesIO(encode_measurement_report(REPORT, series, "s").data))
    assert len(reads) == 1  # the SR used the headers read ahead
    assert sr.StudyInstanceUID == pydicom.dcmread(series.files[0]).StudyInstanceUID
    assert hd.sr.Comprehensive3DSR.from_dataset(sr).CompletionFlag == "COMPLETE"
    st = os.stat(series.files[0])
    os.utime(series.files[0], ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    encode_measurement_report(REPORT, series, "s")
    assert len(reads) == 2


def test_the_cache_keeps_a_few_series_and_read_ahead_never_raises(series, reads, tmp_path):
    prefetch_headers(series)
    for n in range(dicom_encode._HEADER_CACHE_SIZE - 1):  # headers of the next studies read ahead
        other = tmp_path / f"other{n}"
        other.mkdir()
        for k, ds in enumerate(make_series("axial", seed=20 + n)[0]):
            ds.save_as(other / f"{k:03d}.dcm", enforce_file_format=True)
        prefetch_headers(discover_series(other).series[0])
    encode_measurement_report(REPORT, series, "s")
    assert len(reads) == dicom_encode._HEADER_CACHE_SIZE  # the first series was still cached
    for f in series.files:
        os.unlink(f)
    prefetch_headers(series)  # unreadable: left for the SEG/SR job, which says why
    with pytest.raises(InputError, match="Cannot re-read the header"):
        encode_measurement_report(REPORT, series, "s")


def _blank_uid_series(folder, seed: int):
    """A series whose headers leave Study/Series/SOP Instance UIDs and the SOP Class UID blank (file meta kept)."""
    datasets, affine = make_series("axial", seed=seed)
    for k, ds in enumerate(datasets):
        ds.StudyInstanceUID = ds.SeriesInstanceUID = ds.SOPInstanceUID = ds.SOPClassUID = ""
        ds.save_as(folder / f"{k:03d}.dcm", enforce_file_format=True)  # preamble + file meta, as the real CT
    return affine


def _is_uid(value: str) -> bool:
    parts = str(value).split(".")
    return 0 < len(str(value)) <= 64 and all(p.isdigit() and (p == "0" or not p.startswith("0")) for p in parts)


def test_seg_and_sr_of_a_blank_uid_source_get_new_valid_uids_that_agree(tmp_path, reads):
    """A SEG and an SR of the same blank-UID source reference the same new source UIDs; another source differs."""
    from spinedetect.outputs.dicom_encode import encode_segmentation
    from tests.outputs.dicom_fixtures import random_labels

    objects = {}
    for name, seed in (("a", 3), ("b", 4)):
        (tmp_path / name).mkdir()
        affine = _blank_uid_series(tmp_path / name, seed)
        found = discover_series(tmp_path / name)
        (series,) = found.series
        labels = random_labels(affine, series.shape)
        seg = encode_segmentation(labels, series, f"seed-{name}")
        sr = encode_measurement_report(REPORT, series, f"seed-{name}")
        assert seg.notes == sr.notes and "StudyInstanceUID (6 of 6 files)" in seg.notes[0]
        objects[name] = [pydicom.dcmread(pydicom.filebase.DicomBytesIO(e.data)) for e in (seg, sr)]
    for seg, sr in objects.values():
        assert _is_uid(seg.StudyInstanceUID) and seg.StudyInstanceUID == sr.StudyInstanceUID
        ref = seg.ReferencedSeriesSequence[0]
        assert _is_uid(ref.SeriesInstanceUID)
        seg_refs = [(r.ReferencedSOPClassUID, r.ReferencedSOPInstanceUID) for r in ref.ReferencedInstanceSequence]
        assert len(set(seg_refs)) == 6 and all(_is_uid(u) for _, u in seg_refs)
        assert {c for c, _ in seg_refs} == {pydicom.uid.MRImageStorage}  # from the file meta
        evidence = sr.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0]
        assert evidence.SeriesInstanceUID == ref.SeriesInstanceUID
        assert sorted((r.ReferencedSOPClassUID, r.ReferencedSOPInstanceUID)
                      for r in evidence.ReferencedSOPSequence) == sorted(seg_refs)
    assert objects["a"][0].StudyInstanceUID != objects["b"][0].StudyInstanceUID


def test_sop_class_comes_from_the_modality_where_the_file_meta_is_blank_too(tmp_path):
    from spinedetect.outputs.dicom_encode import complete_source_uids

    _blank_uid_series(tmp_path, 5)
    (series,) = discover_series(tmp_path).series
    headers = [pydicom.dcmread(f, stop_before_pixels=True) for f in series.files]
    for ds in headers:
        ds.file_meta.MediaStorageSOPClassUID = ""
    notes = complete_source_uids(headers, series)
    assert {ds.SOPClassUID for ds in headers} == {pydicom.uid.MRImageStorage}
    assert "SOPClassUID (6 of 6 files)" in notes[0]
    assert complete_source_uids(headers, series) == ()  # nothing left blank
