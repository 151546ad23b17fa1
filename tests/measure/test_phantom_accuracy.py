"""Accuracy against the phantom's analytic truth (the truth label maps, so this checks the measurement).

The fast test runs a handful of small phantoms; the slow sweep (>= 100 phantoms: random curvature,
oblique grids, anisotropic voxels; MR sagittal and CT axial) checks the issue's acceptance figures.
"""

from __future__ import annotations

import json

import pytest

from spinedetect.grading import BilskyGrade
from spinedetect.measure import measure_labels
from spinedetect.phantom import AnatomyConfig, ImagingConfig, LesionSpec, PathologyConfig, PhantomConfig

from .phantom_eval import Agreement, evaluate

def _case(level: str, modality: str, *lesions: LesionSpec, first: str = "T11") -> PhantomConfig:
    return PhantomConfig(anatomy=AnatomyConfig(first_level=first, last_level="S1"),
                         pathology=PathologyConfig(lesions=tuple(lesions), p_clean=1.0 if not lesions else 0.25),
                         imaging=ImagingConfig(modality=modality))


#: Small phantoms (T11-S1) covering every epidural grade, collapse, posterior sites, MR and CT.
CASES = [
    _case("T12", "MR", LesionSpec("T12", "body", "lytic", BilskyGrade.G1B, genant=2)),
    _case("L1", "CT", LesionSpec("L1", "left_posterior", "blastic", BilskyGrade.G2)),
    _case("T12", "MR", LesionSpec("T12", "body", "mixed", BilskyGrade.G3)),
    _case("L2", "CT", LesionSpec("L2", "body", "lytic", BilskyGrade.G1A),
          LesionSpec("L4", "body", "mixed", BilskyGrade.G1C, genant=3)),
    _case("none", "MR"),
]


def test_phantoms_fast():
    from spinedetect.phantom import generate_phantom

    agg = Agreement()
    typed = []
    graded = []
    for seed, cfg in enumerate(CASES):
        ph = generate_phantom(cfg, 2000 + seed)
        truth = ph.truth.to_dict()
        rep = measure_labels(ph.labels.array, ph.labels.affine, image=ph.image.array,
                             modality=cfg.imaging.modality)
        agg.add(2000 + seed, truth, rep.to_dict())
        for spec in cfg.pathology.lesions:  # the grade at the lesion's own level (not a taper's spill)
            graded.append((spec.level, ph.truth.level(spec.level).bilsky.value, rep.level(spec.level)["bilsky"]))
        if cfg.imaging.modality == "CT":
            meas = {(x["level"], x["site"]): x["type"] for x in rep.lesions}
            typed += [(t["type"], meas.get((t["level"], t["site"]))) for t in truth["lesions"]]
    f = agg.figures()
    print(json.dumps(f))
    assert f["naming_exact"] == 1.0, agg.failures
    assert f["compromise_mae_pp"] <= 3.0, agg.failures
    assert all(t == m for _, t, m in graded), graded
    assert f["alert_exact"] == 1.0 and f["urgent_called_none"] == 0, agg.failures
    assert f["genant_exact"] >= 0.9, agg.failures
    assert f["worst_within_one_level"] == 1.0 and f["worst_plateau_within_5mm"] >= 0.75, agg.failures
    assert typed and all(t == m for t, m in typed), typed


@pytest.mark.slow
def test_phantom_sweep_acceptance():
    mr = evaluate(range(0, 60), PhantomConfig())
    ct = evaluate(range(500, 540), PhantomConfig(imaging=ImagingConfig(modality="CT")))
    for name in ("compromise", "bilsky", "bilsky_subvoxel", "genant", "alert", "worst_level_ok", "worst_pos_mm",
                 "worst_plateau_mm", "naming_ok", "failures", "worst_not_measurable"):
        getattr(mr, name).extend(getattr(ct, name))
    # The truth no longer grades sub-1 mm² tumour tails, so every Bilsky pair counts (the sub-voxel pairs
    # are still printed apart for the record, then scored with the rest).
    split = mr.figures()
    mr.bilsky.extend(mr.bilsky_subvoxel)
    f = mr.figures()
    f["bilsky_exact_without_subvoxel"] = split["bilsky_exact"]
    print(json.dumps(f))
    print("\n".join(mr.failures))
    assert f["compromise_mae_pp"] <= 3.0
    # the truth's worst without a measured figure: only where the truth had one side (a lesion at the first
    # or last levels in view: T10-T11 under the top of the field of view, S1 at the sac's end; see
    # phantom_eval), never for want of both references
    assert f["worst_not_measurable_n"] <= 0.5 * (f["worst_position_n"] + f["worst_not_measurable_n"])
    assert all("only the reference" in why for _, why in mr.worst_not_measurable), mr.worst_not_measurable
    assert f["worst_within_one_level"] >= 0.95
    assert f["worst_within_5mm"] >= 0.9 and f["worst_plateau_within_5mm"] >= 0.9
    assert f["bilsky_exact"] >= 0.9 and f["bilsky_kappa_linear"] >= 0.9
    assert f["genant_exact"] >= 0.85
    assert f["alert_exact"] >= 0.95 and f["urgent_called_none"] == 0
