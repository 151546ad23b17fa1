"""Batch inference end to end on phantom DICOM studies (issue 6's required checks)."""

from __future__ import annotations

import csv
import json
import shutil
from html.parser import HTMLParser
from pathlib import Path

import highdicom as hd
import nibabel as nib
import numpy as np
import pydicom
import pytest

from spinedetect.batch import BatchConfig, run_batch
from spinedetect.batch.runner import OutputLock
from spinedetect.errors import InputError
from spinedetect.outputs.dicom_sr import read_measurement_report
from tests.batch.conftest import TruthModel

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0])


def _add_study_with_missing_slice(inp: Path) -> None:
    """A fourth study: the urgent one's files under new UIDs, with a middle slice removed."""
    from pydicom.uid import generate_uid

    files = sorted((inp / "site0" / "exam").iterdir())
    dst = inp / "site9" / "gap"
    dst.mkdir(parents=True)
    for n, f in enumerate(files):
        if n == len(files) // 2:
            continue
        ds = pydicom.dcmread(f)
        ds.StudyInstanceUID = generate_uid(entropy_srcs=["gap-study"])
        ds.SeriesInstanceUID = generate_uid(entropy_srcs=["gap-series"])
        ds.SOPInstanceUID = generate_uid(entropy_srcs=["gap", str(n)])
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.save_as(dst / f"x{n}")


@pytest.fixture(scope="module")
def batch_run(phantom_batch, tmp_path_factory):
    inp, truths, truth_json = phantom_batch
    work = tmp_path_factory.mktemp("run")
    shutil.copytree(inp, work / "input")
    _add_study_with_missing_slice(work / "input")
    model = TruthModel(truths)
    result = run_batch(work / "input", work / "out", model)
    return work, result, model, truth_json


def test_statuses_exit_code_and_manifest(batch_run):
    work, result, model, truth_json = batch_run
    ok = [s for s in result.studies if s.status == "ok"]
    failed = [s for s in result.studies if s.status != "ok"]
    assert len(ok) == 3 and len(failed) == 1 and result.exit_code == 1
    assert "missing" in failed[0].error.lower() or "gap" in failed[0].error.lower()
    assert sorted(s.alert for s in ok) == sorted(t["alert"]["level"] for t in truth_json.values())
    manifest = json.loads((work / "out" / "manifest.json").read_text())
    assert manifest["counts"] == {"ok": 3, "failed": 1, "skipped": len(result.skipped)}
    reasons = {Path(s["source"]).name: s["reason"] for s in manifest["skipped"]}
    assert {"broken.dcm", "notes.txt", "report.dcm"} <= set(reasons)
    rows = list(csv.DictReader((work / "out" / "summary.csv").open()))
    assert {r["key"] for r in rows} == {s.key for s in result.studies}
    assert (work / "out" / "provenance.json").is_file()


def test_study_folders_hold_every_output(batch_run):
    work, result, _, _ = batch_run
    for s in result.studies:
        folder = work / "out" / s.key
        if s.status != "ok":
            assert not folder.exists()
            continue
        for name in ("labels.nii.gz", "report.json", "seg.dcm", "sr.dcm", "study.json",
                     "overlays/sagittal.png", "overlays/axial_worst.png"):
            assert (folder / name).is_file(), name
    assert not any((work / "out" / ".staging").iterdir())


def test_seg_overlaps_labels_and_sr_matches_report(batch_run):
    work, result, _, _ = batch_run
    for s in [s for s in result.studies if s.status == "ok"]:
        folder = work / "out" / s.key
        labels = nib.load(folder / "labels.nii.gz")
        lab = np.asarray(labels.dataobj)
        vol = hd.seg.segread(folder / "seg.dcm").get_volume(combine_segments=True, relabel=False)
        affine = vol.affine.copy()
        affine[:3] = LPS_TO_RAS @ affine[:3]
        arr = np.asarray(vol.array)
        idx = np.indices(arr.shape).reshape(3, -1).T
        ijk = np.rint((idx @ affine[:3, :3].T + affine[:3, 3]) @ np.linalg.inv(labels.affine)[:3, :3].T
                      + np.linalg.inv(labels.affine)[:3, 3]).astype(int)
        assert np.array_equal(arr.reshape(-1), lab[ijk[:, 0], ijk[:, 1], ijk[:, 2]])
        assert arr.astype(bool).sum() == lab.astype(bool).sum()
        report = json.loads((folder / "report.json").read_text())
        sr = read_measurement_report(hd.sr.srread(folder / "sr.dcm"))
        assert sr["alert"] == report["alert"]["level"]
        for level in report["levels"]:
            got = sr["levels"][level["name"]]
            for key in ("canal_area_mm2", "canal_compromise_pct", "cord_compression_pct"):
                if level.get(key) is None:
                    assert key not in got
                else:
                    assert got[key] == pytest.approx(level[key])


