"""Every series of ../shared/data/dicom-conformance against dcm2niix's reference, and the real JPEG2000 CT.

Geometry: the loaded grid must hold the reference's voxel centres within 0.01 mm (dcm2niix may flip or
permute axes, so grids are compared through the two affines). Values: identical after mapping indices,
except Philips, whose references hold dcm2niix's private floating-point scaling: there the rank
correlation must be ~1. Siemens mosaics are un-mosaicked and compared like any other series; a 4-D
reference (dynamic series) is compared at its first volume, the time point the loader keeps.
"""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from scipy.stats import spearmanr

from spinedetect.io import discover_series, load_series, load_volume, reorient_onto
from tests.conftest import SHARED_DATA

CONFORMANCE = SHARED_DATA / "dicom-conformance"
CASES = sorted(str(p.relative_to(CONFORMANCE)) for p in CONFORMANCE.glob("*/*/ref*.nii*")) \
    if CONFORMANCE.is_dir() else ["(absent)"]


def _image_for(ref: Path, images):
    """The loaded image a reference file corresponds to (Philips B0: e1 magnitude, e2 field map)."""
    if len(images) == 1:
        return images[0]
    want_field_map = "fieldmap" in ref.name
    chosen = [s for s in images if (s.component == "FIELD_MAP") == want_field_map]
    assert len(chosen) == 1, [s.image_key for s in images]
    return chosen[0]


@pytest.mark.parametrize("case", CASES)
def test_conformance_series(shared_data, case):
    if case == "(absent)":
        pytest.skip("dicom-conformance data absent")
    ref_path = CONFORMANCE / case
    series_dir = ref_path.parent
    found = discover_series(series_dir / "dicom")
    assert not found.skipped
    info = _image_for(ref_path, found.series)
    assert info.problem is None
    vol = load_series(info)
    ref = nib.load(ref_path)
    ref_data = np.asanyarray(ref.dataobj)
    if ref_data.ndim == 4:
        ref_data = ref_data[..., 0]
    # raises unless every voxel centre of the two grids coincides within 0.01 mm
    mine = reorient_onto(vol, ref.affine, ref_data.shape, tol_mm=0.01).array
    philips = "philips" in case.lower()
    if philips:
        rho = spearmanr(mine.ravel(), ref_data.ravel())[0]
        assert rho > 0.999
    else:
        assert mine.dtype.kind in "iu" and np.array_equal(mine, ref_data)
    if (series_dir / "dicom").is_dir() and len(info.files) > 1:
        # one file of a multi-file series loads the whole series
        assert load_volume(info.files[len(info.files) // 2]).shape == vol.shape


def test_real_ct_jpeg2000_onto_label_grid(shared_data):
    ct_dir = shared_data / "real-ct" / "example_ct_dicom"
    labels = nib.load(shared_data / "real-ct" / "example_ct_dicom_spine_labels.nii.gz")
    vol = load_volume(ct_dir)
    assert vol.shape == labels.shape
    assert np.abs(vol.affine - labels.affine).max() <= 0.01
    assert vol.modality == "CT" and vol.array.dtype == np.int16
    assert vol.array.min() == -1024 and 500 < vol.array.max() < 4000  # HU after rescale, bone present
    assert vol.meta["transfer_syntaxes"] == ["1.2.840.10008.1.2.4.90"]
    # the labelled vertebrae are bone: their median HU is far above soft tissue
    lab = np.asanyarray(labels.dataobj)
    assert np.median(vol.array[(lab >= 25) & (lab <= 33)]) > 150
