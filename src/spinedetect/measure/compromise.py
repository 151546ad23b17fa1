"""Canal compromise / cord compression from a profile along the canal (DESIGN.md formula).

``compromise = (1 - m_i / ((m_a + m_b) / 2)) x 100`` with ``m`` a cross-sectional area (or AP diameter)
measured perpendicular to the centreline, and ``m_a``, ``m_b`` the means of ``m`` over normal canal above
and below. As in the Spinal Cord Toolbox, each reference is a stretch of ``length_mm`` (20 mm) that starts
``gap_mm`` (10 mm) away, here measured from the edge of the affected run around ``i`` so a long lesion
never serves as its own reference. This one function is used both for the phantom truth (analytic
profiles) and for measurements on masks, so the two are the same definition by construction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["CompromiseProfile", "CompromiseResult", "compromise_at", "plateau_run"]


@dataclass(frozen=True)
class CompromiseResult:
    """Compromise at one cross-section, with the references used (percent; None if not measurable)."""

    pct: float | None
    value: float
    reference_above: float | None
    reference_below: float | None
    note: str | None = None


def _affected_run(abnormal: np.ndarray, index: int) -> tuple[int, int]:
    lo = hi = index
    if abnormal[index]:
        while lo > 0 and abnormal[lo - 1]:
            lo -= 1
        while hi < len(abnormal) - 1 and abnormal[hi + 1]:
            hi += 1
    return lo, hi


class CompromiseProfile:
    """:func:`compromise_at` for any cross-section of one profile, with the checks and masks made once.

    Where ``s_mm`` increases strictly (a centreline's sections), the reference stretches are found by
    binary search instead of masks over the whole profile: the same sections, in the same order, so
    the same values.
    """

    def __init__(self, profile: np.ndarray, s_mm: np.ndarray, abnormal: np.ndarray | None = None, *,
                 gap_mm: float = 10.0, length_mm: float = 20.0) -> None:
        self.profile = np.asarray(profile, dtype=np.float64)
        self.s_mm = np.asarray(s_mm, dtype=np.float64)
        if self.profile.shape != self.s_mm.shape or self.profile.ndim != 1:
            raise ValueError(f"profile and s_mm must be 1-D of equal length, got {self.profile.shape} and "
                             f"{self.s_mm.shape}")
        self.abnormal = (np.zeros(self.profile.shape, dtype=bool) if abnormal is None
                         else np.asarray(abnormal, dtype=bool))
        self.usable = ~self.abnormal & np.isfinite(self.profile)
        self.gap_mm, self.length_mm = gap_mm, length_mm
        self._increasing = bool(np.all(np.diff(self.s_mm) > 0))

    def _mean_over(self, lo_mm: float, hi_mm: float, lo_open: bool) -> float | None:
        """Mean of the usable values with s in (lo_mm, hi_mm] (``lo_open``) or [lo_mm, hi_mm)."""
        s = self.s_mm
        if self._increasing:
            side = "right" if lo_open else "left"
            i0, i1 = int(np.searchsorted(s, lo_mm, side)), int(np.searchsorted(s, hi_mm, side))
            values = self.profile[i0:i1][self.usable[i0:i1]]
        else:
            inside = (s > lo_mm) & (s <= hi_mm) if lo_open else (s >= lo_mm) & (s < hi_mm)
            values = self.profile[self.usable & inside]
        return float(values.mean()) if values.size else None

    def at(self, index: int) -> CompromiseResult:
        """Compromise of the section ``index`` (see :func:`compromise_at`)."""
        lo, hi = _affected_run(self.abnormal, index)
        s, gap, length = self.s_mm, self.gap_mm, self.length_mm
        ref_a = self._mean_over(s[lo] - gap - length, s[lo] - gap, lo_open=True)
        ref_b = self._mean_over(s[hi] + gap, s[hi] + gap + length, lo_open=False)
        value = float(self.profile[index])
        refs = [r for r in (ref_a, ref_b) if r is not None]
        if not refs or not np.isfinite(value):
            return CompromiseResult(None, value, ref_a, ref_b,
                                    note="no normal canal within reach above or below" if not refs
                                    else "the value at this cross-section is not measurable")
        note = None
        if len(refs) == 1:
            note = f"only the reference {'above' if ref_a is not None else 'below'} was available"
        ref = float(np.mean(refs))
        if ref <= 0:
            return CompromiseResult(None, value, ref_a, ref_b, note="reference value is zero")
        return CompromiseResult((1.0 - value / ref) * 100.0, value, ref_a, ref_b, note)


def compromise_at(profile: np.ndarray, s_mm: np.ndarray, index: int, abnormal: np.ndarray | None = None,
                  *, gap_mm: float = 10.0, length_mm: float = 20.0) -> CompromiseResult:
    """Compromise (percent) of ``profile[index]`` against normal stretches above and below.

    ``profile`` holds one value per cross-section, ordered along the centreline by arc length ``s_mm``
    (increasing, millimetres; lower ``s`` is "above" only by convention, the formula is symmetric).
    ``abnormal`` (bool, same length) marks cross-sections that may not serve as reference (e.g. with
    epidural tumour or a narrowing); NaN values never serve. When only one side has a reference the
    result uses it and says so in ``note``; with neither, ``pct`` is None and ``note`` says why.
    """
    return CompromiseProfile(profile, s_mm, abnormal, gap_mm=gap_mm, length_mm=length_mm).at(index)


def plateau_run(values: np.ndarray, idx: np.ndarray, best: int, tol: float) -> tuple[int, int, int]:
    """(middle, first, last) of the contiguous run of ``idx`` (sorted section indices) around ``best``
    whose values are within ``tol`` of ``values[best]``: a flat narrowing is reported at its centre.

    Used for the worst cross-section both in the phantom truth and in measurements, so that on a
    plateau-shaped narrowing both name the same point.
    """
    pos = int(np.searchsorted(idx, best))
    lo = hi = pos
    while lo > 0 and idx[lo - 1] == idx[lo] - 1 and abs(values[idx[lo - 1]] - values[best]) <= tol:
        lo -= 1
    while hi < len(idx) - 1 and idx[hi + 1] == idx[hi] + 1 and abs(values[idx[hi + 1]] - values[best]) <= tol:
        hi += 1
    return int(idx[(lo + hi) // 2]), int(idx[lo]), int(idx[hi])
