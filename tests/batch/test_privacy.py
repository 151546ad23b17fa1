"""Privacy: no patient identity in any output byte; ``--deidentify`` (PS3.15 Annex E basic profile) on SEG/SR.

Two phantom DICOM studies get a distinctive identity (name, ID, birth date, institution, referring
physician, accession number, other IDs, a private tag). Every output is scanned: file and folder names,
stderr logs at -vv, JSON, CSV, HTML, PNG (pixels' text chunks included), gunzipped NIfTI (header
included), and every element of seg.dcm / sr.dcm, recursively. Without --deidentify the SEG/SR may carry
the identity only where the standard makes them copy the source's Patient and General Study modules
(and the source's equipment in Contributing Equipment); with --deidentify nowhere, not even the source UIDs.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import re
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from spinedetect.batch import BatchConfig
from spinedetect.cli.main import main
from spinedetect.errors import ConfigError
from spinedetect.outputs.deidentify import BASIC_PROFILE, Action, UIDMap, deidentify, summarise
from spinedetect.outputs.dicom_sr import read_measurement_report
from tests.batch.checks import infer_argv, study_folders

IDENTITY = {
    "PatientName": "ZQXNAME^QUILLONIA",
    "PatientID": "ZQX-ID-48151623",
    "PatientBirthDate": "19370412",
    "InstitutionName": "Zqxville Memorial",
    "ReferringPhysicianName": "ZQXDOCTOR^HELGARD",
    "AccessionNumber": "ZQXACC77",
    "OtherPatientIDs": "ZQX-OTHER-9",
}
#: What must never appear (name components separately too: a viewer may show "QUILLONIA ZQXNAME").
SECRETS = sorted({v for v in IDENTITY.values()} | {"ZQXNAME", "QUILLONIA", "ZQXDOCTOR", "HELGARD", "Zqxville"})

#: Input folders are named with this (sites often name folders after the patient): --deidentify withholds paths.
FOLDER_SECRET = "ZQXFOLDER"

#: Elements the standard has SEG/SR copy from the source (Patient, General Study modules; highdicom's
#: Contributing Equipment item for the source equipment). Allowed to carry identity without --deidentify.
COPIED_FROM_SOURCE = {"PatientName", "PatientID", "PatientBirthDate", "AccessionNumber", "ReferringPhysicianName",
                      "InstitutionName"}


def _with_identity(src: Path, dst: Path, n: int) -> None:
    dst.mkdir(parents=True)
    for k, f in enumerate(sorted(src.iterdir())):
        ds = pydicom.dcmread(f)
        for key, value in IDENTITY.items():
            setattr(ds, key, value)
        block = ds.private_block(0x0029, "ZQX PRIVATE", create=True)
        block.add_new(0x01, "LO", IDENTITY["PatientName"])
        ds.save_as(dst / f"slice{n}_{k:03d}.dcm")


@pytest.fixture(scope="module")
def identity_input(phantom_batch, tmp_path_factory) -> tuple[Path, list[str]]:
    """Two DICOM studies with the identity above, and the source UIDs (study, series, instances)."""
    inp = tmp_path_factory.mktemp("identity") / "input"
    for n, site in enumerate(("site0", "site2")):
        _with_identity(phantom_batch[0] / site / "exam", inp / f"{FOLDER_SECRET}{n}" / "exam", n)
    uids = set()
    for f in inp.rglob("*.dcm"):
        ds = pydicom.dcmread(f, stop_before_pixels=True)
        uids |= {ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID, ds.FrameOfReferenceUID}
    return inp, sorted(uids)


def _elements(ds: Dataset, path: str = ""):
    """(path, keyword, value text) of every element, recursively, file meta included."""
    meta = getattr(ds, "file_meta", None)
    for elem in ([*meta] if meta is not None and not path else []) + [*ds]:
        here = f"{path}{elem.keyword or elem.tag}"
        if elem.VR == "SQ":
            for i, item in enumerate(elem.value):
                yield from _elements(item, f"{here}[{i}].")
        elif elem.VR not in ("OB", "OW", "OF", "UN") or elem.tag.is_private:
            yield here, elem.keyword, elem.value.decode("latin-1") if isinstance(elem.value, bytes) else str(elem.value)


_EMBEDDED_PNG = re.compile(rb"data:image/png;base64,([A-Za-z0-9+/=]+)")


def _png_text(png: bytes) -> bytes:
    """A PNG's metadata (its text chunks and other info) as bytes to search."""
    with Image.open(io.BytesIO(png)) as img:
        return json.dumps(img.info, default=str).encode()


