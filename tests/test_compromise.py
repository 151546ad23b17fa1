import numpy as np
import pytest

from spinedetect.measure.compromise import CompromiseProfile, compromise_at


def test_uniform_canal_has_zero_compromise():
    s = np.arange(0, 100, 1.0)
    r = compromise_at(np.full(100, 150.0), s, 50)
    assert r.pct == pytest.approx(0.0) and r.note is None


def test_known_narrowing_and_references_skip_affected_run():
    s = np.arange(0, 120, 1.0)
    prof = np.full(s.shape, 200.0)
    prof[:40] = 100.0  # a different normal level far above
    abnormal = (s >= 55) & (s <= 75)
    prof[abnormal] = 120.0
    prof[65] = 80.0
    r = compromise_at(prof, s, 65, abnormal)
    # above: s in (25, 45] -> mixes 100 (s<40) and 200; below: s in [85, 105) -> 200
    ref_a = prof[(s <= 45) & (s > 25)].mean()
    assert r.reference_above == pytest.approx(ref_a)
    assert r.reference_below == pytest.approx(200.0)
    assert r.pct == pytest.approx((1 - 80.0 / ((ref_a + 200.0) / 2)) * 100)


def test_one_sided_and_none():
    s = np.arange(0, 40, 1.0)
    prof = np.full(s.shape, 100.0)
    prof[5] = 50.0
    r = compromise_at(prof, s, 5)
    assert r.reference_above is None and r.pct == pytest.approx(50.0) and "below" in r.note
    r = compromise_at(np.full(5, 100.0), np.arange(5.0), 2)
    assert r.pct is None and "no normal canal" in r.note


def test_binary_search_references_equal_the_masks():
    """On an increasing s the reference stretches are found by binary search: the same values, bit for bit,
    as the masks used for any other s (window edges falling exactly on samples included)."""
    rng = np.random.default_rng(3)
    for _ in range(20):
        n = int(rng.integers(30, 200))
        s = np.cumsum(rng.choice([0.5, 1.0, 1.5], n))
        prof = rng.uniform(50, 250, n)
        prof[rng.random(n) < 0.1] = np.nan
        abnormal = rng.random(n) < 0.2
        fast = CompromiseProfile(prof, s, abnormal, gap_mm=10.0, length_mm=20.0)
        masks = CompromiseProfile(prof, s, abnormal, gap_mm=10.0, length_mm=20.0)
        masks._windows = None  # the mask path, as for an s that does not increase
        assert fast._windows is not None
        for i in range(n):
            assert repr(fast.at(i)) == repr(masks.at(i))  # repr: exact floats, NaN equal to NaN


def test_affected_runs_are_the_abnormal_runs_around_each_section():
    from spinedetect.measure.compromise import _affected_runs

    rng = np.random.default_rng(1)
    for n in (1, 2, 5, 50, 300):
        for p in (0.0, 0.2, 0.7, 1.0):
            abnormal = rng.random(n) < p
            lo, hi = _affected_runs(abnormal)
            for i in range(n):
                a = b = i
                while abnormal[i] and a > 0 and abnormal[a - 1]:
                    a -= 1
                while abnormal[i] and b < n - 1 and abnormal[b + 1]:
                    b += 1
                assert (lo[i], hi[i]) == (a, b)
