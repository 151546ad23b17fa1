"""Image grid (sagittal/axial, oblique) and the image drawn from the tissue map (MR contrasts, CT HU)."""

from __future__ import annotations

import logging

import numpy as np
from scipy import ndimage

from spinedetect.phantom.config import ImagingConfig
from spinedetect.phantom.model import Tissue, SpineModel

__all__ = ["MR_CONTRASTS", "grid_affine", "world_points", "local_coordinates", "draw_image", "tissue_intensities"]

log = logging.getLogger(__name__)

MR_CONTRASTS = ("T1", "T2", "STIR", "random")

# Mean intensities per tissue (index = Tissue value). MR in 0..1 (x 1000 on output), CT in HU.
_T = Tissue
_MR: dict[str, dict[Tissue, float]] = {
    "T2": {_T.AIR: 0.0, _T.FAT: 0.75, _T.MUSCLE: 0.2, _T.VISCERA: 0.38, _T.VESSEL: 0.05, _T.LUNG: 0.03,
           _T.EPIDURAL_FAT: 0.7, _T.LIGAMENT: 0.08, _T.BODY_CORTEX: 0.06, _T.BODY_MARROW: 0.45, _T.PE_BONE: 0.3,
           _T.DISC_ANNULUS: 0.15, _T.DISC_NUCLEUS: 0.75, _T.CSF: 1.0, _T.CORD: 0.38, _T.LESION_LYTIC: 0.72,
           _T.LESION_BLASTIC: 0.08, _T.TUMOUR: 0.55, _T.RIB: 0.25},
    "T1": {_T.AIR: 0.0, _T.FAT: 1.0, _T.MUSCLE: 0.35, _T.VISCERA: 0.4, _T.VESSEL: 0.1, _T.LUNG: 0.03,
           _T.EPIDURAL_FAT: 0.95, _T.LIGAMENT: 0.08, _T.BODY_CORTEX: 0.06, _T.BODY_MARROW: 0.72, _T.PE_BONE: 0.5,
           _T.DISC_ANNULUS: 0.3, _T.DISC_NUCLEUS: 0.38, _T.CSF: 0.15, _T.CORD: 0.48, _T.LESION_LYTIC: 0.22,
           _T.LESION_BLASTIC: 0.06, _T.TUMOUR: 0.32, _T.RIB: 0.45},
    "STIR": {_T.AIR: 0.0, _T.FAT: 0.06, _T.MUSCLE: 0.18, _T.VISCERA: 0.3, _T.VESSEL: 0.05, _T.LUNG: 0.03,
             _T.EPIDURAL_FAT: 0.07, _T.LIGAMENT: 0.05, _T.BODY_CORTEX: 0.04, _T.BODY_MARROW: 0.14, _T.PE_BONE: 0.1,
             _T.DISC_ANNULUS: 0.12, _T.DISC_NUCLEUS: 0.7, _T.CSF: 1.0, _T.CORD: 0.4, _T.LESION_LYTIC: 0.85,
             _T.LESION_BLASTIC: 0.3, _T.TUMOUR: 0.7, _T.RIB: 0.1},
}
_CT: dict[Tissue, float] = {
    _T.AIR: -1000.0, _T.FAT: -100.0, _T.MUSCLE: 50.0, _T.VISCERA: 35.0, _T.VESSEL: 45.0, _T.LUNG: -850.0,
    _T.EPIDURAL_FAT: -90.0, _T.LIGAMENT: 80.0, _T.BODY_CORTEX: 1100.0, _T.BODY_MARROW: 230.0, _T.PE_BONE: 500.0,
    _T.DISC_ANNULUS: 100.0, _T.DISC_NUCLEUS: 75.0, _T.CSF: 8.0, _T.CORD: 35.0, _T.LESION_LYTIC: 45.0,
    _T.LESION_BLASTIC: 950.0, _T.TUMOUR: 50.0, _T.RIB: 450.0,
}
# Within-tissue texture strength (x texture_pct): trabecular bone and viscera are the most textured.
_TEXTURE = {_T.BODY_MARROW: 2.5, _T.PE_BONE: 2.0, _T.RIB: 1.5, _T.VISCERA: 3.0, _T.LESION_LYTIC: 1.5, _T.LESION_BLASTIC: 1.5,
            _T.TUMOUR: 1.5, _T.MUSCLE: 1.0, _T.FAT: 0.8, _T.LUNG: 1.0}

# Base directions (RAS) of the array axes i, j, k before the oblique rotation (DICOM conventions:
# sagittal rows run posterior, columns inferior, slices towards the right; axial i to the left,
# j posterior, k superior).
_BASE = {"sagittal": np.array([[0.0, -1.0, 0.0], [0.0, 0.0, -1.0], [1.0, 0.0, 0.0]]).T,
         "axial": np.array([[-1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 1.0]]).T}


