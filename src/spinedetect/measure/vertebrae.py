"""Vertebra instances, body heights and lesion instances from a schema label map.

Every bone voxel gets canal coordinates from the (prolonged) centreline: arc length ``s`` (mm, grows
inferiorly), ``a`` along the anterior axis and ``l`` along the lateral (patient right) axis, both in mm
from the centreline. Discs cut the spine into vertebrae at their arc-length centres; without discs the
connected bodies are the vertebrae. Posterior elements join the vertebra whose arc-length extent holds
them. Level names come from spinedetect.measure.levels.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from spinedetect.labels import Label, union_mask
from spinedetect.measure.centreline import Centreline, voxel_to_world

__all__ = ["BONE_LABELS", "BoneVoxels", "BoneCoordinates", "Vertebra", "Lesion", "LesionSite", "voxels_of",
           "bone_voxels", "bone_coordinates", "split_vertebrae", "body_heights", "height_loss", "expected_heights",
           "HEIGHT_BINS", "find_lesions"]

log = logging.getLogger(__name__)


class LesionSite:
    """Where in the vertebra an osseous lesion sits (string constants written in report.json)."""

    BODY = "body"
    LEFT_POSTERIOR = "left_posterior"
    RIGHT_POSTERIOR = "right_posterior"


@dataclass(frozen=True)
class BoneVoxels:
    """The body, posterior, disc and osseous-lesion voxels of a label map, found without a centreline.

    ``ijk`` voxel indices (n, 3), ``xyz`` world RAS mm (n, 3), ``label`` (n,) and ``disc_piece`` (n,): the
    26-connected disc piece each disc voxel belongs to (1, 2, ...; 0 for the other labels).
    """

    ijk: np.ndarray
    xyz: np.ndarray
    label: np.ndarray
    disc_piece: np.ndarray


@dataclass(frozen=True)
class BoneCoordinates:
    """Canal coordinates of the bone/disc voxels: index (n, 3), world (n, 3), s, a, l (mm), label, the
    nearest centreline sample and the disc piece (see :class:`BoneVoxels`)."""

    ijk: np.ndarray
    xyz: np.ndarray
    s: np.ndarray
    a: np.ndarray
    l: np.ndarray
    label: np.ndarray
    nearest: np.ndarray
    disc_piece: np.ndarray


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


#: The labels whose voxels get canal coordinates (:func:`bone_coordinates`).
BONE_LABELS: tuple[Label, ...] = (Label.VERTEBRAL_BODY, Label.POSTERIOR_ELEMENTS, Label.DISC, Label.OSSEOUS_LESION)


def voxels_of(labels: np.ndarray, classes: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The voxels of ``labels`` (i, j, k) holding any of ``classes``, in C order: flat indices (n,) and
    voxel indices (n, 3)."""
    flat = np.flatnonzero(union_mask(labels, classes))
    ijk = np.column_stack(np.unravel_index(flat, labels.shape)) if len(flat) else np.zeros((0, 3), dtype=np.int64)
    return flat, ijk


def bone_voxels(labels: np.ndarray, affine: np.ndarray) -> BoneVoxels:
    """The body, posterior, disc and osseous-lesion voxels of ``labels`` (i, j, k) on ``affine`` (voxel -> RAS mm)."""
    flat, ijk = voxels_of(labels, BONE_LABELS)
    label = labels.ravel()[flat]
    disc_piece = np.zeros(len(flat), dtype=np.int64)
    disc = label == Label.DISC
    if disc.any():
        disc_piece[disc] = _components(labels, ijk[disc], Label.DISC)[2]
    return BoneVoxels(ijk, voxel_to_world(ijk.astype(np.float64), affine), label, disc_piece)


def bone_coordinates(labels: np.ndarray, affine: np.ndarray, centreline: Centreline, *,
                     voxels: BoneVoxels | None = None) -> BoneCoordinates:
    """Canal coordinates of all body, posterior, disc and osseous-lesion voxels.

    ``voxels`` is :func:`bone_voxels` of the same label map, when already listed.
    """
    v = bone_voxels(labels, affine) if voxels is None else voxels
    if len(v.ijk) == 0:
        e = np.zeros(0)
        return BoneCoordinates(v.ijk, v.xyz, e, e, e, v.label, np.zeros(0, dtype=np.int64), v.disc_piece)
    idx, s, a, l = centreline.project(v.xyz)
    return BoneCoordinates(v.ijk, v.xyz, s, a, l, v.label, idx, v.disc_piece)


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


