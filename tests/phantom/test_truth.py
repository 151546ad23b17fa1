"""The truth agrees with the generated masks: compromise measured on the mask, Bilsky rules per grade."""

import numpy as np
import pytest
from scipy import ndimage

from spinedetect.labels import Label, canal_mask
from spinedetect.measure.compromise import compromise_at
from spinedetect.phantom import AnatomyConfig, ImagingConfig, LesionSpec, PathologyConfig, PhantomConfig, generate_phantom


def _straight_axial(first: str, last: str, lesions, shape, spacing=(0.5, 0.5, 1.0)) -> PhantomConfig:
    return PhantomConfig(
        anatomy=AnatomyConfig(first_level=first, last_level=last, curvature_scale=(0.0, 0.0), scoliosis_max_deg=0.0,
                              lumbosacral_angle_deg=(0.0, 0.0)),
        pathology=PathologyConfig(lesions=tuple(lesions)),
        imaging=ImagingConfig(modality="MR", contrast="T2", acquisition="axial", axial_spacing_mm=spacing,
                              axial_fov_mm=60.0, shape=shape, max_oblique_deg=0.0))


def _slice_profile(ph, label_set):
    """Per axial slice: count of voxels in label_set x pixel area (mm²), and slice arc length s (mm)."""
    lab = ph.labels.array
    aff = ph.labels.affine
    assert np.allclose(np.abs(aff[:3, 2] / np.linalg.norm(aff[:3, 2])), [0, 0, 1], atol=1e-9)
    px = float(np.linalg.norm(aff[:3, 0]) * np.linalg.norm(aff[:3, 1]))
    area = np.isin(lab, label_set).sum(axis=(0, 1)) * px
    z = aff[2, 3] + np.arange(lab.shape[2]) * aff[2, 2]
    return area, z


def test_compromise_on_mask_matches_truth_within_one_point():
    ph = generate_phantom(_straight_axial("L3", "L5", [LesionSpec(level="L4", site="body", type="lytic", bilsky="1b",
                                                                   radius_mm=8.0)], (120, 120, 110)), seed=4)
    truth = ph.truth.level("L4")
    assert truth.bilsky.value == "1b" and truth.canal_compromise_pct > 10.0
    area, z = _slice_profile(ph, [int(Label.CSF), int(Label.CORD)])
    # straight canal along -z: arc length s = z_top - z; order slices superior -> inferior
    order = np.argsort(-z)
    area, z = area[order], z[order]
    line = np.asarray(ph.truth.centreline_mm)
    s_line = np.asarray(ph.truth.centreline_s_mm)
    s = s_line[0] + (line[0, 2] - z)
    tumour = (ph.labels.array == Label.EPIDURAL_TUMOUR).any(axis=(0, 1))[order]
    inside = (s >= truth.s_range_mm[0]) & (s <= truth.s_range_mm[1])
    i = int(np.flatnonzero(inside)[np.argmin(area[inside])])
    measured = compromise_at(area, s, i, tumour).pct
    assert measured is not None
    assert abs(measured - truth.canal_compromise_pct) <= 1.0, (measured, truth.canal_compromise_pct)
    assert abs(area[i] - truth.canal_area_mm2) / truth.canal_area_mm2 < 0.02


def _bilsky_phantom(grade):
    lesion = LesionSpec(level="T12", site="body", type="mixed", bilsky=grade, radius_mm=8.0)
    return generate_phantom(_straight_axial("T11", "L1", [lesion], (90, 90, 70), spacing=(0.4, 0.4, 1.0)), seed=7)


def _worst_slice(ph) -> int:
    """The worst axial level for Bilsky: the slice with the most epidural tumour (else the worst canal)."""
    counts = (ph.labels.array == Label.EPIDURAL_TUMOUR).sum(axis=(0, 1))
    if counts.any():
        return int(np.argmax(counts))
    z = ph.truth.worst["position_mm"][2]
    aff = ph.labels.affine
    return int(round((z - aff[2, 3]) / aff[2, 2]))


