"""Case e: Genant grade of a wedged body between normal neighbours; and the body heights themselves.

Truth (cases.py): body 0's anterior height is (1 - loss) x 25 mm, its posterior 25 mm, its neighbours
normal (25 mm): the height loss is the wedge's loss, graded by the clinical table (cases.genant_grade:
0 < 20 %, 1 20-25 %, 2 25-40 %, 3 > 40 %); the neighbours are grade 0; a wedge with an intact
posterior wall leaves the canal alone, so it is never urgent.
"""

from __future__ import annotations

import pytest

from . import cases as C
from .helpers import GRIDS, body_centre_world, level_near, measured, summary

LOSS_TOLERANCE_PCT = 3.0
GENANT_GRIDS = ("iso0.8", "sag3.5x0.6")


@pytest.mark.parametrize("grid", GENANT_GRIDS)
@pytest.mark.parametrize("loss", C.WEDGE_LOSS_PCT)
def test_genant_grade_of_a_wedge(loss: float, grid: str) -> None:
    spine = C.GENANT[loss]
    report = measured(spine, GRIDS[grid])
    level = level_near(report, body_centre_world(spine, 0))
    truth = C.genant_grade(loss)
    assert level["genant"] == truth, f"truth Genant {truth} ({loss:.0f} % anterior loss); {summary(level)}"
    got = level["height_loss_pct"]
    assert got is not None and abs(got - loss) <= LOSS_TOLERANCE_PCT, f"truth loss {loss:.0f} %; {summary(level)}"
    for n in (-1, 1):
        neighbour = level_near(report, body_centre_world(spine, n))
        assert neighbour["genant"] == 0, f"normal neighbour graded: {summary(neighbour)}"
    assert report["alert"]["level"] != "urgent", report["alert"]


HEIGHT_TOLERANCE_MM = 1.0  # about a voxel along the canal on these grids (0.6-0.8 mm)

_HEIGHTS = ("the reported heights_mm of a 25 mm box body are {}; the losses, relative to neighbours on the same "
            "grid, come out right (likely cause: an AP bin's voxel count is divided by the bin's nominal width, "
            "not by the width of the whole voxel columns it holds)")


@pytest.mark.parametrize("grid", [
    pytest.param("iso0.8", marks=pytest.mark.xfail(strict=True, reason="measured today: " + _HEIGHTS.format(
        "21.9 mm at the anterior wall, middle and posterior wall on 0.8 mm isotropic voxels"))),
    pytest.param("sag3.5x0.6", marks=pytest.mark.xfail(strict=True, reason="measured today: " + _HEIGHTS.format(
        "26.7-27.4 mm on 3.5 x 0.6 x 0.6 mm sagittal slices"))),
])
def test_normal_body_heights_in_mm(grid: str) -> None:
    """Truth: every complete normal body is 25 mm tall at its anterior wall, middle and posterior wall."""
    spine = C.GENANT[0.0]
    report = measured(spine, GRIDS[grid])
    for n in (-2, -1, 0, 1, 2):
        level = level_near(report, body_centre_world(spine, n))
        assert level["heights_mm"] is not None, summary(level)
        for where, h in level["heights_mm"].items():
            assert abs(h - spine.body_h_mm) <= HEIGHT_TOLERANCE_MM, (
                f"{where} height {h} mm, truth {spine.body_h_mm} mm; {summary(level)}")
