"""Checks on batch OUTPUT folders shared by the fault, privacy and load tests."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import highdicom as hd
import nibabel as nib
import numpy as np
import pydicom
from PIL import Image

from spinedetect.batch.runner import _complete
from spinedetect.outputs.dicom_sr import read_measurement_report

#: study.json / summary.csv fields that hold times of day or durations (differ between any two runs).
TIMING = ("seconds", "finished_utc")


def infer_argv(inp: Path, out: Path, model: Path, *extra: str) -> list[str]:
    """``spinedetect infer`` arguments for a quiet, deterministic CPU run."""
    return ["infer", str(inp), str(out), "--model", str(model), "--device", "cpu", "--workers", "0",
            "--no-progress", *extra]


def study_folders(out: Path) -> list[Path]:
    return sorted(p for p in out.iterdir() if p.is_dir() and not p.name.startswith("."))


def assert_trustworthy(out: Path) -> list[str]:
    """Every folder a rerun would trust is complete and parses; batch files present parse. Returns their keys."""
    keys = []
    for folder in study_folders(out):
        record = _complete(out, folder.name)
        assert record is not None, f"{folder} is a study folder a rerun would not trust (partial?)"
        assert {"labels.nii.gz", "report.json"} <= set(record["files"])
        for name in record["files"]:
            path = folder / name
            if name.endswith(".nii.gz"):
                assert np.asarray(nib.load(path).dataobj).ndim == 3
            elif name.endswith(".json"):
                json.loads(path.read_text())
            elif name == "seg.dcm":
                hd.seg.segread(path).get_volume(combine_segments=True, relabel=False)
            elif name == "sr.dcm":
                assert read_measurement_report(hd.sr.srread(path))["alert"] == record["alert"]
            elif name.endswith(".png"):
                with Image.open(path) as img:
                    img.load()
        keys.append(folder.name)
    for name in ("manifest.json", "provenance.json"):
        if (out / name).exists():
            json.loads((out / name).read_text())
    if (out / "summary.csv").exists():
        list(csv.DictReader((out / "summary.csv").open()))
    return keys


def no_leftovers(out: Path) -> None:
    """No temporary file and nothing staged anywhere under ``out``."""
    assert not list(out.rglob("*.tmp")), list(out.rglob("*.tmp"))
    staging = out / ".staging"
    assert not staging.exists() or not any(staging.iterdir()), list(staging.iterdir())


def _without_timing(record: dict) -> dict:
    return {k: v for k, v in record.items() if k not in TIMING}


def assert_same_outputs(got: Path, want: Path) -> None:
    """Two OUTPUT folders hold the same results: labels, reports, SEG pixels/UIDs, SR content, batch files."""
    assert [p.name for p in study_folders(got)] == [p.name for p in study_folders(want)]
    for a in study_folders(want):
        b = got / a.name
        assert np.array_equal(np.asarray(nib.load(a / "labels.nii.gz").dataobj),
                              np.asarray(nib.load(b / "labels.nii.gz").dataobj)), a.name
        assert (a / "report.json").read_bytes() == (b / "report.json").read_bytes(), a.name
        sa, sb = (json.loads((p / "study.json").read_text()) for p in (a, b))
        assert _without_timing(sa) == _without_timing(sb), a.name
        if (a / "seg.dcm").exists():
            da, db = (pydicom.dcmread(p / "seg.dcm") for p in (a, b))
            assert da.SOPInstanceUID == db.SOPInstanceUID and da.PixelData == db.PixelData
            ra, rb = (read_measurement_report(hd.sr.srread(p / "sr.dcm")) for p in (a, b))
            assert ra == rb
    ma, mb = (json.loads((p / "manifest.json").read_text()) for p in (want, got))
    assert [_without_timing(s) for s in ma["studies"]] == [_without_timing(s) for s in mb["studies"]]
    assert ma["counts"] == mb["counts"] and ma["skipped"] == mb["skipped"]
    ca, cb = (list(csv.DictReader((p / "summary.csv").open())) for p in (want, got))
    assert [_without_timing(r) for r in ca] == [_without_timing(r) for r in cb]
