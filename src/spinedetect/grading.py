"""Closed clinical vocabularies shared by the phantom truth, the measurement and the alert.

Definitions follow DESIGN.md: Bilsky epidural spinal cord compression grade, Genant semiquantitative
vertebral fracture grade, SINS location classes.
"""

from __future__ import annotations

from enum import Enum

__all__ = ["BilskyGrade", "GenantGrade", "genant_from_height_loss", "BILSKY_DESCRIPTIONS"]


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
