"""Measurement of one study from its schema label map: levels, canal compromise, Bilsky, Genant, SINS, alert.

:func:`measure_labels` is the whole measurement step: pure numpy/scipy on a label map and its affine
(RAS world mm). Every value that cannot be measured is None with a reason, never a guess.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
import re
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage
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
from spinedetect.measure.sections import CrossSections, runs, sample_sections
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
from spinedetect.outputs.study_pictures import SAGITTAL_PNG, WORST_SECTION_PNG

__all__ = ["MeasureConfig", "MeasurementReport", "measure_labels"]

log = logging.getLogger(__name__)

#: The voxels the centreline is fitted to: the thecal sac and the epidural tumour that may fill the canal.
CANAL_AND_TUMOUR: tuple[Label, ...] = (*CANAL, Label.EPIDURAL_TUMOUR)


@dataclass(frozen=True)
class MeasureConfig:
    """Settings of the measurement step (configs/measure.yaml). Lengths in mm, areas in mm², percentages %.

    Documented normal ranges, used so that a canal's natural size is not read as a narrowing:
    ``lumbar_sac_normal_mm2`` -- lumbar dural sac cross-sectional area above 100 mm² is normal, 76-100 mm²
    relative and below 76 mm² absolute stenosis (Schönström N, Bolender NF, Spengler DM. The
    pathomorphology of spinal stenosis as seen on CT scans of the lumbar spine. Spine 1985;10:806-811);
    ``cervical_canal_narrow_ap_mm`` -- a cervical canal AP diameter below 13 mm is narrow (Edwards WC,
    LaRocca H. Spine 1983;8:20-27); ``cervical_cord_normal_mm2`` -- healthy cervical cord area is about
    60-90 mm² (Spinal Cord Toolbox normative data; De Leener B et al., NeuroImage 2017;145:24-43).
    ``min_lesion_volume_mm3`` / ``min_tumour_volume_mm3`` (100 mm³) are the inference's own minimum piece
    volumes (MODEL_CARD.md, ``inference.min_lesion_mm3`` / ``min_tumour_mm3``): smaller pieces are noise.
    """

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
    min_tumour_volume_mm3: float = 100.0       # epidural tumour pieces (26-connected) smaller than this are ignored
    min_reference_mm: float = 10.0             # a reference stretch needs this much usable canal / cord
    profile_smooth_mm: float = 5.0             # running mean of the area/diameter profiles along the canal
    narrowed_pct: float = 20.0                 # a section this much below the local median area is abnormal
    narrowed_window_mm: float = 40.0
    collapse_abnormal_pct: float = 20.0        # sections of a vertebra with this height loss are abnormal
    bilsky_cord_intrusion_pct: float = 10.0    # grade 2: tumour fills this much of where the cord should be
    bilsky_cord_area_loss_pct: float = 15.0    # grade 2: cord area this much below the normal cord next to it
    bilsky_cord_flattening_pct: float = 20.0   # grade 2: cord AP diameter this much below the normal cord's
    bilsky_no_csf_area_mm2: float = 0.5        # grade 3: no more CSF than this left in the section
    bilsky_min_sections: int = 2               # a level's grade must be reached on this many sections
    compression_cause_pct: float = 50.0        # a narrowing alerts where this much of the lost canal is tissue
    conus_taper_mm: float = 22.0               # the cord above its tip is tapering: never a cord reference
    canal_end_taper_mm: float = 18.0           # a canal ending in view tapers over this length: not measured
    min_disc_gap_mm: float = 8.0               # disc fragments closer than this are one disc
    min_body_fraction: float = 0.25            # a body smaller than this x the median body is not a vertebra
    sacrum_length_factor: float = 1.4
    conus_level: str = "L1"                    # where the conus usually lies (+-1 level): a naming cross-check
    conus_margin_mm: float = 10.0              # canal must continue this far below the cord end to be a conus
    min_lesion_volume_mm3: float = 100.0       # osseous lesion pieces smaller than this are not lesions
    lumbar_sac_normal_mm2: float = 100.0       # lumbar dural sac area above this is normal (Schönström 1985)
    cervical_canal_narrow_ap_mm: float = 13.0  # cervical canal AP below this is narrow (Edwards & LaRocca 1983)
    cervical_cord_normal_mm2: float = 60.0     # healthy cervical cord area is at least this (SCT norms, 60-90)
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
        self.profile = CompromiseProfile(profile, s, abnormal, gap_mm=cfg.gap_mm, length_mm=cfg.length_mm,
                                         min_reference_mm=cfg.min_reference_mm)
        self._cache: dict[int, CompromiseResult | None] = {}

    def __getitem__(self, i: int) -> CompromiseResult | None:
        if i not in self._cache:
            self._cache[i] = self.profile.at(i) if np.isfinite(self.profile.profile[i]) else None
        return self._cache[i]

    def __len__(self) -> int:
        return len(self.profile.profile)


def _both_sided_minimum(results: _Compromise, profile: np.ndarray, idx: np.ndarray) -> tuple[int | None, str | None]:
    """The level's smallest of the sections ``idx`` (at the centre of a flat minimum) where it has normal
    reference on both sides, or None and why not. One-sided figures are not measured: where the canal
    ends, widens or the scan stops, one neighbour alone turns natural size into 'compromise'; and a
    normal section elsewhere in the level does not stand in for its narrowest one."""
    if len(idx) == 0:
        return None, None
    i = int(idx[np.nanargmin(profile[idx])])
    i = plateau_run(profile, idx, i, 0.01 * profile[i] + 0.5)[0]
    r = results[i]
    if r is not None and r.both_sides:
        return i, None
    note = r.note if r is not None and r.note else "no normal reference within reach above or below"
    return None, (f"not measurable: {note}; a figure needs enough normal reference on both sides (here the "
                  "canal or cord ends, the scan ends, or the segmentation is interrupted within reach)")


def _canal_normal(name: str | None, area: np.ndarray, ap: np.ndarray, i: int | None, cfg: MeasureConfig) -> str | None:
    """Why the canal at section ``i`` of level ``name`` is normal by a documented range (None: no range
    applies there, or the canal is outside it). Lumbar/sacral levels: dural sac area (Schönström);
    cervical levels: canal AP (Edwards & LaRocca); thoracic levels have no range here."""
    if name is None or i is None or not name[:1] in "CLS" or not name[1:].isdigit():
        return None
    if name[0] in "LS" and area[i] > cfg.lumbar_sac_normal_mm2:
        return (f"dural sac {area[i]:.0f} mm² is above {cfg.lumbar_sac_normal_mm2:g} mm², a normal lumbar size "
                "(Schönström 1985)")
    if name[0] == "C" and ap[i] >= cfg.cervical_canal_narrow_ap_mm:
        return f"canal AP {ap[i]:.1f} mm is not below {cfg.cervical_canal_narrow_ap_mm:g} mm (cervical narrow canal)"
    return None


def _cord_normal(name: str | None, cord: np.ndarray, i: int | None, cfg: MeasureConfig) -> str | None:
    """Why the cord at section ``i`` is normal by a documented range (cervical cord area; else None)."""
    if name is None or i is None or name[:1] != "C" or not name[1:].isdigit():
        return None
    if cord[i] >= cfg.cervical_cord_normal_mm2:
        return f"cord {cord[i]:.0f} mm² is within the healthy cervical range (>= {cfg.cervical_cord_normal_mm2:g} mm²)"
    return None


def _evidence(res: CompromiseResult | None, why_not: str | None) -> tuple[float | None, str | None]:
    """The figure the alert may use: the compromise against each side alone (the smaller of the two), only
    where references stand on both sides and nothing (``why_not``) says the section is normal."""
    if res is None or res.focal_pct is None:
        return None, None
    if why_not:
        return None, f"no alert from this figure: {why_not}"
    return res.focal_pct, None


#: Tissue that can compress the thecal sac, i.e. take the place of canal lost at a compression.
_COMPRESSING = np.zeros(256, dtype=bool)
_COMPRESSING[[Label.VERTEBRAL_BODY, Label.POSTERIOR_ELEMENTS, Label.DISC, Label.OSSEOUS_LESION,
              Label.EPIDURAL_TUMOUR]] = True


def _unexplained_narrowing(sec: CrossSections, i: int | None, ref_ok: np.ndarray, cfg: MeasureConfig) -> str | None:
    """Why the canal narrowing at section ``i`` is no compression (None: it may be one).

    The canal of the nearest normal section on each side (same in-plane grid: frames run continuously
    along the centreline) that is not canal at ``i`` is the canal lost there. A compression puts tissue
    in its place (epidural tumour, bone, disc); where less than ``compression_cause_pct`` of it is such
    tissue, the place is unlabelled: the segmentation missed canal (or it is fat), which is no evidence.
    """
    if i is None or sec.label_planes is None:
        return None
    here = sec.label_planes[i]
    canal_here = (here == Label.CSF) | (here == Label.CORD)
    shares = []
    for j in _nearest_reference(ref_ok, sec.s_mm, i, cfg.gap_mm + cfg.length_mm):
        lost = ((sec.label_planes[j] == Label.CSF) | (sec.label_planes[j] == Label.CORD)) & ~canal_here
        if lost.any():
            shares.append(100.0 * float(_COMPRESSING[here[lost]].mean()))
    if not shares or np.mean(shares) >= cfg.compression_cause_pct:
        return None
    return (f"only {np.mean(shares):.0f} % of the canal lost here (against the normal sections next to it) is "
            "tumour, bone or disc; the rest is unlabelled, so the segmentation missed canal (or fat): check "
            "the image")


def _grade_section(idx: np.ndarray, grades: np.ndarray, grade: BilskyGrade | None) -> int | None:
    """The middle one of the sections ``idx`` graded ``grade`` (None: no such section)."""
    if grade is None or len(idx) == 0:
        return None
    hit = idx[grades[idx] == grade.ordinal]
    return int(hit[len(hit) // 2]) if len(hit) else None


def _compression_lead(alert: Alert, findings: list[LevelFindings]) -> str | None:
    """The alert's lead level where a compression finding (epidural tumour, canal or cord figure) raised
    it; None where the lead is bone only (collapse, lesions), which the sagittal picture shows."""
    f = next((x for x in findings if x.name == alert.worst_level), None)
    if f is None:
        return None
    if f.bilsky is not None and f.bilsky.ordinal >= BilskyGrade.G1A.ordinal:
        return f.name
    return f.name if f.canal_compromise_pct is not None or f.cord_compression_pct is not None else None


def _worst(lead: str | None, levels: list[dict[str, Any]], focus: dict[str, dict[str, int | None]],
           comp: dict[str, _Compromise], canal_area: np.ndarray, sec: CrossSections,
           verts: list[Vertebra]) -> dict[str, Any]:
    """The cross-section the report (and its axial picture) shows: in the level ``lead`` (the alert's lead,
    where a compression raised it), else anywhere in the named levels. Its largest both-sided canal
    compromise (at the centre of a flat maximum); where the lead level has none, the section its Bilsky
    grade or cord figure was read at. Below the last named level the thecal sac tapers to its end, which
    is anatomy, not narrowing."""
    s = sec.s_mm
    span = np.zeros(len(s), dtype=bool)
    for v in verts:
        if lead is None or v.name == lead:
            span |= (s >= v.s_from) & (s < v.s_to)
    pcts = np.full(len(s), -np.inf)
    for i in np.flatnonzero(span & sec.valid):
        r = comp["canal"][int(i)]
        if r is not None and r.both_sides and r.pct is not None:
            pcts[i] = r.pct
    entry = next((lv for lv in levels if lv["name"] == lead), None)
    if np.isfinite(pcts).any():
        w = int(np.argmax(pcts))
        w, w_lo, w_hi = plateau_run(pcts, np.flatnonzero(np.isfinite(pcts)), w, 1.0)
        basis = "largest canal compromise measured against normal canal on both sides"
        pct = _r(pcts[w])
    elif entry is not None:
        fx = focus.get(lead, {})  # type: ignore[arg-type]
        w = next((fx[k] for k in ("bilsky", "cord", "size") if fx.get(k) is not None), None)  # type: ignore[misc]
        if w is None:
            return {"level": lead, "canal_compromise_pct": None, "position_mm": None, "bilsky": entry["bilsky"],
                    "reason": "no measurable cross-section at the alert's lead level"}
        w_lo = w_hi = w
        basis = "the section the lead level's Bilsky grade or cord figure was read at (no both-sided canal figure)"
        pct = None
    else:
        return {"level": None, "canal_compromise_pct": None, "position_mm": None,
                "reason": "no cross-section of a named level has normal canal on both sides within reach"}
    owner = lead if lead is not None else _level_of(float(s[w]), verts)
    lv = entry or next((x for x in levels if x["name"] == owner), {})
    ap = comp["canal_ap"][w]
    cord = comp["cord"][w]
    return {"level": owner, "basis": basis, "canal_compromise_pct": pct, "s_mm": _r(s[w]),
            "plateau_s_mm": [_r(s[w_lo]), _r(s[w_hi])], "position_mm": [_r(x, 2) for x in sec.centre_mm[w]],
            "canal_area_mm2": _r(canal_area[w]),
            "canal_compromise_ap_pct": _r(ap.pct) if ap is not None and ap.both_sides else None,
            "cord_compression_pct": _r(cord.pct) if cord is not None and cord.both_sides else None,
            "bilsky": lv.get("bilsky"), "reason": None,
            # why a large figure raised no alert (unexplained narrowing, normal size), for the reader
            "alert_note": (lv.get("null_reasons") or {}).get("canal_alert")}


def _with_pictures(alert: Alert, section_level: str | None) -> Alert:
    """The alert with each reason naming the picture that shows it: every level is on the sagittal
    picture; the level of the report's worst cross-section (``section_level``) also on the axial one."""
    reasons = tuple(f"{r} (see {WORST_SECTION_PNG} and {SAGITTAL_PNG})" if r.split(":", 1)[0] == section_level
                    else f"{r} (see {SAGITTAL_PNG})" for r in alert.reasons)
    return dataclasses.replace(alert, reasons=reasons)


