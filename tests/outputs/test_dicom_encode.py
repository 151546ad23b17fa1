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
