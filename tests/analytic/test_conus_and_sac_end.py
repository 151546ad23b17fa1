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


@pytest.mark.parametrize("grid", ["iso0.9", "sag4x0.7"])
@pytest.mark.parametrize("where", ["mid", "low"])
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