def test_side_process_and_in_turn_write_the_same_outputs(batch_run, phantom_batch, tmp_path):
    """SEG and SR built in the helper process (the default) equal those built one after the other here."""
    work, result, _, _ = batch_run
    inp, truths, _ = phantom_batch
    in_turn = run_batch(inp, tmp_path / "out", TruthModel(truths), config=BatchConfig(side_process=False))
    assert in_turn.exit_code == 0
    for s in in_turn.studies:
        here, side = tmp_path / "out" / s.key, work / "out" / s.key
        assert (here / "report.json").read_bytes() == (side / "report.json").read_bytes()
        assert (json.loads((here / "study.json").read_text())["files"]
                == json.loads((side / "study.json").read_text())["files"])
        a, b = pydicom.dcmread(here / "seg.dcm"), pydicom.dcmread(side / "seg.dcm")
        assert a.SOPInstanceUID == b.SOPInstanceUID and np.array_equal(a.pixel_array, b.pixel_array)
        assert (read_measurement_report(hd.sr.srread(here / "sr.dcm"))
                == read_measurement_report(hd.sr.srread(side / "sr.dcm")))


def test_the_helper_reads_each_studys_headers_while_its_model_runs(phantom_batch, tmp_path, monkeypatch):
    from spinedetect.batch.side_process import SideProcess

    inp, truths, _ = phantom_batch
    events: list[str] = []
    submit = SideProcess.submit
    monkeypatch.setattr(SideProcess, "submit", lambda self, fn, *a: events.append(fn.__name__) or submit(self, fn, *a))

    class Model(TruthModel):
        def predict(self, volume):
            events.append("predict")
            return super().predict(volume)

    assert run_batch(inp, tmp_path / "out", Model(truths)).exit_code == 0
    per_study = ["prefetch_headers", "predict", "encode_segmentation", "encode_measurement_report"]
    assert events == per_study * 3


class _Rows(HTMLParser):
    def __init__(self):
        super().__init__()
        self.alerts, self.images = [], 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr" and "data-alert" in a:
            self.alerts.append(a["data-alert"])
        self.images += tag == "img"


def test_review_page_order_and_privacy(batch_run, phantom_batch):
    work, result, _, _ = batch_run
    page = (work / "out" / "index.html").read_text()
    rows = _Rows()
    rows.feed(page)
    rank = {"urgent": 0, "failed": 1, "watch": 2, "none": 3}
    assert [rank[a] for a in rows.alerts] == sorted(rank[a] for a in rows.alerts)
    assert rows.alerts[0] == "urgent" and rows.images == 6
    # how sure each study's level names are travels report.json -> study.json -> the page
    for key_dir in (work / "out").glob("*/study.json"):
        confidence = json.loads((key_dir.parent / "report.json").read_text())["naming"]["confidence"]
        assert json.loads(key_dir.read_text())["naming_confidence"] == confidence
        assert (f"level names: confidence {confidence:.2f}" in page) or confidence <= 0
    any_dicom = next((phantom_batch[0] / "site0" / "exam").iterdir())
    ds = pydicom.dcmread(any_dicom, stop_before_pixels=True)
    secrets = [str(ds.PatientName), str(ds.PatientID)]
    for path in (work / "out").rglob("*"):
        if path.is_file() and path.suffix != ".dcm":
            text = path.read_bytes()
            for secret in secrets:
                assert secret.encode() not in text, (path, secret)
            assert all(secret not in path.name for secret in secrets)


def test_rerun_skips_complete_studies_and_keeps_outputs(batch_run, phantom_batch):
    work, first, _, _ = batch_run
    before = {p: p.read_bytes() for p in (work / "out").rglob("report.json")}
    model = TruthModel(phantom_batch[1])
    again = run_batch(work / "input", work / "out", model)
    assert model.calls == 0
    assert [(s.key, s.status, s.alert) for s in again.studies] == [(s.key, s.status, s.alert) for s in first.studies]
    assert {p: p.read_bytes() for p in (work / "out").rglob("report.json")} == before


class _OtherModel(TruthModel):
    def provenance(self) -> dict:
        return {**super().provenance(), "model_sha256": "another-model"}