def _disc_centres(bc: BoneCoordinates, min_gap_mm: float) -> list[float]:
    sel = bc.label == Label.DISC
    if not sel.any():
        return []
    cid = bc.disc_piece[sel]
    n = int(cid.max())
    s_disc = bc.s[sel]
    sizes = np.bincount(cid, minlength=n + 1)
    big = sizes[1:].max() if n else 0
    centres: list[tuple[float, int]] = []
    for c in range(1, n + 1):
        if sizes[c] >= max(5, 0.1 * big):
            centres.append((float(np.median(s_disc[cid == c])), int(sizes[c])))
    centres.sort()
    merged: list[tuple[float, int]] = []
    for s, w in centres:  # fragments of one disc (thick slices, oblique cuts) are merged
        if merged and s - merged[-1][0] < min_gap_mm:
            s0, w0 = merged[-1]
            merged[-1] = ((s0 * w0 + s * w) / (w0 + w), w0 + w)
        else:
            merged.append((s, w))
    return [s for s, _ in merged]


def _join_pieces_of_one_body(pieces: list[np.ndarray], bc: BoneCoordinates, *, factor: float = 0.45
                             ) -> list[np.ndarray]:
    """Join neighbouring body pieces (in canal order) whose world centroids lie closer than ``factor`` x
    the median centroid spacing: one body cut apart where the canal curves sharply (at L5-S1 a disc
    centre projects through the next body), which would otherwise be two vertebrae with two names."""
    if len(pieces) < 3:
        return pieces
    gap = np.linalg.norm(np.diff(np.array([bc.xyz[p].mean(axis=0) for p in pieces]), axis=0), axis=1)
    joined = [pieces[0]]
    for k in range(1, len(pieces)):
        if gap[k - 1] < factor * float(np.median(gap)):
            joined[-1] = np.concatenate([joined[-1], pieces[k]])
        else:
            joined.append(pieces[k])
    return joined


def split_vertebrae(labels: np.ndarray, bc: BoneCoordinates, centreline: Centreline, *,
                    min_disc_gap_mm: float = 8.0, min_body_fraction: float = 0.25) -> list[Vertebra]:
    """Vertebra instances ordered from superior to inferior.

    Bodies are the face-connected pieces of body ∪ in-body lesion voxels; a piece that spans a disc
    centre (bodies fused by thick slices or a collapse) is cut there. A vertebra's extent along the
    canal runs from the mid-disc above to the mid-disc below, taken midway between the facing endplates
    (the end of the canal at the ends). Posterior elements join the extent holding them.
    """
    wall = _body_wall(bc)
    in_body = (bc.label == Label.VERTEBRAL_BODY) | ((bc.label == Label.OSSEOUS_LESION) & (bc.a >= wall))
    in_post = (bc.label == Label.POSTERIOR_ELEMENTS) | ((bc.label == Label.OSSEOUS_LESION) & (bc.a < wall))
    if not in_body.any():
        return []
    discs = np.array(_disc_centres(bc, min_disc_gap_mm))
    body_idx = np.flatnonzero(in_body)
    ijk = bc.ijk[body_idx]
    lo = ijk.min(0)
    box = np.zeros(tuple(ijk.max(0) - lo + 1), dtype=bool)
    box[tuple((ijk - lo).T)] = True
    comp, n = ndimage.label(box)
    cid = comp[tuple((ijk - lo).T)]
    pieces: list[np.ndarray] = []
    for c in range(1, n + 1):
        members = body_idx[cid == c]
        sv = bc.s[members]
        cuts = [d for d in discs if sv.min() + 5.0 < d < sv.max() - 5.0]
        edges = [-np.inf, *cuts, np.inf]
        for k in range(len(edges) - 1):
            part = members[(sv >= edges[k]) & (sv < edges[k + 1])]
            if len(part):
                pieces.append(part)
    sizes = np.array([len(p) for p in pieces])
    ref = float(np.median(sizes[sizes >= 0.2 * sizes.max()]))
    pieces = [p for p in pieces if len(p) >= max(10, min_body_fraction * ref)]
    pieces.sort(key=lambda p: float(np.median(bc.s[p])))
    pieces = _join_pieces_of_one_body(pieces, bc)
    centres = [float(np.median(bc.s[p])) for p in pieces]
    # mid-disc = midway between the inferior endplate above and the superior endplate below (robust
    # percentiles over the whole endplate, so its central concavity does not move the boundary)
    bounds = [-np.inf]
    for k in range(len(pieces) - 1):
        bounds.append(0.5 * (float(np.percentile(bc.s[pieces[k]], 99.0))
                             + float(np.percentile(bc.s[pieces[k + 1]], 1.0))))
    bounds.append(np.inf)
    post_idx = np.flatnonzero(in_post)
    post_s = bc.s[post_idx]
    shape = np.array(labels.shape)
    s_lo, s_hi = float(centreline.s_mm[0]), float(centreline.s_mm[-1])
    out: list[Vertebra] = []
    for k, b in enumerate(pieces):
        lo_s, hi_s = bounds[k], bounds[k + 1]
        p = post_idx[(post_s >= lo_s) & (post_s < hi_s)]
        vox = bc.ijk[b]
        partial = bool(np.any(vox == 0) or np.any(vox == shape - 1))
        s_from = lo_s if np.isfinite(lo_s) else max(s_lo, float(bc.s[b].min()))
        s_to = hi_s if np.isfinite(hi_s) else min(s_hi, float(bc.s[b].max()))
        disc_below = bool(np.any(discs > centres[k]) and (k == len(pieces) - 1 or
                                                          np.any((discs > centres[k]) & (discs < centres[k + 1]))))
        out.append(Vertebra(k, float(s_from), float(s_to), b, p, partial, disc_below if len(discs) else None))
    return out


