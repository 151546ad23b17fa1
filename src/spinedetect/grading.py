"""Closed clinical vocabularies shared by the phantom truth, the measurement and the alert.

Definitions follow DESIGN.md: Bilsky epidural spinal cord compression grade, Genant semiquantitative
vertebral fracture grade, SINS location classes.
"""

from __future__ import annotations

from enum import Enum

__all__ = ["BilskyGrade", "GenantGrade", "genant_from_height_loss", "BILSKY_DESCRIPTIONS", "LesionType",
           "sins_location_score", "sins_lesion_type_score", "sins_collapse_score", "sins_posterolateral_score",
           "sins_partial_score"]


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


def sins_location_score(level: str) -> int:
    """SINS location component of a vertebral level name (e.g. "L5", "T11", "S1").

    Junctional (occiput-C2, C7-T2, T11-L1, L5-S1) 3; mobile (C3-C6, L2-L4) 2; semirigid (T3-T10) 1;
    rigid (S2-S5) 0. S1 belongs to the L5-S1 junction.
    """
    region, number = level[:1].upper(), level[1:]
    if region not in "CTLS" or not number.isdigit():
        raise ValueError(f"not a vertebral level name: {level!r}")
    n = int(number)
    if region == "C":
        return 3 if n <= 2 or n == 7 else 2
    if region == "T":
        return 3 if n <= 2 or n >= 11 else 1
    if region == "L":
        return 3 if n in (1, 5) else 2
    return 3 if n == 1 else 0


def sins_lesion_type_score(lesion_type: LesionType | str | None) -> int:
    """SINS bone lesion points: lytic 2, mixed 1, blastic 0 (None: no lesion, 0)."""
    if lesion_type is None:
        return 0
    return {LesionType.LYTIC: 2, LesionType.MIXED: 1, LesionType.BLASTIC: 0}[LesionType(lesion_type)]


def sins_collapse_score(height_loss_pct: float, body_involvement_pct: float, *,
                        collapse_min_pct: float = 20.0) -> int:
    """SINS vertebral body collapse points: > 50 % collapse 3, collapse < 50 % 2, no collapse but
    > 50 % of the body involved 1, none 0. Collapse means a height loss of at least ``collapse_min_pct``
    (the Genant grade 1 threshold, so measurement noise is not called collapse)."""
    if height_loss_pct > 50.0:
        return 3
    if height_loss_pct > 0.0 and height_loss_pct >= collapse_min_pct:
        return 2
    if body_involvement_pct > 50.0:
        return 1
    return 0


def sins_posterolateral_score(left: bool, right: bool) -> int:
    """SINS posterolateral involvement points (facet, pedicle or costovertebral joint): bilateral 3,
    unilateral 1, none 0."""
    return 3 if (left and right) else 1 if (left or right) else 0


_POSTEROLATERAL_SIDES = {"bilateral": (True, True), "unilateral": (True, False), "none": (False, False)}


def sins_partial_score(level: str, lesion_type: str | None, height_loss_pct: float,
                       body_involvement_pct: float, posterolateral: str, alignment: int = 0) -> int:
    """Imaging part of SINS (pain not scored): location + lesion + alignment + collapse + posterolateral.

    ``lesion_type`` "lytic" 2, "mixed" 1, "blastic" 0 (None: no lesion, 0); collapse: height loss > 50 % 3,
    any collapse 2, none but > 50 % of the body involved 1, else 0; ``posterolateral`` "bilateral" 3,
    "unilateral" 1, "none" 0; ``alignment`` (0, 2 or 4) as measured. This is the analytic form (any
    height loss is a collapse) used for phantom truth; measurements pass a noise floor to
    :func:`sins_collapse_score` instead.
    """
    return (sins_location_score(level) + sins_lesion_type_score(lesion_type) + alignment
            + sins_collapse_score(height_loss_pct, body_involvement_pct, collapse_min_pct=0.0)
            + sins_posterolateral_score(*_POSTEROLATERAL_SIDES[posterolateral]))
