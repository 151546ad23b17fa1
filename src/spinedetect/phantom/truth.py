"""Ground truth of a phantom, computed from the analytic shapes (never from the voxel image).

Canal area, AP diameter and cord area are tabulated every centreline sample (0.5 mm) perpendicular to the
centreline: analytically (ellipse areas) where no tumour reaches, on a 0.1 mm in-plane grid where one does.
Compromise uses :func:`spinedetect.measure.compromise.compromise_at`; the alert uses
:func:`spinedetect.alert.decide_alert`; neither is re-implemented here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spinedetect.alert import AlertConfig, LevelFindings, decide_alert
from spinedetect.grading import BilskyGrade, genant_from_height_loss, sins_location_score, sins_partial_score
from spinedetect.measure.compromise import compromise_at, plateau_run
from spinedetect.phantom.model import SpineModel
from spinedetect.phantom.pathology import GRID_MM, section_grade, section_grid

__all__ = ["LevelTruth", "LesionTruth", "PhantomTruth", "CanalProfile", "canal_profile", "compute_truth"]

_VOLUME_GRID_MM = 0.5
_TYPE_RANK = {"blastic": 0, "mixed": 1, "lytic": 2}


def _r(x: float | None, nd: int = 3) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), nd)


def _vec(v: np.ndarray) -> list[float]:
    return [round(float(x), 3) for x in v]


@dataclass(frozen=True)
class LevelTruth:
    """Truth of one named level (mm, mm², %); canal values are minima over the level's canal extent.

    ``worst_s_mm`` / ``min_position_mm``: arc length and world position of the level's narrowest canal
    cross-section (where the compromise is evaluated).
    """

    name: str
    body_center_mm: tuple[float, float, float]
    canal_center_mm: tuple[float, float, float]
    s_range_mm: tuple[float, float]
    canal_area_mm2: float
    canal_ap_mm: float
    cord_area_mm2: float | None
    canal_compromise_pct: float | None
    canal_compromise_ap_pct: float | None
    cord_compression_pct: float | None
    bilsky: BilskyGrade | None
    genant: int
    height_loss_pct: float
    sins_location: int
    worst_s_mm: float
    min_position_mm: tuple[float, float, float]
    osseous_lesions: int = 0
    sins_partial: int | None = None
    in_fov: bool = True        # the body centre lies inside the image grid

    def findings(self) -> LevelFindings:
        """The alert rules' view of this level."""
        return LevelFindings(name=self.name, canal_compromise_pct=self.canal_compromise_pct,
                             cord_compression_pct=self.cord_compression_pct, bilsky=self.bilsky,
                             genant=self.genant, osseous_lesions=self.osseous_lesions, sins_partial=self.sins_partial)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "body_center_mm": list(self.body_center_mm),
                "canal_center_mm": list(self.canal_center_mm), "s_range_mm": list(self.s_range_mm),
                "canal_area_mm2": self.canal_area_mm2, "canal_ap_mm": self.canal_ap_mm,
                "cord_area_mm2": self.cord_area_mm2, "canal_compromise_pct": self.canal_compromise_pct,
                "canal_compromise_ap_pct": self.canal_compromise_ap_pct,
                "cord_compression_pct": self.cord_compression_pct,
                "bilsky": None if self.bilsky is None else self.bilsky.value, "genant": self.genant,
                "height_loss_pct": self.height_loss_pct, "sins_location": self.sins_location,
                "sins_partial": self.sins_partial, "osseous_lesions": self.osseous_lesions,
                "min_s_mm": round(self.worst_s_mm, 3), "min_position_mm": list(self.min_position_mm),
                "in_fov": self.in_fov}


