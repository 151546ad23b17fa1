"""Vertebra instances, level names, body heights and lesion instances from a schema label map.

Every bone voxel gets canal coordinates from the (prolonged) centreline: arc length ``s`` (mm, grows
inferiorly), ``a`` along the anterior axis and ``l`` along the lateral (patient right) axis, both in mm
from the centreline. Discs cut the spine into vertebrae at their arc-length centres; without discs the
connected bodies are the vertebrae. Posterior elements join the vertebra whose arc-length extent holds
them. Names come from the sacrum (S1) when in view, else from the conus, else from a user hint.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from spinedetect.errors import InputError
from spinedetect.labels import Label
from spinedetect.measure.centreline import Centreline, voxel_to_world

__all__ = ["LEVEL_NAMES", "BoneCoordinates", "Vertebra", "Lesion", "Naming", "bone_coordinates",
           "split_vertebrae", "name_vertebrae", "parse_level_hint", "body_heights", "height_loss", "HEIGHT_BINS", "find_lesions", "LesionSite"]

log = logging.getLogger(__name__)

#: Vertebral level names from the top of the spine to S1 (the top of the sacrum).
LEVEL_NAMES: tuple[str, ...] = (tuple(f"C{i}" for i in range(1, 8)) + tuple(f"T{i}" for i in range(1, 13))
                                + tuple(f"L{i}" for i in range(1, 6)) + ("S1",))


class LesionSite:
    """Where in the vertebra an osseous lesion sits (string constants written in report.json)."""

    BODY = "body"
    LEFT_POSTERIOR = "left_posterior"
    RIGHT_POSTERIOR = "right_posterior"


@dataclass(frozen=True)
class BoneCoordinates:
    """Canal coordinates of the bone/disc voxels: index (n, 3), world (n, 3), s, a, l (mm), label."""

    ijk: np.ndarray
    xyz: np.ndarray
    s: np.ndarray
    a: np.ndarray
    l: np.ndarray
    label: np.ndarray
    nearest: np.ndarray


@dataclass
class Vertebra:
    """One vertebra: arc-length extent (mid-disc to mid-disc), body voxels (indices into BoneCoordinates)."""

    index: int
    s_from: float
    s_to: float
    body: np.ndarray
    posterior: np.ndarray
    partial: bool
    disc_below: bool | None = None
    name: str | None = None
    is_sacrum: bool = False
    heights_mm: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def s_centre(self) -> float:
        return 0.5 * (self.s_from + self.s_to)


@dataclass(frozen=True)
class Naming:
    """How the vertebrae were named: ``rule`` (sacrum / conus / hint / none), ``confidence`` 0..1, detail."""

    rule: str
    confidence: float
    detail: str


@dataclass(frozen=True)
class Lesion:
    """One osseous lesion instance (the part of a connected lesion inside one vertebra)."""

    level: str | None
    site: str
    volume_mm3: float
    body_involvement_pct: float | None
    centroid_mm: tuple[float, float, float]
    voxels: np.ndarray
    type: str | None = None
    type_reason: str | None = None


def bone_coordinates(labels: np.ndarray, affine: np.ndarray, centreline: Centreline) -> BoneCoordinates:
    """Canal coordinates of all body, posterior, disc and osseous-lesion voxels."""
    classes = np.array([Label.VERTEBRAL_BODY, Label.POSTERIOR_ELEMENTS, Label.DISC, Label.OSSEOUS_LESION],
                       dtype=labels.dtype)
    ijk = np.argwhere(np.isin(labels, classes))
    xyz = voxel_to_world(ijk.astype(np.float64), affine)
    if len(ijk) == 0:
        e = np.zeros(0)
        return BoneCoordinates(ijk, xyz, e, e, e, np.zeros(0, dtype=labels.dtype), np.zeros(0, dtype=np.int64))
    idx, s, a, l = centreline.project(xyz)
    return BoneCoordinates(ijk, xyz, s, a, l, labels[tuple(ijk.T)], idx)


def _body_wall(bc: BoneCoordinates) -> float:
    """Anterior offset (mm) from the centreline beyond which a voxel lies in a vertebral body."""
    body = bc.label == Label.VERTEBRAL_BODY
    if body.sum() >= 20:
        return float(np.percentile(bc.a[body], 2.0)) - 1.0
    return 5.0


def _components(labels: np.ndarray, ijk: np.ndarray, value: int) -> tuple[np.ndarray, int, np.ndarray]:
    """26-connected components of ``labels == value`` inside the bounding box of ``ijk`` (its voxels);
    returns the component map of the box, the count and each voxel's component id."""
    lo, hi = ijk.min(0), ijk.max(0) + 1
    box = labels[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]] == value
    comp, n = ndimage.label(box, structure=np.ones((3, 3, 3), dtype=bool))
    return comp, n, comp[tuple((ijk - lo).T)]


