"""Synthetic DICOM series (written by pydicom, 16x16x8) through discovery and assembly."""

from __future__ import annotations

import os
import random

import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from spinedetect.errors import InputError
from spinedetect.io import (InputLimits, Orientation, SeriesRule, discover_series, load_series, load_volume,
                            select_series)
from tests.io.synth import lps_of_pixel, write_series

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0])


def assert_geometry(volume, *, rows=16, cols=16, origin=(-10.0, -20.0, 30.0), iop=(1, 0, 0, 0, 1, 0),
                    pixel_spacing=(0.8, 0.8), slice_step=2.0):
    """Every voxel's world position equals the DICOM position of the pixel its value came from."""
    normal = np.cross(np.asarray(iop[:3], float), np.asarray(iop[3:], float)) * slice_step
    arr = volume.array.astype(np.int64)
    idx = np.indices(arr.shape).reshape(3, -1)
    values = arr.reshape(-1)
    c, r, k = values % cols, (values // cols) % rows, values // (cols * rows)
    world = volume.affine[:3, :3] @ idx + volume.affine[:3, 3:4]
    expected = np.stack([LPS_TO_RAS @ lps_of_pixel(origin, iop, pixel_spacing, normal, rr, cc, kk)
                         for rr, cc, kk in zip(r, c, k)], axis=1)
    assert np.abs(world - expected).max() < 1e-4


def test_shuffled_names_sorted_by_position(tmp_path):
    order = list(range(8))
    random.Random(3).shuffle(order)
    names = {k: f"zz{order[k]}" for k in range(8)}  # no .dcm suffix, names unrelated to position
    iop = (0, 1, 0, 0, 0, -1)  # sagittal
    write_series(tmp_path, iop=iop, name=lambda k: names[k],
                 extra=lambda ds, k: setattr(ds, "InstanceNumber", 100 - k))  # misleading instance numbers
    vol = load_volume(tmp_path)
    assert vol.shape == (16, 16, 8)
    assert_geometry(vol, iop=iop)
    assert vol.modality == "MR" and vol.meta["orientation"] == "sagittal" and vol.meta["contrast"] == "T2"
    assert vol.source.series_instance_uid and len(vol.source.sop_instance_uids) == 8
    assert vol.source.frame_of_reference_uid
    assert vol.notes == []


def test_oblique_negative_step_and_spacing_from_positions(tmp_path):
    a = np.deg2rad(30)
    iop = (np.cos(a), np.sin(a), 0, 0, 0, -1)
    write_series(tmp_path, iop=iop, slice_step=-3.3, pixel_spacing=(0.7, 0.9),
                 extra=lambda ds, k: setattr(ds, "SliceThickness", 5.0))  # thickness is not the spacing
    vol = load_volume(tmp_path)
    assert_geometry(vol, iop=iop, slice_step=-3.3, pixel_spacing=(0.7, 0.9))
    assert vol.spacing == pytest.approx((0.9, 0.7, 3.3))
    info = discover_series(tmp_path).series[0]
    assert info.orientation == Orientation.OBLIQUE and info.spacing_mm == pytest.approx((0.9, 0.7, 3.3))


def test_nested_subfolders_and_single_file_input(tmp_path):
    paths = write_series(tmp_path / "study", name=lambda k: f"a/b{k % 3}/c/{k}")
    found = discover_series(tmp_path)
    assert len(found.studies) == 1 and found.series[0].shape == (16, 16, 8) and found.series[0].n_files == 8
    assert_geometry(load_volume(tmp_path))
    # one file: its series from the same folder only (here: the slices beside it)
    flat = write_series(tmp_path / "flat")
    assert load_volume(flat[3]).shape == (16, 16, 8)
    assert len(paths) == 8


def test_two_series_interleaved(tmp_path):
    study = generate_uid()
    write_series(tmp_path, study_uid=study, series_number=2, description="t1_tse_sag", echo_time=10.0,
                 iop=(0, 1, 0, 0, 0, -1), name=lambda k: f"{2 * k:03d}")
    write_series(tmp_path, study_uid=study, series_number=3, description="t2_tse_tra", n_slices=6,
                 name=lambda k: f"{2 * k + 1:03d}")
    found = discover_series(tmp_path)
    assert len(found.studies) == 1
    series = found.studies[0].series
    assert [s.shape[2] for s in series] == [8, 6]
    assert [s.orientation for s in series] == [Orientation.SAGITTAL, Orientation.AXIAL]
    assert [s.contrast for s in series] == ["T1", "T2"]
    with pytest.raises(InputError, match=r"holds 2 image series.*t1_tse_sag.*sagittal.*16x16x8.*t2_tse_tra"):
        load_volume(tmp_path)
    vol = load_volume(tmp_path, series_uid=series[1].series_instance_uid)
    assert vol.shape == (16, 16, 6)
    # the rule prefers a sagittal series; T2 beats T1 only at equal orientation
    assert select_series(found.studies[0], SeriesRule()).description == "t1_tse_sag"
    axial_rule = SeriesRule(mr_orientation=Orientation.AXIAL)
    assert select_series(found.studies[0], axial_rule).description == "t2_tse_tra"
    with pytest.raises(InputError, match="coronal"):
        select_series(found.studies[0], SeriesRule(mr_orientation=Orientation.CORONAL, require_orientation=True))


def test_select_ct_thinnest_axial(tmp_path):
    study = generate_uid()
    write_series(tmp_path / "a", study_uid=study, modality="CT", slice_step=5.0, series_number=1, echo_time=None)
    write_series(tmp_path / "b", study_uid=study, modality="CT", slice_step=1.0, series_number=2, echo_time=None)
    write_series(tmp_path / "c", study_uid=study, modality="CT", slice_step=0.5, series_number=3, echo_time=None,
                 iop=(0, 1, 0, 0, 0, -1))
    chosen = select_series(discover_series(tmp_path).studies[0])
    assert chosen.series_number == 2 and chosen.spacing_mm[2] == pytest.approx(1.0)


def test_missing_slice_refused(tmp_path):
    write_series(tmp_path, slices=[0, 1, 2, 4, 5, 6])
    info = discover_series(tmp_path).series[0]
    assert "missing slice" in info.problem
    with pytest.raises(InputError, match=r"Image series .*: missing slice\(s\).*slices 2 and 3.*about 1 slice"):
        load_volume(tmp_path)


def test_unequal_spacing_refused_and_small_jitter_averaged(tmp_path):
    jitter = {0: 0.0, 1: 0.0, 2: 0.3, 3: 0.0, 4: 0.0}

    def move(ds, k, table):
        ds.ImagePositionPatient = [ds.ImagePositionPatient[0], ds.ImagePositionPatient[1],
                                   float(ds.ImagePositionPatient[2]) + table[k]]

    write_series(tmp_path / "bad", n_slices=5, extra=lambda ds, k: move(ds, k, jitter))
    with pytest.raises(InputError, match="unequal slice spacing"):
        load_volume(tmp_path / "bad")
    small = {0: 0.0, 1: 0.0, 2: 0.02, 3: 0.0, 4: 0.0}
    write_series(tmp_path / "ok", n_slices=5, extra=lambda ds, k: move(ds, k, small))
    vol = load_volume(tmp_path / "ok")
    assert any("mean step" in n for n in vol.notes)


def test_truncated_file_skipped_with_reason(tmp_path):
    paths = write_series(tmp_path)
    data = paths[3].read_bytes()
    paths[3].write_bytes(data[:-200])
    found = discover_series(tmp_path)
    reasons = dict(found.skipped)
    assert "truncated" in reasons[paths[3]]
    with pytest.raises(InputError, match="missing slice"):  # the series now has a hole
        load_volume(tmp_path)
    with pytest.raises(InputError, match=r"not a usable image.*claims 512 bytes.*holds 312"):
        load_volume(paths[3])


def test_file_claiming_more_pixels_than_it_holds(tmp_path):
    # header says 4096x4096 but the pixel data holds 16x16: refused from the header, nothing allocated
    write_series(tmp_path, n_slices=1, extra=lambda ds, k: (setattr(ds, "Rows", 4096), setattr(ds, "Columns", 4096)))
    found = discover_series(tmp_path)
    assert not found.series and "claims 33554432 bytes" in found.skipped[0][1]
    with pytest.raises(InputError, match="No DICOM image series.*claims"):
        load_volume(tmp_path)


def test_over_limit_volume_refused(tmp_path):
    write_series(tmp_path)
    with pytest.raises(InputError, match=r"2048 voxels.*at most 1000"):
        load_volume(tmp_path, limits=InputLimits(max_voxels=1000))
    found = discover_series(tmp_path, limits=InputLimits(max_voxels=200))  # one 16x16 file is already over
    assert not found.series and "over the limit" in found.skipped[0][1]


def test_non_dicom_dicomdir_and_sr_skipped(tmp_path):
    study = generate_uid()
    write_series(tmp_path, study_uid=study)
    (tmp_path / "notes.txt").write_text("not an image\n" * 40)
    (tmp_path / "junk.bin").write_bytes(os.urandom(400))
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.1.3.10"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dicomdir = Dataset()
    dicomdir.file_meta = meta
    dicomdir.FileSetID = "SYN"
    dicomdir.DirectoryRecordSequence = []
    dicomdir.save_as(tmp_path / "DICOMDIR", enforce_file_format=True)
    meta_sr = FileMetaDataset()
    meta_sr.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.88.11"  # Basic Text SR
    meta_sr.MediaStorageSOPInstanceUID = generate_uid()
    meta_sr.TransferSyntaxUID = ExplicitVRLittleEndian
    sr = Dataset()
    sr.file_meta = meta_sr
    sr.SOPClassUID = meta_sr.MediaStorageSOPClassUID
    sr.SOPInstanceUID = meta_sr.MediaStorageSOPInstanceUID
    sr.Modality = "SR"
    sr.StudyInstanceUID = study
    sr.SeriesInstanceUID = generate_uid()
    sr.save_as(tmp_path / "report", enforce_file_format=True)
    found = discover_series(tmp_path)
    reasons = {p.name: r for p, r in found.skipped}
    assert set(reasons) == {"notes.txt", "junk.bin", "DICOMDIR", "report"}
    assert "not DICOM" in reasons["notes.txt"] and "not DICOM" in reasons["junk.bin"]
    assert "DICOMDIR" in reasons["DICOMDIR"] and "non-image" in reasons["report"]
    assert load_volume(tmp_path).shape == (16, 16, 8)
    with pytest.raises(InputError, match="not a usable image.*not DICOM"):
        load_volume(tmp_path / "notes.txt")


def test_symlink_out_of_tree_not_followed(tmp_path):
    outside = tmp_path / "outside"
    write_series(outside, n_slices=2)
    inside = tmp_path / "inside"
    write_series(inside)
    (inside / "escape").symlink_to(outside / "IM0000.dcm")
    (inside / "dirlink").symlink_to(outside, target_is_directory=True)
    found = discover_series(inside)
    reasons = {p.name: r for p, r in found.skipped}
    assert "out of the input folder" in reasons["escape"] and "not followed" in reasons["dirlink"]
    assert len(found.series) == 1 and found.series[0].n_files == 8


def test_empty_folder_and_missing_path(tmp_path):
    with pytest.raises(InputError, match="is empty"):
        load_volume(tmp_path)
    with pytest.raises(InputError, match="does not exist"):
        load_volume(tmp_path / "nope")


def test_echoes_and_phase_split_into_images(tmp_path):
    series = generate_uid()
    study = generate_uid()
    write_series(tmp_path, series_uid=series, study_uid=study, echo_time=10.0, name=lambda k: f"e1_{k}")
    write_series(tmp_path, series_uid=series, study_uid=study, echo_time=80.0, name=lambda k: f"e2_{k}")
    write_series(tmp_path, series_uid=series, study_uid=study, echo_time=80.0, name=lambda k: f"p_{k}",
                 image_type=("ORIGINAL", "PRIMARY", "P", "ND"))
    images = discover_series(tmp_path).series
    assert sorted(s.image_key.split("#")[1] for s in images) == ["te10-M", "te80-M", "te80-P"]
    with pytest.raises(InputError, match="holds 3 image series"):
        load_volume(tmp_path, series_uid=series)
    vol = load_volume(tmp_path, series_uid=f"{series}#te80-P")
    assert vol.meta["echo_time_ms"] == 80.0 and vol.meta["component"] == "P"
    assert_geometry(vol)


def test_dynamic_series_keeps_first_time_point(tmp_path):
    series, study = generate_uid(), generate_uid()
    write_series(tmp_path, series_uid=series, study_uid=study, acquisition_number=2, name=lambda k: f"t2_{k}",
                 extra=lambda ds, k: setattr(ds, "PixelData", bytes(len(ds.PixelData))))
    write_series(tmp_path, series_uid=series, study_uid=study, acquisition_number=1, name=lambda k: f"t1_{k}")
    vol = load_volume(tmp_path)
    assert_geometry(vol)  # zeros of time point 2 would fail this
    assert any("dynamic series" in n for n in vol.notes)


def test_uneven_duplicate_positions_refused(tmp_path):
    series, study = generate_uid(), generate_uid()
    write_series(tmp_path, series_uid=series, study_uid=study)
    write_series(tmp_path, series_uid=series, study_uid=study, slices=[2], name=lambda k: "dup")
    with pytest.raises(InputError, match="duplicate slice positions at 1 of 8 positions"):
        load_volume(tmp_path)


def test_exact_copies_read_once(tmp_path):
    paths = write_series(tmp_path / "a")
    (tmp_path / "copy").mkdir()
    (tmp_path / "copy" / "again").write_bytes(paths[0].read_bytes())
    vol = load_volume(tmp_path)
    assert vol.shape == (16, 16, 8) and any("duplicate copies" in n for n in vol.notes)


def test_localizer_dropped(tmp_path):
    series, study = generate_uid(), generate_uid()
    write_series(tmp_path, series_uid=series, study_uid=study)
    write_series(tmp_path, series_uid=series, study_uid=study, n_slices=1, iop=(0, 1, 0, 0, 0, -1),
                 name=lambda k: "loc")
    vol = load_volume(tmp_path)
    assert vol.shape == (16, 16, 8) and any("dropped 1 slices" in n for n in vol.notes)


def test_rescale_dtypes(tmp_path):
    write_series(tmp_path / "ct", modality="CT", slope=1, intercept=-1024, echo_time=None)
    ct = load_volume(tmp_path / "ct")
    assert ct.array.dtype == np.int16 and ct.array.min() == -1024
    write_series(tmp_path / "mr", slope=0.5, intercept=1.25)
    mr = load_volume(tmp_path / "mr")
    assert mr.array.dtype == np.float32 and mr.array.min() == pytest.approx(1.25)
    assert mr.meta["rescale_applied"] == "slope 0.5, intercept 1.25"
    plain = load_volume(tmp_path / "mr", series_uid=None)
    assert plain.array.flags.c_contiguous is False and np.all(np.asarray(plain.array.strides) > 0)


def test_single_slice_uses_header_spacing(tmp_path):
    write_series(tmp_path, n_slices=1, slice_step=3.0)
    vol = load_volume(tmp_path)
    assert vol.shape == (16, 16, 1) and vol.spacing[2] == pytest.approx(3.0)
    assert any("single slice" in n for n in vol.notes)


def test_load_series_matches_discovery(tmp_path):
    write_series(tmp_path)
    info = discover_series(tmp_path).series[0]
    vol = load_series(info)
    assert vol.shape == info.shape and vol.spacing == pytest.approx(info.spacing_mm)
    assert vol.meta["series_description"] == "t2_tse_sag" and vol.meta["patient_position"] == "HFS"


def test_deflated_transfer_syntax(tmp_path):
    from pydicom.uid import DeflatedExplicitVRLittleEndian

    def deflate(ds, k):
        ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian

    write_series(tmp_path, extra=deflate)
    vol = load_volume(tmp_path)
    assert vol.meta["transfer_syntaxes"] == [str(DeflatedExplicitVRLittleEndian)]
    assert_geometry(vol)


def test_depth_limit(tmp_path):
    write_series(tmp_path / "a" / "b" / "c")
    found = discover_series(tmp_path, limits=InputLimits(max_depth=2))
    assert not found.series and "deeper than 2 levels" in found.skipped[0][1]
    assert len(discover_series(tmp_path, limits=InputLimits(max_depth=3)).series) == 1


def test_select_prefers_t2_then_t1_then_stir_among_sagittal(tmp_path):
    study = generate_uid()
    sag = (0, 1, 0, 0, 0, -1)
    for n, desc in enumerate(["t2_tirm_sag", "T1 FSE SAG", "SAG T2W TSE"]):
        write_series(tmp_path / desc, study_uid=study, series_number=n + 1, description=desc, iop=sag)
    st = discover_series(tmp_path).studies[0]
    assert [s.contrast for s in st.series] == ["STIR", "T1", "T2"]
    assert select_series(st).description == "SAG T2W TSE"
    assert select_series(st, SeriesRule(mr_contrasts=("STIR", "T1"))).description == "t2_tirm_sag"


def test_mixed_sizes_without_majority_refused(tmp_path):
    series, study = generate_uid(), generate_uid()
    write_series(tmp_path, series_uid=series, study_uid=study, n_slices=3)
    write_series(tmp_path, series_uid=series, study_uid=study, n_slices=3, rows=8, name=lambda k: f"small{k}",
                 origin=(0.0, 0.0, 100.0))
    info = discover_series(tmp_path).series[0]
    assert "mixed orientations or sizes" in info.problem
    with pytest.raises(InputError, match=r"Image series .*mixed orientations or sizes \(2 groups of \[3, 3\]"):
        load_volume(tmp_path)


def test_headers_of_files_without_preamble_are_read_again_for_seg_and_sr(tmp_path):
    """Discovery accepts a file without the 128-byte preamble + 'DICM' when it parses into an image; the
    SEG/SR writers' second read of its header must accept it too."""
    import pydicom

    from spinedetect.io import read_series_headers

    for path in write_series(tmp_path, n_slices=4):
        ds = pydicom.dcmread(path)
        del ds.file_meta
        ds.preamble = None
        pydicom.dcmwrite(path, ds, implicit_vr=True, little_endian=True)  # the data set alone
        assert path.read_bytes()[128:132] != b"DICM"
    (series,) = discover_series(tmp_path).series
    headers = read_series_headers(series)
    assert [ds.InstanceNumber for ds in headers] == [1, 2, 3, 4]
