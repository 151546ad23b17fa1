"""Real anatomy that is not compression (DESIGN.md "Real anatomy"), and Bilsky by the clinical definition.

Each case is an analytic spine (tests/measure/synthetic.py) edited in canal coordinates (s along the canal,
a anterior, l lateral, mm); the expected result follows from the geometry and the clinical definition,
never from the measurement's own helpers.
"""

from __future__ import annotations

import numpy as np
import pytest

from spinedetect.alert import AlertLevel
from spinedetect.labels import Label
from spinedetect.measure import measure_labels

from .synthetic import SynthSpine, canal_coords, grid_for, voxelise

SPINE = SynthSpine(length_mm=170.0, n_vertebrae=5, sacrum_len_mm=26.0)
CANAL = (Label.CSF, Label.CORD)


def _map(spine: SynthSpine = SPINE, spacing=(1.0, 1.0, 1.0)):
    shape, aff = grid_for(spine, spacing)
    lab = voxelise(spine, shape, aff)
    ijk = np.indices(shape).reshape(3, -1).T.astype(float)
    s, a, l = (x.reshape(shape) for x in canal_coords(spine, ijk @ aff[:3, :3].T + aff[:3, 3]))
    return lab, aff, s, a, l


def _ellipse(a, l, ra, rl):
    return (a / ra) ** 2 + (l / rl) ** 2 <= 1


def _canal_figures(rep):
    return [(lv["name"], lv["canal_compromise_pct"], lv["cord_compression_pct"]) for lv in rep.levels]


def test_conus_taper_and_cauda_equina_are_not_compression():
    # the cord tapers over its last 25 mm to the conus at s = 95; below it the sac holds only CSF
    lab, aff, s, a, l = _map()
    k = np.clip((95.0 - s) / 25.0, 0.0, 1.0)  # 1 above the taper, 0 at the tip
    cord = _ellipse(a, l, 4.0 * np.maximum(k, 1e-6), 5.0 * np.maximum(k, 1e-6)) & (s <= 95.0)
    canal = np.isin(lab, CANAL)
    lab[canal] = Label.CSF
    lab[canal & cord] = Label.CORD
    rep = measure_labels(lab, aff)
    assert rep.alert.level is AlertLevel.NONE, rep.alert.reasons
    for lv in rep.levels:  # no level reads the taper as cord compression
        assert lv["cord_compression_pct"] is None or abs(lv["cord_compression_pct"]) < 10, _canal_figures(rep)


def test_sac_end_and_level_to_level_size_change_are_not_narrowing():
    # the canal is 20 % wider in area above s = 70 than below (a 10 mm ramp), and the sac tapers to its
    # end over s 140..160 inside the field of view: neither is a focal narrowing
    lab, aff, s, a, l = _map()
    f = np.sqrt(np.interp(s, [65.0, 75.0], [1.2, 1.0]))  # radius factor, area factor 1.2 -> 1.0
    f = f * np.interp(s, [140.0, 160.0], [1.0, 0.05])
    inside = (s >= 0) & (s <= SPINE.length_mm)
    old_canal = np.isin(lab, CANAL)
    lab[old_canal] = Label.BACKGROUND
    canal = inside & _ellipse(a, l, 8.0 * f, 10.0 * f) & (s <= 160.0)
    cord = canal & _ellipse(a, l, 4.0 * f, 5.0 * f)
    free = (lab == Label.BACKGROUND) | old_canal
    lab[free & canal] = Label.CSF
    lab[free & cord] = Label.CORD
    rep = measure_labels(lab, aff)
    assert rep.alert.level is AlertLevel.NONE, rep.alert.reasons
    # the levels over the taper: no narrowing, and where no figure, the reason says it needs both sides
    taper = [lv for lv in rep.levels if lv["s_range_mm"][1] > 130.0]
    assert taper and all(lv["canal_compromise_pct"] is None or abs(lv["canal_compromise_pct"]) < 10 for lv in taper)
    assert all(lv["canal_compromise_pct"] is not None or any(w in lv["null_reasons"]["canal_compromise_pct"]
                                                             for w in ("both sides", "sac has ended")) for lv in taper)
    # the ramp: between its references, so no focal narrowing at the level holding it
    ramp = next(lv for lv in rep.levels if lv["s_range_mm"][0] <= 70.0 < lv["s_range_mm"][1])
    assert ramp["canal_compromise_focal_pct"] is None or ramp["canal_compromise_focal_pct"] < 5


