"""Measurement accuracy on analytic synthetic spines voxelised on straight, curved, oblique and
anisotropic grids (the fast CI tests; the phantom sweep lives in test_phantom_accuracy.py)."""

from __future__ import annotations

import numpy as np
import pytest

from spinedetect.alert import AlertLevel
from spinedetect.errors import InputError
from spinedetect.labels import Label
from spinedetect.measure import MeasureConfig, measure_labels
from spinedetect.measure.centreline import fit_centreline

from .synthetic import SynthSpine, canal_coords, grid_for, rotation, voxelise

NARROW = SynthSpine(length_mm=160.0, narrow_s_mm=75.0, narrow_factor=0.65, n_vertebrae=4, sacrum_len_mm=40.0)
TRUE_PCT = (1 - 0.65 ** 2) * 100  # concentric narrowing of an elliptical canal
TRUE_AP_PCT = 35.0


def _measure(spine: SynthSpine, spacing=(1.0, 1.0, 1.0), rot=None, **kw):
    shape, aff = grid_for(spine, spacing, rot)
    return measure_labels(voxelise(spine, shape, aff), aff, **kw), aff


@pytest.fixture(scope="module")
def straight():
    return _measure(NARROW)[0]


def test_straight_canal_compromise_and_levels(straight):
    rep = straight
    assert rep.naming["rule"] == "sacrum"
    assert [lv["name"] for lv in rep.levels] == ["L2", "L3", "L4", "L5", "S1"]
    # on this axis-aligned 1 mm grid the truth is the voxel count of the slices (z = -75 vs z = -40)
    shape, aff = grid_for(NARROW)
    lab = voxelise(NARROW, shape, aff)
    canal = np.isin(lab, [Label.CSF, Label.CORD])
    k = {z: int(round((z - aff[2, 3]) / aff[2, 2])) for z in (-75.0, -40.0)}
    voxel_pct = (1 - canal[:, :, k[-75.0]].sum() / canal[:, :, k[-40.0]].sum()) * 100
    assert voxel_pct == pytest.approx(TRUE_PCT, abs=5.0)
    assert rep.worst["canal_compromise_pct"] == pytest.approx(voxel_pct, abs=2.0)
    assert rep.worst["canal_compromise_ap_pct"] == pytest.approx(TRUE_AP_PCT, abs=6.0)
    # the narrowing centre at s = 75 mm lies at world z = -75 on the straight spine
    assert abs(rep.worst["position_mm"][2] + 75.0) <= 3.0
    normal = [lv for lv in rep.levels if lv["name"] != rep.worst["level"] and lv["canal_compromise_pct"] is not None]
    assert normal and all(abs(lv["canal_compromise_pct"]) < 5 for lv in normal)
    # canal area of a normal level ~ pi * 8 * 10
    assert normal[0]["canal_area_mm2"] == pytest.approx(np.pi * 80, rel=0.06)
    assert normal[0]["cord_area_mm2"] == pytest.approx(np.pi * 20, rel=0.1)


def test_report_has_contract_fields(straight):
    d = straight.to_dict()
    assert set(d["alert"]) >= {"level", "worst_level", "reasons"}
    assert set(d["worst"]) >= {"level", "canal_compromise_pct", "position_mm"}
    assert d["naming"]["rule"] in {"sacrum", "conus", "hint", "none"}
    assert "canal_compromise_pct" in d["definitions"] and d["centreline_mm"]
    keys = {"name", "canal_area_mm2", "canal_ap_mm", "cord_area_mm2", "canal_compromise_pct",
            "canal_compromise_ap_pct", "cord_compression_pct", "bilsky", "genant", "height_loss_pct", "sins",
            "null_reasons"}
    for lv in d["levels"]:
        assert keys <= set(lv)
        for k in ("canal_compromise_pct", "cord_compression_pct", "genant"):
            if lv[k] is None:
                assert k in lv["null_reasons"] or k.startswith("cord") and "cord_compression_pct" in lv["null_reasons"]
    s1 = d["levels"][-1]
    assert s1["genant"] is None and "sacrum" in s1["null_reasons"]["genant"]


def test_bilsky_1b_and_alert(straight):
    lv = straight.level(straight.worst["level"])
    # the narrowed sac (5.2 x 6.5 mm radii) still clears the cord (4 x 5 mm): tumour touches the sac only
    assert lv["bilsky"] == "1b"
    assert straight.alert.level is AlertLevel.URGENT  # compromise ~58 % >= 50 %
    assert any("Bilsky 1b" in r for r in straight.alert.reasons)


