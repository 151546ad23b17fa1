"""Case d: each Bilsky boundary built as the clinical definition states (cases.py), graded at its level.

Truth: the grade the map was built to (1a, 1b, 1c, 2, 3) at the level of body 0, and the alert the
clinical reading allows (BILSKY_ALERT: high grade 2-3 urgent, low grade 1a-1b watch, 1c either).
"""

from __future__ import annotations

import pytest

from . import cases as C
from .helpers import GRIDS, body_centre_world, level_near, measured, summary

_1A = ("1b on every grid: an epidural tumour that only abuts the sac (the sac's outline is the normal "
       "ellipse) is graded as if it deformed the sac; alert watch")

PARAMS = []
for _grid in ("iso0.7-short", "sag3.5x0.6-short"):
    for _grade in C.BILSKY:
        _marks = [pytest.mark.xfail(strict=True, reason=f"measured today: {_1A}")] if _grade == "1a" else []
        PARAMS.append(pytest.param(_grade, _grid, marks=_marks, id=f"{_grade}-{_grid}"))


@pytest.mark.parametrize(("grade", "grid"), PARAMS)
def test_bilsky_grade_and_alert(grade: str, grid: str) -> None:
    spine = C.BILSKY[grade]
    report = measured(spine, GRIDS[grid])
    level = level_near(report, body_centre_world(spine, 0))
    assert level["bilsky"] == grade, f"truth Bilsky {grade}; measured {summary(level)}"
    assert report["alert"]["level"] in C.BILSKY_ALERT[grade], (
        f"truth alert {sorted(C.BILSKY_ALERT[grade])} for Bilsky {grade}; measured {report['alert']}")


CANAL_TOLERANCE_PCT = 3.0
CORD_TOLERANCE_PCT = 5.0  # the cord is a fifth of the canal's area: its sampling error is larger


#: (report key, truth table from closed forms, tolerance in percentage points) of each figure checked
_FIGURES = {"canal": ("canal_compromise_pct", C.BILSKY_CANAL_PCT, CANAL_TOLERANCE_PCT),  # sac left vs normal sac
            "cord": ("cord_compression_pct", C.BILSKY_CORD_PCT, CORD_TOLERANCE_PCT)}  # flattened vs normal cord


@pytest.mark.parametrize("grid", ["iso0.7-short", "sag3.5x0.6-short"])
@pytest.mark.parametrize(("figure", "grade"), [("canal", g) for g in C.BILSKY] + [("cord", g) for g in C.BILSKY_CORD])
def test_bilsky_level_figures(figure: str, grade: str, grid: str) -> None:
    """Truth: the level's canal compromise and cord compression from the shapes' closed-form areas."""
    key, table, tolerance = _FIGURES[figure]
    spine = C.BILSKY[grade]
    level = level_near(measured(spine, GRIDS[grid]), body_centre_world(spine, 0))
    got = level[key]
    assert got is not None and abs(got - table[grade]) <= tolerance, f"truth {table[grade]:.1f} %; {summary(level)}"