def _touching(lab, a, b) -> bool:
    return bool((ndimage.binary_dilation(lab == a) & (lab == b)).any())


@pytest.mark.parametrize("grade", [None, "1a", "1b", "1c", "2", "3"])
def test_bilsky_rules_hold_on_the_masks(grade):
    ph = _bilsky_phantom(grade)
    lab = ph.labels.array
    lv = ph.truth.level("T12")
    expected = "0" if grade is None else grade
    assert lv.bilsky is not None and lv.bilsky.value == expected
    k = _worst_slice(ph)
    sl = lab[:, :, k]
    tumour_any = (lab == Label.EPIDURAL_TUMOUR).any()
    if grade is None:
        assert not tumour_any
        return
    assert tumour_any and (sl == Label.EPIDURAL_TUMOUR).any()
    if grade == "1a":
        assert not _touching(lab, Label.EPIDURAL_TUMOUR, Label.CSF) and not _touching(lab, Label.EPIDURAL_TUMOUR, Label.CORD)
    if grade == "1b":
        assert _touching(lab, Label.EPIDURAL_TUMOUR, Label.CSF)
        assert not _touching(lab, Label.EPIDURAL_TUMOUR, Label.CORD)
    if grade == "1c":
        assert _touching(sl, Label.EPIDURAL_TUMOUR, Label.CORD)
        assert lv.cord_compression_pct is not None and abs(lv.cord_compression_pct) < 5.0
    if grade == "2":
        assert (sl == Label.CSF).any() and (sl == Label.CORD).any()
        assert lv.cord_compression_pct > 5.0
    if grade == "3":
        assert (sl == Label.CORD).any()
        assert not (sl == Label.CSF).any()
    assert canal_mask(sl).any()


def _column_heights(lab, aff, z_lo, z_hi, x_col):
    """Body(+lesion) height (mm) per y column on the x = x_col line within z in [z_lo, z_hi]."""
    z = aff[2, 3] + np.arange(lab.shape[2]) * aff[2, 2]
    ks = np.flatnonzero((z >= z_lo) & (z <= z_hi))
    bone = np.isin(lab[x_col][:, ks], [int(Label.VERTEBRAL_BODY), int(Label.OSSEOUS_LESION)])
    return bone.sum(axis=1) * abs(aff[2, 2])


@pytest.mark.parametrize("genant", [1, 3])
def test_collapse_height_loss_on_the_mask(genant):
    cfg = _straight_axial("L3", "L5", [LesionSpec(level="L4", site="body", type="lytic", genant=genant,
                                                   radius_mm=6.0)], (90, 140, 250), spacing=(0.8, 0.8, 0.5))
    ph = generate_phantom(cfg, seed=3)
    lab, aff = ph.labels.array, ph.labels.affine
    truth = ph.truth
    assert truth.level("L4").genant == genant
    line = np.asarray(truth.centreline_mm)
    s_line = np.asarray(truth.centreline_s_mm)
    x_col = int(round((line[0, 0] - aff[0, 3]) / aff[0, 0]))

    def heights(name):
        s0, s1 = truth.level(name).s_range_mm
        z_hi, z_lo = line[0, 2] - (s0 - s_line[0]), line[0, 2] - (s1 - s_line[0])
        h = _column_heights(lab, aff, z_lo, z_hi, x_col)
        cols = np.flatnonzero(h > 0)
        # anterior, middle and posterior thirds' mean heights (y decreases posteriorly along -j)
        thirds = np.array_split(cols, 3)
        return np.array([h[t].mean() for t in thirds])

    expected = 0.5 * (heights("L3") + heights("L5"))
    loss = 100.0 * (1.0 - heights("L4") / expected)
    assert abs(loss.max() - truth.level("L4").height_loss_pct) < 8.0, (loss, truth.level("L4").height_loss_pct)


def test_canal_is_one_tube_and_never_bone():
    ph = _bilsky_phantom("2")
    lab = ph.labels.array
    canal = canal_mask(lab)
    _, n = ndimage.label(canal)
    assert n == 1
    per_slice = canal.any(axis=(0, 1))
    assert per_slice[1:-1].all()
