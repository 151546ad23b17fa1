"""Small phantom configurations shared by the phantom tests (coarse grids keep them fast)."""

from __future__ import annotations

import pytest

from spinedetect.phantom import AnatomyConfig, ImagingConfig, LesionSpec, PathologyConfig, PhantomConfig


def small_config(*, first: str = "L3", last: str = "S1", modality: str = "MR", acquisition: str = "auto",
                 spacing: tuple[float, float, float] = (1.5, 1.5, 4.0), oblique: float = 10.0,
                 lesions: tuple[LesionSpec, ...] = (), straight: bool = False, **pathology) -> PhantomConfig:
    anatomy = AnatomyConfig(first_level=first, last_level=last,
                            **({"curvature_scale": (0.0, 0.0), "scoliosis_max_deg": 0.0,
                                "lumbosacral_angle_deg": (0.0, 0.0)} if straight else {}))
    imaging = ImagingConfig(modality=modality, acquisition=acquisition, sagittal_spacing_mm=spacing,
                            axial_spacing_mm=spacing, max_oblique_deg=oblique)
    return PhantomConfig(anatomy=anatomy, pathology=PathologyConfig(lesions=lesions, **pathology), imaging=imaging)


@pytest.fixture
def make_config():
    return small_config
