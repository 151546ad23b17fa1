"""Inputs that benchmarks/fuzz_input.py found breaking the input step, minimised (tests/io/fuzz_regressions/)."""

from __future__ import annotations

import shutil
import tracemalloc
from pathlib import Path

import pytest

from spinedetect.errors import InputError
from spinedetect.io import discover_series, load_series, load_volume

CASES = Path(__file__).resolve().parent / "fuzz_regressions"


def _copy(case: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(CASES / case, tmp_path / case))


def test_huge_element_length_skipped_without_allocating(tmp_path):
    # an element claiming 0xFFFFFFF0 bytes in a 772-byte file made pydicom allocate 4 GiB
    folder = _copy("huge_element_length", tmp_path)
    tracemalloc.start()
    try:
        found = discover_series(folder)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20
    assert not found.series and len(found.skipped) == 1
    with pytest.raises(InputError, match="not a usable image"):
        load_volume(folder / "IM0.dcm")


def test_rescale_overflow_refused(tmp_path):
    # RescaleSlope 1e308 gave a volume of inf voxels
    found = discover_series(_copy("rescale_overflow", tmp_path))
    [series] = found.series
    with pytest.raises(InputError, match="RescaleSlope 1e\\+308.*beyond the float32 range"):
        load_series(series)


def test_position_overflow_skipped(tmp_path):
    # ImagePositionPatient 1.5e308 on an oblique series: OverflowError while sorting slices
    found = discover_series(_copy("position_overflow", tmp_path))
    assert not found.series
    assert [r for _, r in found.skipped] == [
        "ImagePositionPatient holds [1.5e+308, -1.5e+308, 0.0], beyond +-1e+06 mm (not a plausible geometry)"] * 2
    with pytest.raises(InputError, match="No DICOM image series.*beyond"):
        load_volume(tmp_path / "position_overflow")


def test_regression_inputs_are_tiny():
    files = [p for p in CASES.rglob("*") if p.is_file() and p.suffix in (".dcm", ".nii", ".gz", ".mha")]
    assert len(files) == 15 and all(p.stat().st_size < 2048 for p in files)


def test_damaged_csa_header_skipped(tmp_path):
    # nibabel's CSA reader `assert`s on a non-empty item past the value count: AssertionError escaped
    found = discover_series(_copy("csa_assertion", tmp_path))
    assert not found.series
    [(_, reason)] = found.skipped
    assert reason.startswith("Siemens mosaic with an unreadable CSA header (AssertionError")


@pytest.mark.parametrize("name, match", [
    ("datatype_32767.nii", "not a readable NIfTI file \\(HeaderDataError: data code 32767"),  # escaped
    ("vox_offset_inf.nii", "not a readable NIfTI file \\(OverflowError"),                     # escaped
    ("scl_inter_nan.nii", "HeaderDataError: Valid slope but invalid intercept nan"),         # escaped at read
    ("corrupt_stream.nii.gz", "not a readable NIfTI|unreadable voxel data"),                  # zlib.error escaped
    ("srow_nan.nii", "unusable voxel-to-world matrix"),                                      # NaN affine accepted
    ("rgba.nii", "voxels; expected scalar \\(greyscale\\)"),                                 # RGBA accepted
])
def test_damaged_nifti_refused(name, match):
    with pytest.raises(InputError, match=match):
        load_volume(CASES / "nifti" / name)


def test_metaimage_negative_ndims_refused_before_simpleitk():
    # NDims = -1 made SimpleITK spin forever or segfault (the fuzz worker died with SIGSEGV)
    with pytest.raises(InputError, match="invalid dimension count '-1'"):
        load_volume(CASES / "metaimage" / "ndims_negative.mha")


def test_denormal_pixel_spacing_skipped(tmp_path):
    # PixelSpacing 1e-320 (> 0 but denormal): the volume loaded with a singular affine
    found = discover_series(_copy("denormal_spacing", tmp_path))
    assert not found.series
    assert all("PixelSpacing must be two distances of at least 0.0001 mm" in r for _, r in found.skipped)
