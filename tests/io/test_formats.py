"""NIfTI and MetaImage/NRRD input, and NIfTI output: world geometry survives every round trip."""

from __future__ import annotations

import gzip

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from spinedetect.errors import InputError
from spinedetect.io import InputLimits, Volume, load_volume, write_nifti
from tests.io.helpers import world_of_centres


def oblique_affine() -> np.ndarray:
    a, b = np.deg2rad(20), np.deg2rad(-35)
    rot_x = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    rot_z = np.array([[np.cos(b), -np.sin(b), 0], [np.sin(b), np.cos(b), 0], [0, 0, 1]])
    aff = np.eye(4)
    aff[:3, :3] = rot_z @ rot_x @ np.diag([0.7, -1.1, 2.5])  # one flipped axis
    aff[:3, 3] = (12.5, -40.0, 7.25)
    return aff


@pytest.mark.parametrize("name", ["v.nii", "v.nii.gz"])
def test_nifti_round_trip(tmp_path, name):
    arr = np.arange(6 * 5 * 4, dtype=np.int16).reshape(6, 5, 4)
    vol = Volume(arr, oblique_affine())
    out = write_nifti(vol, tmp_path / "sub" / name)
    assert out.exists() and not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temp left
    back = load_volume(out)
    assert np.array_equal(back.array, arr) and back.array.dtype == np.int16
    assert np.abs(world_of_centres(back.affine, back.shape) - world_of_centres(vol.affine, vol.shape)).max() < 1e-4
    img = nib.load(out)
    assert int(img.header["qform_code"]) == 1 and int(img.header["sform_code"]) == 1
    if name.endswith(".gz"):
        assert gzip.open(out).read(4)  # really gzip


def test_nifti_qform_only_and_scaled(tmp_path):
    aff = oblique_affine()
    img = nib.Nifti1Image(np.arange(24, dtype=np.int16).reshape(2, 3, 4), None)
    img.set_qform(aff, code=1)
    img.set_sform(None, code=0)
    img.header.set_slope_inter(0.5, 10.0)
    nib.save(img, tmp_path / "q.nii")
    vol = load_volume(tmp_path / "q.nii")
    assert np.allclose(vol.affine, nib.load(tmp_path / "q.nii").affine) and np.allclose(vol.affine, aff, atol=1e-4)
    assert vol.array.dtype == np.float32 and vol.array[1, 2, 3] == pytest.approx(23 * 0.5 + 10)


def test_nifti_4d_keeps_first_volume_and_2d_refused(tmp_path):
    arr = np.zeros((3, 3, 3, 2), np.float32)
    arr[..., 1] = 1
    arr[0, 0, 0, 0] = 2  # the first volume: 2 at one voxel, 0 elsewhere
    nib.save(nib.Nifti1Image(arr, np.eye(4)), tmp_path / "4d.nii.gz")
    vol = load_volume(tmp_path / "4d.nii.gz")
    assert vol.shape == (3, 3, 3) and vol.array.max() == 2 and vol.array.sum() == 2
    assert "first 3-D volume" in vol.notes[0]
    nib.save(nib.Nifti1Image(np.zeros((3, 3), np.float32), np.eye(4)), tmp_path / "2d.nii.gz")
    with pytest.raises(InputError, match="2-D image"):
        load_volume(tmp_path / "2d.nii.gz")


def test_over_limit_and_corrupt_nifti(tmp_path):
    nib.save(nib.Nifti1Image(np.zeros((10, 10, 10), np.uint8), np.eye(4)), tmp_path / "big.nii")
    with pytest.raises(InputError, match="1000 voxels"):
        load_volume(tmp_path / "big.nii", limits=InputLimits(max_voxels=999))
    (tmp_path / "bad.nii.gz").write_bytes(b"not gzip at all")
    with pytest.raises(InputError, match="not a readable NIfTI"):
        load_volume(tmp_path / "bad.nii.gz")
    data = (tmp_path / "big.nii").read_bytes()
    (tmp_path / "cut.nii").write_bytes(data[:600])
    with pytest.raises(InputError, match="truncated; expected 1352 bytes"):
        load_volume(tmp_path / "cut.nii")


@pytest.mark.parametrize("suffix", [".mha", ".nrrd", ".mhd"])
def test_itk_world_geometry(tmp_path, suffix):
    arr_kji = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6)  # SimpleITK order (k, j, i)
    image = sitk.GetImageFromArray(arr_kji)
    a = np.deg2rad(25)
    direction = np.array([[np.cos(a), 0, np.sin(a)], [0, -1, 0], [-np.sin(a), 0, np.cos(a)]])
    image.SetDirection(direction.ravel().tolist())
    image.SetSpacing((0.6, 0.8, 3.0))
    image.SetOrigin((-15.0, 22.0, 101.5))
    path = tmp_path / f"img{suffix}"
    sitk.WriteImage(image, str(path))
    vol = load_volume(path)
    assert vol.shape == (6, 5, 4)
    for i, j, k in [(0, 0, 0), (5, 4, 3), (2, 1, 3)]:
        lps = np.array(image.TransformIndexToPhysicalPoint((i, j, k)))
        ras = vol.affine @ np.array([i, j, k, 1.0])
        assert np.allclose(ras[:3], lps * np.array([-1, -1, 1]), atol=1e-5)
        assert vol.array[i, j, k] == arr_kji[k, j, i]
    # MHA -> NIfTI -> load: same world grid
    back = load_volume(write_nifti(vol, tmp_path / "x.nii.gz"))
    assert np.abs(world_of_centres(back.affine, back.shape) - world_of_centres(vol.affine, vol.shape)).max() < 1e-4


def test_itk_vector_refused(tmp_path):
    image = sitk.Image([4, 4, 4], sitk.sitkVectorUInt8, 3)
    sitk.WriteImage(image, str(tmp_path / "rgb.mha"))
    with pytest.raises(InputError, match="3 components"):
        load_volume(tmp_path / "rgb.mha")
    (tmp_path / "bad.mha").write_text("ObjectType = Image\nNDims = 3\nDimSize = 4 4 4\n")
    with pytest.raises(InputError, match="bad.mha"):
        load_volume(tmp_path / "bad.mha")


def test_series_uid_refused_for_single_image_formats(tmp_path):
    nib.save(nib.Nifti1Image(np.zeros((2, 2, 2), np.uint8), np.eye(4)), tmp_path / "a.nii")
    with pytest.raises(InputError, match="only with DICOM input"):
        load_volume(tmp_path / "a.nii", series_uid="1.2.3")


def test_write_nifti_refuses_other_suffix(tmp_path):
    with pytest.raises(InputError, match=r"\.nii or \.nii\.gz"):
        write_nifti(Volume(np.zeros((2, 2, 2)), np.eye(4)), tmp_path / "x.mha")
