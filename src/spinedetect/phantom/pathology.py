"""Metastases, epidural tumour and collapse: drawing them and shaping the tumour to a chosen Bilsky grade."""

from __future__ import annotations

import logging
import numpy as np

from spinedetect.grading import BilskyGrade
from spinedetect.phantom.config import LesionSpec, PathologyConfig
from spinedetect.phantom.model import Lesion, SpineModel, Tumour

__all__ = ["plan_lesions", "collapse_plan", "place_lesions", "section_grid", "section_grade", "GRID_MM"]

log = logging.getLogger(__name__)

#: Step (mm) of the fine in-plane grids the truth is measured on.
GRID_MM = 0.1

_LOSS_RANGE = {1: (20.5, 24.5), 2: (26.0, 39.0), 3: (42.0, 60.0)}


def plan_lesions(cfg: PathologyConfig, level_names: list[str], rng: np.random.Generator) -> list[LesionSpec]:
    """The lesions of one phantom: the configured ones, or a random draw (possibly none)."""
    if cfg.lesions:
        return list(cfg.lesions)
    if rng.random() < cfg.p_clean:
        return []
    plans = []
    for _ in range(int(rng.integers(1, cfg.max_lesions + 1))):
        level = str(rng.choice(level_names))
        site = "body"
        if rng.random() < cfg.p_posterior:
            site = "left_posterior" if rng.random() < 0.5 else "right_posterior"
        ltype = str(rng.choice(list(cfg.lesion_types)))
        bilsky = None
        if rng.random() < cfg.p_epidural:
            bilsky = BilskyGrade(str(rng.choice([g.value for g in cfg.bilsky_grades])))
        genant = 0
        if site == "body" and level != "S1" and rng.random() < cfg.p_collapse:
            genant = int(rng.choice(list(cfg.genant_grades)))
        radius = float(rng.uniform(*cfg.lesion_radius_mm))
        plans.append(LesionSpec(level=level, site=site, type=ltype, bilsky=bilsky, genant=genant, radius_mm=radius))
    return plans


def collapse_plan(plans: list[LesionSpec], rng: np.random.Generator) -> dict[str, tuple[float, str]]:
    """Height loss (0..1) and shape per collapsed level, from the Genant grades asked for."""
    out: dict[str, tuple[float, str]] = {}
    for p in plans:
        if p.genant <= 0:
            continue
        loss = rng.uniform(*_LOSS_RANGE[p.genant]) / 100.0
        shape = str(rng.choice(["crush", "wedge", "biconcave"]))
        if p.level not in out or out[p.level][0] < loss:
            out[p.level] = (float(loss), shape)
    return out


