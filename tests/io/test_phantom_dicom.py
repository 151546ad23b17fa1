"""Phantom DICOM series (spinedetect.io.dicom_writer via write_phantom) load back onto the generator's grid."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from spinedetect.io import load_volume, reorient_onto
from spinedetect.phantom import AnatomyConfig, ImagingConfig, PhantomConfig, generate_phantom, write_phantom


@pytest.mark.parametrize("modality, seed", [("MR", 4), ("CT", 7)])
def test_phantom_dicom_loads_onto_nifti_grid(tmp_path, modality, seed):
    imaging = ImagingConfig(modality=modality, sagittal_spacing_mm=(2.0, 2.0, 5.0), axial_spacing_mm=(2.0, 2.0, 5.0),
                            max_oblique_deg=10.0)
    anatomy = AnatomyConfig(first_level="L4", last_level="S1")
    ph = generate_phantom(PhantomConfig(anatomy=anatomy, imaging=imaging), seed=seed)
    paths = write_phantom(ph, tmp_path, formats=("nifti", "dicom"))
    nifti = nib.load(paths["image"])
    vol = load_volume(paths["dicom"])
    assert vol.notes == [] and vol.modality == modality
    # same voxel centres (the writer rounds positions to 1e-6 mm), then values within the DICOM quantisation
    on_grid = reorient_onto(vol, nifti.affine, nifti.shape, tol_mm=1e-3)
    assert np.allclose(on_grid.affine, ph.image.affine, atol=1e-3)
    truth = np.asanyarray(nifti.dataobj)
    step = float(vol.meta["rescale_applied"].split("slope ")[1].split(",")[0]) if modality == "MR" else 1.0
    assert np.abs(on_grid.array.astype(np.float64) - truth).max() <= step / 2 + 1e-3
    assert vol.meta["series_description"] == ph.image.meta["series_description"]
    assert vol.meta["contrast"] == (ph.truth.contrast if modality == "MR" else None)