def _disc_centres(labels: np.ndarray, bc: BoneCoordinates, min_gap_mm: float) -> list[float]:
    sel = bc.label == Label.DISC
    if not sel.any():
        return []
    comp, n, cid = _components(labels, bc.ijk[sel], Label.DISC)
    sizes = np.bincount(cid, minlength=n + 1)
    big = sizes[1:].max() if n else 0
    centres: list[tuple[float, int]] = []
    for c in range(1, n + 1):
        if sizes[c] >= max(5, 0.1 * big):
            centres.append((float(np.median(bc.s[sel][cid == c])), int(sizes[c])))
    centres.sort()
    merged: list[tuple[float, int]] = []
    for s, w in centres:  # fragments of one disc (thick slices, oblique cuts) are merged
        if merged and s - merged[-1][0] < min_gap_mm:
            s0, w0 = merged[-1]
            merged[-1] = ((s0 * w0 + s * w) / (w0 + w), w0 + w)
        else:
            merged.append((s, w))
    return [s for s, _ in merged]


def split_vertebrae(labels: np.ndarray, bc: BoneCoordinates, centreline: Centreline, *,
                    min_disc_gap_mm: float = 8.0, min_body_fraction: float = 0.25) -> list[Vertebra]:
    """Vertebra instances ordered from superior to inferior (extent = mid-disc to mid-disc, in s mm)."""
    wall = _body_wall(bc)
    in_body = (bc.label == Label.VERTEBRAL_BODY) | ((bc.label == Label.OSSEOUS_LESION) & (bc.a >= wall))
    in_post = (bc.label == Label.POSTERIOR_ELEMENTS) | ((bc.label == Label.OSSEOUS_LESION) & (bc.a < wall))
    if not in_body.any():
        return []
    discs = _disc_centres(labels, bc, min_disc_gap_mm)
    if discs:
        bounds = [-np.inf, *discs, np.inf]
    else:
        mask = np.zeros(labels.shape, dtype=bool)
        mask[tuple(bc.ijk[in_body].T)] = True
        comp, n = ndimage.label(mask)
        cid = comp[tuple(bc.ijk[in_body].T)]
        sizes = np.bincount(cid, minlength=n + 1)
        spans = sorted((float(bc.s[in_body][cid == c].min()), float(bc.s[in_body][cid == c].max()))
                       for c in range(1, n + 1) if sizes[c] >= 0.2 * sizes[1:].max())
        bounds = [-np.inf] + [0.5 * (spans[k][1] + spans[k + 1][0]) for k in range(len(spans) - 1)] + [np.inf]
    body_idx = np.flatnonzero(in_body)
    post_idx = np.flatnonzero(in_post)
    pieces = []
    for k in range(len(bounds) - 1):
        lo, hi = bounds[k], bounds[k + 1]
        b = body_idx[(bc.s[body_idx] >= lo) & (bc.s[body_idx] < hi)]
        pieces.append((lo, hi, b))
    counts = np.array([len(p[2]) for p in pieces])
    interior = counts[1:-1] if len(counts) > 2 else counts
    ref = float(np.median(interior[interior > 0])) if (interior > 0).any() else float(counts.max())
    shape = np.array(labels.shape)
    s_lo, s_hi = float(centreline.s_mm[0]), float(centreline.s_mm[-1])
    out: list[Vertebra] = []
    for lo, hi, b in pieces:
        if len(b) < max(10, min_body_fraction * ref):
            continue
        p = post_idx[(bc.s[post_idx] >= lo) & (bc.s[post_idx] < hi)]
        vox = bc.ijk[b]
        partial = bool(np.any(vox == 0) or np.any(vox == shape - 1))
        s_from = lo if np.isfinite(lo) else max(s_lo, float(bc.s[b].min()))
        s_to = hi if np.isfinite(hi) else min(s_hi, float(bc.s[b].max()))
        disc_below = bool(np.isfinite(hi)) if discs else None
        out.append(Vertebra(len(out), float(s_from), float(s_to), b, p, partial, disc_below))
    return out


#: Relative AP positions (-1 posterior wall, +1 anterior wall) of the height bins.
HEIGHT_BINS: np.ndarray = np.round(np.arange(-0.8, 0.81, 0.2), 2)


