"""configs/measure.yaml equals the defaults; ``spinedetect measure`` on NIfTI files."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from spinedetect.cli.main import main as spinedetect_main
from spinedetect.cli.measure import main
from spinedetect.config import config_to_dict, load_config
from spinedetect.measure import MeasureConfig

from .synthetic import SynthSpine, grid_for, voxelise

REPO = Path(__file__).resolve().parents[2]


def test_shipped_yaml_equals_defaults():
    assert config_to_dict(load_config(MeasureConfig, REPO / "configs" / "measure.yaml")) == \
        config_to_dict(MeasureConfig())


@pytest.fixture(scope="module")
def label_file(tmp_path_factory) -> Path:
    # a sacrum block 34 mm long in view (1.5 x the bodies): S1 for sure, so the levels are named outright
    spine = SynthSpine(length_mm=160.0, narrow_s_mm=70.0, narrow_factor=0.6, n_vertebrae=4, sacrum_len_mm=40.0)
    shape, aff = grid_for(spine, (1.2, 1.2, 1.2))
    path = tmp_path_factory.mktemp("cli") / "labels.nii.gz"
    nib.save(nib.Nifti1Image(voxelise(spine, shape, aff), aff), str(path))
    return path


def test_cli_prints_table_and_writes_report(label_file, tmp_path, capsys):
    out = tmp_path / "sub" / "report.json"
    assert main([str(label_file), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Bilsky" in text and "alert: URGENT" in text and "L4" in text
    rep = json.loads(out.read_text())
    assert rep["alert"]["level"] == "urgent" and rep["worst"]["level"] == "L4"
    assert [p.name for p in out.parent.iterdir()] == ["report.json"]  # no temp file left behind
    # dispatched through the spinedetect command too
    assert spinedetect_main(["measure", str(label_file)]) == 0


def test_cli_with_image_and_hint(label_file, tmp_path, capsys):
    img = nib.load(str(label_file))
    image_path = tmp_path / "image.nii.gz"
    nib.save(nib.Nifti1Image(np.asanyarray(img.dataobj).astype(np.float32) * 10, img.affine), str(image_path))
    assert main([str(label_file), "--image", str(image_path), "--modality", "CT", "--level-hint", "lowest=L5"]) == 0
    out = capsys.readouterr().out
    assert "levels named by: hint (confidence 1.00)" in out  # the user's hint wins over the sacrum
    assert "\nL5 " in out and "S1" not in out


@pytest.mark.parametrize("args", [
    ["missing.nii.gz"],
    ["{bad}"],
    ["{labels}", "--level-hint", "L5 is the lowest"],
    ["{labels}", "--image", "{wrong_shape}"],
    ["{labels}", "--config", "{bad_config}"],
])
def test_bad_input_exits_2_with_one_line(args, label_file, tmp_path, capsys):
    bad = tmp_path / "bad.nii.gz"
    bad.write_bytes(b"not a nifti file")
    wrong = tmp_path / "wrong.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((5, 5, 5), dtype=np.float32), np.eye(4)), str(wrong))
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("step_mm: 3.0\n")
    subst = {"{labels}": str(label_file), "{bad}": str(bad), "{wrong_shape}": str(wrong), "{bad_config}": str(cfg)}
    argv = [subst.get(a, a) for a in args]
    if argv[0] == "missing.nii.gz":
        argv[0] = str(tmp_path / "missing.nii.gz")
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("spinedetect measure: error:")
