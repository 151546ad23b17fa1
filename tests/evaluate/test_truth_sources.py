import nibabel as nib
import numpy as np
import pytest

from spinedetect.errors import InputError
from spinedetect.evaluate.truth_sources import TRUTH_MAPPINGS, TruthFormat, detect_format, find_cases
from spinedetect.labels import Label


def touch_nifti(path):
    nib.save(nib.Nifti1Image(np.zeros((2, 2, 2), np.uint8), np.eye(4)), str(path))


def test_schema_layouts(tmp_path):
    (tmp_path / "a").mkdir()
    touch_nifti(tmp_path / "a" / "labels.nii.gz")
    (tmp_path / "a" / "report.json").write_text("{}")
    (tmp_path / "empty_dir").mkdir()
    touch_nifti(tmp_path / "b_labels.nii.gz")
    touch_nifti(tmp_path / "b.nii.gz")          # an image beside *_labels files: not a case
    cases = find_cases(tmp_path, TruthFormat.SCHEMA, json_name="report.json")
    assert sorted(cases) == ["a", "b"]
    assert cases["a"].json is not None and cases["b"].labels.name == "b_labels.nii.gz"


def test_flat_without_labels_suffix_and_duplicates(tmp_path):
    touch_nifti(tmp_path / "c.nii.gz")
    assert list(find_cases(tmp_path, TruthFormat.SCHEMA)) == ["c"]
    (tmp_path / "c").mkdir()
    touch_nifti(tmp_path / "c" / "labels.nii.gz")
    with pytest.raises(InputError, match="twice"):
        find_cases(tmp_path, TruthFormat.SCHEMA)


def test_real_layouts_and_detection(tmp_path):
    touch_nifti(tmp_path / "sct_t2_seg-manual.nii.gz")
    touch_nifti(tmp_path / "sct_t2_seg-manual_labeled.nii.gz")
    touch_nifti(tmp_path / "sct_t2.nii.gz")
    assert detect_format(tmp_path) is TruthFormat.REAL_CORD
    assert list(find_cases(tmp_path, TruthFormat.REAL_CORD)) == ["sct_t2"]
    with pytest.raises(InputError, match="does not exist"):
        find_cases(tmp_path / "nope", TruthFormat.SCHEMA)


def test_mappings_are_unions_of_schema_classes():
    vb = TRUTH_MAPPINGS[TruthFormat.REAL_MRI_VB]
    assert vb.unions() == [(Label.VERTEBRAL_BODY, Label.OSSEOUS_LESION)]
    ct = TRUTH_MAPPINGS[TruthFormat.TOTALSEG_CT]
    assert ct.values[27] == (Label.VERTEBRAL_BODY, Label.POSTERIOR_ELEMENTS, Label.OSSEOUS_LESION)
    assert ct.values[79] == (Label.CORD,)
    assert Label.CSF in ct.unannotated
    assert TRUTH_MAPPINGS[TruthFormat.REAL_CORD].annotated == (Label.CORD,)
