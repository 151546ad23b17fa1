"""Accuracy against the phantom's analytic truth (the truth label maps, so this checks the measurement).

The fast test runs a handful of small phantoms; the slow sweep (>= 100 phantoms: random curvature,
oblique grids, anisotropic voxels; MR sagittal and CT axial) checks the issue's acceptance figures.
"""

from __future__ import annotations

import json

import pytest

from spinedetect.phantom import AnatomyConfig, ImagingConfig, PhantomConfig

from .phantom_eval import evaluate

SMALL = PhantomConfig(anatomy=AnatomyConfig(first_level="T12", last_level="S1"))


def test_phantoms_fast():
    agg = evaluate(range(1000, 1005), SMALL)
    f = agg.figures()
    print(json.dumps(f))
    assert f["naming_exact"] == 1.0, agg.failures
    assert f["compromise_mae_pp"] <= 3.5, agg.failures
    assert f["alert_exact"] >= 0.85 and f["urgent_called_none"] == 0, agg.failures
    assert f["genant_exact"] >= 0.8, agg.failures
    if f["worst_within_one_level"] is not None:
        assert f["worst_within_one_level"] >= 0.85, agg.failures


@pytest.mark.slow
def test_phantom_sweep_acceptance():
    mr = evaluate(range(0, 60), PhantomConfig())
    ct = evaluate(range(500, 540), PhantomConfig(imaging=ImagingConfig(modality="CT")))
    for name in ("compromise", "bilsky", "genant", "alert", "worst_level_ok", "worst_pos_mm", "worst_plateau_mm",
                 "naming_ok", "failures"):
        getattr(mr, name).extend(getattr(ct, name))
    f = mr.figures()
    print(json.dumps(f))
    print("\n".join(mr.failures))
    assert f["compromise_mae_pp"] <= 3.0
    assert f["worst_within_one_level"] >= 0.95
    assert f["worst_plateau_within_5mm"] >= 0.9
    assert f["bilsky_exact"] >= 0.9 and f["bilsky_kappa_linear"] >= 0.9
    assert f["genant_exact"] >= 0.85
    assert f["alert_exact"] >= 0.95 and f["urgent_called_none"] == 0
