"""The analytic maps hold the geometry the cases claim: checked on fine grids, against the closed forms.

These tests guard the truth, not the measurement: if a map did not encode what cases.py says (a
half-filled canal, a cord not touched, no CSF at grade 3, ...), the measurement tests would judge the
measurement against a wrong truth.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from . import cases as C
from .maps import BODY, CORD, CSF, TUMOUR, Grid, Spine, build

PIXEL = 0.1  # mm, in-plane pixel of the fine axial slabs


def _axial(spine: Spine, z: float) -> np.ndarray:
    """Labels of an axial plane at height ``z`` (mm) on 0.1 mm pixels, (x, y) with x right, y anterior."""
    grid = Grid((PIXEL, PIXEL, 0.2), half_extent_mm=(12.0, 12.0, 0.1), centre_mm=(0.03, 0.02, z))
    labels, _ = build(spine, grid)
    assert labels.shape[2] == 1
    return labels[:, :, 0]


def _area(plane: np.ndarray, *values: int) -> float:
    return float(np.isin(plane, values).sum()) * PIXEL * PIXEL


def _gap(plane: np.ndarray, a: int, b: int) -> float:
    """Smallest distance (mm) between pixel centres of label ``a`` and label ``b`` in the plane."""
    return float(ndimage.distance_transform_edt(plane != a, sampling=PIXEL)[plane == b].min())


def _ap_length(plane: np.ndarray, value: int) -> float:
    """AP extent (mm) of ``value`` on the column through x = 0."""
    return float((plane[plane.shape[0] // 2] == value).sum()) * PIXEL


NORMAL_PLANE_Z = 40.0  # mid-body of body 1: no tumour, no taper


def test_normal_sac_and_cord_areas_are_the_ellipses() -> None:
    plane = _axial(C.NORMAL, NORMAL_PLANE_Z)
    assert _area(plane, CSF, CORD) == pytest.approx(C.SAC_AREA, rel=0.005)
    assert _area(plane, CORD) == pytest.approx(C.CORD.area, rel=0.01)


def test_narrowing_half_fills_the_canal_and_spares_the_cord() -> None:
    plane = _axial(C.NARROWING, 0.0)
    assert _area(plane, CSF, CORD) == pytest.approx(C.NARROWING_AREA, rel=0.01)
    assert C.NARROWING_PCT == pytest.approx(50.0, abs=1e-9)
    assert _area(plane, CORD) == pytest.approx(C.CORD.area, rel=0.01)
    assert _gap(plane, CORD, TUMOUR) >= 0.9


def test_bilsky_maps_meet_the_clinical_definitions() -> None:
    normal = _axial(C.NORMAL, 0.0)
    p = {g: _axial(s, 0.0) for g, s in C.BILSKY.items()}
    # 1a: tumour present, abutting the sac, the sac's outline unchanged
    assert _area(p["1a"], TUMOUR) > 20.0
    assert np.array_equal(np.isin(p["1a"], (CSF, CORD)), np.isin(normal, (CSF, CORD)))
    assert _gap(p["1a"], CSF, TUMOUR) <= PIXEL * 1.01
    # 1b: the sac indented (smaller), the cord 2 mm away from the tumour
    assert _area(p["1b"], CSF, CORD) < 0.9 * C.SAC_AREA
    assert _gap(p["1b"], CORD, TUMOUR) >= 1.9
    # 1c: tumour touching the cord, the cord's outline unchanged
    assert _gap(p["1c"], CORD, TUMOUR) <= PIXEL * 1.01
    assert np.array_equal(p["1c"] == CORD, normal == CORD)
    # 2: cord flattened 34 % and touched, CSF still around it (behind it and at its sides)
    assert _ap_length(p["2"], CORD) == pytest.approx(_ap_length(normal, CORD) * (1 - C.FLATTENED), abs=0.15)
    assert _gap(p["2"], CORD, TUMOUR) <= PIXEL * 1.01
    column = p["2"][p["2"].shape[0] // 2]
    assert (column == CSF).sum() * PIXEL >= 3.0  # CSF behind the cord on the midline
    assert _area(p["2"], CSF) > 30.0
    # 3: cord flattened 34 %, no CSF at all
    assert _ap_length(p["3"], CORD) == pytest.approx(_ap_length(normal, CORD) * (1 - C.FLATTENED), abs=0.15)
    assert _area(p["3"], CSF) == 0.0
    assert _area(p["3"], CORD) > 0.5 * C.CORD.area


def test_conus_tapers_to_its_tip_with_csf_below() -> None:
    spine = C.CONUS["mid"]
    tip = spine.conus_tip_z
    assert tip is not None
    half = _axial(spine, tip + spine.conus_taper_mm / 2)
    assert _area(half, CORD) == pytest.approx(0.25 * C.CORD.area, rel=0.03)
    below = _axial(spine, tip - 2.0)
    assert _area(below, CORD) == 0.0
    assert _area(below, CSF) == pytest.approx(C.SAC_AREA, rel=0.005)


def test_sac_tapers_to_its_end() -> None:
    spine = C.SAC_END["mid"]
    end = spine.sac_end_z
    assert end is not None
    assert _area(_axial(spine, end + spine.sac_taper_mm / 2), CSF) == pytest.approx(0.25 * C.SAC_AREA, rel=0.02)
    assert _area(_axial(spine, end - 1.0), CSF, CORD) == 0.0
    assert _area(_axial(spine, end + spine.sac_taper_mm + 1.0), CSF) == pytest.approx(C.SAC_AREA, rel=0.005)


@pytest.mark.parametrize("loss", C.WEDGE_LOSS_PCT)
def test_wedge_heights(loss: float) -> None:
    spine = C.GENANT[loss]
    y_post, y_ant = spine.canal_b, spine.canal_b + spine.body_depth
    step = 0.05
    heights = {}
    for wall, y in (("anterior", y_ant - 0.03), ("posterior", y_post + 0.03)):
        grid = Grid((0.2, 0.02, step), half_extent_mm=(0.1, 0.01, 20.0), centre_mm=(0.0, y, 0.01))
        labels, _ = build(spine, grid)
        heights[wall] = float((labels == BODY).sum()) * step
    assert heights["posterior"] == pytest.approx(spine.body_h_mm, abs=0.1)
    assert heights["anterior"] == pytest.approx(spine.body_h_mm * (1 - loss / 100.0), abs=0.15)
