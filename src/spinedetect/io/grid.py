"""Grids: exact re-indexing of a volume onto another grid, and the voxel coordinates of a plane of pixels.

Two files of one scan often store the same voxels with axes flipped or permuted (dcm2niix, SimpleITK
and scanners disagree on row order and slice direction). :func:`reorient_onto` moves a volume onto a
target grid by flips and transposes only (no interpolation) after checking, through the two affines,
that every voxel centre coincides within a tolerance in mm. :func:`plane_voxel_coords` places a plane
of pixels (a picture, a DICOM frame) in a volume's voxel index space.
"""

from __future__ import annotations

import numpy as np

from spinedetect.errors import InputError
from spinedetect.io.volume import Volume

__all__ = ["index_map", "reorient_onto", "plane_voxel_coords"]


def index_map(src_affine: np.ndarray, dst_affine: np.ndarray, dst_shape: tuple[int, ...], *,
              tol_mm: float = 0.01) -> np.ndarray:
    """Integer 4x4 matrix M with ``src_index = M @ dst_index`` when both grids share their voxel centres.

    Raises InputError unless M is a signed axis permutation with an integer offset and
    ``src_affine @ M`` places every corner of the destination grid within ``tol_mm`` of ``dst_affine``.
    """
    m = np.linalg.inv(np.asarray(src_affine, float)) @ np.asarray(dst_affine, float)
    rounded = np.round(m)
    lin = rounded[:3, :3]
    corners = np.array([[i, j, k, 1.0] for i in (0, dst_shape[0] - 1) for j in (0, dst_shape[1] - 1)
                        for k in (0, dst_shape[2] - 1)]).T
    err = float(np.abs((np.asarray(src_affine, float) @ rounded - dst_affine) @ corners)[:3].max())
    is_perm = bool(np.all(np.abs(lin).sum(axis=0) == 1) and np.all(np.abs(lin).sum(axis=1) == 1))
    if not is_perm or err > tol_mm:
        raise InputError("The two grids do not share their voxel centres",
                         expected=f"the same voxels up to axis flips/permutations, within {tol_mm} mm",
                         found=f"a mismatch of {err:.4f} mm" if is_perm else "rotated or rescaled axes",
                         hint="Resample instead of re-indexing")
    return rounded.astype(int)


def reorient_onto(volume: Volume, affine: np.ndarray, shape: tuple[int, ...], *, tol_mm: float = 0.01) -> Volume:
    """``volume`` re-indexed onto the grid (``affine``, ``shape``): flips and transposes only, values exact.

    The returned volume carries ``affine`` itself; InputError when the grids differ (see :func:`index_map`).
    """
    shape = tuple(int(s) for s in shape[:3])
    m = index_map(volume.affine, affine, shape, tol_mm=tol_mm)
    axes = [int(np.argmax(np.abs(m[:3, d]))) for d in range(3)]  # source axis feeding each target axis
    array = np.transpose(volume.array, axes)
    for d, s in enumerate(axes):
        sign, offset = int(m[s, d]), int(m[s, 3])
        expected = 0 if sign > 0 else volume.array.shape[s] - 1
        if volume.array.shape[s] != shape[d] or offset != expected:
            raise InputError("The two grids cover different voxels", expected=f"shape {shape}",
                             found=f"shape {volume.shape} offset by {offset} voxels along axis {s}",
                             hint="Crop or resample instead of re-indexing")
        if sign < 0:
            array = np.flip(array, axis=d)
    return Volume(array=np.ascontiguousarray(array), affine=np.asarray(affine, float), modality=volume.modality,
                  source=volume.source, meta=dict(volume.meta), notes=list(volume.notes))


def plane_voxel_coords(affine: np.ndarray, origin_mm: np.ndarray, row_step_mm: np.ndarray, col_step_mm: np.ndarray,
                       shape: tuple[int, int]) -> np.ndarray:
    """Voxel coordinates (3, rows, cols), float64, of the pixels of a plane in world space.

    Pixel (r, c) lies at ``origin_mm + r * row_step_mm + c * col_step_mm`` (world mm, the frame of
    ``affine``, which maps voxel indices to it). The map is affine, so each voxel axis is one
    (rows, 1) + (1, cols) sum instead of a matrix product per pixel.
    """
    inv = np.linalg.inv(np.asarray(affine, dtype=np.float64))
    start = inv[:3, :3] @ np.asarray(origin_mm, dtype=np.float64) + inv[:3, 3]
    per_row = inv[:3, :3] @ np.asarray(row_step_mm, dtype=np.float64)
    per_col = inv[:3, :3] @ np.asarray(col_step_mm, dtype=np.float64)
    rows, cols = shape
    r, c = np.arange(rows, dtype=np.float64), np.arange(cols, dtype=np.float64)
    out = np.empty((3, rows, cols))
    for axis in range(3):
        np.add.outer(start[axis] + r * per_row[axis], c * per_col[axis], out=out[axis])
    return out
