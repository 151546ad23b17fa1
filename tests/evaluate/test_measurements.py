import pytest

from spinedetect.errors import InputError
from spinedetect.evaluate import evaluate_measurements
from tests.evaluate.conftest import study_doc


def cases():
    t1 = study_doc("urgent", [("T10", 10.0, "0", 0), ("T11", 60.0, "2", 1), ("T12", 5.0, None, 0)],
                   ("T11", 60.0, [0.0, 0.0, 100.0]))
    p1 = study_doc("urgent", [("T10", 14.0, "0", 0), ("T11", 50.0, "1c", 1), ("T12", 5.0, None, 2)],
                   ("T11", 50.0, [0.0, 3.0, 104.0]))
    t2 = study_doc("urgent", [("L1", 70.0, "3", 3)], ("L1", 70.0, [0.0, 0.0, 10.0]))
    p2 = study_doc("watch", [("L1", 30.0, "1b", 3)], ("L2", 30.0, [0.0, 0.0, 40.0]))
    t3 = study_doc("none", [("L3", 0.0, None, 0)], (None, None, None))
    p3 = study_doc("watch", [("L3", 2.0, "0", 0)], ("L3", 2.0, [0.0, 0.0, 5.0]))
    t4 = study_doc("watch", [("L4", 30.0, "1a", 0)], ("L4", 30.0, [0.0, 0.0, 0.0]))
    p4 = study_doc("none", [("L4", 20.0, "1a", 0)], ("L4", 20.0, [0.0, 0.0, 0.0]))
    return [("a", p1, t1), ("b", p2, t2), ("c", p3, t3), ("d", p4, t4)]


def test_measurement_agreement_known_answers():
    m = evaluate_measurements(cases())
    cc = m["canal_compromise"]
    assert cc["abs_error"]["n"] == 6
    assert cc["abs_error"]["mean"] == pytest.approx((4 + 10 + 0 + 40 + 2 + 10) / 6)
    assert cc["worst"]["case"] == "b" and cc["worst"]["abs_error_pct"] == pytest.approx(40.0)
    wl = m["worst_level"]
    assert wl["n_cases"] == 3 and wl["hit_rate"] == pytest.approx(2 / 3)  # c has no true worst level
    assert wl["position_error_mm"]["max"] == pytest.approx(30.0)
    assert wl["position_error_mm"]["median"] == pytest.approx(5.0)
    b = m["bilsky"]
    # pairs (truth, pred) ordinals: (0,0) (4,3) (5,2) (1,1); T12/a and L3/c are graded on one side only
    assert b["n_levels"] == 4 and b["graded_by_prediction_only"] == 1 and b["graded_by_truth_only"] == 0
    assert b["confusion"][4][3] == 1 and b["confusion"][5][2] == 1
    assert b["exact_agreement"] == pytest.approx(0.5)
    assert 0 < b["linear_weighted_kappa"] < 1
    # per study, highest grades (truth, pred): a (4, 3), b (5, 2), d (1, 1); c is graded by one side only
    assert b["study"]["n_cases"] == 3 and b["study"]["exact_agreement"] == pytest.approx(1 / 3)
    g = m["genant"]
    assert g["n_levels"] == 6 and g["exact_agreement"] == pytest.approx(5 / 6)
    a = m["alert"]
    # any alert: truth positives a, b, d (all predicted positive except d); negative c predicted watch
    assert a["any_alert"]["sensitivity"] == pytest.approx(2 / 3) and a["any_alert"]["specificity"] == 0.0
    assert a["urgent"]["sensitivity"] == pytest.approx(0.5) and a["urgent"]["specificity"] == 1.0
    assert [r["case"] for r in a["urgent_missed"]] == ["b"] and a["urgent_missed"][0]["predicted"] == "watch"


def test_perfect_reports_agree_fully():
    same = [(n, t, t) for n, _, t in cases()]
    m = evaluate_measurements(same)
    assert m["canal_compromise"]["abs_error"]["max"] == 0.0
    assert m["bilsky"]["linear_weighted_kappa"] == 1.0
    assert m["worst_level"]["hit_rate"] == 1.0
    assert m["alert"]["urgent_missed"] == []


def test_bad_grade_is_input_error():
    bad = study_doc("none", [("L1", 0.0, "4", 0)], (None, None, None))
    with pytest.raises(InputError, match="Bilsky"):
        evaluate_measurements([("x", bad, bad)])
