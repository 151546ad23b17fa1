"""The grids of the analytic tests, the measurement run on a map, and finding a truth level in its report.

Levels are matched by position, never by name: without an anchor the measurement names vertebrae
V1..Vn from the top, with the conus or sacrum it names them anatomically. A truth level is the report
level whose ``body_center_mm`` (world RAS mm) is nearest to the analytic body centre.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

from spinedetect.measure.report import measure_labels

from .maps import Grid, Spine, build, rotation, to_world

# voxel centres off round numbers, so that no voxel centre falls exactly on a shape's boundary
_CENTRE = (0.13, 10.07, 0.31)

#: Named grids (spacing in mm along i, j, k; the thick axis says what the slices are).
GRIDS: dict[str, Grid] = {
    "iso0.5": Grid((0.5, 0.5, 0.5), centre_mm=_CENTRE),
    "iso0.6": Grid((0.6, 0.6, 0.6), centre_mm=_CENTRE),
    # a shorter view (4 levels) for the cases graded at one level: 0.7 mm isotropic and clinical sagittal
    "iso0.7-short": Grid((0.7, 0.7, 0.7), half_extent_mm=(22.0, 31.0, 70.0), centre_mm=_CENTRE),
    "sag3.5x0.6-short": Grid((3.5, 0.6, 0.6), half_extent_mm=(22.0, 31.0, 70.0), centre_mm=_CENTRE),
    "iso0.8": Grid((0.8, 0.8, 0.8), centre_mm=_CENTRE),
    "iso0.9": Grid((0.9, 0.9, 0.9), centre_mm=_CENTRE),
    # sagittal slices: the thick axis is left-right
    "sag3.5x0.6": Grid((3.5, 0.6, 0.6), centre_mm=_CENTRE),
    "sag4x0.7": Grid((4.0, 0.7, 0.7), centre_mm=_CENTRE),
    # axial slices: the thick axis is inferior-superior
    "ax0.7x4": Grid((0.7, 0.7, 4.0), centre_mm=_CENTRE),
    # an oblique acquisition: 0.7 x 0.7 x 2 mm voxels, axes rotated 18 degrees about a mostly lateral axis;
    # the box is taller in its own AP axis so the tilted canal stays in view
    "obl0.7x2@18": Grid((0.7, 0.7, 2.0), rotation=rotation((1.0, 0.3, 0.0), 18.0),
                        half_extent_mm=(24.0, 50.0, 95.0), centre_mm=_CENTRE),
}

#: A truth of 0 % measured below this is noise, not a reported narrowing or compression (percent).
NOT_REPORTED_PCT = 10.0


@lru_cache(maxsize=None)
def measured(spine: Spine, grid: Grid) -> dict[str, Any]:
    """``measure_labels`` of the analytic map of ``spine`` on ``grid``, as ``report.to_dict()``."""
    labels, affine = build(spine, grid)
    return measure_labels(labels, affine).to_dict()


def body_centre_world(spine: Spine, n: int) -> tuple[float, float, float]:
    """World RAS mm of the centre of body ``n`` (0 at ``spine.body_centre_z``, positive upwards)."""
    return to_world(spine, *spine.body_centre(n))


def level_near(report: dict[str, Any], point: tuple[float, float, float]) -> dict[str, Any]:
    """The report level whose body centre is nearest to the world ``point`` (mm)."""
    levels = [lv for lv in report["levels"] if lv.get("body_center_mm") is not None]
    assert levels, f"the report has no level with a body centre: {report['levels']}"
    return min(levels, key=lambda lv: math.dist(lv["body_center_mm"], point))


def summary(level: dict[str, Any]) -> str:
    """One line of what the measurement reported at a level (for assertion messages)."""
    keys = ("name", "body_center_mm", "canal_compromise_pct", "canal_compromise_ap_pct", "cord_compression_pct",
            "bilsky", "height_loss_pct", "genant", "heights_mm")
    return ", ".join(f"{k}={level.get(k)}" for k in keys)
