"""Measurement of one study from its schema label map: levels, canal compromise, Bilsky, Genant, SINS, alert.

:func:`measure_labels` is the whole measurement step: pure numpy/scipy on a label map and its affine
(RAS world mm). Every value that cannot be measured is None with a reason, never a guess.
"""

from __future__ import annotations

import functools
import logging
import math
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from threadpoolctl import ThreadpoolController

from spinedetect.alert import Alert, AlertConfig, LevelFindings, decide_alert
from spinedetect.config import config_to_dict
from spinedetect.errors import InputError
from spinedetect.grading import (
    BilskyGrade,
    LesionType,
    genant_from_height_loss,
    sins_collapse_score,
    sins_lesion_type_score,
    sins_location_score,
    sins_posterolateral_score,
)
from spinedetect.labels import CANAL, Label, union_mask
from spinedetect.measure.centreline import Centreline, fit_centreline, voxel_to_world
from spinedetect.measure.compromise import CompromiseProfile, CompromiseResult, plateau_run
from spinedetect.measure.levels import base_level_name, name_vertebrae
from spinedetect.measure.sections import CrossSections, sample_sections
from spinedetect.measure.vertebrae import (
    HEIGHT_BINS,
    BoneCoordinates,
    BoneVoxels,
    Vertebra,
    body_heights,
    bone_coordinates,
    bone_voxels,
    expected_heights,
    find_lesions,
    height_loss,
    split_vertebrae,
    voxels_of,
)

__all__ = ["MeasureConfig", "MeasurementReport", "measure_labels"]

log = logging.getLogger(__name__)

#: The voxels the centreline is fitted to: the thecal sac and the epidural tumour that may fill the canal.
CANAL_AND_TUMOUR: tuple[Label, ...] = (*CANAL, Label.EPIDURAL_TUMOUR)


@dataclass(frozen=True)
class MeasureConfig:
    """Settings of the measurement step (configs/measure.yaml). Lengths in mm, areas in mm², percentages %."""

    step_mm: float = 1.0                       # arc-length step between cross-sections (<= 1 mm)
    smooth_mm: float = 8.0                     # Gaussian kernel of the centreline smoothing
    bin_mm: float = 2.0                        # slab thickness of the first centreline estimate
    centreline_iterations: int = 2
    pixel_mm: float = 0.3                      # in-plane pixel of the cross-section sampling
    section_margin_mm: float = 3.0             # plane half-width beyond the canal's largest radius
    max_radius_mm: float = 30.0
    gap_mm: float = 10.0                       # compromise references: start this far from the lesion ...
    length_mm: float = 20.0                    # ... and are this long (Spinal Cord Toolbox)
    min_tumour_area_mm2: float = 1.0           # a section with less epidural tumour counts as free of it
    profile_smooth_mm: float = 5.0             # running mean of the area/diameter profiles along the canal
    narrowed_pct: float = 20.0                 # a section this much below the local median area is abnormal
    narrowed_window_mm: float = 40.0
    collapse_abnormal_pct: float = 20.0        # sections of a vertebra with this height loss are abnormal
    bilsky_cord_intrusion_pct: float = 10.0    # grade 2: tumour fills this much of where the cord should be
    bilsky_no_csf_area_mm2: float = 0.5        # grade 3: no more CSF than this left in the section
    bilsky_min_sections: int = 2               # a level's grade must be reached on this many sections
    conus_taper_mm: float = 22.0               # the cord above its tip is tapering: never a cord reference
    canal_end_taper_mm: float = 18.0           # a canal ending in view tapers over this length: not measured
    min_disc_gap_mm: float = 8.0               # disc fragments closer than this are one disc
    min_body_fraction: float = 0.25            # a body smaller than this x the median body is not a vertebra
    sacrum_length_factor: float = 1.4
    conus_level: str = "L1"                    # where the conus usually lies (+-1 level): a naming cross-check
    conus_margin_mm: float = 10.0              # canal must continue this far below the cord end to be a conus
    min_lesion_volume_mm3: float = 5.0
    lesion_blastic_z: float = 1.0
    lesion_lytic_z: float = -1.0
    lesion_mixed_fraction: float = 0.25
    sins_collapse_min_pct: float = 20.0
    min_posterolateral_mm3: float = 5.0

    def __post_init__(self) -> None:
        if not 0 < self.step_mm <= 1.0:
            raise ValueError("step_mm must be in (0, 1]")
        if not 0 < self.pixel_mm <= 1.0:
            raise ValueError("pixel_mm must be in (0, 1]")
        if self.smooth_mm <= 0 or self.bin_mm <= 0 or self.gap_mm < 0 or self.length_mm <= 0:
            raise ValueError("smooth_mm, bin_mm, length_mm must be > 0 and gap_mm >= 0")


