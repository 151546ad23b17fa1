import json

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from spinedetect.data import (RealCordDataset, RealCtDataset, RealMriVbDataset, SpiderDataset,
                              TotalSegmentatorDataset, VerseDataset, read_image)
from spinedetect.errors import InputError
from spinedetect.labels import BONE, CANAL, Label

SHAPE = (6, 5, 4)  # (i, j, k)


def _write_mha(path, array_ijk, spacing=(1.0, 2.0, 3.0), origin=(10.0, -5.0, 2.0)):
    img = sitk.GetImageFromArray(np.ascontiguousarray(array_ijk.transpose(2, 1, 0)))
    img.SetSpacing(spacing)
    img.SetOrigin(origin)
    img.SetDirection((0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0))  # a sagittal-style ITK direction
    sitk.WriteImage(img, str(path))
    return img


def _write_nii(path, array, affine=None):
    nib.save(nib.Nifti1Image(array, np.diag([1.0, 1.0, 2.0, 1.0]) if affine is None else affine), str(path))


def test_spider_layout(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    image = np.arange(np.prod(SHAPE), dtype=np.int16).reshape(SHAPE)
    mask = np.zeros(SHAPE, dtype=np.uint16)
    mask[1, 1, 1], mask[2, 2, 2], mask[3, 3, 3] = 3, 100, 202
    itk = _write_mha(tmp_path / "images" / "12_t2.mha", image)
    _write_mha(tmp_path / "masks" / "12_t2.mha", mask)
    ds = SpiderDataset(tmp_path)
    assert ds.case_ids() == ["12_t2"] and ds.subject("12_t2") == "12"
    case = ds.load("12_t2")
    assert case.image.shape == SHAPE and case.image.array[4, 3, 2] == image[4, 3, 2]
    # voxel (i, j, k) lands where ITK puts it, with LPS flipped to RAS
    lps = np.array(itk.TransformIndexToPhysicalPoint((4, 3, 2)))
    ras = case.image.affine @ np.array([4, 3, 2, 1.0])
    assert np.allclose(ras[:3], lps * [-1, -1, 1])
    assert case.mapping.values[3] == BONE and case.mapping.values[100] == CANAL
    assert case.mapping.values[202] == (Label.DISC,)
    assert case.mapping.unannotated == (Label.EPIDURAL_TUMOUR,)
    assert case.labels.array[2, 2, 2] == 100


def test_verse_layout(tmp_path):
    prefix = "sub-verse004"
    (tmp_path / "rawdata" / prefix).mkdir(parents=True)
    (tmp_path / "derivatives" / prefix).mkdir(parents=True)
    _write_nii(tmp_path / "rawdata" / prefix / f"{prefix}_ct.nii.gz", np.full(SHAPE, -1000, np.int16))
    seg = np.zeros(SHAPE, np.uint8)
    seg[2:4, 2:4, 1:3] = 20
    _write_nii(tmp_path / "derivatives" / prefix / f"{prefix}_seg-vert_msk.nii.gz", seg)
    ctd = [{"direction": ["P", "I", "R"]}, {"label": 20, "X": 2.5, "Y": 2.5, "Z": 1.5}]
    (tmp_path / "derivatives" / prefix / f"{prefix}_seg-subreg_ctd.json").write_text(json.dumps(ctd))
    ds = VerseDataset(tmp_path)
    assert ds.case_ids() == [prefix]
    case = ds.load(prefix)
    assert case.image.modality == "CT" and case.subject == prefix
    assert case.meta["centroids"] == {"direction": "PIR", "centroids": {20: (2.5, 2.5, 1.5)}}
    assert case.mapping.values[20] == BONE and Label.CORD in case.mapping.unannotated
    assert int(case.labels.array.max()) == 20


def test_totalsegmentator_layout(tmp_path):
    sub = tmp_path / "s0011"
    (sub / "segmentations").mkdir(parents=True)
    _write_nii(sub / "ct.nii.gz", np.zeros(SHAPE, np.int16))
    for name, sl in (("vertebrae_L1", np.s_[0:2]), ("spinal_cord", np.s_[3:4]), ("liver", np.s_[5:6])):
        m = np.zeros(SHAPE, np.uint8)
        m[sl] = 1
        _write_nii(sub / "segmentations" / f"{name}.nii.gz", m)
    case = TotalSegmentatorDataset(tmp_path).load("s0011")
    assert case.meta["structures"] == ["vertebrae_L1", "spinal_cord"]
    values = case.labels.array
    assert case.mapping.values[int(values[0, 0, 0])] == BONE
    assert case.mapping.values[int(values[3, 0, 0])] == (Label.CORD,)
    assert values[5, 0, 0] == 0  # liver is not a spine structure
    assert Label.CSF in case.mapping.unannotated and Label.CORD not in case.mapping.unannotated


def test_totalsegmentator_without_cord_does_not_claim_cord(tmp_path):
    sub = tmp_path / "s1"
    (sub / "segmentations").mkdir(parents=True)
    _write_nii(sub / "ct.nii.gz", np.zeros(SHAPE, np.int16))
    _write_nii(sub / "segmentations" / "vertebrae_T4.nii.gz", np.ones(SHAPE, np.uint8))
    assert Label.CORD in TotalSegmentatorDataset(tmp_path).load("s1").mapping.unannotated


def test_missing_layout_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="SPIDER images"):
        SpiderDataset(tmp_path)
    with pytest.raises(InputError, match="expected"):
        read_image(tmp_path / "nothing.nii.gz")


def test_real_mri_vb(shared_data):
    ds = RealMriVbDataset(shared_data / "real-mri-vb")
    assert len(ds) == 21
    assert ds.subject("VB1_11") == ds.subject("VB1_10") and ds.subject("VB1_07") == ds.subject("VB1_02")
    case = ds.load("VB3_01")
    assert case.image.shape == case.labels.shape
    assert set(np.unique(case.labels.array)) == {0, 1, 2, 3, 4, 5}
    assert case.mapping.values[1] == (Label.VERTEBRAL_BODY, Label.OSSEOUS_LESION)
    assert Label.CSF in case.mapping.unannotated and Label.POSTERIOR_ELEMENTS in case.mapping.unannotated


def test_real_cord_and_ct(shared_data):
    cord = RealCordDataset(shared_data / "real-cord")
    assert cord.case_ids() == ["sct_t1w", "sct_t2"]
    c = cord.load("sct_t2")
    assert c.labels.array.max() == 1 and c.mapping.annotated == (Label.CORD,)
    ct = RealCtDataset(shared_data / "real-ct")
    assert ct.case_ids() == ["example_ct", "example_mr_sm"]
    case = ct.load("example_ct")
    assert case.image.modality == "CT"
    present = {int(v) for v in np.unique(case.labels.array)} - {0}
    assert present <= set(case.mapping.values) and 79 in present
    mr = ct.load("example_mr_sm")
    assert mr.mapping.values[20] == (Label.DISC,) and mr.image.modality == "MR"