@dataclass(frozen=True)
class LesionTruth:
    """One osseous metastasis (volume in mm³ of lesion inside bone; involvement of its body in %)."""

    level: str
    site: str
    type: str
    volume_mm3: float
    body_involvement_pct: float
    posterior_involvement: str
    epidural: bool

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class PhantomTruth:
    """Everything a correct pipeline should find in a phantom (positions RAS+ world mm)."""

    seed: int
    modality: str
    contrast: str
    acquisition: str
    spacing_mm: tuple[float, float, float]
    levels: tuple[LevelTruth, ...]
    lesions: tuple[LesionTruth, ...]
    alert: dict[str, Any]
    worst: dict[str, Any]
    centreline_mm: tuple[tuple[float, float, float], ...]
    centreline_s_mm: tuple[float, ...]
    conus_s_mm: float | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    def level(self, name: str) -> LevelTruth:
        """The truth of level ``name``."""
        for lv in self.levels:
            if lv.name == name:
                return lv
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (the truth.json schema)."""
        return {"seed": self.seed, "modality": self.modality, "contrast": self.contrast,
                "acquisition": self.acquisition, "spacing_mm": list(self.spacing_mm),
                "levels": [lv.to_dict() for lv in self.levels], "worst": self.worst,
                "lesions": [les.to_dict() for les in self.lesions], "alert": self.alert,
                "centreline_mm": [list(p) for p in self.centreline_mm],
                "centreline_s_mm": list(self.centreline_s_mm), "conus_s_mm": self.conus_s_mm,
                "notes": list(self.notes)}


@dataclass
class CanalProfile:
    """Per-sample canal measures along the centreline (perpendicular cross-sections)."""

    s: np.ndarray
    canal_area: np.ndarray     # mm², NaN where the sac tapers to its end
    canal_ap: np.ndarray       # mm, along the midline (r = 0)
    cord_area: np.ndarray      # mm², NaN where there is no full-size cord (above the conus taper only)
    tumour: np.ndarray         # bool: an epidural tumour reaches this cross-section
    grade: list[BilskyGrade | None]


#: Epidural tumour area (mm²) a cross-section needs for its Bilsky grade to count (measure's default too).
MIN_GRADED_TUMOUR_MM2 = 1.0


def canal_profile(model: SpineModel) -> CanalProfile:
    """Canal area / AP / cord area at every centreline sample, exact to the 0.1 mm grid."""
    t = model.tables
    n = len(model.s)
    area = np.pi * t["sac_a"] * t["sac_r"]
    ap = 2.0 * t["sac_a"].copy()
    cord = np.pi * t["cord_a"] * t["cord_r"]
    full_sac = np.ones(n, dtype=bool) if model.sac_end_s is None else model.s <= model.sac_end_s - 18.0 - 1e-6
    area = np.where(full_sac, area, np.nan)
    ap = np.where(full_sac, ap, np.nan)
    cord = np.where(t["cord_full"] > 0, cord, np.nan)
    tumour = np.zeros(n, dtype=bool)
    grade: list[BilskyGrade | None] = [None] * n
    for tm in model.tumours:
        tumour |= tm.profile(model.s) > 0
    for i in np.flatnonzero(tumour):
        a, r = section_grid(model, int(i))
        sec = model.canal_section(np.full(a.shape, i), a, r, np.full(a.shape, model.s[i]))
        canal = sec["csf"] | sec["cord"]
        area[i] = np.count_nonzero(canal) * GRID_MM ** 2
        # AP diameter on the midline (r = 0), on a 0.01 mm line so it is not quantised by the grid
        line = np.arange(a[0, 0], a[-1, 0], 0.01)
        lsec = model.canal_section(np.full(line.shape, i), line, np.zeros_like(line), np.full(line.shape, model.s[i]))
        ap[i] = np.count_nonzero(lsec["csf"] | lsec["cord"]) * 0.01
        if np.isfinite(cord[i]):
            cord[i] = np.count_nonzero(sec["cord"]) * GRID_MM ** 2
        # A tumour tail thinner than this is invisible on any label map at clinical resolutions: it keeps the
        # cross-section out of the compromise references (abnormal) but does not grade the level.
        if np.count_nonzero(sec["tumour"]) * GRID_MM ** 2 >= MIN_GRADED_TUMOUR_MM2:
            grade[i] = section_grade(sec)
    return CanalProfile(model.s, area, ap, cord, tumour, grade)


def _min_and_compromise(values: np.ndarray, s: np.ndarray, sel: np.ndarray, abnormal: np.ndarray):
    idx = np.flatnonzero(sel & np.isfinite(values))
    if idx.size == 0:
        return None, None, None
    i = int(idx[np.argmin(values[idx])])
    i = plateau_run(values, idx, i, 0.01 * values[i] + 0.5)[0]  # a flat narrowing: its centre
    res = compromise_at(values, s, i, abnormal)
    return float(values[i]), res.pct, i


def _grid(lo: tuple[float, float, float], hi: tuple[float, float, float], g: float) -> tuple[np.ndarray, ...]:
    axes = [np.arange(l, h, g, dtype=np.float32) + np.float32(0.5 * g) for l, h in zip(lo, hi)]
    return tuple(x.ravel() for x in np.meshgrid(*axes, indexing="ij"))


def _body_volume(model: SpineModel, li: int) -> float:
    """Volume (mm³) of a level's body on a 1 mm grid (enough for an involvement percentage)."""
    lv = model.levels[li]
    ca = model.body_center_a(lv)
    S, A, R = _grid((lv.s_top - 3.0, ca - 0.5 * lv.body_ap - 2.0, -0.5 * lv.body_lr - 2.0),
                    ((lv.sacrum_end or lv.s_bot) + 3.0, ca + 0.5 * lv.body_ap + 2.0, 0.5 * lv.body_lr + 2.0), 1.0)
    body, _ = model.bone_masks(li, S, A, R)
    return float(np.count_nonzero(body))