def tissue_intensities(modality: str, contrast: str, rng: np.random.Generator) -> np.ndarray:
    """Mean intensity per tissue for this phantom (per-seed jitter; ``random`` draws every tissue)."""
    lut = np.zeros(len(Tissue), dtype=np.float64)
    if modality == "CT":
        for t, v in _CT.items():
            lut[t] = v + (rng.uniform(-0.08, 0.08) * abs(v) if t not in (_T.AIR, _T.LUNG) else 0.0)
        return lut
    if contrast == "random":
        lut[:] = rng.uniform(0.0, 1.0, size=len(Tissue))
        lut[_T.AIR] = rng.uniform(0.0, 0.05)
        return lut
    for t, v in _MR[contrast].items():
        lut[t] = v * rng.uniform(0.88, 1.12) if t != _T.AIR else 0.0
    return lut


def _rotation(axis: np.ndarray, angle: float) -> np.ndarray:
    axis = axis / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k


def grid_affine(model: SpineModel, cfg: ImagingConfig, acquisition: str,
                rng: np.random.Generator) -> tuple[np.ndarray, tuple[int, int, int]]:
    """Affine (voxel -> RAS mm) and shape of the image grid covering the spine's field of view."""
    spacing = np.asarray(cfg.sagittal_spacing_mm if acquisition == "sagittal" else cfg.axial_spacing_mm)
    if cfg.spacing_jitter_pct > 0:
        spacing = spacing * (1.0 + rng.uniform(-1, 1, size=3) * cfg.spacing_jitter_pct / 100.0)
    angle = np.deg2rad(rng.uniform(0.0, cfg.max_oblique_deg))
    rot = _rotation(rng.normal(size=3), angle)
    dirs = rot @ _BASE[acquisition]
    t = model.tables
    s_lo, s_hi = model.fov_s
    ss = np.arange(s_lo, s_hi + 1e-6, 4.0)
    idx = model.sample_index(ss)
    a_back = -float(np.max(t["skin_post"][idx])) - 8.0
    a_front = float(np.max(t["bc_ca"][idx] + t["bc_a"][idx] + t["body_ap"][idx])) + 45.0
    if acquisition == "sagittal":
        half_r = 0.5 * cfg.sagittal_lr_coverage_mm
        a_rng = (a_back, a_front)
    else:
        half_r = 0.5 * cfg.axial_fov_mm
        mid = 0.5 * (a_back + a_front)
        a_rng = (mid - half_r, mid + half_r)
    corners = []
    for s_ in ss:
        for a_ in a_rng:
            for r_ in (-half_r, half_r):
                corners.append(model.to_world(float(s_), a_, r_))
    corners = np.asarray(corners)
    local = corners @ dirs           # coordinates along the (unit) grid axes
    lo, hi = local.min(axis=0), local.max(axis=0)
    if cfg.shape is not None:
        shape = tuple(int(v) for v in cfg.shape)
        centre = 0.5 * (lo + hi)
        lo = centre - 0.5 * (np.asarray(shape) - 1) * spacing
    else:
        shape = tuple(int(v) for v in np.ceil((hi - lo) / spacing).astype(int) + 1)
    affine = np.eye(4)
    affine[:3, :3] = dirs * spacing
    affine[:3, 3] = dirs @ lo
    return affine, shape  # type: ignore[return-value]


