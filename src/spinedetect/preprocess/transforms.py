"""Preprocessing shared by training and inference: RAS orientation, model spacing, intensity per modality.

Training and the predictor call the same :func:`to_model_grid`, so a model sees at inference exactly the
grid and intensity scale it was trained on. :func:`resample_to_grid` takes model-grid outputs back to
any native grid through the two affines (world RAS mm), never through array axes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy import ndimage

from spinedetect.io.volume import Volume

__all__ = ["PreprocessConfig", "normalise_intensity", "to_model_grid", "resample_to_grid"]


@dataclass(frozen=True)
class PreprocessConfig:
    """Model grid and intensity scaling.

    ``spacing_mm``: voxel size (mm) along R, A, S after reorientation to ``orientation``.
    MR (and unknown modality) intensities map the ``mr_percentiles`` (%) of the volume to 0..1; CT maps
    the ``ct_window`` (HU) to 0..1; both are clipped to that range.
    """

    spacing_mm: tuple[float, float, float] = (1.5, 1.5, 1.5)
    orientation: str = "RAS"
    mr_percentiles: tuple[float, float] = (0.5, 99.5)
    ct_window: tuple[float, float] = (-1000.0, 1500.0)

    def __post_init__(self) -> None:
        if any(s <= 0 for s in self.spacing_mm):
            raise ValueError(f"spacing_mm must be positive, got {self.spacing_mm}")
        if not self.mr_percentiles[0] < self.mr_percentiles[1] or not self.ct_window[0] < self.ct_window[1]:
            raise ValueError("mr_percentiles and ct_window must be increasing pairs")
        if len(self.orientation) != 3:
            raise ValueError(f"orientation must be three axis codes, got {self.orientation!r}")


def normalise_intensity(array: np.ndarray, modality: str | None, cfg: PreprocessConfig) -> np.ndarray:
    """Intensities scaled to 0..1 (float32): CT by a fixed HU window, MR/unknown by percentiles."""
    data = np.asarray(array, dtype=np.float32)
    if (modality or "").upper() == "CT":
        lo, hi = cfg.ct_window
    else:
        lo, hi = (float(v) for v in np.percentile(data, cfg.mr_percentiles))
    if hi <= lo:  # a constant image: nothing to scale
        return np.zeros_like(data)
    return np.clip((data - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)


def to_model_grid(image: Volume, labels: np.ndarray | None, cfg: PreprocessConfig
                  ) -> tuple[torch.Tensor, torch.Tensor | None, np.ndarray]:
    """Image (and labels, on the image grid) resampled to the model grid.

    Returns the image (1, X, Y, Z) float32, labels (1, X, Y, Z) uint8 or None (nearest neighbour), and the
    model grid's 4x4 RAS affine.
    """
    from monai.data import MetaTensor
    from monai.transforms import Orientation, Spacing

    orient = Orientation(axcodes=cfg.orientation, labels=(("L", "R"), ("P", "A"), ("I", "S")))  # RAS+ world
    img = MetaTensor(torch.from_numpy(normalise_intensity(image.array, image.modality, cfg))[None],
                     affine=torch.as_tensor(image.affine, dtype=torch.float64))
    img = Spacing(pixdim=cfg.spacing_mm, mode="bilinear")(orient(img))
    affine = np.asarray(img.affine, dtype=np.float64)
    out_labels = None
    if labels is not None:
        if tuple(labels.shape) != image.shape:
            raise ValueError(f"labels shape {labels.shape} differs from image shape {image.shape}")
        lab = MetaTensor(torch.from_numpy(np.asarray(labels, dtype=np.float32))[None],
                         affine=torch.as_tensor(image.affine, dtype=torch.float64))
        lab = Spacing(pixdim=cfg.spacing_mm, mode="nearest")(orient(lab))
        out_labels = lab.as_tensor().round().to(torch.uint8)
    return img.as_tensor().float().contiguous(), out_labels, affine


def resample_to_grid(data: np.ndarray, src_affine: np.ndarray, dst_shape: tuple[int, int, int],
                     dst_affine: np.ndarray, *, order: int = 1) -> np.ndarray:
    """Resample channels ``data`` (C, X, Y, Z) on ``src_affine`` onto the grid (dst_shape, dst_affine).

    Both affines map voxel indices to RAS world mm; voxels of the destination that fall outside the
    source get 0. ``order`` 1 = trilinear (probabilities), 0 = nearest (labels). Trilinear equals scipy's
    ``affine_transform(order=1, mode="constant")`` to float32 rounding. Where each destination axis runs
    along one source axis (the model grid and a native grid are both built on the scanner's axes, so
    this is the usual case) it is three 1-D linear interpolations, one channel at a time; otherwise it
    runs through torch's ``grid_sample`` (all channels at once) in slabs of destination slices.
    """
    to_src = np.linalg.inv(np.asarray(src_affine, dtype=np.float64)) @ np.asarray(dst_affine, dtype=np.float64)
    if order == 1:
        data = np.asarray(data, dtype=np.float32)
        axes = _axis_map(to_src, tuple(dst_shape))
        if axes is not None:
            return _trilinear_along_axes(data, to_src, tuple(dst_shape), axes)
        return _trilinear_to_grid(data, to_src, tuple(dst_shape))
    out = np.empty((data.shape[0], *dst_shape), dtype=np.float32 if order else data.dtype)
    for c in range(data.shape[0]):
        out[c] = ndimage.affine_transform(np.asarray(data[c]), to_src[:3, :3], offset=to_src[:3, 3],
                                          output_shape=tuple(dst_shape), order=order, mode="constant", cval=0.0)
    return out


#: destination voxels resampled per grid_sample call: bounds the sampling grid's memory (~12 bytes each)
_SLAB_VOXELS = 1 << 21


def _axis_map(to_src: np.ndarray, dst_shape: tuple[int, int, int]) -> tuple[int, int, int] | None:
    """The source axis each destination axis runs along, where the destination->source voxel map ``to_src``
    is a scaled (and flipped, permuted) axis map; None for an oblique one. Off-axis terms that move a
    point by under 1e-6 voxel across the whole destination grid count as none (float rounding of affines)."""
    lin = np.asarray(to_src, dtype=np.float64)[:3, :3]
    axes = tuple(int(np.argmax(np.abs(lin[:, d]))) for d in range(3))
    if sorted(axes) != [0, 1, 2]:
        return None
    for d, a in enumerate(axes):
        off = np.abs(np.delete(lin[:, d], a)) * max(dst_shape[d] - 1, 1)
        if np.any(off >= 1e-6) or (lin[a, d] == 0.0 and dst_shape[d] > 1):
            return None
    return axes  # type: ignore[return-value]


def _trilinear_along_axes(data: np.ndarray, to_src: np.ndarray, dst_shape: tuple[int, int, int],
                          axes: tuple[int, int, int]) -> np.ndarray:
    """:func:`_trilinear_to_grid` for a scaled axis map (destination axis d along source axis ``axes[d]``):
    trilinear interpolation is the product of three 1-D ones, so each channel is interpolated along one
    axis at a time, shrinking axes first. The sample positions, edge tolerance and clamping are
    grid_sample's (float32), so only the order of the sums differs (float32 rounding)."""
    src_shape = tuple(data.shape[1 + a] for a in axes)
    steps = []
    for d, a in enumerate(axes):
        n_src = src_shape[d]
        multi = n_src > 1
        # the normalised coordinate exactly as _trilinear_to_grid computes it, then grid_sample's
        # align_corners=True unnormalisation and border clamp
        scale = 2.0 / (n_src - 1) if multi else 1.0
        coord = (np.arange(dst_shape[d], dtype=np.float32) * np.float32(scale * to_src[a, d])
                 + np.float32(scale * to_src[a, 3] - (1.0 if multi else 0.0)))
        tol = 1e-6 * scale
        inside = ((coord >= np.float32((-1.0 if multi else 0.0) - tol))
                  & (coord <= np.float32((1.0 if multi else 0.0) + tol)))
        shape = [1, 1, 1]
        shape[d] = -1
        if multi:
            index = np.clip((coord + np.float32(1.0)) / np.float32(2.0) * np.float32(n_src - 1), 0, n_src - 1)
            first = np.minimum(np.floor(index).astype(np.int64), n_src - 2)
            weight = (index - first).astype(np.float32)
        else:
            first, weight = np.zeros(dst_shape[d], dtype=np.int64), np.zeros(dst_shape[d], dtype=np.float32)
        steps.append((d, torch.from_numpy(first), torch.from_numpy(first + 1) if multi else None,
                      None if not weight.any() else torch.from_numpy(weight).reshape(shape),
                      None if inside.all() else torch.from_numpy(inside.astype(np.float32)).reshape(shape)))
    steps.sort(key=lambda step: dst_shape[step[0]] / src_shape[step[0]])  # smallest intermediates first
    out = np.empty((data.shape[0], *dst_shape), dtype=np.float32)
    source, target = torch.from_numpy(np.ascontiguousarray(data)), torch.from_numpy(out)
    # each step's arrays are allocated once and reused for every channel: fresh ones per channel would be
    # fresh pages from the OS each time (tens of MB on a CT), which cost more than the interpolation
    shape, scratch = list(src_shape), []
    for n, (d, first, _, weight, _) in enumerate(steps):
        shape[d] = len(first)
        last = n == len(steps) - 1  # the last step writes into the output instead
        scratch.append([None if last else torch.empty(shape, dtype=torch.float32)]
                       + ([] if weight is None else [torch.empty(shape, dtype=torch.float32) for _ in range(2)]))
    for c in range(data.shape[0]):  # one channel at a time: intermediates stay small
        values = source[c].permute(*axes)
        for (d, first, second, weight, inside), (result, *pair) in zip(steps, scratch):
            result = target[c] if result is None else result
            if weight is None:  # every sample on a source voxel centre (e.g. equal slice spacing)
                torch.index_select(values, d, first, out=result)
            else:
                low, high = pair
                torch.index_select(values, d, first, out=low)
                torch.index_select(values, d, second, out=high)
                torch.lerp(low, high, weight, out=result)
            if inside is not None:
                result.mul_(inside)
            values = result
    return out


