"""``spinedetect convert`` in-process: success writes the true affine; bad input is exit 2 with one line."""

from __future__ import annotations

import nibabel as nib
import numpy as np
from pydicom.uid import generate_uid

from spinedetect.cli.main import main
from spinedetect.io import load_volume
from tests.io.synth import write_series


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_convert_folder_to_nifti(tmp_path, capsys):
    write_series(tmp_path / "dcm", iop=(0, 1, 0, 0, 0, -1))
    out = tmp_path / "out.nii.gz"
    assert main(["convert", str(tmp_path / "dcm"), str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    vol = load_volume(tmp_path / "dcm")
    img = nib.load(out)
    assert np.allclose(img.affine, vol.affine) and np.array_equal(np.asanyarray(img.dataobj), vol.array)


def test_convert_bad_inputs_exit_2(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["convert", str(tmp_path / "empty"), str(tmp_path / "o.nii.gz")]) == 2
    assert "is empty" in one_line_error(capsys)
    (tmp_path / "txt").mkdir()
    (tmp_path / "txt" / "a.txt").write_text("hello\n" * 50)
    assert main(["convert", str(tmp_path / "txt"), str(tmp_path / "o.nii.gz")]) == 2
    assert "No DICOM image series" in one_line_error(capsys)
    assert main(["convert", str(tmp_path / "txt" / "a.txt"), str(tmp_path / "o.nii.gz")]) == 2
    assert "not a usable image" in one_line_error(capsys)
    assert main(["convert", str(tmp_path / "nothing"), str(tmp_path / "o.nii.gz")]) == 2
    assert "does not exist" in one_line_error(capsys)
    assert main(["convert"]) == 2
    assert "required" in one_line_error(capsys)
    assert not (tmp_path / "o.nii.gz").exists()


def test_convert_several_series_lists_them_and_series_picks(tmp_path, capsys):
    study = generate_uid()
    write_series(tmp_path / "d", study_uid=study, description="t2_sag", iop=(0, 1, 0, 0, 0, -1))
    chosen = generate_uid()
    write_series(tmp_path / "d", study_uid=study, series_uid=chosen, description="t1_tra", n_slices=5,
                 name=lambda k: f"b{k}")
    out = tmp_path / "o.nii"
    assert main(["convert", str(tmp_path / "d"), str(out)]) == 2
    line = one_line_error(capsys)
    assert "holds 2 image series" in line and "t2_sag" in line and "sagittal" in line and "16x16x5" in line
    assert main(["convert", str(tmp_path / "d"), str(out), "--series", chosen]) == 0
    assert nib.load(out).shape == (16, 16, 5)
    assert main(["convert", str(tmp_path / "d"), str(out), "--series", "1.2.3"]) == 2
    assert "No image series 1.2.3" in one_line_error(capsys)