#: Relative AP positions (-1 posterior wall, +1 anterior wall) of the height bins.
HEIGHT_BINS: np.ndarray = np.round(np.arange(-0.6, 0.61, 0.2), 2)


def body_heights(v: Vertebra, bc: BoneCoordinates, centreline: Centreline, affine: np.ndarray
                 ) -> np.ndarray | None:
    """Mean body height (mm of canal arc length) in AP bins centred on :data:`HEIGHT_BINS`.

    The body is cut into voxel slices along the grid axis closest to the lateral direction; in each slice
    whose centre lies in the central half of the body's width, a bin's mean height is the slice's area
    inside the bin (projected onto the sagittal plane) over the bin's width. Bins are 0.2 of the half
    depth wide in the canal's own curved coordinate ``a``, so tilted and curved bodies are measured along
    the canal; slices are averaged. None when the body is too small.
    """
    if len(v.body) < 50:
        return None
    a, l = bc.a[v.body], bc.l[v.body]
    cols = affine[:3, :3]
    spacing = np.linalg.norm(cols, axis=0)
    j = min(int(np.median(bc.nearest[v.body])), len(centreline) - 1)
    lat = centreline.lateral[j]
    lat_ax = int(np.argmax(np.abs(cols.T @ lat) / spacing))
    i_ax, j_ax = (ax for ax in range(3) if ax != lat_ax)
    pixel_mm2 = float(abs(np.cross(cols[:, i_ax], cols[:, j_ax]) @ lat))
    idx = bc.ijk[v.body, lat_ax]
    # slice number of each voxel (np.unique's inverse, from a count over the index range)
    present = np.bincount(idx - idx.min()) > 0
    g = (np.cumsum(present) - 1)[idx - idx.min()]
    n_slices = int(present.sum())
    l_slice = np.bincount(g, weights=l) / np.bincount(g)
    l_lo, l_hi = np.percentile(l, [1, 99])
    half_lr, l_c = 0.5 * (l_hi - l_lo), 0.5 * (l_hi + l_lo)
    central = np.flatnonzero(np.abs(l_slice - l_c) <= 0.25 * half_lr)
    if len(central) == 0:
        return None
    is_central = np.zeros(n_slices, dtype=bool)
    is_central[central] = True
    sel = is_central[g]
    a_lo, a_hi = np.percentile(a[sel], [1, 99])
    half_ap, a_c = 0.5 * (a_hi - a_lo), 0.5 * (a_hi + a_lo)
    if half_ap <= 0:
        return None
    ua = (a[sel] - a_c) / half_ap
    gs = g[sel]
    out = np.full(len(HEIGHT_BINS), np.nan)
    for k, b in enumerate(HEIGHT_BINS):
        inbin = np.abs(ua - b) <= 0.1
        per_slice = np.bincount(gs[inbin], minlength=n_slices)[central]
        if per_slice.any():
            out[k] = float(per_slice[per_slice > 0].mean() * pixel_mm2 / (0.2 * half_ap))
    return out


