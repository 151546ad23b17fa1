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

__all__ = ["CompromiseResult", "compromise_at", "plateau_run"]


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


def compromise_at(profile: np.ndarray, s_mm: np.ndarray, index: int, abnormal: np.ndarray | None = None,
                  *, gap_mm: float = 10.0, length_mm: float = 20.0) -> CompromiseResult:
    """Compromise (percent) of ``profile[index]`` against normal stretches above and below.

    ``profile`` holds one value per cross-section, ordered along the centreline by arc length ``s_mm``
    (increasing, millimetres; lower ``s`` is "above" only by convention, the formula is symmetric).
    ``abnormal`` (bool, same length) marks cross-sections that may not serve as reference (e.g. with
    epidural tumour or a narrowing); NaN values never serve. When only one side has a reference the
    result uses it and says so in ``note``; with neither, ``pct`` is None and ``note`` says why.
    """
    profile = np.asarray(profile, dtype=np.float64)
    s_mm = np.asarray(s_mm, dtype=np.float64)
    if profile.shape != s_mm.shape or profile.ndim != 1:
        raise ValueError(f"profile and s_mm must be 1-D of equal length, got {profile.shape} and {s_mm.shape}")
    if abnormal is None:
        abnormal = np.zeros(profile.shape, dtype=bool)
    abnormal = np.asarray(abnormal, dtype=bool)
    lo, hi = _affected_run(abnormal, index)
    usable = ~abnormal & np.isfinite(profile)
    above = usable & (s_mm <= s_mm[lo] - gap_mm) & (s_mm > s_mm[lo] - gap_mm - length_mm)
    below = usable & (s_mm >= s_mm[hi] + gap_mm) & (s_mm < s_mm[hi] + gap_mm + length_mm)
    ref_a = float(profile[above].mean()) if above.any() else None
    ref_b = float(profile[below].mean()) if below.any() else None
    value = float(profile[index])
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
