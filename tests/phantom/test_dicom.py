"""The DICOM series written for a phantom, read back independently (dcm2niix and pydicom)."""

import shutil
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest

from spinedetect.phantom import generate_phantom, write_phantom


def _dcm2niix() -> str:
    found = shutil.which("dcm2niix") or str(Path(sys.executable).parent / "dcm2niix")
    if not Path(found).is_file():
        pytest.skip("dcm2niix executable not installed (pip install dcm2niix)")
    return found


@pytest.mark.parametrize("modality, acquisition, oblique", [("MR", "sagittal", 0.0), ("CT", "axial", 0.0),
                                                            ("MR", "axial", 25.0)])
def test_dicom_matches_nifti_in_world_space(tmp_path, make_config, modality, acquisition, oblique):
    cfg = make_config(first="L4", last="S1", modality=modality, acquisition=acquisition, oblique=oblique,
                      spacing=(1.6, 1.4, 3.0))
    ph = generate_phantom(cfg, seed=21)
    if oblique:
        dirs = ph.image.affine[:3, :3] / np.linalg.norm(ph.image.affine[:3, :3], axis=0)
        assert np.abs(dirs).max(axis=0).min() < 0.999   # really oblique
    paths = write_phantom(ph, tmp_path / "case", ("nifti", "dicom"))
    out = tmp_path / "d2n"
    out.mkdir()
    run = subprocess.run([_dcm2niix(), "-z", "n", "-f", "x", "-o", str(out), str(paths["dicom"])],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    ref = nib.load(str(out / "x.nii"))
    ours = nib.load(str(paths["image"]))
    assert ref.shape == ours.shape or sorted(ref.shape) == sorted(ours.shape)
    # every voxel centre of ours, in world mm, must land on a voxel centre of dcm2niix's within 0.01 mm
    ijk = np.indices(ours.shape).reshape(3, -1).T.astype(np.float64)
    world = ijk @ ours.affine[:3, :3].T + ours.affine[:3, 3]
    inv = np.linalg.inv(ref.affine)
    theirs = world @ inv[:3, :3].T + inv[:3, 3]
    nearest = np.rint(theirs)
    back = nearest @ ref.affine[:3, :3].T + ref.affine[:3, 3]
    assert np.abs(back - world).max() < 0.01
    n = nearest.astype(int)
    assert (n >= 0).all() and (n < np.array(ref.shape)).all()
    ref_vals = np.asarray(ref.dataobj, dtype=np.float64)[n[:, 0], n[:, 1], n[:, 2]]
    our_vals = np.asarray(ours.dataobj, dtype=np.float64).reshape(-1)
    tol = 0.51 if modality == "CT" else 1e-3 * float(np.abs(our_vals).max())
    assert np.abs(ref_vals - our_vals).max() <= tol

    files = sorted(paths["dicom"].glob("*.dcm"))
    assert len(files) == ours.shape[2]
    ds = pydicom.dcmread(files[0])
    assert ds.Modality == modality
    assert ds.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    assert ds.SOPClassUID == (pydicom.uid.CTImageStorage if modality == "CT" else pydicom.uid.MRImageStorage)
    assert str(ds.PatientName) == "PHANTOM^21" and ds.PatientID == "SPD-21"
    assert [float(v) for v in ds.PixelSpacing] == pytest.approx([1.4, 1.6], abs=1e-4)   # row spacing first
    assert float(ds.SliceThickness) == pytest.approx(3.0, abs=1e-4)
    ipp0 = np.array([float(v) for v in ds.ImagePositionPatient])
    lps0 = np.diag([-1.0, -1.0, 1.0]) @ ours.affine[:3, 3]
    assert np.abs(ipp0 - lps0).max() < 1e-3
    uids = {pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID for f in files}
    assert len(uids) == len(files)
