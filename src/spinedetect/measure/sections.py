"""Cross-sections of a label map perpendicular to the canal centreline, and what is measured on them.

Each cross-section is a square grid of ``pixel_mm`` pixels in the plane through a centreline point,
spanned by the frame's ``anterior`` (rows) and ``lateral`` (columns) axes. The label map is sampled at
the pixel centres with nearest-neighbour lookup, which is a supersampled area estimate on any voxel
grid (anisotropic, oblique). Areas are in mm², diameters in mm. A section whose canal touches the edge
of the field of view is not measurable (NaN), never extrapolated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spinedetect.labels import Label
from spinedetect.measure.centreline import Centreline

__all__ = ["CrossSections", "sample_sections", "strip_areas", "strip_area", "runs", "OUTSIDE"]

#: Value given to plane pixels outside the image grid.
OUTSIDE = 255


@dataclass(frozen=True)
class CrossSections:
    """Per-section measurements along the centreline (arrays of length n, NaN = not measurable).

    ``canal_area_mm2`` is CSF ∪ cord; ``canal_ap_mm`` the canal length along the anterior axis through the
    canal's lateral centre; ``canal_transverse_mm`` the lateral extent; ``tumour_area_mm2`` epidural
    tumour; ``csf_area_mm2`` CSF only; ``cord_ap_mm`` the cord's AP length through its lateral centre;
    ``tumour_touches_cord`` / ``tumour_touches_sac`` whether tumour pixels are adjacent (4-neighbours in the
    plane) to cord / to thecal sac (CSF or cord) pixels. ``cord_planes`` / ``tumour_planes`` (n, h, w) keep
    the sampled cord and tumour masks (rows anterior, columns lateral; the same pixel grid in every plane).
    ``has_canal`` marks the planes holding any canal
    (valid or not) and ``at_edge`` those whose canal or tumour touches the field of view's edge, so a
    caller can tell an interrupted canal (planes without canal between planes with it) from its end.
    ``label_planes`` (n, h, w) uint8 keeps every sampled label (``OUTSIDE`` beyond the image), so a
    caller can ask what took the place of canal lost at a narrowing.
    """

    s_mm: np.ndarray
    centre_mm: np.ndarray
    valid: np.ndarray
    canal_area_mm2: np.ndarray
    canal_ap_mm: np.ndarray
    canal_transverse_mm: np.ndarray
    cord_area_mm2: np.ndarray
    cord_ap_mm: np.ndarray
    csf_area_mm2: np.ndarray
    tumour_area_mm2: np.ndarray
    tumour_touches_cord: np.ndarray
    tumour_touches_sac: np.ndarray
    pixel_mm: float
    cord_planes: np.ndarray | None = None
    tumour_planes: np.ndarray | None = None
    has_canal: np.ndarray | None = None
    at_edge: np.ndarray | None = None
    label_planes: np.ndarray | None = None


def _shift_or(m: np.ndarray) -> np.ndarray:
    """4-neighbour in-plane dilation of a (n, h, w) boolean stack."""
    out = m.copy()
    out[:, 1:, :] |= m[:, :-1, :]
    out[:, :-1, :] |= m[:, 1:, :]
    out[:, :, 1:] |= m[:, :, :-1]
    out[:, :, :-1] |= m[:, :, 1:]
    return out


def _line_length(mask: np.ndarray, pixel_mm: float) -> np.ndarray:
    """Length (mm) of ``mask`` along the rows axis, on the column through each section's lateral centroid."""
    n, h, w = mask.shape
    cols = np.arange(w, dtype=np.float64)
    cnt = mask.sum(axis=(1, 2))
    colsum = (mask.sum(axis=1) * cols[None, :]).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        c = np.where(cnt > 0, np.rint(colsum / np.maximum(cnt, 1)), w // 2).astype(np.int64)
    line = mask[np.arange(n), :, c]
    out = line.sum(1).astype(np.float64) * pixel_mm
    out[cnt == 0] = 0.0
    return out


def _trim_ends(valid: np.ndarray, area: np.ndarray, end_fraction: float) -> None:
    """Invalidate the tapering ends of the canal (the planes that cut its end cap), in place."""
    ok = valid & np.isfinite(area)
    if not ok.any():
        return
    floor = end_fraction * float(np.median(area[ok]))
    for order in (np.arange(len(area)), np.arange(len(area))[::-1]):
        for i in order:
            if valid[i] and area[i] >= floor:
                break
            valid[i] = False


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) index of every run of True in the 1-D ``mask``, in order."""
    edge = np.diff(np.r_[0, np.asarray(mask, dtype=np.int8), 0])
    return list(zip(np.flatnonzero(edge == 1).tolist(), (np.flatnonzero(edge == -1) - 1).tolist()))


def _trim_taper(valid: np.ndarray, edge: np.ndarray, has_canal: np.ndarray, s: np.ndarray, taper_mm: float) -> None:
    """Where the canal ends inside the field of view, its last ``taper_mm`` taper: invalidate them.

    Every end counts, also where the canal is interrupted (the segmentation misses a stretch, or the
    centreline leaves the canal): both sides of such a gap are ends whose sections cut a cap, not the
    canal's normal size.
    """
    if taper_mm <= 0:
        return
    for first, last in runs(has_canal):
        if not edge[first]:
            valid[(s >= s[first]) & (s < s[first] + taper_mm)] = False
        if not edge[last]:
            valid[(s <= s[last]) & (s > s[last] - taper_mm)] = False


def _chord_integral(alpha: np.ndarray, beta: np.ndarray, t0: np.ndarray, t1: np.ndarray) -> np.ndarray:
    """Integral over t in [t0, t1] of sqrt(max(alpha - beta t^2, 0)) (an ellipse's chord profile), per element."""
    edge = np.sqrt(alpha / beta)
    t0, t1 = np.clip(t0, -edge, edge), np.clip(t1, -edge, edge)

    def prim(t: np.ndarray) -> np.ndarray:
        return 0.5 * (t * np.sqrt(np.maximum(alpha - beta * t * t, 0.0))
                      + alpha / np.sqrt(beta) * np.arcsin(np.clip(t * np.sqrt(beta / alpha), -1.0, 1.0)))

    return prim(t1) - prim(t0)


def strip_areas(areas: np.ndarray, widths: np.ndarray) -> np.ndarray:
    """Areas (mm²) of convex-ish regions cut into parallel strips (thick voxel slabs), one region per row.

    ``areas`` (p, k) holds each region's area inside consecutive strips (mm², 0 where a strip holds none of
    it), ``widths`` (p,) the strip width of each row (mm). Nearest-neighbour sampling assigns each strip
    the chord at its centre: the interior strips are exact to first order; the two end strips are where a
    thick slab over- or under-states the region by up to half a slab, so there the chord profile is
    modelled as an ellipse's, c(x)^2 = alpha - beta (x - x0)^2, fitted to all strips, and integrated from
    the inner edge of the end strip to the modelled end. Empty strips at either end are dropped; the plain
    sum is kept where the model does not fit (fewer than three strips, a gap between strips, a
    non-convex profile).
    """
    a = np.asarray(areas, dtype=np.float64)
    total = a.sum(axis=1)
    present = a > 0
    size = a.shape[1]
    col = np.arange(size)
    first = np.argmax(present, axis=1)
    last = size - 1 - np.argmax(present[:, ::-1], axis=1)
    run = (col >= first[:, None]) & (col <= last[:, None])
    count = last - first + 1
    rows = np.flatnonzero(present.any(axis=1) & (count >= 3) & ~(run & ~present).any(axis=1))
    if len(rows) == 0:
        return total
    a, run, first, last, count = a[rows], run[rows], first[rows], last[rows], count[rows]
    w = np.broadcast_to(np.asarray(widths, dtype=np.float64), total.shape)[rows]
    c = a / w[:, None]  # mean chord of each strip; 0 outside the run
    x = (col - first[:, None]) * w[:, None]
    x0 = (x * c).sum(axis=1) / c.sum(axis=1)
    # least squares of c^2 = alpha - beta * q, q = (x - x0)^2 (2x2 normal equations per row)
    q = np.where(run, (x - x0[:, None]) ** 2, 0.0)
    y = c * c
    sq, sqq, sy, sqy = q.sum(axis=1), (q * q).sum(axis=1), y.sum(axis=1), (q * y).sum(axis=1)
    det = count * sqq - sq * sq
    lo, hi = -x0, (count - 1) * w - x0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        alpha = (sqq * sy - sq * sqy) / det
        beta = -(count * sqy - sq * sy) / det
        edge = np.sqrt(alpha / beta)
        fits = (np.abs(det) >= 1e-12) & (alpha > 0) & (beta > 0) & (-edge < lo) & (hi < edge)
        ends = (_chord_integral(alpha, beta, -edge, lo + w / 2) + _chord_integral(alpha, beta, hi - w / 2, edge))
    interior = np.where((col > first[:, None]) & (col < last[:, None]), a, 0.0).sum(axis=1)
    out = total.copy()
    out[rows[fits]] = (interior + ends)[fits]
    return out


def strip_area(strip_areas_mm2: np.ndarray, width: float) -> float:
    """:func:`strip_areas` of one region: its areas (mm²) in consecutive strips of ``width`` mm."""
    return float(strip_areas(np.asarray(strip_areas_mm2, dtype=np.float64)[None], np.array([width]))[0])


def _strip_counts(mask: np.ndarray, strip: np.ndarray, size: int) -> np.ndarray:
    """Pixels of each plane's ``mask`` (p, h, w) per thick-slab index ``strip`` (0..size-1 where masked): (p, size)."""
    planes = len(mask)
    plane = np.broadcast_to(np.arange(planes)[:, None, None], mask.shape)[mask]
    return np.bincount(plane * size + strip[mask], minlength=planes * size).reshape(planes, size)


def sample_sections(labels: np.ndarray, affine: np.ndarray, centreline: Centreline, *, radius_mm: float,
                    pixel_mm: float = 0.3, end_fraction: float = 0.75, end_taper_mm: float = 0.0,
                    chunk: int = 64) -> CrossSections:
    """Sample the label map on planes perpendicular to ``centreline`` and measure each plane.

    ``radius_mm`` is the half-width of the square plane (it must contain the canal and tumour). Sections
    at either end of the canal below ``end_fraction`` x the median canal area are the canal's end cap
    (or its taper) and are not measurable; where the canal ends inside the field of view, so are the
    sections within ``end_taper_mm`` of its end.
    """
    half = int(np.ceil(radius_mm / pixel_mm))
    offs = np.arange(-half, half + 1, dtype=np.float32) * np.float32(pixel_mm)
    ya, xl = np.meshgrid(offs, offs, indexing="ij")
    inv = np.linalg.inv(affine)
    shape = np.array(labels.shape)
    flat = np.ascontiguousarray(labels).ravel()
    strides = np.array([labels.shape[1] * labels.shape[2], labels.shape[2], 1], dtype=np.int64)
    n = len(centreline)
    px2 = pixel_mm * pixel_mm
    res = {k: np.full(n, np.nan) for k in ("canal", "ap", "tr", "cord", "cord_ap", "csf", "tum")}
    plain = {k: np.full(n, np.nan) for k in ("canal", "cord")}
    touch = np.zeros(n, dtype=bool)
    touch_sac = np.zeros(n, dtype=bool)
    at_edge = np.zeros(n, dtype=bool)
    has_canal = np.zeros(n, dtype=bool)
    valid = np.zeros(n, dtype=bool)
    cord_planes = np.zeros((n,) + ya.shape, dtype=bool)
    tumour_planes = np.zeros((n,) + ya.shape, dtype=bool)
    label_planes = np.zeros((n,) + ya.shape, dtype=np.uint8)
    # plane axes and centres in voxel coordinates: vox = base + ya * va + xl * vl
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    thick = int(np.argmax(spacing))
    anisotropic = spacing[thick] >= 1.5 * spacing.min()
    e_thick = affine[:3, thick] / spacing[thick]
    base_all = (centreline.points_mm @ inv[:3, :3].T + inv[:3, 3]).astype(np.float32)
    va_all = (centreline.anterior @ inv[:3, :3].T).astype(np.float32)
    vl_all = (centreline.lateral @ inv[:3, :3].T).astype(np.float32)
    index = np.int32 if labels.size < 2**31 else np.int64  # half the memory traffic of int64 where it fits
    for start in range(0, n, chunk):
        sl = slice(start, min(start + chunk, n))
        lin = np.zeros((len(range(*sl.indices(n))),) + ya.shape, dtype=index)
        inside = np.ones(lin.shape, dtype=bool)
        for ax in range(3):
            v = np.rint(base_all[sl, ax, None, None] + ya[None] * va_all[sl, ax, None, None]
                        + xl[None] * vl_all[sl, ax, None, None]).astype(index)
            inside &= (v >= 0) & (v < shape[ax])
            np.clip(v, 0, shape[ax] - 1, out=v)  # pixels outside are masked by ``inside``
            lin += v * index(strides[ax])
            if ax == thick:
                strip = v
        lab = np.where(inside, flat[lin], OUTSIDE)
        label_planes[sl] = lab
        csf = lab == Label.CSF
        cord = lab == Label.CORD
        tum = lab == Label.EPIDURAL_TUMOUR
        canal = csf | cord
        cord_planes[sl] = cord
        tumour_planes[sl] = tum
        # the canal (or tumour) touching the edge of the field of view makes the section unmeasurable
        edge = _shift_or(_shift_or(canal | tum)) & ~inside
        at_edge[sl] = edge.any(axis=(1, 2))
        has_canal[sl] = canal.any(axis=(1, 2))
        valid[sl] = ~at_edge[sl] & has_canal[sl]
        res["canal"][sl] = plain["canal"][sl] = canal.sum((1, 2)) * px2
        res["cord"][sl] = plain["cord"][sl] = cord.sum((1, 2)) * px2
        if anisotropic:  # thick slabs cut across the plane: model the end strips (see strip_area)
            cos_t = np.abs(centreline.tangent[sl] @ e_thick)
            across = np.flatnonzero(cos_t < 0.7)  # planes the slabs cut at a steep angle
            width = spacing[thick] / np.sqrt(1.0 - cos_t[across] ** 2)
            for key, mask in (("canal", canal), ("cord", cord)):
                counts = _strip_counts(mask, strip, int(shape[thick]))[across]
                res[key][start + across] = strip_areas(counts * px2, width)
        res["csf"][sl] = csf.sum((1, 2)) * px2
        res["tum"][sl] = tum.sum((1, 2)) * px2
        res["ap"][sl] = _line_length(canal, pixel_mm)
        res["cord_ap"][sl] = _line_length(cord, pixel_mm)
        lat_any = canal.any(axis=1)
        has = lat_any.any(1)
        first = np.argmax(lat_any, axis=1)
        last = lat_any.shape[1] - 1 - np.argmax(lat_any[:, ::-1], axis=1)
        res["tr"][sl] = np.where(has, (last - first + 1) * pixel_mm, 0.0)
        tum_d = _shift_or(tum)
        touch[sl] = (tum_d & cord).any(axis=(1, 2))
        touch_sac[sl] = (tum_d & canal).any(axis=(1, 2))
    if anisotropic:
        # a tumour makes the chord profile non-elliptical: there, keep the nearest-neighbour area plus
        # the end-strip correction interpolated from the tumour-free sections around (ends are unchanged
        # by a tumour that indents the sac from one side)
        free = valid & (res["tum"] < px2) & np.isfinite(res["canal"])
        hit = valid & ~free
        if free.sum() >= 2 and hit.any():
            for k in ("canal", "cord"):
                delta = res[k] - plain[k]
                res[k][hit] = plain[k][hit] + np.interp(centreline.s_mm[hit], centreline.s_mm[free], delta[free])
                res[k][hit & (plain[k] == 0)] = 0.0
    _trim_ends(valid, res["canal"] + res["tum"], end_fraction)
    _trim_taper(valid, at_edge, has_canal, centreline.s_mm, end_taper_mm)
    for k in ("canal", "ap", "tr", "cord", "cord_ap", "csf", "tum"):
        res[k][~valid] = np.nan
    return CrossSections(
        s_mm=centreline.s_mm.copy(), centre_mm=centreline.points_mm.copy(), valid=valid,
        canal_area_mm2=res["canal"], canal_ap_mm=res["ap"], canal_transverse_mm=res["tr"],
        cord_area_mm2=res["cord"], cord_ap_mm=res["cord_ap"], csf_area_mm2=res["csf"],
        tumour_area_mm2=res["tum"], tumour_touches_cord=touch & valid,
        tumour_touches_sac=touch_sac & valid,
        pixel_mm=pixel_mm, cord_planes=cord_planes, tumour_planes=tumour_planes,
        has_canal=has_canal, at_edge=at_edge, label_planes=label_planes)