def world_points(affine: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """(prod(shape), 3) RAS world coordinates of every voxel centre, C order over (i, j, k)."""
    i, j, k = (np.arange(n, dtype=np.float64) for n in shape)
    m = affine[:3, :3]
    pts = (affine[:3, 3][None, None, None, :] + i[:, None, None, None] * m[:, 0]
           + j[None, :, None, None] * m[:, 1] + k[None, None, :, None] * m[:, 2])
    return pts.reshape(-1, 3)


def _coarse_axes(shape: tuple[int, int, int], spacing: np.ndarray, step_mm: float) -> list[tuple[np.ndarray, int]]:
    axes = []
    for n, sp in zip(shape, spacing):
        stride = max(1, int(step_mm // sp))
        m = (n - 1 + stride - 1) // stride + 1          # coarse samples 0, stride, ... reaching >= n - 1
        axes.append((np.arange(m) * stride, stride))
    return axes


def _upsample(coarse: np.ndarray, axes: list[tuple[np.ndarray, int]], shape: tuple[int, int, int]) -> np.ndarray:
    """Separable linear interpolation of a coarse-grid field to the full grid (float32)."""
    out = coarse.astype(np.float32)
    for ax, ((_, stride), n) in enumerate(zip(axes, shape)):
        if stride == 1:
            continue
        i = np.arange(n)
        i0 = i // stride
        w = ((i % stride) / stride).astype(np.float32)
        lo = np.take(out, i0, axis=ax)
        hi = np.take(out, np.minimum(i0 + 1, out.shape[ax] - 1), axis=ax)
        bshape = [1, 1, 1]
        bshape[ax] = n
        w = w.reshape(bshape)
        out = lo + (hi - lo) * w
    return out


def local_coordinates(model: SpineModel, affine: np.ndarray, shape: tuple[int, int, int],
                      step_mm: float = 3.0) -> tuple[np.ndarray, ...]:
    """(s, a, r, idx) of every voxel (flat, C order), exact on a ~``step_mm`` coarse grid, linear between.

    The local coordinates are smooth functions of position (error ~ curvature x step² / 8, about 0.02 mm
    for the gentlest curves), so this is much faster than projecting every voxel.
    """
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    axes = _coarse_axes(shape, spacing, step_mm)
    cshape = tuple(len(c) for c, _ in axes)
    caff = affine.copy()
    caff[:3, :3] = affine[:3, :3] * np.array([st for _, st in axes], dtype=np.float64)
    s, a, r, _ = model.to_local(world_points(caff, cshape))  # type: ignore[arg-type]
    out = [_upsample(v.reshape(cshape), axes, shape).reshape(-1) for v in (s, a, r)]
    idx = model.sample_index(out[0])
    return out[0], out[1], out[2], idx


def _smooth_field(shape: tuple[int, ...], sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Zero-mean, unit-std smooth random field (float32)."""
    f = rng.standard_normal(shape).astype(np.float32)
    f = ndimage.gaussian_filter(f, sigma, mode="reflect")
    sd = float(f.std())
    return f / sd if sd > 0 else f


def _bias_field(affine: np.ndarray, shape: tuple[int, int, int], strength: float,
                rng: np.random.Generator) -> np.ndarray:
    """Multiplicative low-frequency field (three random cosines over world mm), built on a coarse grid."""
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    axes = _coarse_axes(shape, spacing, 8.0)
    cshape = tuple(len(c) for c, _ in axes)
    caff = affine.copy()
    caff[:3, :3] = affine[:3, :3] * np.array([st for _, st in axes], dtype=np.float64)
    points = world_points(caff, cshape)  # type: ignore[arg-type]
    field = np.zeros(points.shape[0], dtype=np.float64)
    for _ in range(3):
        k = rng.normal(size=3)
        k *= 2 * np.pi / rng.uniform(250.0, 500.0) / np.linalg.norm(k)
        field += np.cos(points @ k + rng.uniform(0, 2 * np.pi))
    field *= strength / 6.0
    return _upsample(np.exp(field).reshape(cshape), axes, shape)


def draw_image(tissue: np.ndarray, affine: np.ndarray, modality: str, contrast: str, cfg: ImagingConfig,
               rng: np.random.Generator) -> np.ndarray:
    """Float32 image from a tissue map: per-tissue intensity, texture, bias, partial-volume blur, noise.

    MR values are arbitrary units (0..~1000); CT values are Hounsfield units.
    """
    lut = tissue_intensities(modality, contrast, rng)
    img = lut[tissue].astype(np.float32)
    tex_gain = np.zeros(len(Tissue), dtype=np.float32)
    for t, g in _TEXTURE.items():
        tex_gain[t] = g
    fine = _smooth_field(tissue.shape, 0.7, rng)
    scale = np.float32(cfg.texture_pct / 100.0)
    if modality == "CT":
        img += fine * tex_gain[tissue] * scale * np.float32(120.0)
    else:
        img *= 1.0 + fine * tex_gain[tissue] * scale
    if cfg.blur_voxels > 0:
        img = ndimage.gaussian_filter(img, cfg.blur_voxels, mode="nearest")
    if modality == "CT":
        img += rng.standard_normal(img.shape, dtype=np.float32) * np.float32(cfg.ct_noise_hu)
        return img.astype(np.float32)
    img *= _bias_field(affine, tissue.shape, cfg.bias_field_pct / 100.0, rng)
    sigma = np.float32(cfg.noise_pct / 100.0 * float(lut.max()))
    n1 = rng.standard_normal(img.shape, dtype=np.float32) * sigma
    n2 = rng.standard_normal(img.shape, dtype=np.float32) * sigma
    img = np.sqrt((img + n1) ** 2 + n2 ** 2)   # Rician magnitude noise
    return (img * np.float32(1000.0)).astype(np.float32)