@pytest.mark.parametrize("curv,rot,spacing", [
    (250.0, (0, 0, 0), (1.0, 1.0, 1.0)),
    (None, (12, -8, 20), (1.0, 1.0, 1.0)),
    (300.0, (8, 5, -10), (0.8, 0.8, 3.0)),      # oblique axial-like stack, thick slices along the canal
    (300.0, (5, 0, 0), (4.0, 0.8, 0.8)),        # sagittal stack, 4 mm slices across the canal
])
def test_compromise_on_curved_oblique_anisotropic(curv, rot, spacing):
    spine = SynthSpine(length_mm=160.0, narrow_s_mm=75.0, narrow_factor=0.65, n_vertebrae=4,
                       sacrum_len_mm=40.0, curvature_radius_mm=curv)
    rep, _ = _measure(spine, spacing, rotation(*rot))
    assert rep.worst["canal_compromise_pct"] == pytest.approx(TRUE_PCT, abs=3.0)
    true_pos = spine.canal_coords_to_world(np.array([75.0]), np.zeros(1), np.zeros(1))[0]
    assert np.linalg.norm(np.array(rep.worst["position_mm"]) - true_pos) <= 5.0
    assert [lv["name"] for lv in rep.levels][-1] == "S1"


def test_invariance_to_voxel_size_and_rotation():
    spine = SynthSpine(length_mm=160.0, narrow_s_mm=75.0, narrow_factor=0.75, n_vertebrae=4,
                       sacrum_len_mm=40.0, curvature_radius_mm=300.0)
    a, _ = _measure(spine, (1.0, 1.0, 1.0))
    b, _ = _measure(spine, (0.7, 1.3, 1.6), rotation(10, -6, 15))
    assert a.worst["canal_compromise_pct"] == pytest.approx(b.worst["canal_compromise_pct"], abs=2.0)
    for la, lb in zip(a.levels, b.levels):
        assert la["name"] == lb["name"]
        if la["canal_compromise_pct"] is not None and lb["canal_compromise_pct"] is not None:
            assert la["canal_compromise_pct"] == pytest.approx(lb["canal_compromise_pct"], abs=2.0)


def test_centreline_follows_the_arc():
    spine = SynthSpine(length_mm=160.0, curvature_radius_mm=200.0, with_bone=False)
    shape, aff = grid_for(spine, (1.2, 1.2, 1.2), rotation(0, 10, 0))
    lab = voxelise(spine, shape, aff)
    ijk = np.argwhere(lab > 0).astype(float)
    cl = fit_centreline(ijk @ aff[:3, :3].T + aff[:3, 3])
    s, a, l = canal_coords(spine, cl.points_mm)
    inner = (s > 15) & (s < 145)
    assert np.abs(np.hypot(a, l)[inner]).max() < 0.6
    # frames: tangent points inferiorly, lateral towards the patient's right (+x here)
    assert np.all(cl.tangent[:, 2] < 0) and np.all(cl.lateral[:, 0] > 0.9)


def test_genant_from_wedge_collapse():
    spine = SynthSpine(length_mm=190.0, n_vertebrae=5, collapse={2: 32.0})
    rep, _ = _measure(spine, (1.0, 1.0, 1.0))
    names = [lv["name"] for lv in rep.levels]
    collapsed = rep.levels[2]
    assert names[2] == "L3" and collapsed["height_loss_pct"] == pytest.approx(32.0, abs=4.0)
    assert collapsed["genant"] == 2
    assert all(lv["genant"] == 0 for i, lv in enumerate(rep.levels[:-1]) if i != 2 and lv["genant"] is not None)
    assert any("Genant grade 2" in r for r in rep.alert.reasons)


