"""Canal centreline in world millimetres, fitted to the canal mask (CSF ∪ cord ∪ epidural tumour).

The centreline is a smooth curve sampled at a fixed arc-length step. Arc length ``s`` grows from the
superior end to the inferior end (so "above" = lower ``s``, as :func:`compromise_at` assumes). Each sample
carries an orthonormal frame: ``tangent`` (towards inferior), ``anterior`` (towards the vertebral bodies,
perpendicular to the tangent) and ``lateral`` (= tangent x anterior, towards the patient's right).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from spinedetect.errors import InputError

__all__ = ["Centreline", "fit_centreline", "voxel_to_world", "local_linear_smooth", "nearest_on_curve"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Centreline:
    """A sampled centreline: ``points_mm`` (n, 3) RAS world mm, ``s_mm`` (n,) arc length from the top."""

    points_mm: np.ndarray
    s_mm: np.ndarray
    tangent: np.ndarray
    anterior: np.ndarray
    lateral: np.ndarray

    def __len__(self) -> int:
        return int(self.s_mm.shape[0])

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Canal coordinates of world ``points`` (n, 3): nearest sample index, ``s``, ``a``, ``l`` (mm)."""
        idx, s = nearest_on_curve(points, self.points_mm, self.s_mm, self.tangent)
        a, l = (np.einsum("ij,ij->i", points, axis[idx]) - np.einsum("ij,ij->i", self.points_mm, axis)[idx]
                for axis in (self.anterior, self.lateral))
        return idx, s, a, l

    def extended(self, margin_mm: float) -> "Centreline":
        """The same curve prolonged straight by ``margin_mm`` at both ends (frames copied from the ends).

        Used to give bone beyond the ends of the canal an arc-length coordinate.
        """
        step = float(np.median(np.diff(self.s_mm))) if len(self) > 1 else 1.0
        n = int(np.ceil(margin_mm / step))
        k = np.arange(1, n + 1, dtype=np.float64)[:, None] * step
        top = self.points_mm[0] - k[::-1] * self.tangent[0]
        bot = self.points_mm[-1] + k * self.tangent[-1]
        s = np.concatenate([self.s_mm[0] - k[::-1, 0], self.s_mm, self.s_mm[-1] + k[:, 0]])

        def ext(a: np.ndarray) -> np.ndarray:
            return np.concatenate([np.repeat(a[:1], n, 0), a, np.repeat(a[-1:], n, 0)])

        return Centreline(np.concatenate([top, self.points_mm, bot]), s, ext(self.tangent), ext(self.anterior),
                          ext(self.lateral))


