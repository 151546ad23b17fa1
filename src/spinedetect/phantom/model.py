"""The analytic spine: level layout, canal centreline, and every tissue as a function of local coordinates.

Local frame: ``s`` arc length along the canal centreline (mm, increasing inferiorly), ``a`` anterior offset
and ``r`` offset towards the patient's right, both measured in the plane perpendicular to the centreline.
Shapes are defined in this frame, so the per-level truth (areas perpendicular to the centreline) is exact.
The same functions serve the voxel grid (``tissues``) and the fine cross-section grids of the truth
(``canal_section``), which makes labels and truth agree by construction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

from spinedetect.grading import BilskyGrade
from spinedetect.labels import Label
from spinedetect.phantom.config import LEVEL_NAMES, AnatomyConfig

__all__ = ["Tissue", "TISSUE_LABELS", "Level", "Lesion", "Tumour", "SpineModel", "build_spine", "DS_MM"]

log = logging.getLogger(__name__)

#: Centreline sample spacing (mm). Shape parameters are tabulated per sample.
DS_MM = 0.5


class Tissue(IntEnum):
    """Tissue classes the image is drawn from (finer than the label schema: cortex, nucleus, fat...)."""

    AIR = 0
    FAT = 1
    MUSCLE = 2
    VISCERA = 3
    VESSEL = 4
    LUNG = 5
    EPIDURAL_FAT = 6
    LIGAMENT = 7
    BODY_CORTEX = 8
    BODY_MARROW = 9
    PE_BONE = 10
    DISC_ANNULUS = 11
    DISC_NUCLEUS = 12
    CSF = 13
    CORD = 14
    LESION_LYTIC = 15
    LESION_BLASTIC = 16
    TUMOUR = 17
    RIB = 18


#: Schema label of each tissue (index = tissue value).
TISSUE_LABELS = np.zeros(len(Tissue), dtype=np.uint8)
for _t, _l in {Tissue.BODY_CORTEX: Label.VERTEBRAL_BODY, Tissue.BODY_MARROW: Label.VERTEBRAL_BODY,
               Tissue.PE_BONE: Label.POSTERIOR_ELEMENTS, Tissue.DISC_ANNULUS: Label.DISC,
               Tissue.DISC_NUCLEUS: Label.DISC, Tissue.CSF: Label.CSF, Tissue.CORD: Label.CORD,
               Tissue.LESION_LYTIC: Label.OSSEOUS_LESION, Tissue.LESION_BLASTIC: Label.OSSEOUS_LESION,
               Tissue.TUMOUR: Label.EPIDURAL_TUMOUR}.items():
    TISSUE_LABELS[_t] = _l

# Nominal adult sizes (mm) anchored at level indices of LEVEL_NAMES (C3=0, C7=4, T1=5, T12=16, L1=17, L5=21, S1=22).
_ANCHORS: dict[str, dict[int, float]] = {
    "body_h": {0: 14, 4: 15, 5: 16, 16: 23, 17: 25, 21: 27, 22: 30},
    "disc_below": {0: 5.5, 4: 5.5, 5: 4.5, 13: 6.0, 16: 8.0, 17: 9.0, 19: 11.0, 21: 11.0, 22: 11.0},
    "body_ap": {0: 16, 4: 17, 5: 19, 16: 30, 17: 32, 21: 35, 22: 36},
    "body_lr": {0: 22, 4: 26, 5: 28, 16: 40, 17: 43, 21: 50, 22: 50},
    "sac_ap": {0: 13.0, 4: 13.0, 5: 13.5, 16: 14.0, 17: 14.5, 21: 15.5, 22: 14.0},
    "sac_lr": {0: 19, 4: 18, 5: 15.5, 16: 16, 17: 17.5, 21: 19.5, 22: 16},
    "cord_ap": {0: 8.5, 4: 8.5, 5: 7.5, 14: 7.5, 16: 8.0, 22: 8.0},
    "cord_lr": {0: 12, 4: 12, 5: 10, 14: 10, 16: 11, 22: 11},
    "pe_thick": {0: 4.5, 5: 5.0, 16: 6.0, 21: 7.0, 22: 6.0},
    "spinous_len": {0: 18, 5: 28, 16: 28, 21: 24, 22: 14},
    "spinous_slope": {0: 0.4, 5: 0.9, 14: 0.7, 16: 0.3, 17: 0.15, 22: 0.1},
    "tp_len": {0: 9, 5: 17, 16: 12, 17: 18, 19: 24, 21: 20, 22: 0},
    "skin_post": {0: 45, 5: 55, 16: 65, 21: 75, 22: 80},
    "torso_ap": {0: 110, 5: 190, 16: 210, 21: 230, 22: 230},
    "torso_lr": {0: 120, 5: 300, 16: 300, 21: 320, 22: 340},
    # sagittal curvature (degrees per mm of arc; + turns the tangent anteriorly while going down)
    "kappa": {0: -0.30, 4: -0.15, 5: 0.0, 7: 0.15, 13: 0.12, 16: 0.0, 17: -0.10, 19: -0.25, 21: -0.35, 22: 0.5},
}
# Epidural space between the thecal sac and the bony canal (anterior, posterior, lateral), mm.
_GAP_ANT, _GAP_POST, _GAP_LAT = 2.8, 3.8, 2.8
_CONUS_TAPER_MM = 22.0
_SAC_TAPER_MM = 18.0
_TOP_MARGIN_MM = 45.0
_BOTTOM_MARGIN_MM = 45.0
_ENDPLATE_CONCAVITY_MM = 1.0
_CORTEX_MM = 1.2


def _nominal(key: str, index: float) -> float:
    pts = sorted(_ANCHORS[key].items())
    return float(np.interp(index, [p[0] for p in pts], [p[1] for p in pts]))


@dataclass
class Level:
    """One vertebra laid out along the centreline (all mm; s = arc length of the centreline)."""

    name: str
    index: int                 # position in LEVEL_NAMES
    s_top: float               # nominal superior endplate (before collapse)
    s_bot: float               # nominal inferior endplate
    s_range: tuple[float, float]   # canal extent: mid-disc above to mid-disc below
    height: float              # nominal body height
    body_ap: float
    body_lr: float
    pe_thick: float
    spinous_len: float
    spinous_slope: float
    tp_len: float
    disc_above: float
    disc_below: float          # 0 for S1 (fused sacrum)
    height_loss: float = 0.0   # 0..1 (pathological collapse)
    collapse_shape: str = "crush"   # crush / wedge / biconcave
    sacrum_end: float | None = None  # S1 only: inferior end of the fused S1-S2 block

    @property
    def s_center(self) -> float:
        return 0.5 * (self.s_top + self.s_bot)


@dataclass
class Lesion:
    """An osseous metastasis: a lobulated ellipsoid in local coordinates, kept where it lies in bone."""

    level: int                 # index into SpineModel.levels
    site: str                  # body / left_posterior / right_posterior
    type: str                  # lytic / blastic / mixed
    center: tuple[float, float, float]   # (s, a, r)
    radii: tuple[float, float, float]
    lobes: tuple[float, float, float, float]   # lobulation amplitudes/phases
    epidural: BilskyGrade | None = None
    genant: int = 0


@dataclass
class Tumour:
    """Epidural tumour: a disc in the cross-section entering the bony canal from direction ``u``.

    At arc length s its innermost point lies ``pen * profile(s)`` mm inside the bony canal wall.
    """

    lesion: int
    s0: float
    plateau: float
    taper: float
    u: tuple[float, float]     # unit vector (a, r) from the canal centre towards the tumour's origin
    radius: float              # disc radius (mm): large = flat indentation
    pen: float = 0.0
    cord_first: bool = False   # grade 1c: the cord keeps its shape where the tumour reaches it
    fill_k: float = 1.0        # grade 3: peak scale of the cord ellipse (the cord fills the sac)
    target: BilskyGrade = BilskyGrade.G1A

    def profile(self, s: np.ndarray) -> np.ndarray:
        """0..1 along the canal: 1 on the plateau, cos² taper, 0 beyond."""
        d = np.abs(np.asarray(s, dtype=np.float64) - self.s0) - self.plateau
        out = np.where(d <= 0, 1.0, np.cos(0.5 * np.pi * np.clip(d / self.taper, 0.0, 1.0)) ** 2)
        return np.where(d >= self.taper, 0.0, out)

    @property
    def s_span(self) -> tuple[float, float]:
        return self.s0 - self.plateau - self.taper, self.s0 + self.plateau + self.taper


def _ellipse(a: np.ndarray, r: np.ndarray, ca, cr, sa, sr) -> np.ndarray:
    """Normalised radius of (a, r) in an ellipse centred (ca, cr) with semi-axes (sa, sr); <= 1 inside."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return ((a - ca) / sa) ** 2 + ((r - cr) / sr) ** 2


