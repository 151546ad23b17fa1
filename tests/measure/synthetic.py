"""Analytic synthetic spines voxelised on any grid, with their exact truth, for the measurement tests.

The spine is defined in world mm around a centreline curve (straight or a sagittal arc) by canal
coordinates: ``s`` (arc length, inferior), ``a`` (anterior) and ``l`` (patient right). Elliptical canal
and cord; optional concentric narrowing filled by epidural tumour; box bodies separated by discs;
posterior elements behind the canal; a long sacrum block at the bottom. The voxel grid is any affine.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from spinedetect.labels import Label


@dataclass(frozen=True)
class SynthSpine:
    length_mm: float = 190.0
    curvature_radius_mm: float | None = None    # sagittal arc; None = straight
    canal_ap_mm: float = 16.0
    canal_tr_mm: float = 20.0
    cord_ap_mm: float = 8.0
    cord_tr_mm: float = 10.0
    cord_end_s_mm: float | None = None          # conus tip; None = cord throughout
    narrow_s_mm: float | None = None            # centre of a concentric narrowing filled by tumour
    narrow_factor: float = 0.7                  # canal radii x this inside the narrowing
    narrow_len_mm: float = 8.0
    body_h_mm: float = 22.0
    disc_h_mm: float = 7.0
    n_vertebrae: int = 5
    first_body_s_mm: float = 10.0
    sacrum_len_mm: float = 45.0
    with_bone: bool = True
    collapse: dict[int, float] = field(default_factory=dict)  # vertebra index -> anterior height loss %

    def canal_coords_to_world(self, s: np.ndarray, a: np.ndarray, l: np.ndarray) -> np.ndarray:
        p, t, ant, lat = self.frame(s)
        return p + a[:, None] * ant + l[:, None] * lat

    def frame(self, s: np.ndarray):
        s = np.asarray(s, dtype=np.float64)
        if self.curvature_radius_mm is None:
            p = np.stack([np.zeros_like(s), np.zeros_like(s), -s], 1)
            t = np.tile([0.0, 0.0, -1.0], (len(s), 1))
        else:
            r = self.curvature_radius_mm
            th = (s - self.length_mm / 2) / r   # arc bulging anteriorly (lordosis-like)
            p = np.stack([np.zeros_like(s), r * np.cos(th) - r, -r * np.sin(th)], 1)
            t = np.stack([np.zeros_like(s), -np.sin(th), -np.cos(th)], 1)
        lat = np.tile([1.0, 0.0, 0.0], (len(s), 1))
        ant = np.cross(lat, t)
        return p, t, ant, lat


def canal_coords(spine: SynthSpine, xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(s, a, l) of world points: exact for the straight spine and the arc."""
    if spine.curvature_radius_mm is None:
        return -xyz[:, 2], xyz[:, 1], xyz[:, 0]
    r = spine.curvature_radius_mm
    cy, cz = -r, 0.0  # centre of the arc
    dy, dz = xyz[:, 1] - cy, xyz[:, 2] - cz
    th = np.arctan2(-dz, dy)
    rho = np.hypot(dy, dz)
    s = th * r + spine.length_mm / 2
    return s, rho - r, xyz[:, 0]


def voxelise(spine: SynthSpine, shape: tuple[int, int, int], affine: np.ndarray) -> np.ndarray:
    """Schema label map of ``spine`` sampled at the voxel centres of (shape, affine)."""
    ijk = np.indices(shape).reshape(3, -1).T.astype(np.float64)
    xyz = ijk @ affine[:3, :3].T + affine[:3, 3]
    s, a, l = canal_coords(spine, xyz)
    out = np.zeros(len(s), dtype=np.uint8)
    inside = (s >= 0) & (s <= spine.length_mm)
    f = np.ones_like(s)
    if spine.narrow_s_mm is not None:
        f = np.where(np.abs(s - spine.narrow_s_mm) <= spine.narrow_len_mm / 2, spine.narrow_factor, 1.0)
    ra, rt = spine.canal_ap_mm / 2, spine.canal_tr_mm / 2
    full = (a / ra) ** 2 + (l / rt) ** 2 <= 1
    canal = (a / (ra * f)) ** 2 + (l / (rt * f)) ** 2 <= 1
    cord = (a / (spine.cord_ap_mm / 2)) ** 2 + (l / (spine.cord_tr_mm / 2)) ** 2 <= 1
    if spine.cord_end_s_mm is not None:
        cord &= s <= spine.cord_end_s_mm
    out[inside & full] = Label.EPIDURAL_TUMOUR
    out[inside & canal] = Label.CSF
    out[inside & canal & cord] = Label.CORD
    if spine.with_bone:
        body_a0, depth, half_w = ra + 2.0, 30.0, 20.0
        in_depth = (a >= body_a0) & (a <= body_a0 + depth) & (np.abs(l) <= half_w)
        pos = spine.first_body_s_mm
        for k in range(spine.n_vertebrae + 1):
            is_sacrum = k == spine.n_vertebrae
            h = spine.sacrum_len_mm if is_sacrum else spine.body_h_mm
            top = pos
            loss = spine.collapse.get(k, 0.0) / 100.0
            # anterior wedge: the upper endplate drops towards the front by loss x h
            top_here = top + loss * h * np.clip((a - body_a0) / depth, 0, 1)
            body = in_depth & (s >= top_here) & (s <= top + h)
            out[body & (out == 0)] = Label.VERTEBRAL_BODY
            post = ((a <= -ra - 1.0) & (a >= -ra - 12.0) & (np.abs(l) <= 8.0)) | \
                   ((a > -ra - 1.0) & (a < body_a0) & (np.abs(l) >= rt + 1.0) & (np.abs(l) <= rt + 5.0))
            out[post & (s >= top + 2) & (s <= top + h - 2) & (out == 0)] = Label.POSTERIOR_ELEMENTS
            if not is_sacrum:
                disc = in_depth & (s > top + h) & (s < top + h + spine.disc_h_mm)
                out[disc & (out == 0)] = Label.DISC
            pos = top + h + spine.disc_h_mm
    return out.reshape(shape)


def grid_for(spine: SynthSpine, spacing=(1.0, 1.0, 1.0), rotation: np.ndarray | None = None,
             margin_mm: float = 6.0) -> tuple[tuple[int, int, int], np.ndarray]:
    """A grid (shape, affine) of ``spacing`` covering the spine, its axes rotated by ``rotation``."""
    rot = np.eye(3) if rotation is None else rotation
    s = np.linspace(0, spine.length_mm, 60)
    corners = []
    for a in (-spine.canal_ap_mm / 2 - 14, spine.canal_ap_mm / 2 + 34 if spine.with_bone else spine.canal_ap_mm / 2 + 2):
        for l in (-22.0, 22.0):
            corners.append(spine.canal_coords_to_world(s, np.full_like(s, a), np.full_like(s, l)))
    pts = np.concatenate(corners)
    local = pts @ rot  # coordinates along the rotated axes
    lo = local.min(0) - margin_mm
    hi = local.max(0) + margin_mm
    sp = np.asarray(spacing, dtype=np.float64)
    shape = tuple(int(np.ceil((hi[i] - lo[i]) / sp[i])) + 1 for i in range(3))
    aff = np.eye(4)
    aff[:3, :3] = rot @ np.diag(sp)
    aff[:3, 3] = rot @ lo
    return shape, aff


def rotation(ax: float, ay: float, az: float) -> np.ndarray:
    """Rotation matrix from angles in degrees about x, then y, then z."""
    ax, ay, az = np.deg2rad([ax, ay, az])
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    return rz @ ry @ rx