def _nearest_reference(ref_ok: np.ndarray, s: np.ndarray, i: int, reach_mm: float) -> list[int]:
    """The nearest section with ``ref_ok`` on each side of section ``i`` within ``reach_mm`` (0-2 indices)."""
    out = []
    for side in (-1, 1):
        j = i
        while 0 <= j < len(s) and not ref_ok[j]:
            j += side
        if 0 <= j < len(s) and abs(s[j] - s[i]) <= reach_mm:
            out.append(j)
    return out


def _cord_compressed(sec: CrossSections, cord_ok: np.ndarray, abnormal: np.ndarray, win: int,
                     cfg: MeasureConfig) -> np.ndarray:
    """Per section: whether the cord is compressed (bool; False where it cannot be judged).

    Judged on the cord's shape against the full-size cord of the nearest normal sections on each side
    within ``gap_mm + length_mm``, each side alone (the smaller change, as the cord's size changes from
    level to level too): flattened when its AP diameter is ``bilsky_cord_flattening_pct`` below; where
    tumour touches the cord, also when its area is ``bilsky_cord_area_loss_pct`` below or tumour fills
    ``bilsky_cord_intrusion_pct`` of the nearest normal cord's outline (same in-plane grid in every
    plane). A cord that tumour does not touch can only be flattened through the sac: a smaller area alone
    there is the label map's scatter (thick slices), not compression. Area loss and flattening count only
    beyond twice the coefficient of variation of the normal cord within reach (its own
    section-to-section scatter). Profiles are running means over ``win`` sections, as for the compromise.
    Only sections holding the full-size cord (``cord_ok``) next to tumour that reaches the sac are judged.
    """
    n = len(sec.s_mm)
    compressed = np.zeros(n, dtype=bool)
    has_cord = np.nan_to_num(sec.cord_area_mm2) > 0
    area = _smooth_profile(np.where(has_cord, sec.cord_area_mm2, np.nan), win)
    # flattening along the anterior axis, which lies in the image plane of sagittal and axial stacks alike;
    # the transverse width runs across the thick slices of a sagittal stack and jumps by a slice at a time
    ap = _smooth_profile(np.where(has_cord, sec.cord_ap_mm, np.nan), win)
    # a reference's running mean must not reach into the abnormal run, or it would share its loss; the
    # outline for the intrusion is the nearest normal plane (the frames drift along a curved canal)
    near_abnormal = np.convolve(abnormal.astype(np.float64), np.ones(win), mode="same") > 0
    ref_ok = cord_ok & ~near_abnormal & np.isfinite(area)
    outline_ok = cord_ok & ~abnormal
    reach = cfg.gap_mm + cfg.length_mm
    tumour = np.nan_to_num(sec.tumour_area_mm2) >= cfg.min_tumour_area_mm2
    # the section itself must hold the full-size cord: a taper or a break is no compression
    for i in np.flatnonzero(tumour & has_cord & cord_ok & sec.tumour_touches_sac):
        refs = _nearest_reference(ref_ok, sec.s_mm, i, reach)
        near = ref_ok & (np.abs(sec.s_mm - sec.s_mm[i]) <= reach)
        if refs:
            flat = min((1.0 - ap[i] / ap[j]) * 100.0 for j in refs)
            if flat >= max(cfg.bilsky_cord_flattening_pct, _scatter_pct(ap[near])):
                compressed[i] = True
                continue
        if not sec.tumour_touches_cord[i]:
            continue
        if refs:
            loss = min((1.0 - area[i] / area[j]) * 100.0 for j in refs)
            if loss >= max(cfg.bilsky_cord_area_loss_pct, _scatter_pct(area[near])):
                compressed[i] = True
                continue
        if sec.cord_planes is not None and sec.tumour_planes is not None:
            outlines = _nearest_reference(outline_ok, sec.s_mm, i, reach)
            filled = [np.count_nonzero(sec.cord_planes[j] & sec.tumour_planes[i])
                      / max(np.count_nonzero(sec.cord_planes[j]), 1) for j in outlines]
            compressed[i] = bool(filled) and min(filled) * 100.0 >= cfg.bilsky_cord_intrusion_pct
    return compressed


