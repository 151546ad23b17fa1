"""Test helpers for io: world-space comparison of two grids that differ by axis flips and permutations."""

from __future__ import annotations

import numpy as np

__all__ = ["index_map", "onto_grid", "world_of_centres"]


def index_map(src_affine: np.ndarray, dst_affine: np.ndarray, dst_shape: tuple[int, ...],
              tol_mm: float = 0.01) -> np.ndarray:
    """4x4 integer matrix M with src_index = M @ dst_index when both grids hold the same voxel centres.

    Asserts that ``src_affine @ M`` equals ``dst_affine`` within ``tol_mm`` at every corner of the
    destination grid (so the affines agree to ``tol_mm`` after a pure flip/permutation of axes).
    """
    m = np.linalg.inv(src_affine) @ dst_affine
    rounded = np.round(m)
    corners = np.array([[i, j, k, 1.0] for i in (0, dst_shape[0] - 1) for j in (0, dst_shape[1] - 1)
                        for k in (0, dst_shape[2] - 1)]).T
    err = np.abs((src_affine @ rounded - dst_affine) @ corners)[:3].max()
    assert err <= tol_mm, f"grids differ by {err:.4f} mm at a corner (affines\n{src_affine}\n{dst_affine})"
    lin = rounded[:3, :3]
    assert np.all(np.abs(lin).sum(axis=0) == 1) and np.all(np.abs(lin).sum(axis=1) == 1), "not a flip/permutation"
    return rounded.astype(int)


def onto_grid(array: np.ndarray, affine: np.ndarray, dst_affine: np.ndarray,
              dst_shape: tuple[int, ...]) -> np.ndarray:
    """``array`` (on ``affine``) re-indexed onto the destination grid, exactly (no interpolation)."""
    m = index_map(affine, dst_affine, dst_shape)
    idx = np.indices(dst_shape[:3]).reshape(3, -1)
    src = m[:3, :3] @ idx + m[:3, 3:4]
    assert src.min() >= 0 and np.all(src.max(axis=1) < np.array(array.shape[:3])), "grids do not overlap fully"
    return array[src[0], src[1], src[2]].reshape(dst_shape[:3])


def world_of_centres(affine: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """World coordinates (N, 3) of every voxel centre, in index order."""
    idx = np.indices(shape[:3]).reshape(3, -1)
    return (affine[:3, :3] @ idx + affine[:3, 3:4]).T
