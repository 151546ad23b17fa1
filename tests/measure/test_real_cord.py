"""Real anatomy: manual cervical cord masks (Spinal Cord Toolbox test data) measured as cord alone."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from spinedetect.labels import Label
from spinedetect.measure import measure_labels


def _cord_labels(path) -> tuple[np.ndarray, np.ndarray]:
    img = nib.load(str(path))
    mask = np.asanyarray(img.dataobj) > 0
    return np.where(mask, Label.CORD, Label.BACKGROUND).astype(np.uint8), img.affine


@pytest.mark.parametrize("name", ["sct_t2", "sct_t1w"])
def test_cord_area_in_healthy_range(shared_data, name):
    labels, affine = _cord_labels(shared_data / "real-cord" / f"{name}_seg-manual.nii.gz")
    rep = measure_labels(labels, affine)
    sec = rep.sections
    area = sec.cord_area_mm2[sec.valid]
    assert len(area) >= 25  # at least 25 mm of cord measured
    # healthy cervical cord: roughly 60-90 mm² (README of the data); every measured section inside
    assert area.min() >= 55.0 and area.max() <= 92.0
    assert 60.0 <= float(np.median(area)) <= 90.0
    assert rep.naming["rule"] == "none" and rep.levels == []
    assert rep.alert.level.value == "none"


def test_centreline_matches_manual_centreline(shared_data):
    labels, affine = _cord_labels(shared_data / "real-cord" / "sct_t2_seg-manual.nii.gz")
    manual = nib.load(str(shared_data / "real-cord" / "sct_t2_centerline-manual.nii.gz"))
    pts = np.argwhere(np.asanyarray(manual.dataobj) > 0).astype(np.float64)
    world = pts @ manual.affine[:3, :3].T + manual.affine[:3, 3]
    rep = measure_labels(labels, affine)
    cl = np.asarray(rep.centreline_mm)
    dense = np.concatenate([np.linspace(cl[k], cl[k + 1], 10, endpoint=False) for k in range(len(cl) - 1)])
    d = np.linalg.norm(world[:, None, :] - dense[None, :, :], axis=2)
    nearest = d.argmin(1)
    inner = (nearest > 5) & (nearest < len(dense) - 5)  # manual points beyond the ends of the mask are not compared
    dist = d.min(1)[inner]
    assert inner.sum() >= 40
    # the manual centreline is one voxel (1 mm) per slice, so it carries +-0.5 mm of quantisation
    assert np.median(dist) <= 0.5 and np.percentile(dist, 90) <= 1.0 and dist.max() <= 1.5
