"""Level naming on small synthetic spines whose levels are known by construction (n bodies above the
sacrum block are L(6-n)..L5), and on real vertebral bodies from the manual labels of real MRI."""

from __future__ import annotations

import numpy as np
import pytest

from spinedetect.errors import InputError
from spinedetect.labels import Label
from spinedetect.measure import measure_labels
from spinedetect.measure.levels import CONFIDENT, UNCERTAIN, base_level_name, parse_level_hint

from .synthetic import SynthSpine, grid_for, voxelise


def _measure(spine: SynthSpine, **kw):
    shape, aff = grid_for(spine, (1.2, 1.2, 1.2))
    return measure_labels(voxelise(spine, shape, aff), aff, **kw)


def _names(rep) -> list[str]:
    return [lv["name"] for lv in rep.levels]


def _one_kind_of_name(names: list[str]) -> bool:
    generic = [n.startswith("V") for n in names]
    return all(generic) or not any(generic)


LONG_SACRUM = SynthSpine(length_mm=190.0, n_vertebrae=4, sacrum_len_mm=45.0, curvature_radius_mm=250.0)
NO_SACRUM = SynthSpine(length_mm=190.0, n_vertebrae=5, sacrum_len_mm=0.0, curvature_radius_mm=200.0)


def test_long_sacrum_is_s1_for_sure():
    rep = _measure(LONG_SACRUM)
    assert _names(rep) == ["L2", "L3", "L4", "L5", "S1"]
    assert rep.naming["rule"] == "sacrum" and rep.naming["confidence"] >= CONFIDENT
    assert rep.levels[-1]["is_sacrum"] and not any(lv["is_sacrum"] for lv in rep.levels[:-1])


def test_full_disc_below_the_lowest_body_of_a_lordotic_column_is_l5():
    # the sacrum is not segmented: the lowest body, its disc below and the field of view beyond remain
    rep = _measure(NO_SACRUM)
    assert _names(rep) == ["L1", "L2", "L3", "L4", "L5"]
    assert rep.naming["rule"] == "sacrum" and "L5 above an unsegmented sacrum" in rep.naming["detail"]


@pytest.mark.parametrize("sacrum_mm", [0.0, 26.0])
def test_a_straight_column_is_not_named(sacrum_mm):
    # no lordosis: nothing says the column ends at the lumbosacral junction, whether its lowest body has a
    # disc below (any disc) or not (a short block may be any body whose disc was missed)
    rep = _measure(SynthSpine(length_mm=190.0, n_vertebrae=5, sacrum_len_mm=sacrum_mm))
    assert rep.naming["rule"] == "none" and _names(rep)[:5] == ["V1", "V2", "V3", "V4", "V5"]


def test_short_sacrum_gives_uncertain_names_one_per_body():
    # no disc below the lowest body and a lordotic turn into it (17 deg), but it is not longer than the
    # others: S1 or an L5 whose disc was missed, so every name carries the mark
    rep = _measure(SynthSpine(length_mm=160.0, n_vertebrae=4, sacrum_len_mm=26.0, curvature_radius_mm=100.0))
    names = _names(rep)
    assert rep.naming["confidence"] < CONFIDENT and all(n.endswith(UNCERTAIN) for n in names)
    assert [base_level_name(n) for n in names] == ["L2", "L3", "L4", "L5", "S1"]
    assert len(set(names)) == len(names) and _one_kind_of_name(names)


@pytest.mark.parametrize("hint,names,agrees", [
    ("lowest=S1", ["L2", "L3", "L4", "L5", "S1"], True),
    ("lowest=L5", ["L1", "L2", "L3", "L4", "L5"], False),
    ("highest=T12", ["T12", "L1", "L2", "L3", "L4"], False),
])
def test_hint_always_wins(hint, names, agrees):
    rep = _measure(LONG_SACRUM, level_hint=hint)
    assert _names(rep) == names and rep.naming["rule"] == "hint" and rep.naming["confidence"] == 1.0
    assert ("agrees" if agrees else "disagrees") in rep.naming["detail"] and "always wins" in rep.naming["detail"]
    assert rep.levels[-1]["is_sacrum"] == (names[-1] == "S1")