def test_rerun_with_another_model_or_settings_redoes_every_study(phantom_batch, tmp_path):
    from spinedetect.measure import MeasureConfig

    inp, truths, _ = phantom_batch
    first = run_batch(inp, tmp_path / "out", TruthModel(truths))
    done = sum(s.status == "ok" for s in first.studies)
    other = _OtherModel(truths)
    run_batch(inp, tmp_path / "out", other)
    assert other.calls == done  # outputs of another model are not "complete"
    records = [json.loads(p.read_text()) for p in (tmp_path / "out").glob("*/study.json")]
    assert {r["model"]["model_sha256"] for r in records} == {"another-model"}
    same = _OtherModel(truths)
    run_batch(inp, tmp_path / "out", same)
    assert same.calls == 0
    changed = _OtherModel(truths)
    run_batch(inp, tmp_path / "out", changed, config=BatchConfig(measure=MeasureConfig(narrowed_pct=40.0)))
    assert changed.calls == done


class _Killed(BaseException):
    """Stands for the process being killed (not an error a batch may catch)."""


class _DiesOnSecond(TruthModel):
    def predict(self, volume):
        if self.calls == 1:
            raise _Killed()
        return super().predict(volume)


def test_interrupt_then_rerun_equals_one_run(phantom_batch, tmp_path):
    inp, truths, _ = phantom_batch
    with pytest.raises(_Killed):
        run_batch(inp, tmp_path / "out", _DiesOnSecond(truths))
    assert len([p for p in (tmp_path / "out").iterdir() if (p / "study.json").exists()]) == 1
    run_batch(inp, tmp_path / "out", TruthModel(truths))
    run_batch(inp, tmp_path / "once", TruthModel(truths))
    for once in (tmp_path / "once").glob("*/report.json"):
        assert (tmp_path / "out" / once.parent.name / "report.json").read_bytes() == once.read_bytes()
        a = np.asarray(nib.load(once.parent / "labels.nii.gz").dataobj)
        b = np.asarray(nib.load(tmp_path / "out" / once.parent.name / "labels.nii.gz").dataobj)
        assert np.array_equal(a, b)


def test_workers_give_the_same_results(phantom_batch, tmp_path):
    inp, truths, _ = phantom_batch
    seq = run_batch(inp, tmp_path / "seq", TruthModel(truths))
    par = run_batch(inp, tmp_path / "par", TruthModel(truths), workers=2)
    assert [(s.key, s.alert, s.worst_level) for s in seq.studies] == [(s.key, s.alert, s.worst_level) for s in par.studies]


def test_second_run_on_same_output_is_refused(phantom_batch, tmp_path):
    inp, truths, _ = phantom_batch
    (tmp_path / "out").mkdir()
    with OutputLock(tmp_path / "out"):
        with pytest.raises(InputError, match="in use by another spinedetect run"):
            run_batch(inp, tmp_path / "out", TruthModel(truths))


@pytest.mark.parametrize("rank", [0, 1])
def test_rank_stops_when_another_rank_failed(rank, phantom_batch, tmp_path):
    """Under torchrun every rank reports whether its part succeeded; when another rank's did not, this
    rank stops with a clear error (after finishing its own studies), writes no batch files and frees
    the lock."""
    from spinedetect.errors import OutputError

    inp, truths, _ = phantom_batch
    said: list[bool] = []

    def all_ranks_ok(mine_ok: bool) -> bool:
        said.append(mine_ok)
        return False

    with pytest.raises(OutputError, match="another rank could not finish its studies"):
        run_batch(inp, tmp_path / "out", TruthModel(truths), rank=rank, world_size=2, all_ranks_ok=all_ranks_ok)
    assert said == [True]
    assert not (tmp_path / "out" / "index.html").exists()
    with OutputLock(tmp_path / "out"):
        pass


def test_show_identity_puts_the_patient_on_the_page_only(phantom_batch, tmp_path):
    inp, truths, _ = phantom_batch
    any_dicom = next((inp / "site2" / "exam").iterdir())
    name = str(pydicom.dcmread(any_dicom, stop_before_pixels=True).PatientName)
    run_batch(inp / "site2", tmp_path / "out", TruthModel(truths), config=BatchConfig(show_identity=True))
    assert name in (tmp_path / "out" / "index.html").read_text()
    for path in (tmp_path / "out").rglob("*"):
        if path.is_file() and path.suffix != ".dcm" and path.name != "index.html":
            assert name.encode() not in path.read_bytes(), path