def test_conus_does_not_name_levels_a_hint_does():
    # the cord end is only a cross-check (a model may draw the cauda equina as cord): without a sacrum the
    # levels stay generic, and a user's hint names them whatever the rules say
    no_sacrum = SynthSpine(length_mm=150.0, n_vertebrae=5, sacrum_len_mm=0.0, cord_end_s_mm=70.0)
    shape, aff = grid_for(no_sacrum, (1.2, 1.2, 1.2))
    lab = voxelise(no_sacrum, shape, aff)
    lab[:, :, :4] = np.where(np.isin(lab[:, :, :4], [Label.VERTEBRAL_BODY, Label.POSTERIOR_ELEMENTS]), 0,
                             lab[:, :, :4])  # the block below is cut off by the field of view
    rep = measure_labels(lab, aff)
    assert rep.naming["rule"] == "none" and rep.naming["conus_s_mm"] is not None
    assert [lv["name"] for lv in rep.levels] == [f"V{i}" for i in range(1, len(rep.levels) + 1)]
    rep2 = measure_labels(lab, aff, level_hint="lowest=L5")
    assert rep2.naming["rule"] == "hint" and rep2.levels[-1]["name"] == "L5" and rep2.naming["confidence"] == 1.0
    with pytest.raises(InputError):
        measure_labels(lab, aff, level_hint="bottom is L5")


def _with_tumour_around_cord(spine: SynthSpine, spacing, kind: str):
    shape, aff = grid_for(spine, spacing)
    lab = voxelise(spine, shape, aff)
    ijk = np.indices(shape).reshape(3, -1).T.astype(float)
    s, a, l = canal_coords(spine, ijk @ aff[:3, :3].T + aff[:3, 3])
    s, a, l = (x.reshape(shape) for x in (s, a, l))
    zone = (np.abs(s - 75.0) <= 5.0) & (lab == Label.CSF)
    if kind == "touch":      # tumour from the front reaching the cord without deforming it
        lab[zone & (a > 0)] = Label.EPIDURAL_TUMOUR
    elif kind == "no_csf":   # tumour fills all CSF around the cord
        lab[zone] = Label.EPIDURAL_TUMOUR
    elif kind == "compress":  # tumour from the front flattens the cord by a third
        cut = (np.abs(s - 75.0) <= 5.0) & (a > 4.0 - 2.7) & np.isin(lab, [Label.CSF, Label.CORD])
        lab[cut & (a > 0)] = Label.EPIDURAL_TUMOUR
    return lab, aff


@pytest.mark.parametrize("kind,grade", [("touch", "1c"), ("compress", "2"), ("no_csf", "3")])
def test_bilsky_grades_from_geometry(kind, grade):
    spine = SynthSpine(length_mm=150.0, n_vertebrae=4, sacrum_len_mm=40.0)
    lab, aff = _with_tumour_around_cord(spine, (0.8, 0.8, 1.0), kind)
    rep = measure_labels(lab, aff)
    worst = max(rep.levels, key=lambda lv: -1 if lv["bilsky"] is None else ["0", "1a", "1b", "1c", "2", "3"].index(lv["bilsky"]))
    assert worst["bilsky"] == grade
    expected = AlertLevel.URGENT if grade in ("2", "3") else AlertLevel.WATCH
    assert rep.alert.level is expected or (grade == "1c" and rep.alert.level is AlertLevel.URGENT)


def test_lesions_site_type_and_sins():
    spine = SynthSpine(length_mm=150.0, n_vertebrae=4, sacrum_len_mm=26.0)
    shape, aff = grid_for(spine, (1.0, 1.0, 1.0))
    lab = voxelise(spine, shape, aff)
    ijk = np.indices(shape).reshape(3, -1).T.astype(float)
    s, a, l = (x.reshape(shape) for x in canal_coords(spine, ijk @ aff[:3, :3].T + aff[:3, 3]))
    # L3 body (3rd vertebra: s 68..90) lytic lesion; right posterior lesion at the same level
    body_les = (lab == Label.VERTEBRAL_BODY) & ((s - 79) ** 2 + (a - 25) ** 2 + l ** 2 <= 8 ** 2)
    post_les = (lab == Label.POSTERIOR_ELEMENTS) & (s > 70) & (s < 88) & (l > 0)
    lab[body_les | post_les] = Label.OSSEOUS_LESION
    image = np.where(lab == Label.VERTEBRAL_BODY, 230.0, 20.0)  # CT: marrow ~230 HU
    image[body_les] = 45.0   # less dense: lytic
    image[post_les] = 950.0  # dense: blastic
    # a short, straight synthetic sacrum (no lumbosacral turn) is only an uncertain S1 ("L4?"): the hint
    # names the levels outright
    rep = measure_labels(lab, aff, image=image, modality="CT", level_hint="lowest=S1")
    assert rep.naming["rule"] == "hint"
    les = {(x["level"], x["site"]): x for x in rep.lesions}
    assert les[("L4", "body")]["type"] == "lytic"
    assert les[("L4", "body")]["volume_mm3"] == pytest.approx(4 / 3 * np.pi * 512, rel=0.1)
    # the synthetic right posterior elements are two unconnected pieces (pedicle, spinous half)
    post = [x for x in rep.lesions if x["site"] == "right_posterior"]
    assert post and all(x["level"] == "L4" and x["type"] == "blastic" for x in post)
    assert sum(x["volume_mm3"] for x in post) == pytest.approx(post_les.sum(), rel=0.05)
    lv = rep.level("L4")
    assert lv["bilsky"] == "0" and lv["lesion_count"] == 1 + len(post)
    sins = lv["sins"]
    assert sins["location"] == 2 and sins["lesion_type"] == 1 and sins["posterolateral"] == 1
    assert sins["collapse"] == 0 and sins["partial_total"] == 4 and "pain" in sins["not_scored"]
    assert rep.alert.level is AlertLevel.WATCH
    for kw in ({}, {"image": image, "modality": "MR"}, {"image": image}):
        untyped = measure_labels(lab, aff, **kw)
        assert all(x["type"] is None and x["type_reason"] for x in untyped.lesions)


