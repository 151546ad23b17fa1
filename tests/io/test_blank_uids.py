"""DICOM with blank or missing Study / Series / SOP Instance UIDs (anonymised exports): discovery derives
UIDs from each file's folder and header facts, so blank-UID studies never merge and series still group."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from spinedetect.io import discover_series, load_series, load_volume
from tests.io.synth import write_series

EMPTY_KEY = "study-" + hashlib.sha1(b"").hexdigest()[:12]  # the key every blank-UID study got before


def _blank(*keywords: str, delete: bool = False):
    def edit(ds, k):
        for kw in keywords:
            if delete:
                delattr(ds, kw)
            else:
                setattr(ds, kw, "")
    return edit


ALL_UIDS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")


@pytest.mark.parametrize("delete", [False, True], ids=["blank", "missing"])
def test_two_blank_uid_studies_in_one_tree_stay_apart(tmp_path, delete):
    # same patient id, description and series number: only their folders and frames of reference differ
    write_series(tmp_path / "a", n_slices=6, extra=_blank(*ALL_UIDS, delete=delete))
    write_series(tmp_path / "b", n_slices=9, extra=_blank(*ALL_UIDS, delete=delete))
    found = discover_series(tmp_path)
    assert not found.skipped
    assert len(found.studies) == 2
    keys = {s.key for s in found.studies}
    assert len(keys) == 2 and EMPTY_KEY not in keys
    assert sorted(se.shape[2] for se in found.series) == [6, 9]  # every slice in its own series
    for se in found.series:
        assert se.derived_uids == ("StudyInstanceUID", "SeriesInstanceUID")
        assert se.study_instance_uid and se.series_instance_uid and se.image_key == se.series_instance_uid
        volume = load_series(se)
        assert volume.source.sop_instance_uids == ()
        assert any("StudyInstanceUID and SeriesInstanceUID blank or missing" in n for n in volume.notes)


def test_two_blank_uid_series_in_one_folder_split_by_series_facts(tmp_path):
    write_series(tmp_path, n_slices=5, series_number=3, description="t1", extra=_blank(*ALL_UIDS),
                 name=lambda k: f"A{k}.dcm")
    write_series(tmp_path, n_slices=7, series_number=4, description="t2", extra=_blank(*ALL_UIDS),
                 name=lambda k: f"B{k}.dcm")
    found = discover_series(tmp_path)
    assert sorted(se.shape[2] for se in found.series) == [5, 7]


def test_blank_series_uid_in_a_study_groups_by_folder(tmp_path):
    study = "1.2.826.0.1.3680043.8.498.1"
    write_series(tmp_path / "s1", n_slices=4, study_uid=study, extra=_blank("SeriesInstanceUID", "SOPInstanceUID"))
    write_series(tmp_path / "s2", n_slices=6, study_uid=study, extra=_blank("SeriesInstanceUID", "SOPInstanceUID"))
    found = discover_series(tmp_path)
    assert len(found.studies) == 1 and found.studies[0].study_instance_uid == study
    assert sorted(se.shape[2] for se in found.studies[0].series) == [4, 6]
    assert {se.derived_uids for se in found.series} == {("SeriesInstanceUID",)}


def test_derived_uids_are_reproducible_and_valid(tmp_path):
    write_series(tmp_path / "a", extra=_blank(*ALL_UIDS))
    first, again = discover_series(tmp_path), discover_series(tmp_path)
    assert [s.key for s in first.studies] == [s.key for s in again.studies]
    uid = first.series[0].series_instance_uid
    assert len(uid) <= 64 and all(part.isdigit() and (part == "0" or not part.startswith("0"))
                                  for part in uid.split("."))


def test_load_volume_of_a_blank_uid_folder_reads_every_slice(tmp_path):
    write_series(tmp_path, n_slices=8, extra=_blank(*ALL_UIDS))
    volume = load_volume(tmp_path)
    assert volume.shape == (16, 16, 8)
    assert np.ptp(volume.array) > 0


def test_real_ct_dicom_with_blank_uids_is_one_study(shared_data):
    found = discover_series(shared_data / "real-ct" / "example_ct_dicom")
    assert len(found.studies) == 1 and found.studies[0].key != EMPTY_KEY
    (series,) = found.series
    assert series.modality == "CT" and series.shape == (512, 512, 20)
    assert series.derived_uids == ("StudyInstanceUID", "SeriesInstanceUID")