def test_unlabelled_narrowing_is_noted_not_alerted_and_a_tumour_narrowing_alerts():
    # 70 % of the canal area missing over 8 mm around s = 75: once as unlabelled (background: the
    # segmentation missed canal), once filled by epidural tumour (a compression)
    lab, aff, s, a, l = _map()
    zone = (np.abs(s - 75.0) <= 4.0) & np.isin(lab, CANAL) & ~_ellipse(a, l, 8.0 * 0.55, 10.0 * 0.55)
    missed = lab.copy()
    missed[zone] = Label.BACKGROUND
    rep = measure_labels(missed, aff)
    assert rep.alert.level is AlertLevel.NONE, rep.alert.reasons
    lv = rep.level(rep.worst["level"])
    assert lv["canal_compromise_pct"] == pytest.approx((1 - 0.55 ** 2) * 100, abs=8)
    assert "unlabelled" in lv["null_reasons"]["canal_alert"]
    filled = lab.copy()
    filled[zone] = Label.EPIDURAL_TUMOUR
    rep = measure_labels(filled, aff)
    assert rep.alert.level is AlertLevel.URGENT
    assert rep.alert.worst_level == rep.worst["level"]
    assert "both sides" in rep.alert.reasons[0] and "axial_worst.png" in rep.alert.reasons[0]


def _indent(lab, s, a, l, *, cord_cut_a: float, tumour_from_a: float):
    """Tumour from the front over s 70..80 fills the canal anterior of ``tumour_from_a``; the cord loses
    everything anterior of ``cord_cut_a`` (flattened from the front), CSF between them."""
    zone = (np.abs(s - 75.0) <= 5.0) & np.isin(lab, CANAL)
    lab[zone & (lab == Label.CORD) & (a > cord_cut_a)] = Label.CSF
    lab[zone & (a > tumour_from_a)] = Label.EPIDURAL_TUMOUR
    return lab


def _segment_fraction(t: float) -> float:
    """Area fraction of an ellipse beyond t x its semi-axis (circular-segment formula)."""
    return (np.arccos(t) - t * np.sqrt(1 - t * t)) / np.pi


@pytest.mark.parametrize("cut,tumour_from", [(1.6, 5.0), (0.0, 3.0)])
def test_flattened_cord_with_csf_is_bilsky_2(cut, tumour_from):
    # cord 8 x 10 mm (semi-axes 4, 5): cut at a = 1.6 (t = 0.4) loses 25 % of its area, at a = 0 half of
    # it; a CSF layer of 3.4 / 3 mm is left between cord and tumour: compressed with CSF = Bilsky 2
    assert _segment_fraction(cut / 4.0) * 100 >= 20
    lab, aff, s, a, l = _map()
    rep = measure_labels(_indent(lab, s, a, l, cord_cut_a=cut, tumour_from_a=tumour_from), aff)
    grades = {lv["name"]: lv["bilsky"] for lv in rep.levels if lv["bilsky"] is not None}
    assert "2" in grades.values(), grades
    assert rep.alert.level is AlertLevel.URGENT


def test_cord_deformed_by_tumour_15_pct_smaller_is_bilsky_2():
    # cut at t = 0.58 removes 15 % of the cord's area; 1.5 mm of CSF left in front of it
    t = 0.58
    assert _segment_fraction(t) * 100 == pytest.approx(15, abs=1.5)
    lab, aff, s, a, l = _map()
    rep = measure_labels(_indent(lab, s, a, l, cord_cut_a=4.0 * t, tumour_from_a=4.0 * t + 1.5), aff)
    assert "2" in {lv["bilsky"] for lv in rep.levels}, [(lv["name"], lv["bilsky"]) for lv in rep.levels]


def test_tumour_reaching_the_sac_without_deforming_the_cord_is_below_2():
    # tumour fills the front 2 mm of the canal; the cord (front at a = 4) keeps its shape, 2 mm CSF
    lab, aff, s, a, l = _map()
    rep = measure_labels(_indent(lab, s, a, l, cord_cut_a=99.0, tumour_from_a=6.0), aff)
    grades = [lv["bilsky"] for lv in rep.levels if lv["bilsky"] is not None]
    assert grades and max(grades, key=["0", "1a", "1b", "1c", "2", "3"].index) == "1b"
    assert rep.alert.level is AlertLevel.WATCH


def test_small_tumour_pieces_are_no_finding():
    # a 4 mm cube of tumour (64 mm³ < 100 mm³) touching the front of the sac
    lab, aff, s, a, l = _map()
    piece = (np.abs(s - 75.0) <= 2.0) & (a > 6.0) & (a <= 10.0) & (np.abs(l) <= 2.0) & np.isin(lab, CANAL)
    lab[piece] = Label.EPIDURAL_TUMOUR
    assert 0 < piece.sum() < 100
    rep = measure_labels(lab, aff)
    assert all(lv["bilsky"] is None for lv in rep.levels)
    assert rep.alert.level is AlertLevel.NONE
    assert any("under 100 mm³ ignored" in n for n in rep.notes)
