import json

import pytest

from spinedetect.cli.main import main


def _small_yaml(tmp_path):
    path = tmp_path / "small.yaml"
    path.write_text("anatomy: {first_level: L4, last_level: S1}\n"
                    "imaging: {sagittal_spacing_mm: [2.0, 2.0, 4.0], axial_spacing_mm: [2.0, 2.0, 4.0]}\n")
    return path


def test_phantom_command_writes_cases(tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(["phantom", "--out", str(out), "--n", "2", "--seed", "7", "--config", str(_small_yaml(tmp_path)),
               "--format", "both", "--no-progress"])
    assert rc == 0
    for case in ("phantom-0007", "phantom-0008"):
        d = out / case
        assert (d / "image.nii.gz").is_file() and (d / "labels.nii.gz").is_file()
        assert any((d / "dicom").glob("*.dcm"))
        assert json.loads((d / "truth.json").read_text())["seed"] == int(case[-4:])
    assert str(out.resolve()) in capsys.readouterr().out


def test_phantom_ct_modality(tmp_path):
    out = tmp_path / "ct"
    assert main(["phantom", "--out", str(out), "--modality", "ct", "--config", str(_small_yaml(tmp_path)),
                 "--no-progress"]) == 0
    truth = json.loads((out / "phantom-0000" / "truth.json").read_text())
    assert truth["modality"] == "CT" and truth["acquisition"] == "axial"


@pytest.mark.parametrize("argv, needle", [
    (["--n", "0"], "--n"),
    (["--n", "x"], "--n"),
    (["--seed", "-3"], "--seed"),
    (["--format", "png"], "--format"),
    (["--modality", "pet"], "--modality"),
    (["--config", "missing.yaml"], "missing.yaml"),
    ([], "--out"),
])
def test_bad_arguments_exit_2_with_one_line(tmp_path, capsys, argv, needle):
    if argv != []:
        argv = ["--out", str(tmp_path / "o"), *argv]
    rc = main(["phantom", *argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert len(err) == 1 and needle in err[0]


def test_bad_config_exit_2_with_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("pathology: {p_epidural: 2.0}\n")
    rc = main(["phantom", "--out", str(tmp_path / "o"), "--config", str(bad)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "p_epidural" in err[0]


def test_output_path_that_is_a_file_is_refused(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("x")
    assert main(["phantom", "--out", str(f), "--no-progress"]) == 2
    assert "is a file" in capsys.readouterr().err