def test_bad_input_is_input_error():
    with pytest.raises(InputError):
        measure_labels(np.zeros((4, 4)), np.eye(4))
    with pytest.raises(InputError):
        measure_labels(np.full((8, 8, 8), 9, dtype=np.uint8), np.eye(4))
    with pytest.raises(InputError):
        measure_labels(np.zeros((8, 8, 8), dtype=np.uint8), np.eye(4))  # no canal
    with pytest.raises(InputError):
        measure_labels(np.zeros((8, 8, 8), dtype=np.uint8), np.zeros((4, 4)))


def test_config_validation():
    with pytest.raises(ValueError):
        MeasureConfig(step_mm=2.0)


@pytest.mark.parametrize("phase", [0.0, 1.0, 2.0, 3.0])
def test_strip_area_recovers_an_ellipse_cut_by_thick_slabs(phase):
    from spinedetect.measure.sections import strip_area

    a, b, w = 5.0, 8.0, 4.0
    x = np.arange(-12.0, 13.0, w) + phase
    chord = np.where(np.abs(x) < b, 2 * a * np.sqrt(np.clip(1 - (x / b) ** 2, 0, None)), 0.0)
    chord = chord[chord > 0]
    assert strip_area(chord * w, w) == pytest.approx(np.pi * a * b, rel=0.03)
    assert strip_area(np.array([30.0, 31.0]), w) == pytest.approx(61.0)  # two strips: plain sum


def _strip_area_one_row(strips: np.ndarray, width: float) -> float:
    """The end-strip model written out for one region, term by term (the reference for strip_areas)."""
    import math

    k = np.flatnonzero(strips > 0)
    if k.size == 0:
        return 0.0
    a = strips[k[0]:k[-1] + 1].astype(np.float64)
    if len(a) < 3 or np.any(a <= 0):
        return float(a.sum())
    c = a / width
    x = np.arange(len(a)) * width
    x0 = float((x * c).sum() / c.sum())
    q, y = (x - x0) ** 2, c * c
    n, sq, sqq, sy, sqy = len(q), q.sum(), (q * q).sum(), y.sum(), (q * y).sum()
    det = n * sqq - sq * sq
    alpha, beta = (sqq * sy - sq * sqy) / det, -(n * sqy - sq * sy) / det
    if not (alpha > 0 and beta > 0):
        return float(a.sum())
    edge = math.sqrt(alpha / beta)
    lo, hi = x[0] - x0, x[-1] - x0
    if not (-edge < lo and hi < edge):
        return float(a.sum())

    def integral(t0: float, t1: float) -> float:
        t0, t1 = min(max(t0, -edge), edge), min(max(t1, -edge), edge)
        prim = [0.5 * (t * math.sqrt(max(alpha - beta * t * t, 0.0))
                       + alpha / math.sqrt(beta) * math.asin(min(max(t * math.sqrt(beta / alpha), -1), 1)))
                for t in (t0, t1)]
        return prim[1] - prim[0]

    return float(a[1:-1].sum() + integral(-edge, lo + width / 2) + integral(hi - width / 2, edge))


