"""Phantom generator settings (configs/phantom.yaml): anatomy, pathology and imaging, all in mm / % / degrees."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from spinedetect.grading import BilskyGrade

__all__ = ["LEVEL_NAMES", "LesionSpec", "AnatomyConfig", "PathologyConfig", "ImagingConfig", "PhantomConfig"]

#: Vertebral levels the generator can build, superior to inferior (S1 is the top of a fused sacrum block).
LEVEL_NAMES: tuple[str, ...] = (
    *(f"C{i}" for i in range(3, 8)), *(f"T{i}" for i in range(1, 13)), *(f"L{i}" for i in range(1, 6)), "S1",
)

LesionSite = Literal["body", "left_posterior", "right_posterior"]
LesionType = Literal["lytic", "blastic", "mixed"]


def _check_range(name: str, lo: float, hi: float, value: float) -> None:
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be within [{lo}, {hi}], got {value}")


def _check_pair(name: str, pair: tuple[float, float], lo: float, hi: float) -> None:
    if not lo <= pair[0] <= pair[1] <= hi:
        raise ValueError(f"{name} must be [min, max] with {lo} <= min <= max <= {hi}, got {list(pair)}")


@dataclass(frozen=True)
class LesionSpec:
    """One explicitly requested metastasis (replaces the random draw when any are given).

    ``bilsky`` None means no epidural extension; ``genant`` > 0 collapses the body (body lesions only).
    """

    level: str
    site: LesionSite = "body"
    type: LesionType = "lytic"
    bilsky: BilskyGrade | None = None
    genant: int = 0
    radius_mm: float = 8.0

    def __post_init__(self) -> None:
        if self.bilsky is not None and not isinstance(self.bilsky, BilskyGrade):
            object.__setattr__(self, "bilsky", BilskyGrade(str(self.bilsky)))  # accept "1b" from Python callers
        if self.level not in LEVEL_NAMES:
            raise ValueError(f"lesion level must be one of {LEVEL_NAMES[0]}..{LEVEL_NAMES[-1]}, got {self.level!r}")
        _check_range("genant", 0, 3, self.genant)
        if self.genant and self.site != "body":
            raise ValueError("collapse (genant > 0) needs a lesion in the body")
        if self.genant and self.level == "S1":
            raise ValueError("the sacrum (S1) is not collapsed by the generator")
        _check_range("radius_mm", 2.0, 20.0, self.radius_mm)


@dataclass(frozen=True)
class AnatomyConfig:
    """The normal spine: level range, sizes and curvature."""

    first_level: str = "T10"
    last_level: str = "S1"
    size_jitter_pct: float = 8.0           # per-seed scale of all sizes, +- percent
    curvature_scale: tuple[float, float] = (0.6, 1.4)   # x normal lordosis/kyphosis; (0, 0) = straight
    scoliosis_max_deg: float = 4.0         # coronal tangent angle amplitude
    lumbosacral_angle_deg: tuple[float, float] = (8.0, 18.0)
    conus_offset_mm: tuple[float, float] = (-12.0, 12.0)   # conus tip around the L1-L2 disc

    def __post_init__(self) -> None:
        for key in ("first_level", "last_level"):
            if getattr(self, key) not in LEVEL_NAMES:
                raise ValueError(f"{key} must be one of {LEVEL_NAMES[0]}..{LEVEL_NAMES[-1]}, got {getattr(self, key)!r}")
        if LEVEL_NAMES.index(self.first_level) > LEVEL_NAMES.index(self.last_level):
            raise ValueError(f"first_level {self.first_level} is below last_level {self.last_level}")
        _check_range("size_jitter_pct", 0, 25, self.size_jitter_pct)
        _check_pair("curvature_scale", self.curvature_scale, 0.0, 3.0)
        _check_range("scoliosis_max_deg", 0, 15, self.scoliosis_max_deg)
        _check_pair("lumbosacral_angle_deg", self.lumbosacral_angle_deg, 0.0, 30.0)
        _check_pair("conus_offset_mm", self.conus_offset_mm, -40.0, 40.0)


@dataclass(frozen=True)
class PathologyConfig:
    """Metastases, epidural tumour and collapse: probabilities of the random draw, or explicit lesions."""

    p_clean: float = 0.25                  # probability of a spine with no lesion at all
    max_lesions: int = 3                   # a diseased spine gets 1..max_lesions lesions
    lesion_types: tuple[LesionType, ...] = ("lytic", "blastic", "mixed")
    p_posterior: float = 0.3               # probability a lesion sits in the left/right posterior elements
    p_epidural: float = 0.5                # probability a lesion grows into the canal
    bilsky_grades: tuple[BilskyGrade, ...] = (BilskyGrade.G1A, BilskyGrade.G1B, BilskyGrade.G1C,
                                              BilskyGrade.G2, BilskyGrade.G3)
    p_collapse: float = 0.3                # probability a body lesion collapses its vertebra
    genant_grades: tuple[int, ...] = (1, 2, 3)
    lesion_radius_mm: tuple[float, float] = (5.0, 11.0)
    lesions: tuple[LesionSpec, ...] = ()   # explicit lesions; when given, no random draw

    def __post_init__(self) -> None:
        object.__setattr__(self, "bilsky_grades", tuple(BilskyGrade(str(getattr(g, "value", g)))
                                                        for g in self.bilsky_grades))
        for key in ("p_clean", "p_posterior", "p_epidural", "p_collapse"):
            _check_range(key, 0.0, 1.0, getattr(self, key))
        _check_range("max_lesions", 1, 8, self.max_lesions)
        if not self.lesion_types:
            raise ValueError("lesion_types must not be empty")
        if not self.bilsky_grades or BilskyGrade.G0 in self.bilsky_grades:
            raise ValueError("bilsky_grades must list epidural grades (1a, 1b, 1c, 2, 3); grade 0 is a lesion "
                             "without epidural extension (p_epidural)")
        if not self.genant_grades or any(g not in (1, 2, 3) for g in self.genant_grades):
            raise ValueError(f"genant_grades must be a non-empty list of 1, 2, 3, got {list(self.genant_grades)}")
        _check_pair("lesion_radius_mm", self.lesion_radius_mm, 2.0, 20.0)


@dataclass(frozen=True)
class ImagingConfig:
    """How the label map becomes an image: modality, contrast, grid, orientation and artefacts."""

    modality: Literal["MR", "CT"] = "MR"
    contrast: Literal["any", "T1", "T2", "STIR", "random"] = "any"   # MR only; "any" draws one per seed
    acquisition: Literal["auto", "sagittal", "axial", "any"] = "auto"  # auto: MR sagittal, CT axial; any: per seed
    sagittal_spacing_mm: tuple[float, float, float] = (0.8, 0.8, 4.0)   # in-plane AP, in-plane SI, slice LR
    axial_spacing_mm: tuple[float, float, float] = (0.8, 0.8, 3.0)      # in-plane LR, in-plane AP, slice SI
    spacing_jitter_pct: float = 0.0        # per-seed, per-axis random scale of the spacing, +- percent
    shape: tuple[int, int, int] | None = None    # voxels (i, j, k); None fits the field of view to the spine
    sagittal_lr_coverage_mm: float = 80.0
    axial_fov_mm: float = 180.0
    max_oblique_deg: float = 10.0          # random rotation of the grid in the scanner, up to this angle
    noise_pct: float = 2.5                 # MR: noise sigma as % of the brightest tissue
    ct_noise_hu: float = 12.0
    bias_field_pct: float = 20.0           # MR: peak-to-peak multiplicative bias
    texture_pct: float = 6.0               # within-tissue intensity variation
    blur_voxels: float = 0.5               # partial-volume blur sigma in voxels (image only, never labels)

    def __post_init__(self) -> None:
        for key in ("sagittal_spacing_mm", "axial_spacing_mm"):
            if any(not 0.2 <= v <= 10.0 for v in getattr(self, key)):
                raise ValueError(f"{key} values must be within [0.2, 10] mm, got {list(getattr(self, key))}")
        if self.shape is not None and any(not 4 <= v <= 2048 for v in self.shape):
            raise ValueError(f"shape values must be within [4, 2048] voxels, got {list(self.shape)}")
        _check_range("sagittal_lr_coverage_mm", 10, 400, self.sagittal_lr_coverage_mm)
        _check_range("axial_fov_mm", 40, 600, self.axial_fov_mm)
        _check_range("max_oblique_deg", 0, 45, self.max_oblique_deg)
        _check_range("noise_pct", 0, 50, self.noise_pct)
        _check_range("ct_noise_hu", 0, 200, self.ct_noise_hu)
        _check_range("bias_field_pct", 0, 80, self.bias_field_pct)
        _check_range("texture_pct", 0, 50, self.texture_pct)
        _check_range("blur_voxels", 0, 3, self.blur_voxels)
        _check_range("spacing_jitter_pct", 0, 50, self.spacing_jitter_pct)

    def resolved_acquisition(self, draw: float = 0.0) -> str:
        """``sagittal`` or ``axial`` (``auto``: sagittal for MR, axial for CT; ``any``: axial if draw < 0.5)."""
        if self.acquisition == "any":
            return "axial" if draw < 0.5 else "sagittal"
        if self.acquisition != "auto":
            return self.acquisition
        return "sagittal" if self.modality == "MR" else "axial"


@dataclass(frozen=True)
class PhantomConfig:
    """Everything that decides a phantom besides its seed."""

    anatomy: AnatomyConfig = field(default_factory=AnatomyConfig)
    pathology: PathologyConfig = field(default_factory=PathologyConfig)
    imaging: ImagingConfig = field(default_factory=ImagingConfig)

    def __post_init__(self) -> None:
        first = LEVEL_NAMES.index(self.anatomy.first_level)
        last = LEVEL_NAMES.index(self.anatomy.last_level)
        for spec in self.pathology.lesions:
            if not first <= LEVEL_NAMES.index(spec.level) <= last:
                raise ValueError(f"lesion level {spec.level} is outside the levels "
                                 f"{self.anatomy.first_level}..{self.anatomy.last_level}")
