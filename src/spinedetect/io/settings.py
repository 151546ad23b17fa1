"""Settings of the io step: limits against hostile input and the series-selection rule (configs/io.yaml)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

__all__ = ["Orientation", "InputLimits", "AssemblyRules", "SeriesRule", "IOConfig", "MAX_WORLD_MM",
           "MIN_SPACING_MM"]

#: largest |coordinate| or distance (mm) a header may give (1 km): beyond it geometry is not a body, and
#: arithmetic on it (projections, products) can overflow to inf
MAX_WORLD_MM = 1e6
#: smallest pixel or slice spacing (mm) a header may give: below it the voxel volume underflows to 0
MIN_SPACING_MM = 1e-4


class Orientation(str, enum.Enum):
    """Slice plane of a series, from the slice normal's largest component in patient space."""

    SAGITTAL = "sagittal"
    AXIAL = "axial"
    CORONAL = "coronal"
    OBLIQUE = "oblique"


@dataclass(frozen=True)
class InputLimits:
    """Refuse input that would exhaust memory or time, before allocating anything.

    ``max_voxels`` bounds one volume (and one file's claimed pixel count); ``max_files`` and
    ``max_depth`` bound a discovery walk (folders below ``max_depth`` levels are not entered and
    are reported as skipped); ``max_file_bytes`` bounds the size of any single file read;
    ``max_decompressed_bytes`` bounds what compressed input may expand to (a deflated DICOM body, the
    voxel bytes a NIfTI header claims): 2 GiB = ``max_voxels`` voxels of 8 bytes, the widest voxel type.
    """

    max_voxels: int = 2**28
    max_files: int = 200_000
    max_depth: int = 16
    max_file_bytes: int = 4 * 2**30
    max_decompressed_bytes: int = 2 * 2**30

    def __post_init__(self) -> None:
        for name in ("max_voxels", "max_files", "max_file_bytes", "max_decompressed_bytes"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0")
        if self.max_depth < 0:
            raise ValueError("max_depth must be >= 0")


@dataclass(frozen=True)
class AssemblyRules:
    """How slices are stacked into a volume (all distances in mm along the slice normal).

    ``position_tolerance_mm``: two slices closer than this are the same position (duplicates).
    ``spacing_tolerance``: steps between neighbouring slices may differ from the median step by this
    fraction of it; above that the series is refused as unequally spaced. A step of at least
    ``gap_factor`` x the median step is a missing slice and is refused.
    ``orientation_min_component``: a slice normal whose largest |component| is below this is oblique.
    """

    position_tolerance_mm: float = 0.01
    spacing_tolerance: float = 0.05
    gap_factor: float = 1.5
    orientation_min_component: float = 0.9

    def __post_init__(self) -> None:
        if self.position_tolerance_mm <= 0 or self.spacing_tolerance <= 0:
            raise ValueError("tolerances must be > 0")
        if self.gap_factor <= 1.0 + self.spacing_tolerance:
            raise ValueError("gap_factor must exceed 1 + spacing_tolerance")
        if not 0.0 < self.orientation_min_component <= 1.0:
            raise ValueError("orientation_min_component must be in (0, 1]")


@dataclass(frozen=True)
class SeriesRule:
    """Which image series of a study inference reads.

    MR: prefer ``mr_orientation``, then the first contrast of ``mr_contrasts`` that is present, then the
    most slices. CT: prefer ``ct_orientation``, then the thinnest slice spacing, then the most slices.
    With ``require_orientation`` a study without the preferred orientation is refused instead of
    falling back to another one. Series with fewer than ``min_slices`` slices are never chosen.
    """

    mr_orientation: Orientation = Orientation.SAGITTAL
    mr_contrasts: tuple[str, ...] = ("T2", "T1", "STIR")
    ct_orientation: Orientation = Orientation.AXIAL
    require_orientation: bool = False
    min_slices: int = 3

    def __post_init__(self) -> None:
        if self.min_slices < 1:
            raise ValueError("min_slices must be >= 1")


@dataclass(frozen=True)
class IOConfig:
    """All io settings; configs/io.yaml holds the defaults."""

    limits: InputLimits = field(default_factory=InputLimits)
    assembly: AssemblyRules = field(default_factory=AssemblyRules)
    selection: SeriesRule = field(default_factory=SeriesRule)
