"""Canal compromise / cord compression from a profile along the canal (DESIGN.md formula).

``compromise = (1 - m_i / ((m_a + m_b) / 2)) x 100`` with ``m`` a cross-sectional area (or AP diameter)
measured perpendicular to the centreline, and ``m_a``, ``m_b`` the means of ``m`` over normal canal above
and below. As in the Spinal Cord Toolbox, each reference is a stretch of ``length_mm`` (20 mm) that starts
``gap_mm`` (10 mm) away, here measured from the edge of the affected run around ``i`` so a long lesion
never serves as its own reference. The phantom truth (analytic profiles) and the measurement on masks
both call :func:`compromise_at`; the measurement also asks for references of at least
``min_reference_mm`` of usable values and reads :attr:`CompromiseResult.focal_pct` (the section against
each side alone) so a canal that changes size from level to level, or ends, is not read as a narrowing.
"""

from __future__ import annotations

import math
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

    @property
    def both_sides(self) -> bool:
        """Whether a reference above and one below were both available."""
        return self.reference_above is not None and self.reference_below is not None

    @property
    def focal_pct(self) -> float | None:
        """Compromise against the smaller of the two references (percent; None without both sides).

        A focal narrowing is below the canal on both sides; where the canal changes size from one level to
        the next the section lies between its references and this is near zero or negative, whatever
        the mean-based :attr:`pct` says.
        """
        if not self.both_sides or not math.isfinite(self.value):
            return None
        ref = min(self.reference_above, self.reference_below)  # type: ignore[type-var]
        return (1.0 - self.value / ref) * 100.0 if ref > 0 else None


def _affected_runs(abnormal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and last index of the run of abnormal sections around each section (itself where normal)."""
    n = len(abnormal)
    idx = np.arange(n)
    edge = np.diff(np.r_[False, abnormal, False].astype(np.int8))
    starts, ends = np.flatnonzero(edge == 1), np.flatnonzero(edge == -1) - 1
    run = np.cumsum(edge[:-1] == 1) - 1  # run number of each abnormal section
    lo, hi = idx.copy(), idx.copy()
    lo[abnormal], hi[abnormal] = starts[run[abnormal]], ends[run[abnormal]]
    return lo, hi


def _mean_or_none(values: np.ndarray) -> float | None:
    return float(values.mean()) if values.size else None


class CompromiseProfile:
    """:func:`compromise_at` for any cross-section of one profile, with the checks and masks made once.

    Where ``s_mm`` increases strictly (a centreline's sections), the reference stretches of all sections
    are found at once by binary search instead of masks over the whole profile per section: the same
    sections, in the same order, so the same values.
    """

    def __init__(self, profile: np.ndarray, s_mm: np.ndarray, abnormal: np.ndarray | None = None, *,
                 gap_mm: float = 10.0, length_mm: float = 20.0, min_reference_mm: float = 0.0) -> None:
        self.profile = np.asarray(profile, dtype=np.float64)
        self.s_mm = np.asarray(s_mm, dtype=np.float64)
        if self.profile.shape != self.s_mm.shape or self.profile.ndim != 1:
            raise ValueError(f"profile and s_mm must be 1-D of equal length, got {self.profile.shape} and "
                             f"{self.s_mm.shape}")
        abnormal = np.zeros(self.profile.shape, dtype=bool) if abnormal is None else np.asarray(abnormal, dtype=bool)
        self.usable = ~abnormal & np.isfinite(self.profile)
        # a stretch with fewer usable sections than this is no reference (a sliver of normal canal
        # between an interruption and a lesion says little about the normal size)
        step = float(np.median(np.abs(np.diff(self.s_mm)))) if len(self.s_mm) > 1 else 1.0
        self._min_count = int(math.ceil(min_reference_mm / step - 1e-9)) if step > 0 else 0
        # reference stretches of every section: above (s_lo - gap - length, s_lo - gap], below
        # [s_hi + gap, s_hi + gap + length), s_lo / s_hi the ends of the section's affected run
        run_lo, run_hi = _affected_runs(abnormal)
        s, lo_s, hi_s = self.s_mm, self.s_mm[run_lo], self.s_mm[run_hi]
        self._bounds = (lo_s - gap_mm - length_mm, lo_s - gap_mm, hi_s + gap_mm, hi_s + gap_mm + length_mm)
        self._windows: tuple[np.ndarray, ...] | None = None
        if np.all(np.diff(s) > 0):  # sections in order along the canal: index ranges by binary search
            self._windows = tuple(np.searchsorted(s, b, side) for b, side in
                                  zip(self._bounds, ("right", "right", "left", "left")))

    def _references(self, index: int) -> tuple[float | None, float | None]:
        """Means of the usable values in the stretches above and below section ``index`` (None: none, or
        fewer usable sections than ``min_reference_mm`` asks for)."""
        if self._windows is not None:
            a0, a1, b0, b1 = (int(w[index]) for w in self._windows)
            above, below = self.profile[a0:a1][self.usable[a0:a1]], self.profile[b0:b1][self.usable[b0:b1]]
        else:
            s = self.s_mm
            a_lo, a_hi, b_lo, b_hi = (float(b[index]) for b in self._bounds)
            above = self.profile[self.usable & (s > a_lo) & (s <= a_hi)]
            below = self.profile[self.usable & (s >= b_lo) & (s < b_hi)]
        return tuple(_mean_or_none(v) if v.size >= self._min_count else None  # type: ignore[return-value]
                     for v in (above, below))

    def at(self, index: int) -> CompromiseResult:
        """Compromise of the section ``index`` (see :func:`compromise_at`)."""
        ref_a, ref_b = self._references(index)
        value = float(self.profile[index])
        refs = [r for r in (ref_a, ref_b) if r is not None]
        if not refs or not math.isfinite(value):
            return CompromiseResult(None, value, ref_a, ref_b,
                                    note="no normal canal within reach above or below" if not refs
                                    else "the value at this cross-section is not measurable")
        note = None
        if len(refs) == 1:
            note = f"only the reference {'above' if ref_a is not None else 'below'} was available"
        ref = refs[0] if len(refs) == 1 else (refs[0] + refs[1]) / 2.0  # as np.mean: one sum, one division
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