def _scatter_pct(values: np.ndarray) -> float:
    """Twice the coefficient of variation (percent) of the finite ``values``: a change smaller than this is
    within their section-to-section scatter (0 with fewer than three values)."""
    v = values[np.isfinite(values)]
    if len(v) < 3 or v.mean() <= 0:
        return 0.0
    return float(200.0 * v.std() / v.mean())


def _section_grades(sec: CrossSections, compressed: np.ndarray, cfg: MeasureConfig) -> np.ndarray:
    """Bilsky ordinal (0..5 as in BilskyGrade; -1 = no epidural tumour) of every cross-section.

    By the clinical definition: 3 cord compressed (or encased by tumour) and no CSF left in the section
    (<= ``bilsky_no_csf_area_mm2``); 2 cord compressed (see :func:`_cord_compressed`: its shape against
    the normal cord next to it, not mere contact), CSF still visible; 1c tumour touches the cord without
    compressing it; 1b tumour touches (deforms) the thecal sac; 1a the sac is not reached.
    """
    n = len(sec.s_mm)
    out = np.full(n, -1, dtype=np.int64)
    tumour = np.nan_to_num(sec.tumour_area_mm2) >= cfg.min_tumour_area_mm2
    cord = np.nan_to_num(sec.cord_area_mm2) > 0
    no_csf = cord & (np.nan_to_num(sec.csf_area_mm2) <= cfg.bilsky_no_csf_area_mm2)
    for i in np.flatnonzero(tumour):
        if no_csf[i] and (compressed[i] or sec.tumour_touches_cord[i]):
            g = BilskyGrade.G3
        elif compressed[i]:
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


