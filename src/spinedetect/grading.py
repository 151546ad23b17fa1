"""Closed clinical vocabularies shared by the phantom truth, the measurement and the alert.

Definitions follow DESIGN.md: Bilsky epidural spinal cord compression grade, Genant semiquantitative
vertebral fracture grade, SINS location classes.
"""

from __future__ import annotations

from enum import Enum

__all__ = ["BilskyGrade", "GenantGrade", "genant_from_height_loss", "BILSKY_DESCRIPTIONS", "LesionType",
           "sins_location_score", "sins_lesion_type_score", "sins_collapse_score", "sins_posterolateral_score"]


class BilskyGrade(str, Enum):
    """Bilsky ESCC grade at the worst axial level (string values as radiologists write them)."""

    G0 = "0"
    G1A = "1a"
    G1B = "1b"
    G1C = "1c"
    G2 = "2"
    G3 = "3"

    @property
    def ordinal(self) -> int:
        """Position on the 0..5 scale (0, 1a, 1b, 1c, 2, 3), used for weighted kappa and thresholds."""
        return list(BilskyGrade).index(self)

    @property
    def is_high_grade(self) -> bool:
        """Grades 2 and 3 (cord compressed): the surgical/radiotherapy emergency."""
        return self.ordinal >= BilskyGrade.G2.ordinal


BILSKY_DESCRIPTIONS: dict[BilskyGrade, str] = {
    BilskyGrade.G0: "bone disease only",
    BilskyGrade.G1A: "epidural tumour, thecal sac not deformed",
    BilskyGrade.G1B: "thecal sac deformed, cord not touched",
    BilskyGrade.G1C: "thecal sac deformed, tumour touching the cord without compressing it",
    BilskyGrade.G2: "cord compressed, CSF still visible around it",
    BilskyGrade.G3: "cord compressed, no CSF around it",
}


class GenantGrade(int, Enum):
    """Genant grade from vertebral height loss: 0 < 20 %, 1 20-25 %, 2 25-40 %, 3 > 40 %."""

    NORMAL = 0
    MILD = 1
    MODERATE = 2
    SEVERE = 3


def genant_from_height_loss(height_loss_pct: float) -> GenantGrade:
    """Genant grade of a vertebra from its largest height loss in percent (0..100)."""
    if height_loss_pct < 20.0:
        return GenantGrade.NORMAL
    if height_loss_pct < 25.0:
        return GenantGrade.MILD
    if height_loss_pct <= 40.0:
        return GenantGrade.MODERATE
    return GenantGrade.SEVERE


class LesionType(str, Enum):
    """Osseous lesion matrix type, as SINS scores it."""

    LYTIC = "lytic"
    MIXED = "mixed"
    BLASTIC = "blastic"


_SINS_JUNCTIONAL = {"C1", "C2", "C7", "T1", "T2", "T11", "T12", "L1", "L5", "S1"}
_SINS_MOBILE = {"C3", "C4", "C5", "C6", "L2", "L3", "L4"}
_SINS_SEMIRIGID = {f"T{i}" for i in range(3, 11)}
_SINS_RIGID = {f"S{i}" for i in range(2, 6)}


def sins_location_score(level: str) -> int:
    """SINS location points of a level name: junctional 3 (O-C2, C7-T2, T11-L1, L5-S1), mobile 2
    (C3-C6, L2-L4), semirigid 1 (T3-T10), rigid 0 (S2-S5). Raises ValueError for an unknown name."""
    name = level.upper()
    for points, names in ((3, _SINS_JUNCTIONAL), (2, _SINS_MOBILE), (1, _SINS_SEMIRIGID), (0, _SINS_RIGID)):
        if name in names:
            return points
    raise ValueError(f"unknown vertebral level {level!r}")


def sins_lesion_type_score(lesion_type: LesionType) -> int:
    """SINS bone lesion points: lytic 2, mixed 1, blastic 0."""
    return {LesionType.LYTIC: 2, LesionType.MIXED: 1, LesionType.BLASTIC: 0}[LesionType(lesion_type)]


def sins_collapse_score(height_loss_pct: float, body_involvement_pct: float, *,
                        collapse_min_pct: float = 20.0) -> int:
    """SINS vertebral body collapse points: > 50 % collapse 3, collapse < 50 % 2, no collapse but
    > 50 % of the body involved 1, none 0. Collapse means a height loss of at least ``collapse_min_pct``
    (the Genant grade 1 threshold, so measurement noise is not called collapse)."""
    if height_loss_pct > 50.0:
        return 3
    if height_loss_pct >= collapse_min_pct:
        return 2
    if body_involvement_pct > 50.0:
        return 1
    return 0


def sins_posterolateral_score(left: bool, right: bool) -> int:
    """SINS posterolateral involvement points (facet, pedicle or costovertebral joint): bilateral 3,
    unilateral 1, none 0."""
    return 3 if (left and right) else 1 if (left or right) else 0