def body_heights(v: Vertebra, bc: BoneCoordinates, centreline: Centreline, affine: np.ndarray
                 ) -> np.ndarray | None:
    """Mean body height (mm, along the canal tangent) in AP bins centred on :data:`HEIGHT_BINS`.

    Each bin is 0.2 of the half depth wide and spans the central half of the body's width; its mean
    height is its voxel volume over its footprint, which is not quantised to the voxel size on an
    oblique grid. None when the body is too small to measure.
    """
    if len(v.body) < 50:
        return None
    xyz = bc.xyz[v.body]
    c = xyz.mean(0)
    j = int(np.argmin(np.linalg.norm(centreline.points_mm - c, axis=1)))
    ant, lat = centreline.anterior[j], centreline.lateral[j]
    a, l = (xyz - c) @ ant, (xyz - c) @ lat
    l_lo, l_hi = np.percentile(l, [0.5, 99.5])
    half_lr, l_c = 0.5 * (l_hi - l_lo), 0.5 * (l_hi + l_lo)
    band = np.abs(l - l_c) <= 0.25 * half_lr
    if band.sum() < 30:
        return None
    a_lo, a_hi = np.percentile(a[band], [0.5, 99.5])
    half_ap, a_c = 0.5 * (a_hi - a_lo), 0.5 * (a_hi + a_lo)
    if half_ap <= 0 or half_lr <= 0:
        return None
    ua = (a[band] - a_c) / half_ap
    voxel_mm3 = float(abs(np.linalg.det(affine[:3, :3])))
    footprint = (0.2 * half_ap) * (0.5 * half_lr)
    counts = np.array([np.count_nonzero(np.abs(ua - b) <= 0.1) for b in HEIGHT_BINS], dtype=np.float64)
    return counts * voxel_mm3 / footprint


