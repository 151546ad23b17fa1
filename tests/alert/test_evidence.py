"""The alert's evidence: reasons that name level, figure and picture, and a worklist row that shows the
alert's lead level (not another level's figures)."""

from __future__ import annotations

from spinedetect.alert import AlertLevel, LevelFindings, decide_alert
from spinedetect.batch.runner import _result_from_report
from spinedetect.batch.studies import StudyInput
from spinedetect.grading import BilskyGrade


def _report(alert: dict, worst: dict, levels: list[dict]) -> dict:
    return {"alert": alert, "worst": worst, "levels": levels}


def test_worklist_row_shows_the_alerts_lead_level():
    # urgent for Bilsky 2 at T12; the largest canal figure of the study is at L3 (25 %, no alert by itself)
    rep = _report({"level": "urgent", "worst_level": "T12", "reasons": ["T12: Bilsky 2 (...)"]},
                  {"level": "T12", "canal_compromise_pct": 18.0},
                  [{"name": "T12", "bilsky": "2", "canal_compromise_pct": 18.0},
                   {"name": "L3", "bilsky": None, "canal_compromise_pct": 25.0}])
    row = _result_from_report(StudyInput("k", "src"), rep, None, 1.0)
    assert (row.worst_level, row.canal_compromise_pct, row.bilsky, row.alert) == ("T12", 18.0, "2", "urgent")


def test_worklist_row_takes_the_lead_levels_figures_when_worst_is_elsewhere():
    # an older report whose 'worst' section lies at another level than the alert's lead
    rep = _report({"level": "urgent", "worst_level": "L1", "reasons": ["L1: Bilsky 2 (...)"]},
                  {"level": "L4", "canal_compromise_pct": 40.0},
                  [{"name": "L1", "bilsky": "2", "canal_compromise_pct": None},
                   {"name": "L4", "bilsky": None, "canal_compromise_pct": 40.0}])
    row = _result_from_report(StudyInput("k", "src"), rep, None, 1.0)
    assert (row.worst_level, row.canal_compromise_pct, row.bilsky) == ("L1", None, "2")


def test_no_alert_row_shows_the_worst_section():
    rep = _report({"level": "none", "worst_level": None, "reasons": []},
                  {"level": "L2", "canal_compromise_pct": 6.0}, [{"name": "L2", "bilsky": None}])
    row = _result_from_report(StudyInput("k", "src"), rep, None, 1.0)
    assert (row.worst_level, row.canal_compromise_pct, row.bilsky, row.alert) == ("L2", 6.0, None, "none")


def test_reasons_say_both_sides_and_missing_figures_raise_nothing():
    alert = decide_alert([LevelFindings("T11", canal_compromise_pct=55.0),
                          LevelFindings("T12", cord_compression_pct=None)])
    assert alert.level is AlertLevel.URGENT and alert.worst_level == "T11"
    assert alert.reasons == ("T11: canal area 55 % below the normal canal on both sides",)
    assert decide_alert([LevelFindings("L1", bilsky=None, osseous_lesions=0)]).level is AlertLevel.NONE
    assert decide_alert([LevelFindings("L1", bilsky=BilskyGrade.G1C)]).level is AlertLevel.WATCH


def test_worklist_row_carries_how_sure_the_level_names_are():
    rep = {**_report({"level": "none", "worst_level": None, "reasons": []}, {"level": None}, []),
           "naming": {"rule": "lumbosacral", "confidence": 0.45}}
    assert _result_from_report(StudyInput("k", "src"), rep, None, 1.0).naming_confidence == 0.45
    assert _result_from_report(StudyInput("k", "src"), {"alert": {}}, None, 1.0).naming_confidence is None