def _lesion_volumes(model: SpineModel, k: int) -> tuple[float, float, float, float]:
    """(lesion in bone, lesion in body, lesion in left PE, lesion in right PE) volumes in mm³ (0.5 mm grid)."""
    les = model.lesions[k]
    g = _VOLUME_GRID_MM
    c = les.center
    ext = 1.25 * max(les.radii)
    S, A, R = _grid(tuple(x - ext for x in c), tuple(x + ext for x in c), g)  # type: ignore[arg-type]
    lm = model.lesion_mask(les, S, A, R)
    S, A, R = S[lm], A[lm], R[lm]
    body, pe = model.bone_masks(les.level, S, A, R)
    v = g ** 3
    return (np.count_nonzero(body | pe) * v, np.count_nonzero(body) * v,
            np.count_nonzero(pe & (R < 0)) * v, np.count_nonzero(pe & (R > 0)) * v)


def compute_truth(model: SpineModel, *, seed: int, modality: str, contrast: str, acquisition: str,
                  spacing_mm: tuple[float, float, float], alert_config: AlertConfig | None = None,
                  grid: tuple[np.ndarray, tuple[int, int, int]] | None = None) -> PhantomTruth:
    """Per-level canal measures, grades, lesion list and the expected alert of ``model``.

    ``grid`` (affine, shape) of the image marks the levels whose body centre lies inside it (``in_fov``).
    """
    inv = np.linalg.inv(grid[0]) if grid is not None else None
    prof = canal_profile(model)
    s = prof.s
    abnormal = prof.tumour.copy()
    for lv in model.levels:
        if lv.height_loss > 0:
            abnormal |= (s >= lv.s_range[0]) & (s <= lv.s_range[1])
    abnormal_cord = abnormal | ~np.isfinite(prof.cord_area)

    # lesions
    lesion_truth: list[LesionTruth] = []
    per_level: dict[int, list[tuple[LesionTruth, tuple[bool, bool]]]] = {}
    body_volumes: dict[int, float] = {}
    for k, les in enumerate(model.lesions):
        vol, vol_body, left, right = _lesion_volumes(model, k)
        if les.level not in body_volumes:
            body_volumes[les.level] = _body_volume(model, les.level)
        body_vol = body_volumes[les.level]
        minimum = 5.0  # mm³: less counts as not involved
        sides = int(left > minimum) + int(right > minimum)
        post = ("none", "unilateral", "bilateral")[sides]
        lt = LesionTruth(level=model.levels[les.level].name, site=les.site, type=les.type, volume_mm3=round(float(vol), 1),
                         body_involvement_pct=round(min(100.0, 100.0 * vol_body / body_vol), 2) if body_vol else 0.0,
                         posterior_involvement=post, epidural=les.epidural is not None)
        lesion_truth.append(lt)
        per_level.setdefault(les.level, []).append((lt, (left > minimum, right > minimum)))

    levels: list[LevelTruth] = []
    for li, lv in enumerate(model.levels):
        sel = (s >= lv.s_range[0]) & (s <= lv.s_range[1])
        area, comp, i_min = _min_and_compromise(prof.canal_area, s, sel, abnormal)
        ap, comp_ap, _ = _min_and_compromise(prof.canal_ap, s, sel, abnormal)
        cord, comp_cord, _ = _min_and_compromise(prof.cord_area, s, sel, abnormal_cord)
        grades = [prof.grade[i] for i in np.flatnonzero(sel) if prof.grade[i] is not None]
        lesions_here = per_level.get(li, [])
        bilsky = max(grades, key=lambda g: g.ordinal) if grades else (BilskyGrade.G0 if lesions_here else None)
        loss_pct = 100.0 * lv.height_loss
        genant = int(genant_from_height_loss(loss_pct))
        sins = None
        if lesions_here:
            ltype = max((lt.type for lt, _ in lesions_here), key=lambda x: _TYPE_RANK[x])
            body_inv = min(100.0, sum(lt.body_involvement_pct for lt, _ in lesions_here))
            left = any(sides[0] for _, sides in lesions_here)
            right = any(sides[1] for _, sides in lesions_here)
            post = ("none", "unilateral", "bilateral")[int(left) + int(right)]
            sins = sins_partial_score(lv.name, ltype, loss_pct, body_inv, post)
        i_c = int(model.sample_index(np.asarray(lv.s_center)))
        body_c = model.to_world(lv.s_center, model.body_center_a(lv), 0.0)
        in_fov = True
        if inv is not None:
            vox = inv[:3, :3] @ body_c + inv[:3, 3]
            in_fov = bool(np.all(vox >= -0.5) and np.all(vox <= np.asarray(grid[1]) - 0.5))
        levels.append(LevelTruth(
            name=lv.name, body_center_mm=tuple(_vec(body_c)), canal_center_mm=tuple(_vec(model.points[i_c])),
            s_range_mm=(round(lv.s_range[0], 3), round(lv.s_range[1], 3)),
            canal_area_mm2=_r(area), canal_ap_mm=_r(ap), cord_area_mm2=_r(cord),
            canal_compromise_pct=_r(comp, 2), canal_compromise_ap_pct=_r(comp_ap, 2),
            cord_compression_pct=_r(comp_cord, 2), bilsky=bilsky, genant=genant,
            height_loss_pct=round(loss_pct, 2), sins_location=sins_location_score(lv.name),
            worst_s_mm=float(s[i_min]) if i_min is not None else float(lv.s_center),
            min_position_mm=tuple(_vec(model.to_world(float(s[i_min]) if i_min is not None else lv.s_center))),
            osseous_lesions=len(lesions_here), sins_partial=sins, in_fov=in_fov))

    scored = [lv for lv in levels if lv.canal_compromise_pct is not None]
    if scored:
        w = max(scored, key=lambda lv: lv.canal_compromise_pct)
        worst = {"level": w.name, "canal_compromise_pct": w.canal_compromise_pct,
                 "position_mm": _vec(model.to_world(w.worst_s_mm)), "s_mm": round(w.worst_s_mm, 3)}
    else:
        worst = {"level": None, "canal_compromise_pct": None, "position_mm": None, "s_mm": None}
    alert = decide_alert([lv.findings() for lv in levels], alert_config)

    lo, hi = model.fov_s
    if model.sac_end_s is not None:
        hi = min(hi, model.sac_end_s)
    keep = np.flatnonzero((s >= lo) & (s <= hi))   # every sample: DS_MM (0.5 mm) apart
    notes = ("cord_area_mm2 / cord_compression_pct exclude the conus taper (no full-size cord there)",
             "canal values are minima over each level's extent (mid-disc to mid-disc) of cross-sections "
             "perpendicular to the centreline; compromise by spinedetect.measure.compromise_at")
    return PhantomTruth(
        seed=seed, modality=modality, contrast=contrast, acquisition=acquisition,
        spacing_mm=tuple(round(float(x), 4) for x in spacing_mm), levels=tuple(levels),
        lesions=tuple(lesion_truth), alert=alert.to_dict(), worst=worst,
        centreline_mm=tuple(tuple(_vec(model.points[i])) for i in keep),
        centreline_s_mm=tuple(round(float(s[i]), 3) for i in keep),
        conus_s_mm=_r(model.conus_s) if model.conus_s is not None else None, notes=notes)
