"""Real truth through its label mapping: a prediction equal to the truth must score perfectly."""

import json

import nibabel as nib
import numpy as np

from spinedetect.cli.main import main
from spinedetect.labels import Label


def test_real_mri_vb_truth_against_itself(shared_data, tmp_path):
    src = shared_data / "real-mri-vb" / "VB3_01_vb.nii.gz"
    img = nib.load(str(src))
    ids = np.asanyarray(img.dataobj)
    # a schema prediction of the same bodies, with one body called a lesion: still body ∪ lesion
    pred = np.where(ids > 0, int(Label.VERTEBRAL_BODY), 0).astype(np.uint8)
    pred[ids == 3] = int(Label.OSSEOUS_LESION)
    (tmp_path / "pred" / "VB3_01").mkdir(parents=True)
    nib.save(nib.Nifti1Image(pred, img.affine), str(tmp_path / "pred" / "VB3_01" / "labels.nii.gz"))
    out = tmp_path / "out"
    rc = main(["evaluate", "--pred", str(tmp_path / "pred"), "--truth", str(shared_data / "real-mri-vb"),
               "--truth-format", "real-mri-vb", "--out", str(out), "--no-progress"])
    assert rc == 0
    doc = json.loads((out / "evaluation.json").read_text())
    assert doc["n_cases"] == 1 and "VB3_02" in doc["missing_predictions"]
    scores = doc["cases"]["VB3_01"]["classes"]
    assert list(scores) == ["vertebral_body+osseous_lesion"]
    assert scores["vertebral_body+osseous_lesion"]["dice"] == 1.0
    assert scores["vertebral_body+osseous_lesion"]["hd95_mm"] == 0.0


def test_real_ct_formats_are_told_apart(shared_data, tmp_path):
    src = shared_data / "real-ct" / "example_ct_spine_labels.nii.gz"
    img = nib.load(str(src))
    ids = np.asanyarray(img.dataobj)
    pred = np.zeros(ids.shape, np.uint8)
    pred[(ids >= 25) & (ids <= 33)] = int(Label.VERTEBRAL_BODY)
    pred[ids == 79] = int(Label.CORD)
    (tmp_path / "pred").mkdir()
    for name in ("example_ct", "example_mr_sm"):
        nib.save(nib.Nifti1Image(pred, img.affine), str(tmp_path / "pred" / f"{name}_labels.nii.gz"))
    out = tmp_path / "out"
    assert main(["evaluate", "--pred", str(tmp_path / "pred"), "--truth", str(shared_data / "real-ct"),
                 "--truth-format", "totalseg-ct", "--out", str(out), "--no-progress"]) == 0
    doc = json.loads((out / "evaluation.json").read_text())
    assert "example_mr_sm" in doc["skipped"] and "totalseg-ct" in doc["skipped"]["example_mr_sm"]
    ct = doc["cases"]["example_ct"]["classes"]
    assert ct["vertebral_body+posterior_elements+osseous_lesion"]["dice"] == 1.0
    assert ct["cord"]["dice"] == 1.0


def test_real_cord_manual_mask_against_itself(shared_data, tmp_path):
    src = shared_data / "real-cord" / "sct_t2_seg-manual.nii.gz"
    img = nib.load(str(src))
    cord = np.asanyarray(img.dataobj) > 0
    pred = np.where(cord, int(Label.CORD), 0).astype(np.uint8)
    (tmp_path / "pred").mkdir()
    nib.save(nib.Nifti1Image(pred, img.affine), str(tmp_path / "pred" / "sct_t2_labels.nii.gz"))
    out = tmp_path / "out"
    # format guessed from the *_seg-manual names
    assert main(["evaluate", "--pred", str(tmp_path / "pred"), "--truth", str(shared_data / "real-cord"),
                 "--out", str(out), "--no-progress"]) == 0
    doc = json.loads((out / "evaluation.json").read_text())
    assert doc["truth_format"] == "real-cord" and doc["missing_predictions"] == ["sct_t1w"]
    assert doc["cases"]["sct_t2"]["classes"] == {"cord": {"dice": 1.0, "hd95_mm": 0.0, "status": "scored",
                                                          "pred_voxels": int(cord.sum()),
                                                          "truth_voxels": int(cord.sum())}}