def _trilinear_to_grid(data: np.ndarray, to_src: np.ndarray, dst_shape: tuple[int, int, int]) -> np.ndarray:
    """Trilinear resampling of (C, X, Y, Z) float32 through the destination->source voxel map ``to_src``."""
    src_shape = np.array(data.shape[1:], dtype=np.float64)
    # channels-last: the C values of one source voxel sit together, so each sample gathers 8 contiguous runs
    source = torch.from_numpy(np.ascontiguousarray(data))[None].contiguous(memory_format=torch.channels_last_3d)
    # grid_sample's normalised coordinates with align_corners=True put -1 and +1 on the first and last voxel
    # centres; along a one-voxel axis the coordinate is ignored, so there it is kept as the raw index (which
    # must be ~0 to fall inside).
    multi = src_shape > 1
    scale = np.where(multi, 2.0 / np.maximum(src_shape - 1, 1), 1.0)
    to_norm = np.diag(scale) @ to_src[:3]  # (3, 4): destination index -> source normalised coordinate
    to_norm[:, 3] -= np.where(multi, 1.0, 0.0)
    tol = 1e-6 * scale
    lo = torch.from_numpy(np.where(multi, -1.0, 0.0) - tol).float()
    hi = torch.from_numpy(np.where(multi, 1.0, 0.0) + tol).float()
    coef = torch.from_numpy(to_norm).float()
    nx, ny, nz = dst_shape
    i = torch.arange(nx, dtype=torch.float32)[:, None, None, None]
    j = torch.arange(ny, dtype=torch.float32)[None, :, None, None]
    out = np.empty((data.shape[0], *dst_shape), dtype=np.float32)
    slab = max(1, _SLAB_VOXELS // max(1, nx * ny))
    for k0 in range(0, nz, slab):
        k = torch.arange(k0, min(nz, k0 + slab), dtype=torch.float32)[None, None, :, None]
        grid = i * coef[:, 0] + j * coef[:, 1] + (k * coef[:, 2] + coef[:, 3])  # (nx, ny, nk, 3)
        # scipy's mode="constant": a point outside the source on any axis is 0, no interpolation beyond the edge
        inside = ((grid >= lo) & (grid <= hi)).all(dim=-1)
        sampled = torch.nn.functional.grid_sample(source, grid.flip(-1)[None], mode="bilinear",
                                                  padding_mode="border", align_corners=True)[0]
        out[:, :, :, k0:k0 + k.shape[2]] = (sampled * inside).numpy()
    return out