def test_strip_areas_of_many_regions_equal_each_region_alone():
    from spinedetect.measure.sections import strip_areas

    rng = np.random.default_rng(3)
    rows, widths = [], []
    for r in range(60):
        a, b, w = rng.uniform(3, 8), rng.uniform(4, 10), rng.uniform(2, 6)
        x = np.arange(-12, 12) * w + rng.uniform(-w, w)
        rows.append(np.where(np.abs(x) < b, 2 * a * np.sqrt(np.clip(1 - (x / b) ** 2, 0, None)) * w, 0.0))
        widths.append(w)
    rows[1][:] = 0.0  # empty
    k = np.flatnonzero(rows[3])
    rows[3][k[len(k) // 2]] = 0.0  # a gap: two pieces, plain sum
    rows[4][:] = 0.0
    rows[4][5:7] = [30.0, 31.0]  # two strips: plain sum
    rows[5][:] = 0.0
    rows[5][8:13] = 10.0 + (np.arange(5) - 2.0) ** 2  # wider at the ends: not convex, the model does not fit
    areas = np.array(rows)
    got = strip_areas(areas, np.array(widths))
    want = [_strip_area_one_row(row, w) for row, w in zip(rows, widths)]
    np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-12)  # sums in another order
    assert got[1] == 0.0 and got[3] == pytest.approx(areas[3].sum()) and got[4] == pytest.approx(61.0)
    assert got[5] == pytest.approx(areas[5].sum())
    assert sum(g != pytest.approx(a.sum(), rel=1e-9) for g, a in zip(got, areas)) > 40  # the model applies


def test_worst_section_lies_in_a_named_level():
    # a narrowing below the sacrum's extent (where a thecal sac tapers to its end) is not the study's worst
    spine = SynthSpine(length_mm=200.0, narrow_s_mm=185.0, narrow_factor=0.6, n_vertebrae=4, sacrum_len_mm=40.0)
    rep = _measure(spine)[0]
    last_end = max(lv["s_range_mm"][1] for lv in rep.levels)
    assert rep.worst["level"] in {lv["name"] for lv in rep.levels}
    assert rep.worst["s_mm"] < last_end and abs(rep.worst["canal_compromise_pct"]) < 5
    assert rep.alert.level is AlertLevel.NONE


def test_anterior_reference_points_from_the_canal_to_the_bodies():
    from spinedetect.measure.report import _anterior_reference

    shape, aff = grid_for(NARROW)
    lab = voxelise(NARROW, shape, aff)
    canal = np.argwhere(np.isin(lab, [Label.CSF, Label.CORD])) @ aff[:3, :3].T + aff[:3, 3]
    bodies = np.argwhere(np.isin(lab, [Label.VERTEBRAL_BODY, Label.OSSEOUS_LESION])) @ aff[:3, :3].T + aff[:3, 3]
    want = bodies.mean(0) - canal.mean(0)
    np.testing.assert_allclose(_anterior_reference(lab, aff, canal), want / np.linalg.norm(want), atol=1e-12)
    assert _anterior_reference(np.where(lab == Label.VERTEBRAL_BODY, 0, lab).astype(np.uint8), aff, canal) is None


def test_bone_voxels_and_disc_pieces():
    """Every bone voxel is listed with its label; each disc is one 26-connected piece."""
    from spinedetect.measure.vertebrae import BONE_LABELS, bone_voxels

    shape, aff = grid_for(NARROW)
    lab = voxelise(NARROW, shape, aff)
    whole = bone_voxels(lab, aff)
    assert len(whole.ijk) == np.isin(lab, BONE_LABELS).sum()
    assert np.allclose(whole.xyz, whole.ijk @ aff[:3, :3].T + aff[:3, 3])
    assert np.array_equal(whole.label, lab[tuple(whole.ijk.T)])
    disc = whole.label == Label.DISC
    assert np.all(whole.disc_piece[disc] > 0) and np.all(whole.disc_piece[~disc] == 0)
    discs_in_map = len(np.unique(whole.disc_piece[disc]))
    assert discs_in_map >= NARROW.n_vertebrae - 1  # one piece per disc between the bodies
    empty = bone_voxels(np.zeros((4, 5, 6), dtype=np.uint8), aff)
    assert empty.ijk.shape == (0, 3) and empty.disc_piece.shape == (0,)