def test_names_counted_across_a_missing_body_are_marked():
    # the second body is lost (as a model may miss one): counting up from L5 puts the top body one level
    # too low, so it must carry the mark while the bodies below the gap stay sure
    shape, aff = grid_for(NO_SACRUM, (1.2, 1.2, 1.2))
    lab = voxelise(NO_SACRUM, shape, aff)
    ijk = np.indices(shape).reshape(3, -1).T.astype(float)
    s = (NO_SACRUM.length_mm / 2 + NO_SACRUM.curvature_radius_mm  # arc length of each voxel (see synthetic.py)
         * np.arctan2(-(ijk @ aff[:3, :3].T + aff[:3, 3])[:, 2],
                      (ijk @ aff[:3, :3].T + aff[:3, 3])[:, 1] + NO_SACRUM.curvature_radius_mm)).reshape(shape)
    second = (s >= 39.0) & (s <= 61.0) & (lab == Label.VERTEBRAL_BODY)  # body 2 spans s 39..61 mm
    lab[second] = 0
    rep = measure_labels(lab, aff)
    names = _names(rep)
    assert len(names) == 4 and names[0] == "L2" + UNCERTAIN  # truly L1
    assert names[1:] == ["L3", "L4", "L5"] and "missing" in rep.naming["detail"]


def test_level_hint_errors():
    assert parse_level_hint(" Lowest = l5 ") == ("lowest", "L5")
    for bad in ("L5", "lowest=L6", "lowest=X1", ""):
        with pytest.raises(InputError):
            parse_level_hint(bad)
    with pytest.raises(InputError):  # five bodies cannot end at C2
        _measure(LONG_SACRUM, level_hint="lowest=C2")


# ---- real vertebral bodies (manual labels), schema label maps built around them -------------------------

def _schema_from_bodies(vb: np.ndarray, order: list[int]) -> np.ndarray:
    """Schema label map from a real body label volume (axis0 superior->inferior, axis1 anterior->posterior,
    1 mm): the bodies; a disc filling the gap between neighbours (voxels within 6 mm of both) and one
    below the lowest body (where the next body would lie, one spacing further: the disc is kept, the
    sacrum left out, as in a label map that misses the sacrum); a canal tube behind the bodies."""
    from scipy import ndimage

    out = np.zeros(vb.shape, dtype=np.uint8)
    bodies = [vb == i for i in order]
    cent = [np.argwhere(b).mean(0) for b in bodies]
    shift = np.round(cent[-1] - cent[-2]).astype(int)
    virtual = np.roll(bodies[-1], tuple(shift), axis=(0, 1, 2))
    near = [ndimage.distance_transform_edt(~b) <= 6.0 for b in [*bodies, virtual]]
    body_any = np.any(bodies, axis=0)
    for k in range(len(near) - 1):
        out[near[k] & near[k + 1] & ~body_any & ~virtual] = Label.DISC
    out[body_any] = Label.VERTEBRAL_BODY
    # canal: 16 x 20 mm tube whose front lies 3 mm behind the bodies' posterior wall, along the column
    idx = np.indices(vb.shape[1:])
    post = [np.percentile(np.argwhere(b)[:, 1], 98) for b in bodies]
    ci, cj, ck = (np.interp(np.arange(vb.shape[0]), [c[0] for c in cent], v)
                  for v in ([c[0] for c in cent], post, [c[2] for c in cent]))
    for i in range(vb.shape[0]):
        tube = ((idx[0] - (cj[i] + 11.0)) / 8.0) ** 2 + ((idx[1] - ck[i]) / 10.0) ** 2 <= 1.0
        out[i][tube & (out[i] == 0)] = Label.CSF
    return out


REAL_CASES = {"VB3_01": "L1 L2 L3 L4 L5", "VB3_02": "L1 L2 L3 L4 L5", "VB2_07": "T11 T12 L1 L2 L3 L4 L5",
              "VB2_13": "T11 T12 L1 L2 L3 L4 L5"}