def _leaks(out: Path, logs: str, deidentified: bool, source_uids: list[str]) -> list[str]:
    found = [f"log: {s}" for s in SECRETS if s.lower() in logs.lower()]
    for path in sorted(out.rglob("*")):
        rel = path.relative_to(out).as_posix()
        found += [f"name {rel}: {s}" for s in SECRETS if s.lower() in rel.lower()]
        if not path.is_file():
            continue
        data = path.read_bytes()
        if path.name.endswith(".gz"):
            data = gzip.decompress(data)
        if path.suffix == ".png":
            data += _png_text(data)
        if path.suffix == ".html":  # embedded pictures: their text chunks, not base64 that may spell a name by chance
            data = _EMBEDDED_PNG.sub(lambda m: _png_text(base64.b64decode(m.group(1))), data)
        if path.suffix == ".dcm":
            for where, keyword, text in _elements(pydicom.dcmread(path)):
                for s in SECRETS:
                    if s.lower() in text.lower() and (deidentified or keyword not in COPIED_FROM_SOURCE):
                        found.append(f"{rel} {where}: {s}")
            if deidentified:
                found += [f"{rel} bytes: source UID {u}" for u in source_uids if u.encode() in data]
            else:
                continue
        found += [f"{rel} bytes: {s}" for s in SECRETS if s.lower().encode() in data.lower()]
    return found


@pytest.fixture(scope="module")
def plain_and_deidentified(identity_input, tiny_checkpoint, tmp_path_factory):
    """OUTPUT folders of a normal and a --deidentify run over the same studies, with their logs."""
    capsys = _ModuleCapture()
    root = tmp_path_factory.mktemp("privacy")
    runs = {}
    for name, extra in (("plain", ()), ("deid", ("--deidentify",))):
        with capsys:
            assert main(infer_argv(identity_input[0], root / name, tiny_checkpoint, "-vv", *extra)) == 0
        runs[name] = (root / name, capsys.text)
    return runs


class _ModuleCapture:
    """stdout + stderr of a block (capsys is function-scoped; the runs are shared by several tests)."""

    def __enter__(self):
        import contextlib
        import io

        self._buf = io.StringIO()
        self._stack = contextlib.ExitStack()
        self._stack.enter_context(contextlib.redirect_stdout(self._buf))
        self._stack.enter_context(contextlib.redirect_stderr(self._buf))
        return self

    def __exit__(self, *exc):
        self._stack.close()
        self.text = self._buf.getvalue()


def test_identity_only_where_the_standard_copies_it(plain_and_deidentified, identity_input):
    out, logs = plain_and_deidentified["plain"]
    assert "study" in logs.lower() and "DEBUG" in logs, "the -vv logs were captured"
    assert _leaks(out, logs, deidentified=False, source_uids=identity_input[1]) == []
    seg = pydicom.dcmread(study_folders(out)[0] / "seg.dcm")
    assert str(seg.PatientName) == IDENTITY["PatientName"], "without --deidentify SEG keeps the Patient module"


def test_deidentified_outputs_carry_no_identity_and_say_so(plain_and_deidentified, identity_input):
    out, logs = plain_and_deidentified["deid"]
    assert _leaks(out, logs, deidentified=True, source_uids=identity_input[1]) == []
    assert "de-identified" in logs
    for folder in study_folders(out):
        for name in ("seg.dcm", "sr.dcm"):
            ds = pydicom.dcmread(folder / name)
            assert ds.PatientIdentityRemoved == "YES"
            assert [c.CodeValue for c in ds.DeidentificationMethodCodeSequence] == ["113100", "113104"]
            assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID


def test_deidentified_study_keys_are_keyed_hashes_and_input_paths_are_withheld(plain_and_deidentified,
                                                                              identity_input, tiny_checkpoint):
    from spinedetect.batch.runner import SOURCES_FILE

    plain = {p.name for p in study_folders(plain_and_deidentified["plain"][0])}
    out = plain_and_deidentified["deid"][0]
    deid = {p.name for p in study_folders(out)}
    assert len(deid) == 2 and not deid & plain, "folder names must not be the plain (unkeyed) hashes of source UIDs"
    private = out / SOURCES_FILE
    assert private.stat().st_mode & 0o777 == 0o600
    record = json.loads(private.read_text())
    assert set(record["studies"]) == deid and {v["plain_key"] for v in record["studies"].values()} == plain
    assert all(FOLDER_SECRET in v["source"] for v in record["studies"].values())
    for path in out.rglob("*"):
        if path.is_file() and not path.name.startswith(".deidentify-"):
            data = path.read_bytes()
            data = gzip.decompress(data) if path.name.endswith(".gz") else data
            assert FOLDER_SECRET.encode() not in data and FOLDER_SECRET not in path.as_posix(), path
    # the same key gives the same names: a rerun finds every study complete
    assert main(infer_argv(identity_input[0], out, tiny_checkpoint, "--deidentify")) == 0
    assert {p.name for p in study_folders(out)} == deid


def _changed_keywords(a: Dataset, b: Dataset) -> set[str]:
    """Keywords of elements of ``a`` that ``b`` lacks or holds differently (sequences compared item by item)."""
    changed = set()
    for elem in a:
        if elem.tag not in b:
            changed.add(elem.keyword or "private")
        elif elem.VR == "SQ":
            other = b[elem.tag].value
            if len(other) != len(elem.value):
                changed.add(elem.keyword)
            for x, y in zip(elem.value, other):
                changed |= _changed_keywords(x, y)
        elif str(elem.value) != str(b[elem.tag].value):
            changed.add(elem.keyword)
    return changed


def test_touched_attributes_are_recorded_and_outputs_still_read(plain_and_deidentified):
    from spinedetect.batch.runner import SOURCES_FILE

    plain, _ = plain_and_deidentified["plain"]
    deid, _ = plain_and_deidentified["deid"]
    plain_key = {k: v["plain_key"] for k, v in json.loads((deid / SOURCES_FILE).read_text())["studies"].items()}
    for b in study_folders(deid):
        a = plain / plain_key[b.name]
        record = json.loads((b / "study.json").read_text())
        for name in ("seg.dcm", "sr.dcm"):
            before, after = pydicom.dcmread(a / name), pydicom.dcmread(b / name)
            touched = {t["keyword"] for t in record["deidentified"][name]}
            changed = _changed_keywords(before, after) - {"MediaStorageSOPInstanceUID"}
            assert touched == changed, (name, touched ^ changed)
            assert {"PatientName", "PatientID", "StudyInstanceUID", "SOPInstanceUID"} <= touched
            for t in record["deidentified"][name]:
                assert BASIC_PROFILE[int(t["tag"][1:5] + t["tag"][6:10], 16)].value == t["action"]
        # highdicom still reads both, with the same content as without de-identification
        seg_a, seg_b = hd.seg.segread(a / "seg.dcm"), hd.seg.segread(b / "seg.dcm")
        assert np.array_equal(seg_a.get_volume(combine_segments=True, relabel=False).array,
                              seg_b.get_volume(combine_segments=True, relabel=False).array)
        sr_a, sr_b = hd.sr.srread(a / "sr.dcm"), hd.sr.srread(b / "sr.dcm")
        assert read_measurement_report(sr_a) == read_measurement_report(sr_b)
        # SEG and SR still agree on the (new) study and the source series/instances they reference
        seg, sr = pydicom.dcmread(b / "seg.dcm"), pydicom.dcmread(b / "sr.dcm")
        assert seg.StudyInstanceUID == sr.StudyInstanceUID != pydicom.dcmread(a / "seg.dcm").StudyInstanceUID
        evidence = sr.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0]
        assert evidence.SeriesInstanceUID == seg.ReferencedSeriesSequence[0].SeriesInstanceUID
        assert ({i.ReferencedSOPInstanceUID for i in evidence.ReferencedSOPSequence}
                == {i.ReferencedSOPInstanceUID for i in seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence})


