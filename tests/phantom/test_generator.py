import json

import numpy as np

from spinedetect.labels import Label
from spinedetect.phantom import LesionSpec, generate_phantom, write_phantom


def test_anatomy_labels_and_grid(make_config):
    ph = generate_phantom(make_config(), seed=3)
    assert ph.labels.array.dtype == np.uint8 and ph.image.array.dtype == np.float32
    assert ph.labels.shape == ph.image.shape
    assert np.allclose(ph.labels.affine, ph.image.affine)
    present = set(np.unique(ph.labels.array).tolist())
    for lab in (Label.VERTEBRAL_BODY, Label.POSTERIOR_ELEMENTS, Label.DISC, Label.CSF):
        assert int(lab) in present
    names = [lv.name for lv in ph.truth.levels]
    assert names == ["L3", "L4", "L5", "S1"]
    for lv in ph.truth.levels:
        assert 11.0 <= lv.canal_ap_mm <= 19.0          # canal AP in the realistic range
        assert lv.s_range_mm[0] < lv.s_range_mm[1]


def test_cord_ends_at_the_conus(make_config):
    ph = generate_phantom(make_config(first="T11", last="L3"), seed=1)
    t = ph.truth
    assert t.level("T11").cord_area_mm2 is not None
    assert t.level("L3").cord_area_mm2 is None
    assert 40.0 <= t.level("T11").cord_area_mm2 <= 100.0   # cord ~7-9 x 10-12 mm


def test_truth_json_schema(tmp_path, make_config):
    cfg = make_config(lesions=(LesionSpec(level="L4", site="body", type="lytic", bilsky="1b"),))
    ph = generate_phantom(cfg, seed=2)
    paths = write_phantom(ph, tmp_path)
    data = json.loads(paths["truth"].read_text())
    for key in ("seed", "modality", "contrast", "acquisition", "spacing_mm", "levels", "worst", "lesions", "alert",
                "centreline_mm", "centreline_s_mm"):
        assert key in data
    lv = data["levels"][0]
    for key in ("name", "body_center_mm", "canal_center_mm", "s_range_mm", "canal_area_mm2", "canal_ap_mm",
                "cord_area_mm2", "canal_compromise_pct", "canal_compromise_ap_pct", "cord_compression_pct", "bilsky",
                "genant", "height_loss_pct", "sins_location"):
        assert key in lv
    assert data["lesions"][0]["level"] == "L4" and data["lesions"][0]["epidural"] is True
    assert data["alert"]["level"] in ("watch", "urgent")
    steps = np.linalg.norm(np.diff(np.asarray(data["centreline_mm"]), axis=0), axis=1)
    assert steps.max() <= 1.0 + 1e-6
    assert np.all(np.diff(data["centreline_s_mm"]) > 0)
    assert (tmp_path / "image.nii.gz").is_file() and (tmp_path / "labels.nii.gz").is_file()


def test_randomised_acquisition_and_spacing(make_config):
    import dataclasses

    base = make_config(first="L4", last="S1", spacing=(2.0, 2.0, 4.0))
    cfg = dataclasses.replace(base, imaging=dataclasses.replace(base.imaging, acquisition="any",
                                                                  spacing_jitter_pct=20.0))
    seen = set()
    spacings = set()
    for seed in range(6):
        ph = generate_phantom(cfg, seed=seed)
        seen.add(ph.truth.acquisition)
        spacings.add(tuple(round(v, 3) for v in ph.image.spacing))
        assert all(1.6 - 1e-6 <= v <= 4.8 + 1e-6 for v in ph.image.spacing)
    assert seen == {"sagittal", "axial"}
    assert len(spacings) == 6


def test_levels_outside_a_cropped_field_of_view_are_flagged(make_config):
    import dataclasses

    base = make_config(first="T12", last="S1", spacing=(2.0, 2.0, 4.0), oblique=0.0)
    cfg = dataclasses.replace(base, imaging=dataclasses.replace(base.imaging, shape=(60, 40, 10)))
    ph = generate_phantom(cfg, seed=1)
    flags = [lv.in_fov for lv in ph.truth.levels]
    assert any(flags) and not all(flags)
    assert all(lv.in_fov for lv in generate_phantom(base, seed=1).truth.levels)