def voxel_to_world(ijk: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """World RAS mm of voxel indices ``ijk`` (n, 3)."""
    return ijk @ affine[:3, :3].T + affine[:3, 3]


def nearest_on_curve(points: np.ndarray, curve: np.ndarray, s_mm: np.ndarray, tangent: np.ndarray, *,
                     coarse: int = 8, chunk: int = 16384, max_refinements: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Foot of the perpendicular from each of ``points`` (n, 3) onto a sampled ``curve`` (m, 3).

    Returns the nearest sample index and the arc length ``s`` (mm, continuous) of the foot point. The
    nearest of every ``coarse``-th sample (one matrix product per chunk of ``chunk`` points, sized for the
    processor's cache) is refined by up to ``max_refinements`` projections on the local tangent (each
    point until its sample stops changing), which is exact to well under a sample for curves whose
    radius of curvature exceeds the distance of the points from the curve (the spine and its canal).
    """
    n, m = len(points), len(curve)
    j = np.empty(n, dtype=np.int64)
    step = float(s_mm[1] - s_mm[0]) if m > 1 else 1.0
    # s of the foot from sample j: s_j + (p - c_j) . t_j = offset_j + p . t_j (one gather per refinement)
    offset = s_mm - np.einsum("ij,ij->i", curve, tangent)
    sub = curve[::coarse].astype(np.float32)
    sub_sq = (sub * sub).sum(1)
    twice = (2.0 * sub).T  # |p - c|^2 - |p|^2 = |c|^2 - 2 p.c; the factor 2 is exact in floating point
    for start in range(0, n, chunk):
        dist = points[start:start + chunk].astype(np.float32) @ twice
        j[start:start + chunk] = np.argmin(np.subtract(sub_sq, dist, out=dist), axis=1) * coarse
    s = offset[j] + np.einsum("ij,ij->i", points, tangent[j])
    # a point whose sample did not change has converged: each refinement projects only those still moving
    moving = np.arange(n)
    for _ in range(max_refinements):
        nearer = np.clip(np.rint((s[moving] - s_mm[0]) / step), 0, m - 1).astype(np.int64)
        changed = nearer != j[moving]
        moving, nearer = moving[changed], nearer[changed]
        if len(moving) == 0:
            break
        j[moving] = nearer
        s[moving] = offset[nearer] + np.einsum("ij,ij->i", points[moving], tangent[nearer])
    return j, s


def local_linear_smooth(t: np.ndarray, values: np.ndarray, weights: np.ndarray, t_eval: np.ndarray,
                        sigma: float) -> np.ndarray:
    """Gaussian-kernel local linear regression of ``values`` (n, d) over ``t`` evaluated at ``t_eval``.

    Local linear (not a plain moving average) so the curve is not pulled inwards at the ends.
    """
    d = (t_eval[:, None] - t[None, :]) / sigma
    w = np.exp(-0.5 * d * d) * weights[None, :]
    s0 = w.sum(1)
    dt = t[None, :] - t_eval[:, None]
    s1 = (w * dt).sum(1)
    s2 = (w * dt * dt).sum(1)
    den = s0 * s2 - s1 * s1
    out = np.empty((t_eval.shape[0], values.shape[1]))
    for c in range(values.shape[1]):
        y = values[:, c][None, :]
        m0 = (w * y).sum(1)
        m1 = (w * dt * y).sum(1)
        with np.errstate(invalid="ignore", divide="ignore"):
            lin = (s2 * m0 - s1 * m1) / den
        flat = m0 / np.maximum(s0, 1e-12)
        out[:, c] = np.where(np.abs(den) > 1e-9 * np.maximum(s0 * s2, 1e-30), lin, flat)
    return out


def _resample(curve: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    seg = np.linalg.norm(np.diff(curve, axis=0), axis=1)
    arc = np.concatenate([[0.0], np.cumsum(seg)])
    n = max(int(np.floor(arc[-1] / step)) + 1, 2)
    s = np.linspace(0.0, arc[-1], n) if arc[-1] > 0 else np.zeros(n)
    pts = np.stack([np.interp(s, arc, curve[:, c]) for c in range(3)], axis=1)
    return pts, s


def _tangents(points: np.ndarray) -> np.ndarray:
    t = np.gradient(points, axis=0)
    return t / np.maximum(np.linalg.norm(t, axis=1, keepdims=True), 1e-12)


def _frames(tangent: np.ndarray, anterior_ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = anterior_ref[None, :] - (tangent @ anterior_ref)[:, None] * tangent
    bad = np.linalg.norm(a, axis=1) < 1e-6
    if bad.any():  # reference parallel to the canal: fall back to world anterior, then world right
        for ref in (np.array([0.0, 1.0, 0.0]), np.array([1.0, 0.0, 0.0])):
            alt = ref[None, :] - (tangent[bad] @ ref)[:, None] * tangent[bad]
            ok = np.linalg.norm(alt, axis=1) > 1e-6
            idx = np.flatnonzero(bad)[ok]
            a[idx] = alt[ok]
            bad[idx] = False
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    lat = np.cross(tangent, a)
    return a, lat


def fit_centreline(xyz: np.ndarray, *, step_mm: float = 1.0, smooth_mm: float = 8.0,
                   bin_mm: float = 2.0, iterations: int = 2, anterior_ref: np.ndarray | None = None,
                   min_voxels: int = 20) -> Centreline:
    """Fit a smooth centreline to the world points ``xyz`` (n, 3) mm, e.g. the canal's voxel centres.

    Centroids of the mask in slabs perpendicular to the principal axis, then (``iterations`` times) of
    the voxels nearest each point of the current curve, are smoothed by local linear regression with
    a Gaussian kernel of ``smooth_mm`` and resampled every ``step_mm`` of arc length. ``anterior_ref``
    (world vector) orients the frames; None uses world anterior (+y).
    """
    if xyz.shape[0] < min_voxels:
        raise InputError("The label map has no usable spinal canal", expected=f">= {min_voxels} canal voxels "
                         "(CSF, cord or epidural tumour)", found=f"{xyz.shape[0]}",
                         hint="Check that the labels follow the spinedetect schema")
    centre = xyz.mean(0)
    rng = np.random.default_rng(0)
    sub = xyz if len(xyz) <= 20000 else xyz[rng.choice(len(xyz), 20000, replace=False)]
    _, _, vt = np.linalg.svd(sub - centre, full_matrices=False)
    axis = vt[0]
    if axis[2] > 0:  # s grows towards inferior (world -z)
        axis = -axis
    t = (xyz - centre) @ axis
    b = np.floor((t - t.min()) / bin_mm).astype(np.int64)
    counts = np.bincount(b)
    keep = counts > 0
    cent = np.stack([np.bincount(b, weights=xyz[:, c])[keep] / counts[keep] for c in range(3)], axis=1)
    tb = ((np.arange(len(counts)) + 0.5) * bin_mm + t.min())[keep]
    curve = local_linear_smooth(tb, cent, counts[keep].astype(np.float64), tb, smooth_mm)
    pts, s = _resample(curve, step_mm)
    for _ in range(iterations):
        idx, _ = nearest_on_curve(xyz, pts, s, _tangents(pts))
        cnt = np.bincount(idx, minlength=len(pts))
        keep = cnt > 0
        cent = np.stack([np.bincount(idx, weights=xyz[:, c], minlength=len(pts))[keep] / cnt[keep]
                         for c in range(3)], axis=1)
        curve = local_linear_smooth(s[keep], cent, cnt[keep].astype(np.float64), s[keep], smooth_mm)
        pts, s = _resample(curve, step_mm)
    tangent = _tangents(pts)
    ref = np.array([0.0, 1.0, 0.0]) if anterior_ref is None else np.asarray(anterior_ref, dtype=np.float64)
    anterior, lateral = _frames(tangent, ref)
    log.debug("centreline: %d points over %.1f mm", len(s), s[-1])
    return Centreline(pts, s, tangent, anterior, lateral)
