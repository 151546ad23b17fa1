"""Measurement and alert agreement between reports (report.json) and phantom truth (truth.json).

Both documents carry the same keys: ``levels`` [{name, canal_compromise_pct, cord_compression_pct,
bilsky ("0", "1a", ... or null), genant}], ``worst`` {level, canal_compromise_pct, position_mm} and
``alert`` {level, worst_level, reasons}. Levels pair by name. A value that either side leaves null is
not compared and is counted instead.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Sequence

import numpy as np

from spinedetect.alert import AlertLevel
from spinedetect.errors import InputError
from spinedetect.evaluate.metrics import confusion_matrix, sensitivity_specificity, weighted_kappa
from spinedetect.grading import BilskyGrade, GenantGrade

__all__ = ["evaluate_measurements", "BILSKY_CATEGORIES", "GENANT_CATEGORIES"]

log = logging.getLogger(__name__)

BILSKY_CATEGORIES: list[str] = [g.value for g in BilskyGrade]
GENANT_CATEGORIES: list[int] = [int(g) for g in GenantGrade]


def _levels(doc: dict, case: str, side: str) -> dict[str, dict]:
    levels = doc.get("levels") or []
    if not isinstance(levels, list) or not all(isinstance(lv, dict) and "name" in lv for lv in levels):
        raise InputError(f"{side} of case '{case}' has malformed 'levels'",
                         expected="a list of objects with a 'name'", found=type(levels).__name__)
    return {str(lv["name"]): lv for lv in levels}


def _bilsky(value: Any, case: str) -> int | None:
    if value is None:
        return None
    try:
        return BilskyGrade(str(value)).ordinal
    except ValueError:
        raise InputError(f"Case '{case}' has an unknown Bilsky grade", expected=f"one of {BILSKY_CATEGORIES}",
                         found=repr(value)) from None


def _alert(doc: dict, case: str, side: str) -> AlertLevel | None:
    alert = doc.get("alert")
    if not isinstance(alert, dict) or alert.get("level") is None:
        return None
    try:
        return AlertLevel(alert["level"])
    except ValueError:
        raise InputError(f"{side} of case '{case}' has an unknown alert level",
                         expected=str([a.value for a in AlertLevel]), found=repr(alert["level"])) from None


def _position_error(pred: Any, truth: Any) -> float | None:
    if pred is None or truth is None:
        return None
    p = np.atleast_1d(np.asarray(pred, dtype=np.float64))
    t = np.atleast_1d(np.asarray(truth, dtype=np.float64))
    if p.shape != t.shape:
        return None
    return float(np.linalg.norm(p - t))


def _stats(values: Sequence[float]) -> dict:
    if not values:
        return {"n": 0, "mean": None, "median": None, "max": None}
    a = np.asarray(values, dtype=np.float64)
    return {"n": int(a.size), "mean": float(a.mean()), "median": float(np.median(a)), "max": float(a.max())}


def _binary(truth: list[bool], pred: list[bool]) -> dict:
    sens, spec = sensitivity_specificity(truth, pred)
    return {"sensitivity": sens, "specificity": spec, "n_positive": int(sum(truth)),
            "n_negative": int(len(truth) - sum(truth))}


def evaluate_measurements(cases: Sequence[tuple[str, dict, dict]]) -> dict:
    """Agreement of predicted reports with truth over ``cases`` = [(case name, report, truth), ...].

    Returns a JSON-ready dict: canal compromise absolute error per level (percentage points), worst-level
    hit rate and position error (mm; Euclidean when positions are 3-vectors, absolute difference when
    they are arc lengths), Bilsky confusion matrix per level (rows truth, columns prediction, order 0,
    1a, 1b, 1c, 2, 3) with linearly weighted kappa, and per study (highest grade over the levels), Genant confusion and agreement, and alert sensitivity /
    specificity for "urgent or watch vs none" and "urgent vs rest", naming the urgent cases missed.
    """
    comp_pairs: list[dict] = []
    cord_errors: list[float] = []
    worst_rows: list[dict] = []
    b_truth: list[int] = []
    b_pred: list[int] = []
    b_ungraded = b_extra = 0
    g_truth: list[int] = []
    g_pred: list[int] = []
    alert_rows: list[dict] = []
    s_truth: list[int] = []
    s_pred: list[int] = []
    for case, report, truth in cases:
        t_levels = _levels(truth, case, "truth")
        p_levels = _levels(report, case, "report")
        for name, t in t_levels.items():
            p = p_levels.get(name, {})
            tc, pc = t.get("canal_compromise_pct"), p.get("canal_compromise_pct")
            if tc is not None and pc is not None:
                comp_pairs.append({"case": case, "level": name, "truth_pct": float(tc), "pred_pct": float(pc),
                                   "abs_error_pct": abs(float(pc) - float(tc))})
            tk, pk = t.get("cord_compression_pct"), p.get("cord_compression_pct")
            if tk is not None and pk is not None:
                cord_errors.append(abs(float(pk) - float(tk)))
            tb, pb = _bilsky(t.get("bilsky"), case), _bilsky(p.get("bilsky"), case)
            if tb is not None and pb is not None:
                b_truth.append(tb)
                b_pred.append(pb)
            elif tb is not None:
                b_ungraded += 1
            elif pb is not None:
                b_extra += 1
            tg, pg = t.get("genant"), p.get("genant")
            if tg is not None and pg is not None:
                g_truth.append(int(tg))
                g_pred.append(int(pg))
        b_extra += sum(1 for n, p in p_levels.items() if n not in t_levels and p.get("bilsky") is not None)
        # Study grade: the highest grade over the levels (Bilsky is read at the worst axial level).
        t_grades = [g for g in (_bilsky(t.get("bilsky"), case) for t in t_levels.values()) if g is not None]
        p_grades = [g for g in (_bilsky(p.get("bilsky"), case) for p in p_levels.values()) if g is not None]
        if t_grades and p_grades:
            s_truth.append(max(t_grades))
            s_pred.append(max(p_grades))
        t_worst, p_worst = truth.get("worst") or {}, report.get("worst") or {}
        if t_worst.get("level") is not None:
            worst_rows.append({"case": case, "truth_level": t_worst.get("level"), "pred_level": p_worst.get("level"),
                               "hit": p_worst.get("level") == t_worst.get("level"),
                               "position_error_mm": _position_error(p_worst.get("position_mm"),
                                                                    t_worst.get("position_mm"))})
        ta, pa = _alert(truth, case, "truth"), _alert(report, case, "report")
        if ta is not None:
            alert_rows.append({"case": case, "truth": ta, "pred": pa or AlertLevel.NONE,
                               "pred_missing": pa is None})

    errors = [r["abs_error_pct"] for r in comp_pairs]
    worst_pair = max(comp_pairs, key=lambda r: r["abs_error_pct"]) if comp_pairs else None
    b_cm = confusion_matrix(b_truth, b_pred, len(BILSKY_CATEGORIES))
    g_cm = confusion_matrix(g_truth, g_pred, len(GENANT_CATEGORIES))
    positions = [r["position_error_mm"] for r in worst_rows if r["position_error_mm"] is not None]
    a_levels = list(AlertLevel)
    a_cm = confusion_matrix([a_levels.index(r["truth"]) for r in alert_rows],
                            [a_levels.index(r["pred"]) for r in alert_rows], len(a_levels))
    kappa = weighted_kappa(b_cm, "linear")
    s_cm = confusion_matrix(s_truth, s_pred, len(BILSKY_CATEGORIES))
    s_kappa = weighted_kappa(s_cm, "linear")
    return {
        "n_cases": len(cases),
        "canal_compromise": {
            "unit": "percentage points", "abs_error": _stats(errors),
            "worst": {k: worst_pair[k] for k in ("case", "level", "truth_pct", "pred_pct", "abs_error_pct")}
            if worst_pair else None,
            "per_level": comp_pairs,
        },
        "cord_compression": {"unit": "percentage points", "abs_error": _stats(cord_errors)},
        "worst_level": {
            "n_cases": len(worst_rows),
            "hit_rate": (sum(r["hit"] for r in worst_rows) / len(worst_rows)) if worst_rows else None,
            "position_error_mm": _stats(positions),
            "cases": worst_rows,
        },
        "bilsky": {
            "categories": BILSKY_CATEGORIES, "confusion": b_cm.tolist(), "n_levels": len(b_truth),
            "linear_weighted_kappa": kappa if math.isfinite(kappa) else None,
            "exact_agreement": float(np.trace(b_cm) / b_cm.sum()) if b_cm.sum() else None,
            "graded_by_truth_only": b_ungraded, "graded_by_prediction_only": b_extra,
            "study": {"n_cases": len(s_truth), "confusion": s_cm.tolist(),
                      "linear_weighted_kappa": s_kappa if math.isfinite(s_kappa) else None,
                      "exact_agreement": float(np.trace(s_cm) / s_cm.sum()) if s_cm.sum() else None},
        },
        "genant": {
            "categories": GENANT_CATEGORIES, "confusion": g_cm.tolist(), "n_levels": len(g_truth),
            "exact_agreement": float(np.trace(g_cm) / g_cm.sum()) if g_cm.sum() else None,
            "within_one_grade": (float(np.mean(np.abs(np.subtract(g_truth, g_pred)) <= 1)) if g_truth else None),
        },
        "alert": {
            "categories": [a.value for a in a_levels], "confusion": a_cm.tolist(), "n_cases": len(alert_rows),
            "any_alert": _binary([r["truth"] is not AlertLevel.NONE for r in alert_rows],
                                 [r["pred"] is not AlertLevel.NONE for r in alert_rows]),
            "urgent": _binary([r["truth"] is AlertLevel.URGENT for r in alert_rows],
                              [r["pred"] is AlertLevel.URGENT for r in alert_rows]),
            "urgent_missed": [{"case": r["case"], "predicted": r["pred"].value,
                               "report_had_alert": not r["pred_missing"]}
                              for r in alert_rows if r["truth"] is AlertLevel.URGENT
                              and r["pred"] is not AlertLevel.URGENT],
        },
    }
