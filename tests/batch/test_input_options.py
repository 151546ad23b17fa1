"""Batch options on input: modality (header, inferred, or given), level hint, blank-UID DICOM studies, and a
SEG/SR that cannot be built (the study stays ok)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest

from spinedetect.batch import BatchConfig, run_batch
from spinedetect.batch import runner
from spinedetect.cli.main import main
from spinedetect.errors import ConfigError
from tests.batch.conftest import TruthModel

EMPTY_KEY = "study-" + hashlib.sha1(b"").hexdigest()[:12]


class RecordingModel(TruthModel):
    """The true labels; records the modality of every volume it is given (what the Predictor normalises by)."""

    def __init__(self, truths):
        super().__init__(truths)
        self.modalities: list[str | None] = []

    def predict(self, volume):
        self.modalities.append(volume.modality)
        return super().predict(volume)


@pytest.fixture()
def measured(monkeypatch):
    """The modality and level hint every measure_labels call of the batch received."""
    calls: list[dict] = []
    real = runner.measure_labels

    def measure(*args, **kwargs):
        calls.append({"modality": kwargs.get("modality"), "level_hint": kwargs.get("level_hint")})
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "measure_labels", measure)
    return calls


@pytest.fixture(scope="module")
def nifti_studies(phantom_batch, tmp_path_factory) -> tuple[Path, dict[str, Path]]:
    """Two NIfTI studies on the 'clean' phantom's grid: its MR image, and a CT-like image in HU made from
    its labels (background air -1000, bone 700, other tissue 40)."""
    _, truths, _ = phantom_batch
    labels_path = truths["clean"]
    inp = tmp_path_factory.mktemp("nifti") / "input"
    inp.mkdir()
    mr = nib.load(labels_path.with_name("image.nii.gz"))
    nib.save(mr, inp / "mr.nii.gz")
    lab = np.asarray(nib.load(labels_path).dataobj)
    hu = np.where(lab == 0, -1000, np.where(np.isin(lab, (1, 2)), 700, 40)).astype(np.int16)
    assert (hu <= -100).mean() >= 0.05 and (hu == 700).mean() > 0.01  # what makes it CT in HU
    nib.save(nib.Nifti1Image(hu, nib.load(labels_path).affine), inp / "ct.nii.gz")
    return inp, {"clean": labels_path}


def _records(out: Path) -> dict[str, dict]:
    """Each study.json of ``out`` by its source."""
    return {r["source"]: r for r in (json.loads(p.read_text()) for p in out.glob("*/study.json"))}


def _notes(out: Path) -> dict[str, list[str]]:
    return {source: r["notes"] for source, r in _records(out).items()}


def test_inferred_modality_reaches_the_model_and_the_measurement(nifti_studies, measured, tmp_path):
    inp, truths = nifti_studies
    model = RecordingModel(truths)
    result = run_batch(inp, tmp_path / "out", model)
    assert result.exit_code == 0
    by_source = {r.source: r for r in result.studies}
    assert set(by_source) == {"ct.nii.gz", "mr.nii.gz"}
    assert sorted(model.modalities) == ["CT", "MR"] and sorted(c["modality"] for c in measured) == ["CT", "MR"]
    assert {k: r["modality"] for k, r in _records(tmp_path / "out").items()} == {"ct.nii.gz": "CT", "mr.nii.gz": "MR"}
    notes = _notes(tmp_path / "out")
    assert any(n.startswith("modality inferred as CT") for n in notes["ct.nii.gz"])
    assert any(n.startswith("modality inferred as MR") for n in notes["mr.nii.gz"])


def test_given_modality_overrides_and_redoes_the_studies(nifti_studies, measured, tmp_path):
    inp, truths = nifti_studies
    run_batch(inp, tmp_path / "out", RecordingModel(truths))
    forced = RecordingModel(truths)
    run_batch(inp, tmp_path / "out", forced, config=BatchConfig(modality="MR"))
    assert forced.modalities == ["MR", "MR"]  # both redone (another fingerprint), both MR
    assert any("modality MR as requested" in n for n in _notes(tmp_path / "out")["ct.nii.gz"])


def test_level_hint_reaches_every_measurement_and_is_part_of_the_fingerprint(nifti_studies, measured, tmp_path):
    inp, truths = nifti_studies
    first = RecordingModel(truths)
    run_batch(inp, tmp_path / "out", first, config=BatchConfig(level_hint="lowest = l5"))
    assert [c["level_hint"] for c in measured] == ["lowest=L5", "lowest=L5"]
    same = RecordingModel(truths)
    run_batch(inp, tmp_path / "out", same, config=BatchConfig(level_hint="lowest=L5"))
    assert same.calls == 0
    other = RecordingModel(truths)
    run_batch(inp, tmp_path / "out", other, config=BatchConfig(level_hint="highest=T10"))
    assert other.calls == 2 and [c["level_hint"] for c in measured[2:]] == ["highest=T10", "highest=T10"]
    none = RecordingModel(truths)
    run_batch(inp, tmp_path / "out", none)
    assert none.calls == 2


def test_bad_level_hint_is_refused():
    with pytest.raises(ConfigError, match="Level hint 'lowest=X9' is not understood"):
        BatchConfig(level_hint="lowest=X9")


@pytest.mark.parametrize("argv, message", [
    (["--level-hint", "middle=L3"], "Level hint 'middle=L3' is not understood"),
    (["--modality", "PET"], "--modality"),
])
def test_bad_infer_options_exit_2_with_one_line(argv, message, tmp_path, capsys):
    assert main(["infer", str(tmp_path), str(tmp_path / "out"), *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


def _copy_with_blank_uids(src: Path, dst: Path) -> None:
    dst.mkdir(parents=True)
    for f in sorted(src.iterdir()):
        ds = pydicom.dcmread(f)
        ds.StudyInstanceUID = ds.SeriesInstanceUID = ds.SOPInstanceUID = ""
        ds.save_as(dst / f.name)


def test_two_blank_uid_dicom_studies_stay_apart_and_get_seg_and_sr(phantom_batch, tmp_path):
    inp, truths, _ = phantom_batch
    for site in ("site0", "site1"):
        _copy_with_blank_uids(inp / site / "exam", tmp_path / "input" / site)
    result = run_batch(tmp_path / "input", tmp_path / "out", TruthModel(truths))
    assert result.exit_code == 0 and len(result.studies) == 2
    keys = {r.key for r in result.studies}
    assert len(keys) == 2 and EMPTY_KEY not in keys
    study_uids = set()
    for key in keys:
        folder = tmp_path / "out" / key
        seg, sr = (pydicom.dcmread(folder / name) for name in ("seg.dcm", "sr.dcm"))
        assert seg.StudyInstanceUID == sr.StudyInstanceUID and pydicom.uid.UID(seg.StudyInstanceUID).is_valid
        refs = seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence
        assert all(pydicom.uid.UID(r.ReferencedSOPInstanceUID).is_valid for r in refs)
        study_uids.add(seg.StudyInstanceUID)
        notes = json.loads((folder / "study.json").read_text())["notes"]
        assert any("StudyInstanceUID and SeriesInstanceUID blank or missing" in n for n in notes)
        assert sum("the SEG/SR reference new UIDs" in n for n in notes) == 1  # said once for both objects
    assert len(study_uids) == 2


def test_a_seg_that_cannot_be_built_leaves_the_study_ok(phantom_batch, tmp_path, monkeypatch):
    inp, truths, _ = phantom_batch

    def broken(*args, **kwargs):
        raise RuntimeError("no memory for frames")

    monkeypatch.setattr(runner, "encode_segmentation", broken)
    result = run_batch(inp / "site2", tmp_path / "out", TruthModel(truths), config=BatchConfig(side_process=False))
    assert result.exit_code == 0
    (study,) = result.studies
    folder = tmp_path / "out" / study.key
    record = json.loads((folder / "study.json").read_text())
    assert record["status"] == "ok" and "seg.dcm" not in record["files"]
    assert {"labels.nii.gz", "report.json", "sr.dcm", "overlays/sagittal.png"} <= set(record["files"])
    assert all((folder / f).is_file() for f in record["files"]) and not (folder / "seg.dcm").exists()
    assert any(n.startswith("seg.dcm not written: building it failed (RuntimeError: no memory for frames)")
               for n in record["notes"])