def _superellipse(a, r, ca, cr, sa, sr, n: float = 2.6) -> np.ndarray:
    return np.abs((a - ca) / sa) ** n + np.abs((r - cr) / sr) ** n


@dataclass
class SpineModel:
    """The analytic phantom: centreline samples, per-sample tables, levels, lesions and tumours."""

    s: np.ndarray              # (N,) arc length of centreline samples
    points: np.ndarray         # (N, 3) RAS world mm
    tangent: np.ndarray        # (N, 3) unit, pointing inferiorly along the canal
    anterior: np.ndarray       # (N, 3) unit, perpendicular to tangent, towards anterior
    right: np.ndarray          # (N, 3) unit, tangent x anterior (towards the patient's right)
    tables: dict[str, np.ndarray]
    levels: list[Level]
    conus_s: float | None
    sac_end_s: float | None
    fov_s: tuple[float, float]
    lesions: list[Lesion] = field(default_factory=list)
    tumours: list[Tumour] = field(default_factory=list)
    rib_centres: np.ndarray = field(default_factory=lambda: np.zeros(0))   # s of each thoracic rib (sorted)

    # ---------------------------------------------------------------- coordinates
    def sample_index(self, s: np.ndarray) -> np.ndarray:
        """Nearest centreline sample of arc lengths ``s`` (mm)."""
        return np.clip(np.rint(np.asarray(s) / DS_MM).astype(np.int64), 0, len(self.s) - 1)

    def to_local(self, world: np.ndarray, iterations: int = 4) -> tuple[np.ndarray, ...]:
        """World points (M, 3) -> (s, a, r, idx): foot of the perpendicular on the centreline.

        Starts from the projection on the chord of the curve and walks along the samples (Newton-like),
        which is exact for points closer to the curve than its radius of curvature.
        """
        world = np.asarray(world, dtype=np.float64)
        axis = self.points[-1] - self.points[0]
        axis /= np.linalg.norm(axis)
        h_samples = np.maximum.accumulate((self.points - self.points[0]) @ axis)
        h = (world - self.points[0]) @ axis
        idx = np.clip(np.searchsorted(h_samples, h), 0, len(self.s) - 1)
        n = len(self.s)
        for _ in range(iterations):
            d = world - self.points[idx]
            t = np.einsum("ij,ij->i", d, self.tangent[idx])
            step = np.rint(t / DS_MM).astype(np.int64)
            if not step.any():
                break
            idx = np.clip(idx + step, 0, n - 1)
        d = world - self.points[idx]
        s = self.s[idx] + np.einsum("ij,ij->i", d, self.tangent[idx])
        a = np.einsum("ij,ij->i", d, self.anterior[idx])
        r = np.einsum("ij,ij->i", d, self.right[idx])
        return s, a, r, idx

    def to_world(self, s: float, a: float = 0.0, r: float = 0.0) -> np.ndarray:
        """World point (RAS mm) at arc length ``s`` and in-plane offsets ``a`` (anterior), ``r`` (right)."""
        i = int(self.sample_index(np.asarray(s)))
        return (self.points[i] + (s - self.s[i]) * self.tangent[i] + a * self.anterior[i] + r * self.right[i])

    def level_of(self, s: np.ndarray) -> np.ndarray:
        """Index of the level whose canal extent (mid-disc to mid-disc) contains arc length ``s``."""
        bounds = np.array([lv.s_range[1] for lv in self.levels[:-1]])
        return np.searchsorted(bounds, s)

    # ---------------------------------------------------------------- canal cross-section
    def canal_section(self, idx: np.ndarray, a: np.ndarray, r: np.ndarray,
                      s: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Masks of the canal contents at centreline samples ``idx`` and in-plane points (a, r).

        Returns boolean arrays: ``bony`` (inside the bony canal), ``sac0`` and ``cord0`` (undeformed
        thecal sac and cord), ``tumour_disc`` (any tumour's disc), ``tumour``, ``csf``, ``cord``.
        """
        t = self.tables
        s_val = self.s[idx] if s is None else s
        bony = _ellipse(a, r, t["bc_ca"][idx], 0.0, t["bc_a"][idx], t["bc_r"][idx]) <= 1.0
        sac_a, sac_r = t["sac_a"][idx], t["sac_r"][idx]
        sac0 = (sac_a > 0) & (_ellipse(a, r, 0.0, 0.0, sac_a, sac_r) <= 1.0)
        ka, kr = t["cord_a"][idx], t["cord_r"][idx]
        has_cord = ka > 0
        cnorm = np.where(has_cord, _ellipse(a, r, t["cord_ca"][idx], 0.0, np.where(has_cord, ka, 1.0),
                                            np.where(has_cord, kr, 1.0)), np.inf)
        cord0 = cnorm <= 1.0
        disc = np.zeros(np.shape(a), dtype=bool)
        keep_cord = np.zeros(np.shape(a), dtype=bool)
        k = np.ones(np.shape(a), dtype=np.float64)
        for tm in self.tumours:
            prof = tm.profile(s_val)
            active = prof > 0
            if not np.any(active):
                continue
            t_wall = self.wall_distance(idx, tm.u)
            t_in = t_wall - tm.pen * prof
            ca = (t_in + tm.radius) * tm.u[0]
            cr = (t_in + tm.radius) * tm.u[1]
            inside = active & ((a - ca) ** 2 + (r - cr) ** 2 <= tm.radius ** 2)
            disc |= inside
            if tm.cord_first:
                keep_cord |= active
            if tm.fill_k > 1.0:
                k = np.maximum(k, 1.0 + (tm.fill_k - 1.0) * prof ** 4)
        sac = sac0 & ~disc
        cord = ((cnorm <= k * k) & sac) | (keep_cord & cord0)
        tumour = bony & disc & ~cord
        csf = sac & ~cord
        return {"bony": bony, "sac0": sac0, "cord0": cord0, "tumour_disc": disc & bony,
                "tumour": tumour, "csf": csf, "cord": cord}

    def wall_distance(self, idx: np.ndarray, u: tuple[float, float]) -> np.ndarray:
        """Distance from the centreline to the bony canal wall along in-plane direction ``u``."""
        t = self.tables
        ca, sa, sr = t["bc_ca"][idx], t["bc_a"][idx], t["bc_r"][idx]
        # ray p = t u from the origin meets ((p_a - ca)/sa)^2 + (p_r/sr)^2 = 1
        qa = (u[0] / sa) ** 2 + (u[1] / sr) ** 2
        qb = -2.0 * u[0] * ca / sa ** 2
        qc = (ca / sa) ** 2 - 1.0
        return (-qb + np.sqrt(qb * qb - 4 * qa * qc)) / (2 * qa)

    # ---------------------------------------------------------------- bone, disc, soft tissue
    def _body(self, lv: Level, s, a, r) -> tuple[np.ndarray, np.ndarray]:
        """(inside body, inside cortex) of level ``lv`` at local points."""
        t = self.tables
        ca = self.body_center_a(lv)
        half_ap, half_lr = 0.5 * lv.body_ap, 0.5 * lv.body_lr
        scale = np.ones(np.shape(s))
        top, bot = lv.s_top, lv.s_bot
        if lv.sacrum_end is not None:
            # the fused S2 stub below S1 narrows towards the end of the block
            bot = lv.sacrum_end
            scale = np.where(s > lv.s_bot, 1.0 - 0.45 * np.clip((s - lv.s_bot) / (bot - lv.s_bot), 0, 1), 1.0)
        rho = _superellipse(a, r, ca, 0.0, half_ap * scale, half_lr * scale)
        ua = np.clip((a - ca) / half_ap, -1.0, 1.0)
        # collapse: endplates move towards the centre by height_loss * h/2 * w (w <= 1 = Genant's max loss)
        if lv.height_loss > 0:
            if lv.collapse_shape == "wedge":
                w = 0.65 + 0.35 * ua
            elif lv.collapse_shape == "biconcave":
                w = 0.45 + 0.55 * np.clip(1.0 - rho, 0.0, 1.0)
            else:
                w = np.ones(np.shape(s))
            shrink = 0.5 * lv.height * lv.height_loss * w
        else:
            shrink = 0.0
        conc = _ENDPLATE_CONCAVITY_MM * np.clip(1.0 - rho, 0.0, 1.0)
        s_lo = lv.s_center - 0.5 * lv.height + shrink + conc if lv.sacrum_end is None else top + shrink + conc
        s_hi = lv.s_center + 0.5 * lv.height - shrink - conc if lv.sacrum_end is None else bot
        in_canal = _ellipse(a, r, t["bc_ca"][self.sample_index(s)], 0.0,
                            t["bc_a"][self.sample_index(s)] + 0.8, t["bc_r"][self.sample_index(s)] + 0.8) <= 1.0
        inside = (rho <= 1.0) & (s >= s_lo) & (s <= s_hi) & ~in_canal
        thick = _CORTEX_MM / np.minimum(half_ap, half_lr)
        cortex = inside & ((rho >= (1.0 - thick) ** 2.6) | (s - s_lo < _CORTEX_MM) | (s_hi - s < _CORTEX_MM))
        return inside, cortex

    def body_center_a(self, lv: Level) -> float:
        """In-plane anterior offset (mm) of the centre of ``lv``'s body from the canal centreline."""
        t = self.tables
        i = int(self.sample_index(np.asarray(lv.s_center)))
        front = t["bc_ca"][i] + t["bc_a"][i]
        return float(front + 0.5 * lv.body_ap - 2.0)

    def _disc(self, upper: Level | None, lower: Level | None, s, a, r) -> tuple[np.ndarray, np.ndarray]:
        """(inside disc, inside nucleus) between two levels (either may be None at the ends)."""
        ref = lower if lower is not None else upper
        other = upper if upper is not None else lower
        s_lo = upper.s_bot - _ENDPLATE_CONCAVITY_MM if upper is not None else lower.s_top - lower.disc_above
        s_hi = lower.s_top + _ENDPLATE_CONCAVITY_MM if lower is not None else upper.s_bot + upper.disc_below
        ca = 0.5 * (self.body_center_a(ref) + self.body_center_a(other))
        half_ap = 0.25 * (ref.body_ap + other.body_ap) + 0.8
        half_lr = 0.25 * (ref.body_lr + other.body_lr) + 0.8
        rho = _superellipse(a, r, ca, 0.0, half_ap, half_lr)
        t = self.tables
        i = self.sample_index(s)
        in_canal = _ellipse(a, r, t["bc_ca"][i], 0.0, t["bc_a"][i] + 0.8, t["bc_r"][i] + 0.8) <= 1.0
        inside = (rho <= 1.0) & (s >= s_lo) & (s <= s_hi) & ~in_canal
        mid, half_h = 0.5 * (s_lo + s_hi), 0.5 * (s_hi - s_lo)
        nucleus = inside & (_ellipse(a, r, ca - 0.1 * half_ap, 0.0, 0.55 * half_ap, 0.6 * half_lr)
                            + ((s - mid) / (0.75 * half_h)) ** 2 <= 1.0)
        return inside, nucleus

    def _draw_disc(self, sub: np.ndarray, where: np.ndarray, upper: Level | None, lower: Level | None,
                   s: np.ndarray, a: np.ndarray, r: np.ndarray) -> None:
        """Paint annulus and nucleus of the disc between ``upper`` and ``lower`` into ``sub[where]``."""
        disc, nucleus = self._disc(upper, lower, s[where], a[where], r[where])
        v = sub[where]
        v[disc] = Tissue.DISC_ANNULUS
        v[nucleus] = Tissue.DISC_NUCLEUS
        sub[where] = v

    def _posterior(self, lv: Level, s, a, r) -> np.ndarray:
        """Posterior elements of ``lv``: pedicles, laminae, articular pillars, spinous/transverse processes."""
        t = self.tables
        i = self.sample_index(s)
        bca, ba, br = t["bc_ca"][i], t["bc_a"][i], t["bc_r"][i]
        th = lv.pe_thick
        h = lv.height
        top = lv.s_top
        end = lv.sacrum_end if lv.sacrum_end is not None else lv.s_bot
        nb = _ellipse(a, r, bca, 0.0, ba, br)
        ring = (nb > 1.0) & (_ellipse(a, r, bca, 0.0, ba + th, br + th) <= 1.0)
        back = bca - ba          # posterior wall of the bony canal (a, negative)
        ped = ring & (a > bca - 0.35 * ba) & (a < bca + ba + 1.0) & (s >= top + 0.12 * h) & (s <= top + 0.62 * h)
        lam_lo = top + 0.15 * h
        lam_hi = end + (0.35 * lv.disc_below if lv.sacrum_end is None else 0.0)
        lam = ring & (a <= bca - 0.35 * ba + 0.5) & (s >= lam_lo) & (s <= lam_hi)
        # articular pillars bridge the levels at the facet joints (a thin gap at the joint)
        pil_r = br + 0.6 * th
        pil_lo = top - 0.3 * lv.disc_above
        pil_hi = end + (0.45 * lv.disc_below if lv.sacrum_end is None else 0.0)
        ar = np.abs(r)  # left/right pairs are mirror images: one ellipse in |r|
        pil = (_ellipse(a, ar, bca - 0.35 * ba, pil_r, 5.0, 4.5) <= 1.0) & (s >= pil_lo) & (s <= pil_hi)
        # spinous process: a plate in the midline, sloping caudally with distance from the lamina
        x = back - a
        mid = lv.s_center + 0.3 * h + lv.spinous_slope * x
        half_h = 0.22 * h + 0.1 * h * np.clip(x / max(lv.spinous_len, 1.0), 0, 1)
        sp = (np.abs(r) <= 2.5 + 0.06 * np.clip(x, 0, None)) & (x >= -1.0) & (x <= lv.spinous_len) & \
             (np.abs(s - mid) <= half_h)
        out = ped | lam | pil | sp
        if lv.tp_len > 0:
            ar = np.abs(r) - (br + th - 1.0)
            tp_a = bca - 0.1 * ba - 0.25 * lv.spinous_slope * np.clip(ar, 0, None)
            tp = (ar >= 0) & (ar <= lv.tp_len) & (np.abs(a - tp_a) <= 3.2 - 0.06 * np.clip(ar, 0, None)) & \
                 (s >= top + 0.2 * h) & (s <= top + 0.5 * h)
            out |= tp
        if lv.sacrum_end is not None:
            # sacral ala: lateral masses beside the S1 body down the fused block
            ca = self.body_center_a(lv)
            ala = (_ellipse(a, np.abs(r), ca - 0.3 * lv.body_ap, 0.5 * lv.body_lr + 14.0, 0.45 * lv.body_ap, 17.0)
                   <= 1.0) & (s >= top + 2.0) & (s <= end - 2.0)
            out |= ala
        return out

    def lesion_mask(self, les: Lesion, s, a, r) -> np.ndarray:
        """Inside the lesion's lobulated ellipsoid (before restricting it to bone)."""
        cs, ca, cr = les.center
        rs, ra, rr = les.radii
        ds, da, dr = (s - cs) / rs, (a - ca) / ra, (r - cr) / rr
        rho2 = ds * ds + da * da + dr * dr
        ang = np.arctan2(dr, da)
        lob = 1.0 + les.lobes[0] * np.sin(3 * ang + les.lobes[1]) + les.lobes[2] * np.sin(2 * np.arctan2(ds, da) + les.lobes[3])
        return rho2 <= lob * lob

    @staticmethod
    def _mixed_pattern(s, a, r) -> np.ndarray:
        """Blastic islands within a mixed lesion."""
        return np.sin(s / 2.2) * np.sin(a / 2.6 + 1.0) * np.sin(r / 2.4 + 2.0) > 0.05

    def bone_masks(self, lv_index: int, s, a, r) -> tuple[np.ndarray, np.ndarray]:
        """(body, posterior elements) masks of one level at local points (lesions not applied)."""
        lv = self.levels[lv_index]
        body, _ = self._body(lv, s, a, r)
        pe = self._posterior(lv, s, a, r) & ~body
        return body, pe

    def tissues(self, s: np.ndarray, a: np.ndarray, r: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """Tissue class (uint8) at local points (flat arrays of equal length)."""
        t = self.tables
        out = np.full(s.shape, Tissue.AIR, dtype=np.uint8)
        # torso, fat, viscera, muscles, vessels, lungs
        skin = t["skin_post"][idx]
        tA, tR = 0.5 * t["torso_ap"][idx], 0.5 * t["torso_lr"][idx]
        tca = -skin + tA
        torso = _ellipse(a, r, tca, 0.0, tA, tR) <= 1.0
        fat_t = t["fat"][idx]
        inner = _ellipse(a, r, tca, 0.0, tA - fat_t, tR - fat_t) <= 1.0
        out[torso] = Tissue.FAT
        front = t["bc_ca"][idx] + t["bc_a"][idx]
        body_ap = t["body_ap"][idx]
        body_lr = t["body_lr"][idx]
        body_front = front + body_ap
        # abdomen / thorax anterior to the middle of the bodies; fat around the column and between muscles
        out[inner & (a > front + 0.45 * body_ap)] = Tissue.VISCERA
        lung_w = t["lung"][idx]
        ar = np.abs(r)  # left/right pairs are mirror images: one ellipse in |r|
        lung_e = _ellipse(a, ar, front + 0.3 * body_ap + 15.0, 0.5 * body_lr + 50.0, 62.0, 45.0)
        lung = (lung_w > 0) & (lung_e <= lung_w)
        out[inner & lung] = Tissue.LUNG
        # erector spinae / multifidus: from the subcutaneous fat to the transverse processes, beside the midline
        a_in = -skin + fat_t + 2.0
        pa = np.maximum(-0.5 * a_in, 8.0)
        para = _ellipse(a, ar, 0.5 * a_in, pa * 0.9 + 5.0, pa, pa * 0.95)
        out[inner & (para <= 1.0)] = Tissue.MUSCLE
        ps = t["psoas"][idx]
        psoas = (ps > 0) & (_ellipse(a, ar, front + 0.35 * body_ap, 0.5 * body_lr + 10.0 * ps, 11.0 * ps + 1e-3,
                                     12.0 * ps + 1e-3) <= 1.0)
        out[inner & psoas] = Tissue.MUSCLE
        aorta = _ellipse(a, r, body_front + 11.0, -10.0 - t["iliac"][idx], 9.5, 9.5) <= 1.0
        ivc = _ellipse(a, r, body_front + 13.0, 20.0 + t["iliac"][idx], 8.0, 11.0) <= 1.0
        out[inner & (aorta | ivc) & (t["vessels"][idx] > 0)] = Tissue.VESSEL
        # ribs wrap around the lungs, from the costovertebral joints, descending anteriorly
        shell = np.flatnonzero(inner & (lung_w > 0.3) & (lung_e > lung_w) & (lung_e <= 1.32 * lung_w)
                               & (a < front + 0.3 * body_ap + 60.0))
        if shell.size and self.rib_centres.size:
            u = s[shell] - 0.3 * (a[shell] - front[shell])
            k = np.clip(np.searchsorted(self.rib_centres, u), 1, len(self.rib_centres) - 1)
            near_rib = np.minimum(np.abs(u - self.rib_centres[k - 1]), np.abs(u - self.rib_centres[k])) <= 4.0
            out[shell[near_rib]] = Tissue.RIB

        # the spine region: evaluate bone/disc/canal only near the column (speed)
        back = t["bc_ca"][idx] - t["bc_a"][idx]
        near = (a > back - 45.0) & (a < body_front + 6.0) & (np.abs(r) < 0.5 * t["body_lr"][idx] + 50.0)
        sel = np.flatnonzero(near)
        if sel.size:
            out[sel] = self._spine_tissues(s[sel], a[sel], r[sel], idx[sel], out[sel])
        return out

    def _spine_tissues(self, s, a, r, idx, out) -> np.ndarray:
        t = self.tables
        lvl = self.level_of(s)
        n = len(self.levels)
        # ligamentum flavum / posterior ligaments ring (overridden by bone where present)
        bca, ba, br = t["bc_ca"][idx], t["bc_a"][idx], t["bc_r"][idx]
        nb = _ellipse(a, r, bca, 0.0, ba, br)
        lig = (nb > 1.0) & (_ellipse(a, r, bca, 0.0, ba + 2.5, br + 2.5) <= 1.0) & (t["sac_a"][idx] > 0)
        out[lig] = Tissue.LIGAMENT
        for li in range(n):
            lv = self.levels[li]
            # posterior elements of a level reach into the extent of the level below (sloping processes)
            m = np.flatnonzero((lvl == li) | ((lvl == li + 1) & (s < lv.s_bot + lv.disc_below + 0.6 * lv.height)))
            if m.size == 0:
                continue
            ss, aa, rr = s[m], a[m], r[m]
            pe = self._posterior(lv, ss, aa, rr)
            sub = out[m]
            sub[pe] = Tissue.PE_BONE
            own = lvl[m] == li
            # each disc is split between the two levels' extents at its middle: a level draws the part of
            # the disc above it (the top level: the whole disc above) and of the disc below it that falls
            # in its own extent
            above = own & (ss < lv.s_top + 2.0)
            if above.any():
                self._draw_disc(sub, above, self.levels[li - 1] if li > 0 else None, lv, ss, aa, rr)
            below = own & (ss > lv.s_bot - 2.0)
            if below.any() and (li < n - 1 or lv.sacrum_end is None):
                self._draw_disc(sub, below, lv, self.levels[li + 1] if li < n - 1 else None, ss, aa, rr)
            body, cortex = self._body(lv, ss, aa, rr)
            body &= own
            cortex &= own
            sub[body] = Tissue.BODY_MARROW
            sub[cortex] = Tissue.BODY_CORTEX
            bone = body | pe
            for les in self.lesions:
                if les.level != li:
                    continue
                lm = bone & self.lesion_mask(les, ss, aa, rr)
                if les.type == "lytic":
                    sub[lm] = Tissue.LESION_LYTIC
                elif les.type == "blastic":
                    sub[lm] = Tissue.LESION_BLASTIC
                else:
                    bl = self._mixed_pattern(ss, aa, rr)
                    sub[lm & bl] = Tissue.LESION_BLASTIC
                    sub[lm & ~bl] = Tissue.LESION_LYTIC
            out[m] = sub
        # canal contents last: the canal is never bone
        inc = np.flatnonzero(nb <= 1.0)
        if inc.size:
            sec = self.canal_section(idx[inc], a[inc], r[inc], s[inc])
            sub = out[inc]
            sub[sec["bony"]] = Tissue.EPIDURAL_FAT
            sub[sec["tumour"]] = Tissue.TUMOUR
            sub[sec["csf"]] = Tissue.CSF
            sub[sec["cord"]] = Tissue.CORD
            out[inc] = sub
        return out


# -------------------------------------------------------------------- construction
def build_spine(cfg: AnatomyConfig, rng: np.random.Generator,
                collapse: dict[str, tuple[float, str]] | None = None) -> SpineModel:
    """Lay out the levels of ``cfg`` along a random smooth centreline and tabulate the shape parameters.

    ``collapse`` maps level names to (height loss 0..1, shape crush/wedge/biconcave): a collapsed body is
    laid out shorter, so the column above it comes down as in life.
    """
    collapse = collapse or {}
    first, last = LEVEL_NAMES.index(cfg.first_level), LEVEL_NAMES.index(cfg.last_level)
    scale = 1.0 + rng.uniform(-1, 1) * cfg.size_jitter_pct / 100.0
    jit = lambda: 1.0 + rng.uniform(-0.04, 0.04)  # noqa: E731  (per-level variation)
    levels: list[Level] = []
    s = _TOP_MARGIN_MM
    disc_above = _nominal("disc_below", first - 1) * scale * jit()
    s += disc_above
    for k in range(first, last + 1):
        name = LEVEL_NAMES[k]
        h = _nominal("body_h", k) * scale * jit()
        is_sacrum = name == "S1"
        d_below = 0.0 if is_sacrum else _nominal("disc_below", k) * scale * jit()
        loss, shape = collapse.get(name, (0.0, "crush"))
        h_eff = h * (1.0 - loss * {"wedge": 0.65, "biconcave": 0.72}.get(shape, 1.0))
        lv = Level(name=name, index=k, s_top=s, s_bot=s + h_eff, s_range=(0.0, 0.0), height=h,
                   body_ap=_nominal("body_ap", k) * scale * jit(), body_lr=_nominal("body_lr", k) * scale * jit(),
                   pe_thick=_nominal("pe_thick", k) * scale, spinous_len=_nominal("spinous_len", k) * scale * jit(),
                   spinous_slope=_nominal("spinous_slope", k), tp_len=_nominal("tp_len", k) * scale * jit(),
                   disc_above=disc_above, disc_below=d_below, height_loss=loss, collapse_shape=shape)
        if is_sacrum:
            lv.sacrum_end = lv.s_bot + max(0.9 * h, 26.0)
        levels.append(lv)
        s = lv.s_bot + d_below
        disc_above = d_below
    _set_extents(levels)
    end_bone = levels[-1].sacrum_end if levels[-1].sacrum_end is not None else levels[-1].s_bot + levels[-1].disc_below
    total = end_bone + _BOTTOM_MARGIN_MM
    return _assemble(cfg, rng, levels, total, scale)


def _set_extents(levels: list[Level]) -> None:
    for i, lv in enumerate(levels):
        top = lv.s_top - 0.5 * lv.disc_above
        if lv.sacrum_end is not None:
            bot = lv.s_bot
        else:
            bot = lv.s_bot + 0.5 * lv.disc_below
        lv.s_range = (top, bot)


def _assemble(cfg: AnatomyConfig, rng: np.random.Generator, levels: list[Level], total: float,
              scale: float) -> SpineModel:
    n = int(np.ceil(total / DS_MM)) + 1
    s = np.arange(n) * DS_MM
    centers = np.array([lv.s_center for lv in levels])
    idx_lv = np.array([lv.index for lv in levels], dtype=np.float64)
    if len(levels) == 1:
        lam = np.full(n, idx_lv[0])
    else:
        slope = (idx_lv[-1] - idx_lv[0]) / (centers[-1] - centers[0])
        lam = np.interp(s, centers, idx_lv, left=np.nan, right=np.nan)
        lam = np.where(s < centers[0], idx_lv[0] + (s - centers[0]) * slope, lam)
        lam = np.where(s > centers[-1], idx_lv[-1] + (s - centers[-1]) * slope, lam)
    lam_raw = lam.copy()
    lam = np.clip(lam, -1.0, len(LEVEL_NAMES) - 1)

    def tab(key: str) -> np.ndarray:
        pts = sorted(_ANCHORS[key].items())
        return np.interp(lam, [p[0] for p in pts], [p[1] for p in pts])

    # ---- centreline: integrate the tangent angle from a curvature profile
    cscale = rng.uniform(*cfg.curvature_scale)
    kappa = np.deg2rad(tab("kappa")) * cscale
    ls_deg = rng.uniform(*cfg.lumbosacral_angle_deg)
    names = [lv.name for lv in levels]
    if "S1" in names and "L5" in names:
        lv5 = levels[names.index("L5")]
        mid = lv5.s_bot + 0.5 * lv5.disc_below
        g = np.exp(-0.5 * ((s - mid) / 12.0) ** 2)
        kappa = kappa - np.deg2rad(ls_deg) * g / (g.sum() * DS_MM)
    theta = np.cumsum(kappa) * DS_MM
    body_zone = (s >= levels[0].s_top) & (s <= levels[-1].s_bot)
    theta -= theta[body_zone].mean()
    amp = np.deg2rad(rng.uniform(-1, 1) * cfg.scoliosis_max_deg)
    wl = rng.uniform(250.0, 500.0)
    phi = amp * np.sin(2 * np.pi * s / wl + rng.uniform(0, 2 * np.pi))
    tangent = np.stack([np.sin(phi), np.cos(phi) * np.sin(theta), -np.cos(phi) * np.cos(theta)], axis=1)
    pts = np.cumsum(tangent, axis=0) * DS_MM
    pts -= pts[body_zone].mean(axis=0)
    pts += rng.uniform(-15, 15, size=3)
    yhat = np.array([0.0, 1.0, 0.0])
    ant = yhat - (tangent @ yhat)[:, None] * tangent
    ant /= np.linalg.norm(ant, axis=1, keepdims=True)
    right = np.cross(tangent, ant)

    # ---- per-sample tables
    t: dict[str, np.ndarray] = {}
    sac_ap = tab("sac_ap") * scale * rng.uniform(0.95, 1.08)
    sac_lr = tab("sac_lr") * scale * rng.uniform(0.95, 1.08)
    sac_end = None
    if levels[-1].sacrum_end is not None:
        lv = levels[-1]
        sac_end = lv.s_bot + 3.0 + _SAC_TAPER_MM  # the dural sac ends in S2, its taper below S1
    taper = np.ones(n) if sac_end is None else np.sqrt(np.clip((sac_end - s) / _SAC_TAPER_MM, 0.0, 1.0))
    t["sac_a"] = 0.5 * sac_ap * taper
    t["sac_r"] = 0.5 * sac_lr * taper
    # the sacral canal below the end of the dural sac is narrower
    bone_scale = np.where(s > (sac_end if sac_end is not None else np.inf), 0.8, 1.0)
    t["bc_a"] = (0.5 * sac_ap + 0.5 * (_GAP_ANT + _GAP_POST)) * bone_scale
    t["bc_r"] = (0.5 * sac_lr + _GAP_LAT) * bone_scale
    t["bc_ca"] = np.full(n, 0.5 * (_GAP_ANT - _GAP_POST))
    # cord: ends at the conus around the L1-L2 disc (level coordinate 17.5), wherever the range lies
    conus_lam = 17.5 + rng.uniform(*cfg.conus_offset_mm) / 35.0
    if len(levels) == 1:
        conus = np.inf if idx_lv[0] < conus_lam else -np.inf
    else:
        conus = float(np.interp(conus_lam, lam_raw, s, left=-np.inf, right=np.inf))
    cf = np.sqrt(np.clip((conus - s) / _CONUS_TAPER_MM, 0.0, 1.0))
    t["cord_a"] = 0.5 * tab("cord_ap") * scale * rng.uniform(0.95, 1.05) * cf
    t["cord_r"] = 0.5 * tab("cord_lr") * scale * rng.uniform(0.95, 1.05) * cf
    t["cord_full"] = (cf >= 1.0).astype(np.float64)
    t["cord_ca"] = np.full(n, rng.uniform(-0.4, 0.4))
    # smooth between level centres (a step per level would show as seams in the soft tissue)
    t["body_ap"] = np.interp(s, centers, [lv.body_ap for lv in levels])
    t["body_lr"] = np.interp(s, centers, [lv.body_lr for lv in levels])
    t["skin_post"] = tab("skin_post") * scale * rng.uniform(0.85, 1.2)
    t["torso_ap"] = tab("torso_ap") * scale * rng.uniform(0.9, 1.15)
    t["torso_lr"] = tab("torso_lr") * scale * rng.uniform(0.9, 1.1)
    t["fat"] = np.full(n, rng.uniform(8.0, 25.0))
    # lungs above ~T12, psoas from L1 growing caudally, aorta bifurcating at L4
    t["lung"] = np.clip((15.5 - lam) / 2.0, 0.0, 1.0)
    t["psoas"] = np.clip((lam - 16.0) / 4.0, 0.0, 1.0) * (lam <= 22.2)
    t["vessels"] = (lam <= 22.5).astype(np.float64)
    t["iliac"] = np.clip((lam - 20.0) * 12.0, 0.0, 30.0)
    fov = (levels[0].s_top - levels[0].disc_above - 8.0,
           (levels[-1].sacrum_end if levels[-1].sacrum_end is not None else levels[-1].s_bot + levels[-1].disc_below) + 12.0)
    # float32 tables: the voxel grid works in float32 (speed); the truth uses the same values
    t = {k: v.astype(np.float32) for k, v in t.items()}
    ribs = [lv.s_top + 0.3 * (lv.s_bot - lv.s_top) for lv in levels if lv.name.startswith("T")]
    if ribs:
        # the ribs of thoracic levels just outside the range still cross the field of view
        pitch = float(np.mean(np.diff(ribs))) if len(ribs) > 1 else 25.0
        first_t = LEVEL_NAMES.index(levels[0].name) if levels[0].name.startswith("T") else None
        extra_above = 2 if first_t is not None and first_t > LEVEL_NAMES.index("T1") else 0
        ribs = [ribs[0] - pitch * (n + 1) for n in range(extra_above)][::-1] + ribs
    model = SpineModel(s=s, points=pts, tangent=tangent, anterior=ant, right=right, tables=t, levels=levels,
                       conus_s=float(conus) if np.isfinite(conus) else None, sac_end_s=sac_end, fov_s=fov,
                       rib_centres=np.asarray(sorted(ribs), dtype=np.float64))
    log.debug("spine %s-%s: %d samples, conus %s", levels[0].name, levels[-1].name, n, model.conus_s)
    return model