def height_loss(heights: np.ndarray, expected: np.ndarray) -> tuple[float, dict[str, float]]:
    """Largest height loss (percent, >= 0) of a body vs its expected heights, both per HEIGHT_BINS.

    The loss profile across the body is fitted with a line over all bins (a crush is flat, a wedge is
    linear) and read at the anterior (+1) and posterior (-1) walls, where a wedge is deepest; the middle
    (a biconcave collapse) is the central bin. Returns the largest and the three losses.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        loss = 1.0 - heights / expected
    ok = np.isfinite(loss)
    if ok.sum() < 3:
        return float("nan"), {}
    slope, icpt = np.polyfit(HEIGHT_BINS[ok], loss[ok], 1)
    mid = loss[len(loss) // 2] if ok[len(loss) // 2] else icpt
    parts = {"anterior": 100.0 * float(icpt + slope), "middle": 100.0 * float(mid),
             "posterior": 100.0 * float(icpt - slope)}
    return max(0.0, max(parts.values())), parts


def expected_heights(k: int, verts: list["Vertebra"], *, outlier_pct: float = 18.0) -> np.ndarray | None:
    """Expected body heights (per HEIGHT_BINS) of vertebra ``k`` from up to two complete neighbours on
    each side: a straight line through their heights against their position in the column (sizes grow
    caudally; with neighbours on one side only, their median), after dropping the one neighbour that is shorter than the median of the others by more than
    ``outlier_pct`` (a collapsed neighbour; natural level-to-level differences stay below it). The sacrum and partial bodies are never neighbours."""
    usable = [v for v in verts if v.heights_mm is not None and not v.partial and not v.is_sacrum
              and np.all(np.isfinite(v.heights_mm))]
    neigh = [v for v in usable if v.index < k][-2:] + [v for v in usable if v.index > k][:2]
    if not neigh:
        return None
    x = np.array([v.index for v in neigh], dtype=np.float64)
    h = np.stack([v.heights_mm for v in neigh])  # type: ignore[misc]
    if len(neigh) >= 3:
        mean_h = h.mean(1)
        dev = np.array([mean_h[i] / np.median(np.delete(mean_h, i)) - 1.0 for i in range(len(neigh))])
        worst = int(np.argmin(dev))  # a collapsed neighbour is shorter than the others
        if -dev[worst] * 100 > outlier_pct:
            keep = np.arange(len(neigh)) != worst
            x, h = x[keep], h[keep]
    if (x < k).any() and (x > k).any():  # interpolate; never extrapolate (level sizes jitter)
        coef = np.polyfit(x, h, 1)
        return coef[0] * k + coef[1]
    return np.median(h, axis=0)


def find_lesions(labels: np.ndarray, bc: BoneCoordinates, verts: list[Vertebra], affine: np.ndarray,
                 *, min_volume_mm3: float = 5.0, image: np.ndarray | None = None, modality: str | None = None,
                 blastic_z: float = 1.0, lytic_z: float = -1.0, mixed_fraction: float = 0.25) -> list[Lesion]:
    """Osseous lesion instances: connected lesion voxels split by vertebra, with site, volume and type.

    Type (CT only) compares the lesion's attenuation with the normal vertebral-body marrow of the same
    image (median, robust SD from the median absolute deviation): voxels denser than ``blastic_z`` SDs
    are blastic, less dense than ``lytic_z``
    lytic; both above ``mixed_fraction`` of the lesion is mixed. MR signal depends on the sequence (on
    T1 lytic and blastic lesions are both dark), so on MR, or without an image, the type is None with
    the reason.
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
    if image is not None and modality == "CT":
        normal = bc.label == Label.VERTEBRAL_BODY
        if normal.sum() >= 20:
            vals = image[tuple(bc.ijk[normal].T)].astype(np.float64)
            med = float(np.median(vals))  # robust: the cortex rim is a dense minority of the body label
            marrow = (med, float(max(1.4826 * np.median(np.abs(vals - med)), 1e-6)))
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
            if image is not None and modality != "CT":
                reason = ("lesion type is read from CT attenuation only; MR signal depends on the sequence"
                          if modality == "MR" else "image modality not given (CT needed to type lesions)")
            elif image is not None and marrow is None:
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
