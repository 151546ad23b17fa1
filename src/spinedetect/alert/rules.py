"""Alert rules. Pure functions of per-level findings; thresholds come from :class:`AlertConfig`.

The same rules decide the phantom generator's expected alert (on analytic truth) and the pipeline's
alert (on measured values), so the two are comparable by construction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Sequence

from spinedetect.grading import BILSKY_DESCRIPTIONS, BilskyGrade

__all__ = ["AlertLevel", "AlertConfig", "LevelFindings", "Alert", "decide_alert"]


class AlertLevel(str, Enum):
    """How soon a radiologist must look: ``urgent`` before anything else, ``watch`` on the same day."""

    NONE = "none"
    WATCH = "watch"
    URGENT = "urgent"

    @property
    def rank(self) -> int:
        """0 none, 1 watch, 2 urgent: sort key of the review worklist."""
        return list(AlertLevel).index(self)


@dataclass(frozen=True)
class AlertConfig:
    """Thresholds of the alert rules (configs/alert.yaml).

    Percentages are canal compromise / cord compression in percent (DESIGN.md formula).
    """

    urgent_bilsky: BilskyGrade = BilskyGrade.G2
    watch_bilsky: BilskyGrade = BilskyGrade.G1A
    urgent_canal_compromise_pct: float = 50.0
    watch_canal_compromise_pct: float = 25.0
    urgent_cord_compression_pct: float = 40.0
    watch_genant: int = 2
    watch_sins_partial: int = 7
    watch_any_osseous_lesion: bool = True

    def __post_init__(self) -> None:
        if not 0 <= self.watch_canal_compromise_pct <= self.urgent_canal_compromise_pct <= 100:
            raise ValueError("need 0 <= watch_canal_compromise_pct <= urgent_canal_compromise_pct <= 100")
        if self.watch_bilsky.ordinal > self.urgent_bilsky.ordinal:
            raise ValueError("watch_bilsky must not be above urgent_bilsky")
        if not 0 <= self.watch_genant <= 3:
            raise ValueError("watch_genant must be 0..3")


@dataclass(frozen=True)
class LevelFindings:
    """What was found at one named level; None means not measurable there (or no evidence).

    ``canal_compromise_pct`` / ``cord_compression_pct`` are the figures a radiologist would accept as a
    compression: the measurement passes them only where normal canal (cord) stands on both sides of the
    section, as the compromise against each side alone (the smaller of the two), and not where the size
    is within a documented normal range. ``bilsky`` comes only from epidural tumour pieces of at least the
    minimum volume; ``osseous_lesions`` counts lesions of at least the minimum volume.
    """

    name: str
    canal_compromise_pct: float | None = None
    cord_compression_pct: float | None = None
    bilsky: BilskyGrade | None = None
    genant: int | None = None
    osseous_lesions: int = 0
    sins_partial: int | None = None


@dataclass(frozen=True)
class Alert:
    """The alert of a study: its level, the level name that drove it, and the reasons in words."""

    level: AlertLevel
    worst_level: str | None = None
    reasons: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        return {"level": self.level.value, "worst_level": self.worst_level, "reasons": list(self.reasons)}


def _level_reasons(f: LevelFindings, cfg: AlertConfig) -> tuple[AlertLevel, list[str]]:
    level = AlertLevel.NONE
    reasons: list[str] = []

    def raise_to(new: AlertLevel) -> None:
        nonlocal level
        if new.rank > level.rank:
            level = new

    if f.bilsky is not None and f.bilsky.ordinal >= cfg.watch_bilsky.ordinal:
        raise_to(AlertLevel.URGENT if f.bilsky.ordinal >= cfg.urgent_bilsky.ordinal else AlertLevel.WATCH)
        reasons.append(f"Bilsky {f.bilsky.value} ({BILSKY_DESCRIPTIONS[f.bilsky]})")
    if f.canal_compromise_pct is not None and f.canal_compromise_pct >= cfg.watch_canal_compromise_pct:
        urgent = f.canal_compromise_pct >= cfg.urgent_canal_compromise_pct
        raise_to(AlertLevel.URGENT if urgent else AlertLevel.WATCH)
        reasons.append(f"canal area {f.canal_compromise_pct:.0f} % below the normal canal on both sides")
    if f.cord_compression_pct is not None and f.cord_compression_pct >= cfg.urgent_cord_compression_pct:
        raise_to(AlertLevel.URGENT)
        reasons.append(f"cord area {f.cord_compression_pct:.0f} % below the normal cord on both sides")
    if f.genant is not None and f.genant >= cfg.watch_genant:
        raise_to(AlertLevel.WATCH)
        reasons.append(f"vertebral collapse, Genant grade {f.genant}")
    if f.sins_partial is not None and f.sins_partial >= cfg.watch_sins_partial:
        raise_to(AlertLevel.WATCH)
        reasons.append(f"SINS imaging score {f.sins_partial} (pain not scored): possible instability")
    if cfg.watch_any_osseous_lesion and f.osseous_lesions > 0:
        raise_to(AlertLevel.WATCH)
        n = f.osseous_lesions
        reasons.append(f"{n} osseous lesion{'s' if n > 1 else ''}")
    return level, reasons


def _severity_key(f: LevelFindings) -> tuple[float, float, float]:
    return (f.bilsky.ordinal if f.bilsky is not None else -1.0,
            f.canal_compromise_pct if f.canal_compromise_pct is not None else -1.0,
            f.genant if f.genant is not None else -1.0)


def decide_alert(levels: Sequence[LevelFindings], config: AlertConfig | None = None) -> Alert:
    """Alert of a study from its per-level findings.

    The study level is the highest level over all vertebral levels. Reasons list the alerting levels,
    most severe first, each as ``"<level>: <reason>, <reason>"``. ``worst_level`` names the most severe.
    """
    cfg = config or AlertConfig()
    scored = []
    for f in levels:
        level, reasons = _level_reasons(f, cfg)
        if level is not AlertLevel.NONE:
            scored.append((level, f, reasons))
    if not scored:
        return Alert(AlertLevel.NONE, None, ())
    scored.sort(key=lambda t: (t[0].rank, _severity_key(t[1])), reverse=True)
    top_level, top, _ = scored[0]
    reasons = tuple(f"{f.name}: {', '.join(r)}" for _, f, r in scored)
    return Alert(top_level, top.name, reasons)
