"""Closed clinical vocabularies shared by the phantom truth, the measurement and the alert.

Definitions follow DESIGN.md: Bilsky epidural spinal cord compression grade, Genant semiquantitative
vertebral fracture grade, SINS location classes.
"""

from __future__ import annotations

from enum import Enum

__all__ = ["BilskyGrade", "GenantGrade", "genant_from_height_loss", "BILSKY_DESCRIPTIONS", "sins_location_score",
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


def sins_partial_score(level: str, lesion_type: str | None, height_loss_pct: float,
                       body_involvement_pct: float, posterolateral: str, alignment: int = 0) -> int:
    """Imaging part of SINS (pain not scored): location + lesion + alignment + collapse + posterolateral.

    ``lesion_type`` "lytic" 2, "mixed" 1, "blastic" 0 (None: no lesion, 0); collapse: height loss > 50 % 3,
    any collapse 2, none but > 50 % of the body involved 1, else 0; ``posterolateral`` "bilateral" 3,
    "unilateral" 1, "none" 0; ``alignment`` (0, 2 or 4) as measured.
    """
    lesion = {"lytic": 2, "mixed": 1, "blastic": 0, None: 0}[lesion_type]
    if height_loss_pct > 50.0:
        collapse = 3
    elif height_loss_pct > 0.0:
        collapse = 2
    elif body_involvement_pct > 50.0:
        collapse = 1
    else:
        collapse = 0
    side = {"bilateral": 3, "unilateral": 1, "none": 0}[posterolateral]
    return sins_location_score(level) + lesion + alignment + collapse + side