def section_grid(model: SpineModel, i: int, margin: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Fine (GRID_MM) in-plane grid (a, r) covering the bony canal at sample ``i``; r = 0 is a grid column."""
    t = model.tables
    ca, ba, br = t["bc_ca"][i], t["bc_a"][i], t["bc_r"][i]
    na = int(np.ceil((ba + abs(ca) + margin) / GRID_MM))
    nr = int(np.ceil((br + margin) / GRID_MM))
    a = np.arange(-na, na + 1) * GRID_MM
    r = np.arange(-nr, nr + 1) * GRID_MM
    return np.meshgrid(a, r, indexing="ij")


def section_grade(sec: dict[str, np.ndarray]) -> BilskyGrade | None:
    """Bilsky grade of one cross-section from its masks (None: no epidural tumour there)."""
    if not sec["tumour"].any():
        return None
    cord, cord0 = sec["cord"], sec["cord0"]
    if cord.any() and not sec["csf"].any():
        return BilskyGrade.G3
    if cord0.any() and np.count_nonzero(cord ^ cord0) > 0.01 * np.count_nonzero(cord0) + 2:
        return BilskyGrade.G2
    if (cord0 & sec["tumour_disc"]).any():
        return BilskyGrade.G1C
    if (sec["sac0"] & sec["tumour_disc"]).any():
        return BilskyGrade.G1B
    return BilskyGrade.G1A


def _lesion_geometry(model: SpineModel, spec: LesionSpec, li: int, rng: np.random.Generator) -> Lesion:
    lv = model.levels[li]
    t = model.tables
    i = int(model.sample_index(np.asarray(lv.s_center)))
    front = t["bc_ca"][i] + t["bc_a"][i]
    R = spec.radius_mm
    lobes = (rng.uniform(0.05, 0.18), rng.uniform(0, 2 * np.pi), rng.uniform(0.0, 0.12), rng.uniform(0, 2 * np.pi))
    if spec.site == "body":
        h_eff = lv.s_bot - lv.s_top
        rs = min(R * rng.uniform(0.8, 1.1), 0.45 * h_eff + 2.0)
        ra = min(R * rng.uniform(0.8, 1.2), 0.45 * lv.body_ap)
        rr = min(R * rng.uniform(0.8, 1.2), 0.4 * lv.body_lr)
        s0 = lv.s_center + rng.uniform(-0.15, 0.15) * h_eff
        if spec.bilsky is not None:
            a0 = front + 0.55 * ra          # reaches the posterior wall of the body
            r0 = rng.uniform(-0.15, 0.15) * lv.body_lr
        else:
            a0 = front + 0.5 * lv.body_ap + rng.uniform(-0.2, 0.2) * lv.body_ap
            r0 = rng.uniform(-0.2, 0.2) * lv.body_lr
    else:
        side = 1.0 if spec.site == "right_posterior" else -1.0
        rs = min(R * rng.uniform(0.7, 0.9), 0.4 * lv.height)
        ra = min(R * rng.uniform(0.6, 0.9), 8.0)
        rr = min(R * rng.uniform(0.6, 0.9), 7.0)
        s0 = lv.s_top + 0.35 * lv.height
        a0 = t["bc_ca"][i] - 0.1 * t["bc_a"][i]
        r0 = side * (t["bc_r"][i] + 0.5 * lv.pe_thick)
    return Lesion(level=li, site=spec.site, type=spec.type, center=(float(s0), float(a0), float(r0)),
                  radii=(float(rs), float(ra), float(rr)), lobes=tuple(float(x) for x in lobes),
                  epidural=spec.bilsky, genant=spec.genant)


def _section_with(model: SpineModel, tm: Tumour, i: int, a: np.ndarray, r: np.ndarray) -> dict[str, np.ndarray]:
    saved = model.tumours
    model.tumours = [tm]
    try:
        return model.canal_section(np.full(a.shape, i), a, r, np.full(a.shape, model.s[i]))
    finally:
        model.tumours = saved


def _bisect(pred, lo: float, hi: float, steps: int = 24) -> float:
    """Smallest x in [lo, hi] with pred(x) True (pred monotone); hi if never true."""
    if not pred(hi):
        return hi
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        if pred(mid):
            hi = mid
        else:
            lo = mid
    return hi


def _shape_tumour(model: SpineModel, les: Lesion, lesion_index: int, rng: np.random.Generator) -> Tumour | None:
    grade = les.epidural
    assert grade is not None
    lv = model.levels[les.level]
    s0 = float(np.clip(les.center[0], lv.s_top + 2.0, lv.s_bot - 2.0))
    if les.site == "body":
        beta = rng.uniform(-0.35, 0.35)
        u = (float(np.cos(beta)), float(np.sin(beta)))
    else:
        side = 1.0 if les.site == "right_posterior" else -1.0
        v = np.array([-0.5 + rng.uniform(-0.15, 0.15), side * 0.85])
        v /= np.linalg.norm(v)
        u = (float(v[0]), float(v[1]))
    tm = Tumour(lesion=lesion_index, s0=s0, plateau=float(rng.uniform(2.5, 5.0)), taper=float(rng.uniform(6.0, 10.0)),
                u=u, radius=float(rng.uniform(8.0, 13.0)), target=grade)
    lo_s, hi_s = tm.s_span
    span = (model.s >= lo_s) & (model.s <= hi_s)
    has_full_cord = bool(np.all(model.tables["cord_full"][span] > 0))
    if grade.ordinal >= BilskyGrade.G1C.ordinal and not has_full_cord:
        log.info("level %s has no full-size cord: epidural grade %s lowered to 1b", lv.name, grade.value)
        grade = BilskyGrade.G1B
        tm.target = grade
    i0 = int(model.sample_index(np.asarray(s0)))
    a, r = section_grid(model, i0)
    t_wall = float(model.wall_distance(np.asarray(i0), u))

    def sec(pen: float) -> dict[str, np.ndarray]:
        tm.pen = pen
        return _section_with(model, tm, i0, a, r)

    pen_max = t_wall + model.tables["sac_a"][i0]
    def touches(key: str):
        def pred(p: float) -> bool:
            m = sec(p)
            return bool((m[key] & m["tumour_disc"]).any())
        return pred

    pen_sac = _bisect(touches("sac0"), 0.0, pen_max)
    has_cord = bool(model.tables["cord_a"][i0] > 0)
    pen_cord = _bisect(touches("cord0"), 0.0, pen_max) if has_cord else pen_max
    if grade is BilskyGrade.G1A:
        tm.pen = rng.uniform(0.45, 0.75) * pen_sac
    elif grade is BilskyGrade.G1B:
        if has_cord:
            lo, hi = pen_sac + 0.5, pen_cord - 1.2
            tm.pen = rng.uniform(lo, hi) if hi > lo else 0.5 * (pen_sac + pen_cord)
        else:
            sac_ap = 2.0 * float(model.tables["sac_a"][i0])
            tm.pen = pen_sac + rng.uniform(0.15, 0.6) * sac_ap
    elif grade is BilskyGrade.G1C:
        tm.pen = pen_cord + 0.6
        tm.cord_first = True
    elif grade is BilskyGrade.G2:
        cord_d = 2.0 * float(model.tables["cord_a"][i0])
        frac = rng.uniform(0.2, 0.4)
        tm.pen = pen_cord + frac * cord_d
        while not sec(tm.pen)["csf"].any() and frac > 0.05:
            frac *= 0.7
            tm.pen = pen_cord + frac * cord_d
    else:
        cord_area = np.count_nonzero(sec(0.0)["cord0"])
        g = rng.uniform(0.5, 0.8)
        def small_sac(p: float) -> bool:
            m = sec(p)
            return np.count_nonzero(m["sac0"] & ~m["tumour_disc"]) <= g * cord_area

        tm.pen = _bisect(small_sac, pen_cord, pen_max)
        m = sec(tm.pen)
        rest = m["sac0"] & ~m["tumour_disc"]
        t = model.tables
        cnorm = ((a[rest] - t["cord_ca"][i0]) / t["cord_a"][i0]) ** 2 + (r[rest] / t["cord_r"][i0]) ** 2
        tm.fill_k = float(np.sqrt(cnorm.max()) * 1.03) if cnorm.size else 1.0
    got = section_grade(sec(tm.pen))
    log.debug("tumour at %s: target %s, got %s at the peak (pen %.2f mm)", lv.name, grade.value,
              None if got is None else got.value, tm.pen)
    return tm


def place_lesions(model: SpineModel, plans: list[LesionSpec], rng: np.random.Generator) -> None:
    """Add the planned lesions (and their epidural tumours) to ``model``."""
    names = [lv.name for lv in model.levels]
    for spec in plans:
        li = names.index(spec.level)
        les = _lesion_geometry(model, spec, li, rng)
        model.lesions.append(les)
    tumours = []
    for k, les in enumerate(model.lesions):
        if les.epidural is not None:
            tm = _shape_tumour(model, les, k, rng)
            if tm is not None:
                tumours.append(tm)
    model.tumours = tumours