def _drop_small_tumour(labels: np.ndarray, affine: np.ndarray, min_mm3: float) -> tuple[np.ndarray, int]:
    """``labels`` without the epidural tumour pieces (26-connected) under ``min_mm3``, and how many went.

    Such pieces become background: they were never canal, so the canal's area is unchanged.
    """
    tumour = labels == Label.EPIDURAL_TUMOUR
    if min_mm3 <= 0 or not tumour.any():
        return labels, 0
    box = tuple(slice(int(a.min()), int(a.max()) + 1) for a in np.nonzero(tumour))
    pieces, n = ndimage.label(tumour[box], structure=np.ones((3, 3, 3), dtype=bool))
    voxel_mm3 = float(abs(np.linalg.det(affine[:3, :3])))
    small = np.flatnonzero(np.bincount(pieces.ravel())[1:] * voxel_mm3 < min_mm3) + 1
    if len(small) == 0:
        return labels, 0
    out = labels.copy()
    sub = out[box]
    sub[np.isin(pieces, small)] = Label.BACKGROUND
    return out, len(small)


def _level_of(s_mm: float, verts: list[Vertebra]) -> str | None:
    return next((v.name for v in verts if v.s_from <= s_mm < v.s_to), None)


def _where(s_lo: float, s_hi: float, verts: list[Vertebra]) -> str:
    """'s 120-140 mm (T12-L1)': an arc-length stretch and the levels it lies in, for notes."""
    names = [n for n in (_level_of(s_lo, verts), _level_of(s_hi, verts)) if n]
    span = "-".join(dict.fromkeys(names))
    return f"s {s_lo:.0f}-{s_hi:.0f} mm" + (f" ({span})" if span else "")