def height_loss(heights: np.ndarray, expected: np.ndarray) -> tuple[float, dict[str, float]]:
    """Largest height loss (percent, >= 0) of a body vs its expected heights, both per HEIGHT_BINS.

    The loss profile over the anterior (posterior) bins is extrapolated linearly to the anterior
    (posterior) wall, where a wedge collapse is deepest; the middle is the central bin. Returns the
    largest and the three losses.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        loss = 1.0 - heights / expected
    front = HEIGHT_BINS >= 0.39
    back = HEIGHT_BINS <= -0.39

    def wall(sel: np.ndarray, at: float) -> float:
        x, y = HEIGHT_BINS[sel], loss[sel]
        ok = np.isfinite(y)
        if ok.sum() < 2:
            return float(np.nanmean(y)) if ok.any() else float("nan")
        k, b = np.polyfit(x[ok], y[ok], 1)
        return float(k * at + b)

    parts = {"anterior": 100.0 * wall(front, 1.0), "middle": 100.0 * float(loss[len(loss) // 2]),
             "posterior": 100.0 * wall(back, -1.0)}
    finite = [x for x in parts.values() if np.isfinite(x)]
    return (max(0.0, max(finite)) if finite else float("nan")), parts


def parse_level_hint(hint: str) -> tuple[str, str]:
    """``"lowest=L5"`` / ``"highest=T10"`` -> (which, name); raises InputError otherwise."""
    m = re.fullmatch(r"\s*(lowest|highest)\s*=\s*([CTLS]\d{1,2})\s*", hint or "", flags=re.IGNORECASE)
    if not m or m.group(2).upper() not in LEVEL_NAMES:
        raise InputError(f"Level hint {hint!r} is not understood", expected="'lowest=NAME' or 'highest=NAME' "
                         "with NAME one of C1..C7, T1..T12, L1..L5, S1", found=repr(hint),
                         hint="For example --level-hint lowest=L5")
    return m.group(1).lower(), m.group(2).upper()


def _apply_names(verts: list[Vertebra], anchor: int, name: str) -> None:
    p = LEVEL_NAMES.index(name)
    for v in verts:
        q = p + (v.index - anchor)
        v.name = LEVEL_NAMES[q] if 0 <= q < len(LEVEL_NAMES) else None


def name_vertebrae(verts: list[Vertebra], bc: BoneCoordinates, *, conus_s_mm: float | None,
                   conus_level: str = "L1", level_hint: str | None = None,
                   sacrum_length_factor: float = 1.4) -> Naming:
    """Name ``verts`` in place (superior to inferior) and say which rule named them and how sure it is.

    Rules, first that applies: the sacrum (lowest vertebra with no disc below it, either fully inside the
    field of view or longer than ``sacrum_length_factor`` x the median body) is S1; the vertebra holding
    the conus tip (cord end) is ``conus_level``; the user's ``level_hint``; otherwise generic ``V1..Vn``.
    """
    if not verts:
        return Naming("none", 0.0, "no vertebral bodies in the label map")
    hint = parse_level_hint(level_hint) if level_hint else None
    lengths = np.array([np.ptp(bc.s[v.body]) for v in verts])
    last = verts[-1]
    if len(verts) >= 2 and last.disc_below is not True:
        long_ = bool(lengths[-1] >= sacrum_length_factor * np.median(lengths[:-1]))
        complete = not last.partial and last.disc_below is False
        if long_ or complete:
            last.is_sacrum = True
            _apply_names(verts, last.index, "S1")
            why = " and ".join(w for w, ok in (("longer than the bodies above", long_),
                                                ("entirely in view", complete)) if ok)
            return Naming("sacrum", 0.9 if long_ else 0.7,
                          f"lowest vertebra has no disc below and is {why}: named S1")
    if conus_s_mm is not None:
        for v in verts:
            if v.s_from <= conus_s_mm < v.s_to:
                _apply_names(verts, v.index, conus_level)
                return Naming("conus", 0.5, f"the cord ends (conus) at this vertebra, taken as {conus_level}; "
                              "the conus lies between T12 and L2 in most adults")
    if hint is not None:
        which, name = hint
        anchor = verts[-1].index if which == "lowest" else verts[0].index
        _apply_names(verts, anchor, name)
        return Naming("hint", 1.0, f"user hint: {which} vertebra in view is {name}")
    for v in verts:
        v.name = None
    return Naming("none", 0.0, "no sacrum, no conus and no level hint: levels are numbered V1..Vn from the top")


def find_lesions(labels: np.ndarray, bc: BoneCoordinates, verts: list[Vertebra], affine: np.ndarray,
                 *, min_volume_mm3: float = 5.0, image: np.ndarray | None = None,
                 blastic_z: float = 1.0, lytic_z: float = -1.0, mixed_fraction: float = 0.25) -> list[Lesion]:
    """Osseous lesion instances: connected lesion voxels split by vertebra, with site, volume and type.

    Type compares the lesion's intensities with the normal vertebral-body marrow of the same image:
    voxels brighter than ``blastic_z`` standard deviations are blastic, darker than ``lytic_z`` lytic;
    both above ``mixed_fraction`` of the lesion is mixed. Without an image the type is None.
    """
    sel = np.flatnonzero(bc.label == Label.OSSEOUS_LESION)
    if len(sel) == 0:
        return []
    voxel_mm3 = float(abs(np.linalg.det(affine[:3, :3])))
    _, _, cid = _components(labels, bc.ijk[sel], Label.OSSEOUS_LESION)
    owner = np.full(len(bc.s), -1)
    body_count = {}
    for v in verts:
        owner[v.body] = v.index
        owner[v.posterior] = v.index
        body_count[v.index] = len(v.body)
    body_set = np.zeros(len(bc.s), dtype=bool)
    for v in verts:
        body_set[v.body] = True
    marrow = None
    if image is not None:
        normal = bc.label == Label.VERTEBRAL_BODY
        if normal.sum() >= 20:
            vals = image[tuple(bc.ijk[normal].T)].astype(np.float64)
            marrow = (float(np.median(vals)), float(max(np.std(vals), 1e-6)))
    out: list[Lesion] = []
    for c in np.unique(cid):
        members = sel[cid == c]
        for vi in np.unique(owner[members]):
            part = members[owner[members] == vi]
            vol = len(part) * voxel_mm3
            if vol < min_volume_mm3:
                continue
            in_body = body_set[part]
            n_body = int(in_body.sum())
            left = int(((~in_body) & (bc.l[part] < 0)).sum())
            right = int(((~in_body) & (bc.l[part] >= 0)).sum())
            site = max(((n_body, LesionSite.BODY), (left, LesionSite.LEFT_POSTERIOR),
                        (right, LesionSite.RIGHT_POSTERIOR)))[1]
            vert = verts[vi] if vi >= 0 else None
            inv = 100.0 * n_body / body_count[vi] if vert is not None and body_count[vi] else None
            ltype, reason = None, "no image given: lesion type needs intensities"
            if image is not None and marrow is None:
                reason = "too little normal vertebral body to compare intensities with"
            elif marrow is not None:
                z = (image[tuple(bc.ijk[part].T)].astype(np.float64) - marrow[0]) / marrow[1]
                bright, dark = float((z > blastic_z).mean()), float((z < lytic_z).mean())
                if bright >= mixed_fraction and dark >= mixed_fraction:
                    ltype = "mixed"
                elif bright > dark:
                    ltype = "blastic"
                else:
                    ltype = "lytic"
                reason = None
            centroid = tuple(float(x) for x in bc.xyz[part].mean(0))
            out.append(Lesion(vert.name if vert is not None else None, site, vol, inv, centroid,  # type: ignore[arg-type]
                              part, ltype, reason))
    return out
