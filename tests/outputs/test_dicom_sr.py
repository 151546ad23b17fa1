import highdicom as hd
import pytest

from spinedetect.errors import InputError
from spinedetect.outputs.dicom_seg import write_dicom
from spinedetect.outputs.dicom_sr import build_measurement_report, read_measurement_report
from tests.outputs.dicom_fixtures import make_series

REPORT = {
    "alert": {"level": "urgent", "worst_level": "L1", "reasons": ["L1: Bilsky 2"]},
    "levels": [
        {"name": "T12", "canal_area_mm2": 180.5, "canal_ap_mm": 15.2, "cord_area_mm2": 61.0,
         "canal_compromise_pct": 2.5, "cord_compression_pct": 1.0, "bilsky": None, "genant": 0,
         "height_loss_pct": 3.0},
        {"name": "L1", "canal_area_mm2": 101.25, "canal_ap_mm": 8.5, "cord_area_mm2": None,
         "canal_compromise_pct": 44.0, "cord_compression_pct": None, "bilsky": "2", "genant": 2,
         "height_loss_pct": 31.0},
        {"name": "S1", "canal_area_mm2": 150.0, "canal_compromise_pct": None, "bilsky": None, "genant": None},
    ],
    "worst": {"level": "L1", "canal_compromise_pct": 44.0, "position_mm": [1.0, 2.0, 3.0]},
}


def test_sr_holds_the_same_numbers_as_the_report(tmp_path):
    datasets, _ = make_series("sagittal")
    sr = build_measurement_report(REPORT, datasets, uid_seed="s")
    path = write_dicom(sr, tmp_path / "sr.dcm")
    back = read_measurement_report(hd.sr.srread(path))
    assert back["alert"] == "urgent"
    assert set(back["levels"]) == {"T12", "L1", "S1"}
    for level in REPORT["levels"]:
        got = back["levels"][level["name"]]
        for key, value in level.items():
            if key == "name":
                continue
            if value is None:
                assert key not in got
            else:
                assert got[key] == pytest.approx(value) if isinstance(value, float) else got[key] == value


def test_sr_references_source_series_and_is_reproducible():
    datasets, _ = make_series("axial")
    a = build_measurement_report(REPORT, datasets, uid_seed="s")
    b = build_measurement_report(REPORT, datasets, uid_seed="s")
    assert a.SOPInstanceUID == b.SOPInstanceUID
    evidence = a.CurrentRequestedProcedureEvidenceSequence[0]
    assert evidence.ReferencedSeriesSequence[0].SeriesInstanceUID == datasets[0].SeriesInstanceUID


def test_incomplete_report_is_a_clear_error():
    datasets, _ = make_series("axial")
    with pytest.raises(InputError, match="incomplete"):
        build_measurement_report({"levels": []}, datasets)