def test_profile_actions_recursive_private_and_consistent_uids():
    ds = Dataset()
    ds.PatientName, ds.PatientID, ds.PatientAge = "DOE^JANE", "123", "045Y"
    ds.StudyInstanceUID, ds.SOPInstanceUID = "1.2.3", "1.2.3.4"
    ds.ContentDate, ds.StudyDescription = "20240101", "MRI SPINE DOE"
    ds.add_new(0x00091001, "LO", "private secret")
    item = Dataset()
    item.ReferencedSOPInstanceUID, item.InstitutionName = "1.2.3.4", "Hospital"
    ds.ReferencedImageSequence = Sequence([item])
    frame, source = Dataset(), Dataset()  # two levels down, as in a SEG's per-frame derivation items
    source.ReferencedSOPInstanceUID = "1.2.3.4"
    source.add_new(0x00291010, "LO", "private in an item")
    derivation = Dataset()
    derivation.SourceImageSequence = Sequence([source])
    frame.DerivationImageSequence = Sequence([derivation])
    ds.PerFrameFunctionalGroupsSequence = Sequence([frame])
    content = Dataset()
    content.PersonName, content.UID = "SMITH^JOHN", "1.2.3"
    ds.ContentSequence = Sequence([content])
    uids = UIDMap(b"k" * 32)
    sharer = Dataset()  # highdicom shares element and item objects between the source, SEG and SR
    sharer.add(ds["PatientName"])
    sharer.ReferencedImageSequence = ds.ReferencedImageSequence
    sharer.PerFrameFunctionalGroupsSequence = ds.PerFrameFunctionalGroupsSequence
    touched = deidentify(ds, uids)
    assert sharer.PatientName == "DOE^JANE" and sharer.ReferencedImageSequence[0].ReferencedSOPInstanceUID == "1.2.3.4"
    shared_source = sharer.PerFrameFunctionalGroupsSequence[0].DerivationImageSequence[0].SourceImageSequence[0]
    assert shared_source.ReferencedSOPInstanceUID == "1.2.3.4" and 0x00291010 in shared_source
    new_source = ds.PerFrameFunctionalGroupsSequence[0].DerivationImageSequence[0].SourceImageSequence[0]
    assert new_source.ReferencedSOPInstanceUID == uids.new("1.2.3.4") and 0x00291010 not in new_source
    assert ds.PatientName == "" and ds.PatientID == "" and "PatientAge" not in ds and "StudyDescription" not in ds
    assert ds.ContentDate == "19000101" and not any(e.tag.is_private for e in ds)
    assert ds.StudyInstanceUID == uids.new("1.2.3") == ds.ContentSequence[0].UID != "1.2.3"
    assert ds.ReferencedImageSequence[0].ReferencedSOPInstanceUID == ds.SOPInstanceUID == uids.new("1.2.3.4")
    assert "InstitutionName" not in ds.ReferencedImageSequence[0]
    assert ds.ContentSequence[0].PersonName == "ANONYMOUS"
    assert ds.StudyInstanceUID.startswith("2.25.") and len(ds.StudyInstanceUID) <= 64
    assert UIDMap(b"other key" * 4).new("1.2.3") != uids.new("1.2.3")
    summary = {(t["keyword"], t["action"]): t["count"] for t in summarise(touched)}
    assert summary[("StudyInstanceUID", "U")] == 1
    assert sum(t["count"] for t in summarise(touched) if t["keyword"] == "private") == 2
    assert summary[("PersonName", "D")] == 1 and ("ContentSequence", "C") not in summary
    assert all(a in {x.value for x in Action} for _, a in summary)


def test_uid_key_is_kept_per_output_folder(tmp_path):
    first, again = UIDMap.for_folder(tmp_path), UIDMap.for_folder(tmp_path)
    assert first.new("1.2.840.1") == again.new("1.2.840.1")
    assert (tmp_path / ".deidentify-key").stat().st_mode & 0o077 == 0


def test_show_identity_and_deidentify_together_are_refused():
    with pytest.raises(ConfigError, match="contradict"):
        BatchConfig(show_identity=True, deidentify=True)
