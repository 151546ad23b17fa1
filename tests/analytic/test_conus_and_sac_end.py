"""Cases a and b: the conus taper and the end of the dural sac are anatomy, not compression.

Truth (cases.py): no level is narrowed or compressed (0 %), so the alert is "none"; a value under
NOT_REPORTED_PCT is measurement noise, anything above it or an alert is a false report.
"""

from __future__ import annotations

import pytest

from . import cases as C
from .helpers import GRIDS, NOT_REPORTED_PCT, measured, summary


def _reported(report: dict, key: str) -> list[str]:
    return [summary(lv) for lv in report["levels"]
            if lv[key] is not None and lv[key] >= NOT_REPORTED_PCT]


def _xfail(reason: str) -> pytest.MarkDecorator:
    return pytest.mark.xfail(strict=True, reason=f"measured today: {reason}")


_LOW_CONUS = ("with the tip 25 mm above the lower edge of the view no conus is found (levels named V1..Vn), "
              "so the taper is measured as compression")


@pytest.mark.parametrize(("where", "grid"), [
    pytest.param("mid", "iso0.9"),
    pytest.param("mid", "sag4x0.7", marks=_xfail(
        "no alert, but cord_compression_pct 18.0 % at the level where the taper starts (the conus was found)")),
    pytest.param("low", "iso0.9", marks=_xfail(
        f"urgent, 'cord area 97 % below the normal cord' at the level holding the conus; {_LOW_CONUS}")),
    pytest.param("low", "sag4x0.7", marks=_xfail(
        f"urgent, 'cord area 87 % below the normal cord' at the level holding the conus; {_LOW_CONUS}")),
])
def test_conus_taper_is_not_compression(where: str, grid: str) -> None:
    report = measured(C.CONUS[where], GRIDS[grid])
    assert not _reported(report, "cord_compression_pct"), "cord compression reported in a normal cord"
    assert not _reported(report, "canal_compromise_pct"), "canal compromise reported in a normal canal"
    assert report["alert"]["level"] == "none", report["alert"]


@pytest.mark.parametrize("grid", ["iso0.9", "sag4x0.7"])
@pytest.mark.parametrize("where", ["mid", "low"])
def test_sac_end_is_not_narrowing(where: str, grid: str) -> None:
    report = measured(C.SAC_END[where], GRIDS[grid])
    assert not _reported(report, "canal_compromise_pct"), "canal compromise reported at the end of the sac"
    assert report["alert"]["level"] == "none", report["alert"]