@pytest.mark.parametrize("case", sorted(REAL_CASES))
def test_real_bodies_named_as_documented(shared_data, case):
    import nibabel as nib

    img = nib.load(str(shared_data / "real-mri-vb" / f"{case}_vb.nii.gz"))
    vb = np.asarray(img.dataobj).astype(np.int32)
    ids = [int(i) for i in np.unique(vb) if i > 0]
    # VB3 ids 1..5 are L1..L5; VB2 ids are unordered: superior to inferior by centroid along axis0
    order = ids if case.startswith("VB3") else sorted(ids, key=lambda i: np.argwhere(vb == i)[:, 0].mean())
    rep = measure_labels(_schema_from_bodies(vb, order), img.affine)
    truth = dict(zip(order, REAL_CASES[case].split()))
    centre = {i: img.affine[:3, :3] @ np.argwhere(vb == i).mean(0) + img.affine[:3, 3] for i in order}
    got = {}
    for i in order:
        d = [np.linalg.norm(np.array(lv["body_center_mm"]) - centre[i]) for lv in rep.levels]
        got[i] = rep.levels[int(np.argmin(d))]["name"] if min(d) < 10.0 else None
    assert {i: base_level_name(n) if n else n for i, n in got.items()} == truth, rep.naming
    assert len(rep.levels) == len(order) and _one_kind_of_name(_names(rep))


def test_small_lordotic_column_is_not_taken_for_a_lumbar_one():
    # the same lordotic column ending in a disc at half the size: bodies 15 mm deep are cervical-sized
    # (a cervical column is lordotic too and may end at C7-T1), so no L5 is read from it
    shape, aff = grid_for(NO_SACRUM, (1.2, 1.2, 1.2))
    lab = voxelise(NO_SACRUM, shape, aff)
    small = aff.copy()
    small[:3, :] *= 0.5
    rep = measure_labels(lab, small)
    assert rep.naming["rule"] == "none" and _names(rep)[0] == "V1"
    hinted = measure_labels(lab, small, level_hint="lowest=C7")  # the hint names them, sizes agree
    assert _names(hinted) == ["C3", "C4", "C5", "C6", "C7"] and "contradict" not in hinted.naming["detail"]
    wrong = _measure(NO_SACRUM, level_hint="lowest=C7")  # 30 mm deep bodies named cervical: said so
    assert wrong.naming["rule"] == "hint" and "contradict" in wrong.naming["detail"]


def test_real_three_vertebra_crop_is_named_only_from_a_hint(shared_data):
    # TPTBox MRI crop, vert mask values 5..7 = C5..C7: three bodies and no junction in view give no anchor;
    # the hint names each body as its mask value says
    import nibabel as nib

    folder = shared_data / "real-tptbox"
    vert_img = nib.load(str(folder / "sub-mri_seg-vert_label-6_msk.nii.gz"))
    vert = np.asarray(vert_img.dataobj).astype(np.int32)
    sub = np.asarray(nib.load(str(folder / "sub-mri_seg-subreg_label-6_msk.nii.gz")).dataobj).astype(np.int32)
    lab = np.zeros(sub.shape, dtype=np.uint8)  # TPTBox subregions -> schema
    for values, label in (((49, 50, 62), Label.VERTEBRAL_BODY), (tuple(range(41, 49)), Label.POSTERIOR_ELEMENTS),
                          ((100,), Label.DISC), ((61,), Label.CSF), ((60,), Label.CORD)):
        lab[np.isin(sub, values)] = label
    aff = vert_img.affine
    rep = measure_labels(lab, aff)
    assert rep.naming["rule"] == "none" and _names(rep) == ["V1", "V2", "V3"]
    hinted = measure_labels(lab, aff, level_hint="lowest=C7")
    body = np.isin(sub, (49, 50))
    for value, name in ((5, "C5"), (6, "C6"), (7, "C7")):
        centre = aff[:3, :3] @ np.argwhere(body & (vert == value)).mean(0) + aff[:3, 3]
        nearest = min(hinted.levels, key=lambda lv: np.linalg.norm(np.array(lv["body_center_mm"]) - centre))
        assert nearest["name"] == name
