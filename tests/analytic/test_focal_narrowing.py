"""Case c: a focal narrowing (canal half filled by epidural tumour over 12 mm, the cord not touched).

Truth (cases.py): canal compromise (1 - (pi a b - segment) / (pi a b)) x 100 = 50.0 % from the exact
ellipse areas, at the level of body 0, worst at the canal axis at the tumour's centre. On every grid the
measurement must be within 3 percentage points, name the same worst level and put the worst
cross-section within 8 mm of the truth.
"""

from __future__ import annotations

import math

import pytest

from . import cases as C
from .helpers import GRIDS, body_centre_world, level_near, measured, summary
from .maps import to_world

TOLERANCE_PCT = 3.0
POSITION_MM = 8.0

CASES = {
    "iso0.5": (C.NARROWING, GRIDS["iso0.5"]),
    "sag3.5x0.6": (C.NARROWING, GRIDS["sag3.5x0.6"]),
    "obl0.7x2@18": (C.NARROWING, GRIDS["obl0.7x2@18"]),
    "ax0.7x4": (C.NARROWING, GRIDS["ax0.7x4"]),
    # the same tumour on a lordotic canal (sagittal arc, radius 300 mm), 0.6 mm isotropic
    "curved-iso0.6": (C.NARROWING_CURVED, GRIDS["iso0.6"]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_focal_narrowing_compromise_and_worst_level(name: str) -> None:
    spine, grid = CASES[name]
    report = measured(spine, grid)
    truth_level = level_near(report, body_centre_world(spine, 0))
    at_level = truth_level["canal_compromise_pct"]
    assert at_level is not None and abs(at_level - C.NARROWING_PCT) <= TOLERANCE_PCT, (
        f"truth {C.NARROWING_PCT:.1f} % at the tumour's level; measured {summary(truth_level)}")
    worst = report["worst"]
    assert worst["level"] == truth_level["name"], f"worst level {worst} is not the tumour's level"
    assert worst["canal_compromise_pct"] is not None
    assert abs(worst["canal_compromise_pct"] - C.NARROWING_PCT) <= TOLERANCE_PCT, worst
    truth_at = to_world(spine, *C.NARROWING_AT)
    assert math.dist(worst["position_mm"], truth_at) <= POSITION_MM, (worst["position_mm"], truth_at)
