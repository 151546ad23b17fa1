"""Canal coordinates of points near a sampled curve (spinedetect.measure.centreline.nearest_on_curve)."""

from __future__ import annotations

import numpy as np

from spinedetect.measure.centreline import nearest_on_curve


def _arc(step_mm: float = 1.0, radius_mm: float = 300.0, length_mm: float = 400.0):
    """A circular arc (a lordotic spine's radius) sampled every ``step_mm``, with unit tangents."""
    s = np.arange(0.0, length_mm, step_mm)
    phi = s / radius_mm
    curve = np.stack([np.zeros_like(s), radius_mm * (1 - np.cos(phi)), -radius_mm * np.sin(phi)], axis=1)
    tangent = np.stack([np.zeros_like(s), np.sin(phi), -np.cos(phi)], axis=1)
    return curve, s, tangent, radius_mm


def test_points_get_the_arc_length_of_their_perpendicular_foot():
    curve, s, tangent, radius = _arc()
    rng = np.random.default_rng(0)
    n = 40000
    s_true = rng.uniform(5.0, s[-1] - 5.0, n)
    phi = s_true / radius
    normal = np.stack([np.zeros(n), -np.cos(phi), -np.sin(phi)], axis=1)  # towards the arc's centre
    lateral = np.array([1.0, 0.0, 0.0])
    foot = np.stack([np.zeros(n), radius * (1 - np.cos(phi)), -radius * np.sin(phi)], axis=1)
    points = foot + rng.uniform(-15, 15, (n, 1)) * normal + rng.uniform(-15, 15, (n, 1)) * lateral
    idx, s_found = nearest_on_curve(points, curve, s, tangent)
    # projecting on the tangent line of the nearest sample errs by ~ distance x (half a sample) / radius
    assert np.abs(s_found - s_true).max() < 15 * 0.5 / radius * 1.5
    # the index is the sample nearest the foot; a foot within the linearisation error of a midpoint between
    # two samples may keep the other one (each sample's tangent line puts it on the other side)
    assert np.abs(idx - s_found).max() < 0.6 and np.mean(idx == np.rint(s_found)) > 0.98


def test_chunks_do_not_change_the_answer():
    curve, s, tangent, _ = _arc(step_mm=0.5)
    points = np.random.default_rng(1).uniform([-20, -20, -200], [20, 60, 0], (5000, 3))
    whole = nearest_on_curve(points, curve, s, tangent, chunk=1 << 20)
    chunked = nearest_on_curve(points, curve, s, tangent, chunk=7)
    assert np.array_equal(whole[0], chunked[0]) and np.array_equal(whole[1], chunked[1])