def _canal_gaps(sec: CrossSections, verts: list[Vertebra], notes: list[str]) -> None:
    """Note every interruption of the canal between two stretches of it (a segmentation the centreline
    had to leave the canal to follow): the sections next to it were not measured (taper trimming)."""
    if sec.has_canal is None:
        return
    pieces = runs(sec.has_canal)
    gaps = [_where(sec.s_mm[end], sec.s_mm[start], verts) for (_, end), (start, _) in zip(pieces[:-1], pieces[1:])]
    if gaps:
        notes.append(f"implausible segmentation: the canal is interrupted ({', '.join(gaps)}) although it is "
                     "continuous down to the sac's end; the sections next to each gap are not measured")


#: The conus lies at T12-L3 (DESIGN.md "Real anatomy"): a cord below L3 is the cauda equina labelled as cord.
_BELOW_CONUS = re.compile(r"^(L[4-9]|S\d+)$")


def _usable_cord(sec: CrossSections, verts: list[Vertebra], cfg: MeasureConfig, notes: list[str]) -> np.ndarray:
    """Sections whose cord is the full-size cord (bool): cord labelled, away from every end of it.

    The cord runs from the brain to the conus without a break, so every end of a cord stretch inside the
    canal (the conus, or a break in the segmentation) tapers over ``conus_taper_mm`` and is never a
    compression nor a reference; an end at the edge of the field of view does not taper. A cord below
    L3 is the cauda equina drawn as cord: not measured, and said in the notes.
    """
    n = len(sec.s_mm)
    seen = (sec.cord_planes.any(axis=(1, 2)) if sec.cord_planes is not None
            else np.nan_to_num(sec.cord_area_mm2) > 0)
    ok = seen & sec.valid & (np.nan_to_num(sec.cord_area_mm2) > 0)
    edge = sec.at_edge if sec.at_edge is not None else np.zeros(n, dtype=bool)
    canal = sec.has_canal if sec.has_canal is not None else seen
    s = sec.s_mm
    pieces = runs(seen)
    for first, last in pieces:
        if first > 0 and canal[first - 1] and not edge[first]:  # cord starting inside the canal
            ok[(s >= s[first]) & (s < s[first] + cfg.conus_taper_mm)] = False
        if last < n - 1 and canal[last + 1] and not edge[last]:  # the conus, or a break
            ok[(s <= s[last]) & (s > s[last] - cfg.conus_taper_mm)] = False
    if len(pieces) > 1:
        breaks = ", ".join(_where(s[a], s[b], verts) for (_, a), (b, _) in zip(pieces[:-1], pieces[1:]))
        notes.append(f"implausible segmentation: the cord label is interrupted ({breaks}); no cord figures "
                     f"within {cfg.conus_taper_mm:g} mm of each break")
    low = [v for v in verts if v.name and _BELOW_CONUS.match(v.name) and seen[(s >= v.s_from) & (s < v.s_to)].any()]
    if low:
        notes.append(f"implausible segmentation: cord labelled at {', '.join(str(v.name) for v in low)}, below the "
                     "conus range (T12-L3): cauda equina roots drawn as cord; no cord figures there")
        for v in low:
            ok[(s >= v.s_from) & (s < v.s_to)] = False
    return ok


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
    labels, dropped = _drop_small_tumour(labels, affine, cfg.min_tumour_volume_mm3)
    if dropped:
        notes.append(f"{dropped} epidural tumour piece{'s' if dropped > 1 else ''} under "
                     f"{cfg.min_tumour_volume_mm3:g} mm³ ignored (below the minimum volume of a finding)")
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
        stray = int(np.count_nonzero(dist > radius)) * abs(float(np.linalg.det(affine[:3, :3])))
        if stray >= cfg.min_tumour_volume_mm3:  # label far from the canal (a finding's size): in no section
            notes.append(f"implausible segmentation: {stray:.0f} mm³ of canal, "
                         f"cord or tumour label lies more than {radius:.0f} mm from the canal's centreline "
                         "(outside the spinal canal) and is not measured")
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
    _canal_gaps(sec, verts, notes)
    # only the full-size cord is a compression or a reference: not the conus taper, not a break's ends,
    # not roots drawn as cord below the conus range
    cord_ok = _usable_cord(sec, verts, cfg, notes)
    cord_profile = _smooth_profile(np.where(cord_ok, sec.cord_area_mm2, np.nan), win)
    comp = {"canal": _Compromise(canal_area, s, abnormal, cfg), "canal_ap": _Compromise(canal_ap, s, abnormal, cfg),
            "cord": _Compromise(cord_profile, s, abnormal, cfg)}
    compressed = _cord_compressed(sec, cord_ok, abnormal, win, cfg)
    canal_ref_ok = sec.valid & ~abnormal & np.isfinite(canal_area)
    grades = _section_grades(sec, compressed, cfg)

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
    focus: dict[str, dict[str, int | None]] = {}  # per level, the section each figure was read at
    for v in verts:
        idx = np.flatnonzero((s >= v.s_from) & (s < v.s_to) & sec.valid)
        why: dict[str, str] = {}
        entry: dict[str, Any] = {"name": v.name, "s_range_mm": [_r(v.s_from), _r(v.s_to)],
                                 "partial": v.partial, "is_sacrum": v.is_sacrum,
                                 "body_center_mm": ([_r(float(x), 2) for x in bc.xyz[v.body].mean(axis=0)]
                                                    if len(v.body) else None)}
        i_min, why_canal = _both_sided_minimum(comp["canal"], canal_area, idx)
        i_ap, why_ap = _both_sided_minimum(comp["canal_ap"], canal_ap, idx)
        i_cord, why_cord = _both_sided_minimum(comp["cord"], cord_profile, idx[np.isfinite(cord_profile[idx])])
        if len(idx) == 0:
            why["canal"] = why_canal = why_ap = ("no measurable cross-section of the canal at this level (the "
                                                 "sac has ended, or is cut by the field of view)")
        for key, text in (("canal_compromise_pct", why_canal), ("canal_compromise_ap_pct", why_ap)):
            if text:
                why[key] = text
        if i_cord is None:
            why["cord_compression_pct"] = (why_cord if why_cord and np.isfinite(cord_profile[idx]).any() else
                                           "no full-size spinal cord at this level (conus taper, a break in "
                                           "the cord label, below the conus, or not labelled)")
        # the level's size where no both-sided figure exists: its smallest measurable section
        i_size = i_min if i_min is not None else (int(idx[np.nanargmin(canal_area[idx])]) if len(idx) else None)
        c_area = comp["canal"][i_min] if i_min is not None else None
        c_ap = comp["canal_ap"][i_ap] if i_ap is not None else None
        c_cord = comp["cord"][i_cord] if i_cord is not None else None
        entry["canal_area_mm2"] = _r(canal_area[i_size]) if i_size is not None else None
        entry["canal_ap_mm"] = _r(canal_ap[i_ap if i_ap is not None else i_size]) if i_size is not None else None
        entry["canal_transverse_mm"] = _r(sec.canal_transverse_mm[i_size]) if i_size is not None else None
        cidx = idx[np.isfinite(cord_profile[idx])]
        i_cord_size = i_cord if i_cord is not None else (int(cidx[np.argmin(cord_profile[cidx])]) if len(cidx) else None)
        entry["cord_area_mm2"] = _r(cord_profile[i_cord_size]) if i_cord_size is not None else None
        entry["canal_compromise_pct"] = _r(c_area.pct) if c_area is not None else None
        entry["canal_compromise_focal_pct"] = _r(c_area.focal_pct) if c_area is not None else None
        entry["canal_reference_mm2"] = ([_r(c_area.reference_above), _r(c_area.reference_below)]
                                        if c_area is not None else None)
        entry["canal_compromise_ap_pct"] = _r(c_ap.pct) if c_ap is not None else None
        entry["cord_compression_pct"] = _r(c_cord.pct) if c_cord is not None else None
        entry["cord_compression_focal_pct"] = _r(c_cord.focal_pct) if c_cord is not None else None
        entry["worst_position_mm"] = ([_r(x, 2) for x in sec.centre_mm[i_size]] if i_size is not None else None)
        # a documented normal size speaks against a narrowing without a cause in sight, not against a
        # sac that epidural tumour deforms
        normal_size = (None if i_min is None or tumour[i_min] else
                       _canal_normal(v.name, canal_area, canal_ap, i_min, cfg))
        canal_evidence, canal_why = _evidence(c_area, normal_size
                                              or _unexplained_narrowing(sec, i_min, canal_ref_ok, cfg))
        # extradural compression deforms the sac before the cord: a thin cord in a normal sac without
        # tumour or collapse is a thin cord label (or atrophy), not compression
        cord_evidence, cord_why = _evidence(c_cord, _cord_normal(v.name, cord_profile, i_cord, cfg) or (
            None if i_cord is None or abnormal[i_cord] else
            "the sac around this cord is not narrowed and holds no tumour (no compressing cause)"))
        if canal_why:
            why["canal_alert"] = canal_why
        if cord_why:
            why["cord_alert"] = cord_why
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
        focus[entry["name"]] = {"canal": i_min, "cord": i_cord, "size": i_size,
                                "bilsky": _grade_section(idx, grades, grade)}
        findings.append(LevelFindings(name=v.name or f"V{v.index + 1}",  # type: ignore[arg-type]
                                      canal_compromise_pct=_r(canal_evidence),
                                      cord_compression_pct=_r(cord_evidence),
                                      bilsky=grade, genant=entry["genant"], osseous_lesions=len(lv_lesions),
                                      sins_partial=sins["partial_total"] if sins else None))
    alert = decide_alert(findings, alert_config)
    log.debug("measured %d levels (%s, confidence %.2f), %d lesions, alert %s", len(levels), naming.rule,
              naming.confidence, len(lesions), alert.level.value)

    if not any(lv["canal_compromise_pct"] is not None for lv in levels) and verts:
        extent = _r(float(np.ptp(s[sec.valid])) if sec.valid.any() else 0.0)
        notes.append(f"no level has normal canal on both sides within reach (the canal in view is {extent} mm "
                     f"long; each reference is {cfg.length_mm:g} mm of normal canal starting {cfg.gap_mm:g} mm "
                     "away): compromise not measurable")
    worst = _worst(_compression_lead(alert, findings), levels, focus, comp, canal_area, sec, verts)
    alert = _with_pictures(alert, worst.get("level"))

    les_out = [{"level": les.level, "site": les.site, "type": les.type, "type_reason": les.type_reason,
                "volume_mm3": _r(les.volume_mm3), "body_involvement_pct": _r(les.body_involvement_pct),
                "centroid_mm": [_r(x, 2) for x in les.centroid_mm]} for les in lesions]
    definitions = {
        "canal": "thecal sac = CSF ∪ cord; centreline through CSF ∪ cord ∪ epidural tumour",
        "cross_sections": f"planes perpendicular to the centreline every {cfg.step_mm} mm, nearest-neighbour "
                          f"sampling on {cfg.pixel_mm} mm pixels",
        "canal_compromise_pct": "(1 - m_i / mean(m_above, m_below)) x 100, m = canal area (running mean over "
                                f"{cfg.profile_smooth_mm} mm) at the level's smallest cross-section; references = normal canal {cfg.length_mm} mm long starting "
                                f"{cfg.gap_mm} mm beyond the abnormal run (Spinal Cord Toolbox); each needs >= "
                                f"{cfg.min_reference_mm} mm of usable canal and both are required, else not measurable",
        "canal_compromise_focal_pct": "(1 - m_i / min(m_above, m_below)) x 100: the section against each side alone; "
                                      "the figure the alert uses, only where the size is outside the documented "
                                      f"normal range (lumbar sac > {cfg.lumbar_sac_normal_mm2} mm², Schönström; "
                                      f"cervical AP >= {cfg.cervical_canal_narrow_ap_mm} mm) and >= "
                                      f"{cfg.compression_cause_pct} % of the lost canal is tumour, bone or disc",
        "canal_compromise_ap_pct": "same formula on the canal's AP length through its lateral centre",
        "cord_compression_pct": "same formula on the full-size spinal cord area (MSCC-style): not within "
                                f"{cfg.conus_taper_mm} mm of an end of the cord inside the canal (conus, a break) "
                                "nor below L3; the alert uses it against each side alone and only where the "
                                "section is abnormal (tumour, collapse, narrowed sac)",
        "abnormal_sections": "touched by epidural tumour, in a collapsed vertebra (height loss >= "
                             f"{cfg.collapse_abnormal_pct} %), or {cfg.narrowed_pct} % below the local median",
        "bilsky": "per cross-section with epidural tumour (pieces >= "
                  f"{cfg.min_tumour_volume_mm3} mm³): cord compressed = its area >= {cfg.bilsky_cord_area_loss_pct} % "
                  f"or its AP diameter >= {cfg.bilsky_cord_flattening_pct} % below the full-size cord of the "
                  f"nearest normal sections, or tumour in >= {cfg.bilsky_cord_intrusion_pct} % of that cord's outline; "
                  f"3 cord compressed or encased and no CSF (<= {cfg.bilsky_no_csf_area_mm2} mm²); 2 cord compressed, "
                  "CSF visible; 1c tumour touches the cord; 1b tumour touches the thecal sac; 1a sac not reached. "
                  f"Level grade: highest reached on >= {cfg.bilsky_min_sections} sections",
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