@dataclass
class MeasurementReport:
    """The measurements of one study; :meth:`to_dict` is the content of report.json."""

    alert: Alert
    levels: list[dict[str, Any]]
    lesions: list[dict[str, Any]]
    worst: dict[str, Any]
    centreline_mm: list[list[float]]
    naming: dict[str, Any]
    definitions: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    sections: CrossSections | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable report (report.json)."""
        return {"alert": self.alert.to_dict(), "worst": self.worst, "levels": self.levels,
                "lesions": self.lesions, "naming": self.naming, "centreline_mm": self.centreline_mm,
                "definitions": self.definitions, "notes": list(self.notes)}

    def level(self, name: str) -> dict[str, Any]:
        """The entry of level ``name``; KeyError if absent."""
        for lv in self.levels:
            if lv["name"] == name:
                return lv
        raise KeyError(name)


def _r(x: float | None, nd: int = 1) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), nd)


def _validate(labels: np.ndarray, affine: np.ndarray, image: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(labels)
    if labels.ndim != 3:
        raise InputError("Label map has the wrong dimensions", expected="a 3-D array (i, j, k)",
                         found=f"{labels.ndim}-D shape {labels.shape}")
    if labels.dtype.kind == "f":
        if not np.all(np.isfinite(labels)) or np.any(labels != np.round(labels)):
            raise InputError("Label map holds non-integer values", expected="integer schema labels 0..7",
                             found="fractional or non-finite values", hint="Pass a label map, not an image")
        labels = labels.astype(np.int16)
    elif labels.dtype.kind not in "iub":
        raise InputError("Label map has an unusable type", expected="integer labels", found=str(labels.dtype))
    if labels.dtype.kind in "ub" and labels.dtype.itemsize == 1:
        values = np.flatnonzero(np.bincount(labels.ravel().view(np.uint8), minlength=256))
    else:
        values = np.unique(labels)
    bad = [int(v) for v in values if int(v) not in {int(c) for c in Label}]
    if bad:
        raise InputError("Label map holds values outside the spinedetect schema", expected="values 0..7",
                         found=f"values {bad[:5]}", hint="Map data-set labels onto the schema first")
    affine = np.asarray(affine, dtype=np.float64)
    if affine.shape != (4, 4) or not np.all(np.isfinite(affine)) or abs(np.linalg.det(affine[:3, :3])) < 1e-9:
        raise InputError("Affine is unusable", expected="a finite, invertible 4x4 voxel-to-RAS matrix",
                         found=f"shape {affine.shape}")
    if image is not None and np.shape(image) != labels.shape:
        raise InputError("Image and label map differ in shape", expected=f"image shape {labels.shape}",
                         found=f"{np.shape(image)}", hint="Give the image the labels were drawn on")
    return labels.astype(np.uint8, copy=False), affine


def _anterior_reference(labels: np.ndarray, affine: np.ndarray, canal_xyz: np.ndarray) -> np.ndarray | None:
    """Unit world vector from the canal's centroid to the vertebral bodies' (None: too few body voxels)."""
    body = union_mask(labels, (Label.VERTEBRAL_BODY, Label.OSSEOUS_LESION))
    # the centroid from the voxel counts per index along each axis: exact integer sums, no voxel list
    per_ij = body.sum(axis=2)
    counts = (per_ij.sum(axis=1), per_ij.sum(axis=0), body.sum(axis=(0, 1)))
    total = int(counts[0].sum())
    if total < 20:
        return None
    centroid = np.array([np.arange(len(c)) @ c for c in counts]) / total
    cb = voxel_to_world(centroid[None], affine)[0]
    d = cb - canal_xyz.mean(0)
    n = np.linalg.norm(d)
    return d / n if n > 1e-6 else None


def _rolling_median(values: np.ndarray, s: np.ndarray, window: float) -> np.ndarray:
    """Median of the finite ``values`` whose ``s`` lies within ``window`` / 2 of each one's (NaN where none)."""
    inside = (np.abs(s[:, None] - s[None, :]) <= window / 2) & np.isfinite(values)[None, :]
    count = inside.sum(axis=1)
    ranked = np.sort(np.where(inside, values[None, :], np.inf), axis=1)  # the window's values first, in order
    rows = np.arange(len(values))
    low, high = ranked[rows, np.maximum(count - 1, 0) // 2], ranked[rows, count // 2 - (count == 0)]
    return np.where(count > 0, (low + high) / 2, np.nan)


def _smooth_profile(values: np.ndarray, window: int) -> np.ndarray:
    """Running mean over ``window`` sections of the finite values; NaN stays NaN (not measurable)."""
    if window <= 1:
        return values.copy()
    ok = np.isfinite(values)
    kernel = np.ones(window)
    num = np.convolve(np.where(ok, values, 0.0), kernel, mode="same")
    den = np.convolve(ok.astype(np.float64), kernel, mode="same")
    with np.errstate(invalid="ignore", divide="ignore"):
        out = num / den
    out[~ok] = np.nan
    return out


class _Compromise:
    """compromise_at on one profile, computed on demand per cross-section and cached."""

    def __init__(self, profile: np.ndarray, s: np.ndarray, abnormal: np.ndarray, cfg: MeasureConfig) -> None:
        self.profile = CompromiseProfile(profile, s, abnormal, gap_mm=cfg.gap_mm, length_mm=cfg.length_mm)
        self._cache: dict[int, CompromiseResult | None] = {}

    def __getitem__(self, i: int) -> CompromiseResult | None:
        if i not in self._cache:
            self._cache[i] = self.profile.at(i) if np.isfinite(self.profile.profile[i]) else None
        return self._cache[i]

    def __len__(self) -> int:
        return len(self.profile.profile)


def _pct(results: _Compromise, i: int | None) -> float | None:
    if i is None or results[i] is None:
        return None
    return results[i].pct  # type: ignore[union-attr]


def _cord_intrusion(sec: CrossSections, abnormal: np.ndarray, cfg: MeasureConfig) -> np.ndarray:
    """Fraction of the expected cord that epidural tumour occupies, per section (0 where not assessed).

    The expected cord is the cord mask of the nearest normal cross-section on each side of the abnormal
    run (same in-plane pixel grid, frames continuous along the centreline); the smaller of the two
    fractions is kept so a slightly shifted reference does not invent a compression.
    """
    n = len(sec.s_mm)
    out = np.zeros(n)
    if sec.cord_planes is None or sec.tumour_planes is None:
        return out
    ref_ok = sec.valid & ~abnormal & (np.nan_to_num(sec.cord_area_mm2) > 0)
    for i in np.flatnonzero(sec.tumour_touches_cord):
        fracs = []
        for side in (-1, 1):
            j = i
            while 0 <= j < n and not ref_ok[j]:
                j += side
            if 0 <= j < n and abs(sec.s_mm[j] - sec.s_mm[i]) <= cfg.gap_mm + cfg.length_mm:
                exp = sec.cord_planes[j]
                fracs.append(np.count_nonzero(exp & sec.tumour_planes[i]) / max(np.count_nonzero(exp), 1))
        out[i] = min(fracs) if fracs else 0.0
    return out


def _section_grades(sec: CrossSections, intrusion: np.ndarray, cfg: MeasureConfig) -> np.ndarray:
    """Bilsky ordinal (0..5 as in BilskyGrade; -1 = no epidural tumour) of every cross-section.

    3: cord present and no CSF left in the section; 2: tumour touches the cord and occupies at least
    ``bilsky_cord_intrusion_pct`` of where the cord should be (the cord is compressed/deformed); 1c:
    tumour touches the cord; 1b: tumour touches the thecal sac; 1a: the sac is not reached.
    """
    n = len(sec.s_mm)
    out = np.full(n, -1, dtype=np.int64)
    tumour = np.nan_to_num(sec.tumour_area_mm2) >= cfg.min_tumour_area_mm2
    cord = np.nan_to_num(sec.cord_area_mm2) > 0
    no_csf = cord & (np.nan_to_num(sec.csf_area_mm2) <= cfg.bilsky_no_csf_area_mm2)
    squeezed = intrusion * 100.0 >= cfg.bilsky_cord_intrusion_pct
    for i in np.flatnonzero(tumour):
        if no_csf[i]:
            g = BilskyGrade.G3
        elif sec.tumour_touches_cord[i] and squeezed[i]:
            g = BilskyGrade.G2
        elif sec.tumour_touches_cord[i]:
            g = BilskyGrade.G1C
        elif sec.tumour_touches_sac[i]:
            g = BilskyGrade.G1B
        else:
            g = BilskyGrade.G1A
        out[i] = g.ordinal
    return out


def _level_bilsky(idx: np.ndarray, grades: np.ndarray, min_sections: int) -> BilskyGrade | None:
    """Highest grade reached by at least ``min_sections`` of the sections ``idx`` (None: no tumour)."""
    g = np.sort(grades[idx])[::-1]
    g = g[g >= 0]
    if len(g) == 0:
        return None
    return list(BilskyGrade)[int(g[min(min_sections, len(g)) - 1])]


def _conus(sec: CrossSections, cfg: MeasureConfig) -> float | None:
    has_cord = sec.valid & (np.nan_to_num(sec.cord_area_mm2) > 0)
    if not has_cord.any():
        return None
    last = int(np.flatnonzero(has_cord)[-1])
    below = sec.valid[last + 1:] & (np.nan_to_num(sec.canal_area_mm2[last + 1:]) > 0)
    if below.sum() * np.median(np.diff(sec.s_mm)) >= cfg.conus_margin_mm:
        return float(sec.s_mm[last])
    return None


def _vertebrae(labels: np.ndarray, affine: np.ndarray, bone: Future[BoneVoxels],
               cl: Centreline, cfg: MeasureConfig) -> tuple[Centreline, BoneCoordinates, list[Vertebra]]:
    """The prolonged centreline, the bone voxels' canal coordinates and the vertebrae (unnamed)."""
    cl_ext = cl.extended(80.0)
    bc = bone_coordinates(labels, affine, cl_ext, voxels=bone.result())
    verts = split_vertebrae(labels, bc, cl, min_disc_gap_mm=cfg.min_disc_gap_mm,
                            min_body_fraction=cfg.min_body_fraction)
    return cl_ext, bc, verts


@functools.lru_cache(maxsize=1)
def _blas_threads() -> ThreadpoolController:
    """The BLAS libraries numpy and scipy loaded (looked up once, on the first measurement)."""
    return ThreadpoolController()


def measure_labels(labels: np.ndarray, affine: np.ndarray, *, image: np.ndarray | None = None,
                   config: MeasureConfig = MeasureConfig(), alert_config: AlertConfig = AlertConfig(),
                   level_hint: str | None = None, modality: str | None = None) -> MeasurementReport:
    """Measure a schema label map (i, j, k) on ``affine`` (voxel -> RAS world mm).

    ``image`` (same grid) with ``modality="CT"`` lets lesions be typed lytic / blastic / mixed. ``level_hint`` (``"lowest=L5"``,
    ``"highest=T10"``) names the levels, whatever the anatomy says (spinedetect.measure.levels).
    """
    # the matrix products here are thin (n x 3 points): BLAS threads cost more than they give, and in a
    # batch they would fight the DICOM helper process for the second core (bench_measure: CPU time halves)
    with _blas_threads().limit(limits=1, user_api="blas"):
        return _measure(labels, affine, image, config, alert_config, level_hint, modality)


def _measure(labels: np.ndarray, affine: np.ndarray, image: np.ndarray | None, config: MeasureConfig,
             alert_config: AlertConfig, level_hint: str | None, modality: str | None) -> MeasurementReport:
    cfg = config
    labels, affine = _validate(labels, affine, image)
    notes: list[str] = []
    # The vertebrae need only the centreline, the cross-sections only the centreline and the canal: a
    # second thread lists the bone voxels (and labels the disc pieces) while this one fits the centreline,
    # then splits the vertebrae while this thread samples the cross-sections (both are mostly large
    # numpy loops, which release the GIL).
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="spinedetect-measure") as beside:
        bone = beside.submit(bone_voxels, labels, affine)
        canal_xyz = voxel_to_world(voxels_of(labels, CANAL_AND_TUMOUR)[1].astype(np.float64), affine)
        ref = _anterior_reference(labels, affine, canal_xyz)
        if ref is None:
            notes.append("no vertebral bodies: the anterior direction is the scanner's anterior axis")
        cl = fit_centreline(canal_xyz, step_mm=cfg.step_mm, smooth_mm=cfg.smooth_mm, bin_mm=cfg.bin_mm,
                            iterations=cfg.centreline_iterations, anterior_ref=ref)
        vertebrae = beside.submit(_vertebrae, labels, affine, bone, cl, cfg)
        _, _, ca, cl_l = cl.project(canal_xyz)
        dist = np.hypot(ca, cl_l)
        radius = min(cfg.max_radius_mm, float(np.percentile(dist, 99.5)) + cfg.section_margin_mm)
        sec = sample_sections(labels, affine, cl, radius_mm=radius, pixel_mm=cfg.pixel_mm,
                              end_taper_mm=cfg.canal_end_taper_mm)
        cl_ext, bc, verts = vertebrae.result()
    s = sec.s_mm

    # names, heights
    conus = _conus(sec, cfg)
    naming = name_vertebrae(verts, bc, cl_ext, shape=labels.shape, affine=affine, conus_s_mm=conus,
                            conus_level=cfg.conus_level, level_hint=level_hint,
                            sacrum_length_factor=cfg.sacrum_length_factor)
    for v in verts:
        if v.name is None:
            v.name = f"V{v.index + 1}"
        v.heights_mm = body_heights(v, bc, cl_ext, affine)
    losses: dict[int, tuple[float | None, str | None]] = {}
    for v in verts:
        if v.is_sacrum:
            losses[v.index] = (None, "the sacrum is not graded")
        elif v.partial:
            losses[v.index] = (None, "vertebral body not entirely in the field of view")
        elif v.heights_mm is None:
            losses[v.index] = (None, "too few body voxels to measure heights")
        else:
            exp = expected_heights(v.index, verts)
            if exp is None:
                losses[v.index] = (None, "no complete neighbouring vertebra to compare heights with")
            else:
                loss, _ = height_loss(v.heights_mm, exp)
                losses[v.index] = (loss, None) if np.isfinite(loss) else (None, "body heights not measurable")

    # abnormal sections: epidural tumour, collapse, clear local narrowing
    tumour = np.nan_to_num(sec.tumour_area_mm2) >= cfg.min_tumour_area_mm2
    abnormal = tumour.copy()
    for v in verts:
        loss = losses[v.index][0]
        if loss is not None and loss >= cfg.collapse_abnormal_pct:
            abnormal |= (s >= v.s_from) & (s < v.s_to)
    # voxel sampling makes each section's area scatter by a few percent: the profiles used for minima
    # and compromise are running means over profile_smooth_mm, shorter than any clinical narrowing
    win = max(1, int(round(cfg.profile_smooth_mm / cfg.step_mm)) | 1)
    canal_area = _smooth_profile(sec.canal_area_mm2, win)
    canal_ap = _smooth_profile(sec.canal_ap_mm, win)
    local = _rolling_median(canal_area, s, cfg.narrowed_window_mm)
    with np.errstate(invalid="ignore"):
        abnormal |= canal_area < (1 - cfg.narrowed_pct / 100.0) * local
    cord_profile = _smooth_profile(np.where(np.nan_to_num(sec.cord_area_mm2) > 0, sec.cord_area_mm2, np.nan), win)
    if conus is not None:  # the tapering conus is not a compressed cord, nor a reference for one
        cord_profile[s > conus - cfg.conus_taper_mm] = np.nan
    comp = {"canal": _Compromise(canal_area, s, abnormal, cfg), "canal_ap": _Compromise(canal_ap, s, abnormal, cfg),
            "cord": _Compromise(cord_profile, s, abnormal, cfg)}
    grades = _section_grades(sec, _cord_intrusion(sec, abnormal, cfg), cfg)

    # lesions
    if modality is not None and modality not in ("CT", "MR"):
        raise InputError("Unknown modality", expected="'CT' or 'MR'", found=repr(modality))
    lesions = find_lesions(labels, bc, verts, affine, min_volume_mm3=cfg.min_lesion_volume_mm3, image=image,
                           modality=modality,
                           blastic_z=cfg.lesion_blastic_z, lytic_z=cfg.lesion_lytic_z,
                           mixed_fraction=cfg.lesion_mixed_fraction)
    voxel_mm3 = float(abs(np.linalg.det(affine[:3, :3])))
    body_flag = np.zeros(len(bc.s), dtype=bool)
    for v in verts:
        body_flag[v.body] = True

    levels: list[dict[str, Any]] = []
    findings: list[LevelFindings] = []
    for v in verts:
        idx = np.flatnonzero((s >= v.s_from) & (s < v.s_to) & sec.valid)
        why: dict[str, str] = {}
        entry: dict[str, Any] = {"name": v.name, "s_range_mm": [_r(v.s_from), _r(v.s_to)],
                                 "partial": v.partial, "is_sacrum": v.is_sacrum,
                                 "body_center_mm": ([_r(float(x), 2) for x in bc.xyz[v.body].mean(axis=0)]
                                                    if len(v.body) else None)}
        i_min = i_ap = i_cord = None
        if len(idx) == 0:
            why["canal"] = "no measurable cross-section of the canal at this level"
        else:
            i_min = int(idx[np.nanargmin(canal_area[idx])])
            i_min = plateau_run(canal_area, idx, i_min, 0.01 * canal_area[i_min] + 0.5)[0]
            i_ap = int(idx[np.nanargmin(canal_ap[idx])])
            cidx = idx[np.isfinite(cord_profile[idx])]
            if len(cidx):
                i_cord = int(cidx[np.nanargmin(cord_profile[cidx])])
            else:
                why["cord_compression_pct"] = ("no full-size spinal cord at this level (conus taper, below the "
                                               "conus, or not labelled)")
        c_area = comp["canal"][i_min] if i_min is not None else None
        c_ap = comp["canal_ap"][i_ap] if i_ap is not None else None
        c_cord = comp["cord"][i_cord] if i_cord is not None else None
        entry["canal_area_mm2"] = _r(canal_area[i_min]) if i_min is not None else None
        entry["canal_ap_mm"] = _r(canal_ap[i_ap]) if i_ap is not None else None
        entry["canal_transverse_mm"] = _r(sec.canal_transverse_mm[i_min]) if i_min is not None else None
        entry["cord_area_mm2"] = _r(cord_profile[i_cord]) if i_cord is not None else None
        entry["canal_compromise_pct"] = _r(c_area.pct) if c_area is not None else None
        entry["canal_compromise_ap_pct"] = _r(c_ap.pct) if c_ap is not None else None
        entry["cord_compression_pct"] = _r(c_cord.pct) if c_cord is not None else None
        for key, res in (("canal_compromise_pct", c_area), ("canal_compromise_ap_pct", c_ap),
                         ("cord_compression_pct", c_cord)):
            if res is not None and res.note:
                why[key] = res.note
        entry["worst_position_mm"] = ([_r(x, 2) for x in sec.centre_mm[i_min]] if i_min is not None else None)
        grade = _level_bilsky(idx, grades, cfg.bilsky_min_sections)
        grade_why = (f"highest grade on >= {cfg.bilsky_min_sections} cross-sections with epidural tumour"
                     if grade is not None else "no epidural tumour at this level")
        lv_lesions = [les for les in lesions if les.level == v.name]
        if grade is None and lv_lesions:
            grade, grade_why = BilskyGrade.G0, "osseous disease without epidural tumour"
        entry["bilsky"] = grade.value if grade is not None else None
        entry["bilsky_basis"] = grade_why
        loss, loss_why = losses[v.index]
        entry["heights_mm"] = ({k: _r(float(v.heights_mm[np.argmin(np.abs(HEIGHT_BINS - b))]))
                                for k, b in (("anterior", 0.6), ("middle", 0.0), ("posterior", -0.6))}
                               if v.heights_mm is not None else None)
        entry["height_loss_pct"] = _r(loss)
        genant = genant_from_height_loss(loss) if loss is not None else None
        entry["genant"] = int(genant) if genant is not None else None
        if loss_why:
            why["height_loss_pct"] = why["genant"] = loss_why
        # SINS imaging components
        sins: dict[str, Any] | None = None
        if lv_lesions:
            sins_why: dict[str, str] = {}
            try:
                loc = sins_location_score(base_level_name(v.name)) if v.name else None  # "L5?" scores as L5
            except ValueError:
                loc = None
            if loc is None:
                sins_why["location"] = "level not named"
            types = {les.type for les in lv_lesions if les.type is not None}
            ltype = None
            if types:
                ltype = LesionType.MIXED if len(types) > 1 else LesionType(types.pop())
            else:
                sins_why["lesion_type"] = lv_lesions[0].type_reason or "lesion type unknown"
            involvement = min(100.0, sum(les.body_involvement_pct or 0.0 for les in lv_lesions))
            collapse = (sins_collapse_score(loss, involvement, collapse_min_pct=cfg.sins_collapse_min_pct)
                        if loss is not None else None)
            if collapse is None:
                sins_why["collapse"] = loss_why or "height loss not measurable"
            lvox = np.concatenate([les.voxels for les in lv_lesions])
            post = lvox[~body_flag[lvox]]
            left = (bc.l[post] < 0).sum() * voxel_mm3 >= cfg.min_posterolateral_mm3
            right = (bc.l[post] >= 0).sum() * voxel_mm3 >= cfg.min_posterolateral_mm3
            postero = sins_posterolateral_score(bool(left), bool(right))
            comps = {"location": loc, "lesion_type": sins_lesion_type_score(ltype) if ltype else None,
                     "alignment": None, "collapse": collapse, "posterolateral": postero}
            sins_why["alignment"] = "alignment is not assessed from a label map"
            sins_why["pain"] = "pain is clinical and not scored"
            partial = int(sum(x for x in comps.values() if x is not None))
            sins = {**comps, "partial_total": partial, "scored": sorted(k for k, x in comps.items() if x is not None),
                    "not_scored": sins_why,
                    "note": f"partial SINS {partial} of imaging components; pain is not scored"}
        entry["sins"] = sins
        if sins is None:
            why["sins"] = "no osseous lesion at this level"
        entry["lesion_count"] = len(lv_lesions)
        entry["null_reasons"] = why
        levels.append(entry)
        findings.append(LevelFindings(name=v.name or f"V{v.index + 1}",  # type: ignore[arg-type]
                                      canal_compromise_pct=entry["canal_compromise_pct"],
                                      cord_compression_pct=entry["cord_compression_pct"],
                                      bilsky=grade, genant=entry["genant"], osseous_lesions=len(lv_lesions),
                                      sins_partial=sins["partial_total"] if sins else None))
    alert = decide_alert(findings, alert_config)
    log.debug("measured %d levels (%s, confidence %.2f), %d lesions, alert %s", len(levels), naming.rule,
              naming.confidence, len(lesions), alert.level.value)

    # worst cross-section over the canal of the named levels: below the last one the thecal sac tapers to
    # its end, which is anatomy, not narrowing
    in_levels = np.zeros(len(s), dtype=bool)
    for v in verts:
        in_levels |= (s >= v.s_from) & (s < v.s_to)
    pcts = np.array([-np.inf if not in_levels[i] or (x := _pct(comp["canal"], i)) is None else x
                     for i in range(len(s))])
    worst: dict[str, Any]
    if np.isfinite(pcts).any():
        w = int(np.argmax(pcts))
        w, w_lo, w_hi = plateau_run(pcts, np.flatnonzero(np.isfinite(pcts)), w, 1.0)
        owner = next((v.name for v in verts if v.s_from <= s[w] < v.s_to), None)
        worst = {"level": owner, "canal_compromise_pct": _r(pcts[w]), "s_mm": _r(s[w]),
                 "plateau_s_mm": [_r(s[w_lo]), _r(s[w_hi])],
                 "position_mm": [_r(x, 2) for x in sec.centre_mm[w]],
                 "canal_area_mm2": _r(canal_area[w]),
                 "canal_compromise_ap_pct": _r(_pct(comp["canal_ap"], w)),
                 "cord_compression_pct": _r(_pct(comp["cord"], w)), "reason": None}
    else:
        worst = {"level": None, "canal_compromise_pct": None, "position_mm": None,
                 "reason": "no cross-section of a named level has normal canal within reach above or below"}

    les_out = [{"level": les.level, "site": les.site, "type": les.type, "type_reason": les.type_reason,
                "volume_mm3": _r(les.volume_mm3), "body_involvement_pct": _r(les.body_involvement_pct),
                "centroid_mm": [_r(x, 2) for x in les.centroid_mm]} for les in lesions]
    definitions = {
        "canal": "thecal sac = CSF ∪ cord; centreline through CSF ∪ cord ∪ epidural tumour",
        "cross_sections": f"planes perpendicular to the centreline every {cfg.step_mm} mm, nearest-neighbour "
                          f"sampling on {cfg.pixel_mm} mm pixels",
        "canal_compromise_pct": "(1 - m_i / mean(m_above, m_below)) x 100, m = canal area (running mean over "
                                f"{cfg.profile_smooth_mm} mm) at the level's smallest cross-section; references = normal canal {cfg.length_mm} mm long starting "
                                f"{cfg.gap_mm} mm beyond the abnormal run (Spinal Cord Toolbox)",
        "canal_compromise_ap_pct": "same formula on the canal's AP length through its lateral centre",
        "cord_compression_pct": "same formula on the spinal cord area (MSCC-style)",
        "abnormal_sections": "touched by epidural tumour, in a collapsed vertebra (height loss >= "
                             f"{cfg.collapse_abnormal_pct} %), or {cfg.narrowed_pct} % below the local median",
        "bilsky": "per cross-section with epidural tumour: 3 cord and no CSF (<= "
                  f"{cfg.bilsky_no_csf_area_mm2} mm²); 2 tumour touches the cord and fills >= "
                  f"{cfg.bilsky_cord_intrusion_pct} % of the cord outline of the nearest normal sections; 1c tumour touches the cord; 1b tumour touches the thecal "
                  f"sac; 1a sac not reached. Level grade: highest reached on >= {cfg.bilsky_min_sections} sections",
        "genant": "largest of anterior/middle/posterior height loss vs heights expected from up to two "
                  "complete neighbours on each side (line through them, a collapsed outlier dropped); heights "
                  "are means in AP bins over the central half of the body, the loss profile fitted by a line and "
                  "read at the walls; 0 < 20 %, 1 20-25 %, 2 25-40 %, 3 > 40 %",
        "level_extent": "from mid-disc above to mid-disc below the body",
        "sins": "imaging components only (location, lesion type, collapse, posterolateral); alignment and "
                "pain are not scored",
        "config": config_to_dict(cfg),
    }
    return MeasurementReport(
        alert=alert, levels=levels, lesions=les_out, worst=worst,
        centreline_mm=[[round(float(x), 2) for x in p] for p in cl.points_mm],
        naming={"rule": naming.rule, "confidence": naming.confidence, "detail": naming.detail,
                "conus_s_mm": _r(conus)},
        definitions=definitions, notes=notes, sections=sec)
