from spinedetect.alert import AlertConfig, AlertLevel, LevelFindings, decide_alert
from spinedetect.grading import BilskyGrade, GenantGrade, genant_from_height_loss


def test_clean_spine_is_none():
    alert = decide_alert([LevelFindings("L1", canal_compromise_pct=3.0, bilsky=None, genant=0)])
    assert alert.level is AlertLevel.NONE and alert.reasons == () and alert.worst_level is None


def test_bilsky_2_is_urgent_with_reason_naming_level():
    alert = decide_alert([
        LevelFindings("T12", canal_compromise_pct=10.0, bilsky=BilskyGrade.G1A),
        LevelFindings("L1", canal_compromise_pct=38.0, bilsky=BilskyGrade.G2, osseous_lesions=1),
    ])
    assert alert.level is AlertLevel.URGENT
    assert alert.worst_level == "L1"
    assert alert.reasons[0].startswith("L1: Bilsky 2")
    assert "canal area 38 % below" in alert.reasons[0]
    assert alert.reasons[1].startswith("T12: Bilsky 1a")


def test_thresholds_come_from_config():
    f = [LevelFindings("L2", bilsky=BilskyGrade.G1C)]
    assert decide_alert(f).level is AlertLevel.WATCH
    assert decide_alert(f, AlertConfig(urgent_bilsky=BilskyGrade.G1C)).level is AlertLevel.URGENT
    assert decide_alert([LevelFindings("L3", canal_compromise_pct=55.0)]).level is AlertLevel.URGENT
    assert decide_alert([LevelFindings("L3", genant=3)]).level is AlertLevel.WATCH


def test_genant_boundaries():
    assert genant_from_height_loss(19.9) is GenantGrade.NORMAL
    assert genant_from_height_loss(20.0) is GenantGrade.MILD
    assert genant_from_height_loss(30.0) is GenantGrade.MODERATE
    assert genant_from_height_loss(40.1) is GenantGrade.SEVERE
    assert BilskyGrade.G2.is_high_grade and not BilskyGrade.G1C.is_high_grade
