"""Bring a label map onto another grid in world space (nearest neighbour), before scoring."""

from __future__ import annotations

import logging

import numpy as np
from scipy import ndimage

__all__ = ["same_grid", "resample_labels"]

log = logging.getLogger(__name__)


def same_grid(shape_a: tuple[int, ...], affine_a: np.ndarray, shape_b: tuple[int, ...], affine_b: np.ndarray,
              *, atol_mm: float = 1e-3) -> bool:
    """True when two grids have the same shape and their affines agree within ``atol_mm``."""
    return tuple(shape_a) == tuple(shape_b) and np.allclose(affine_a, affine_b, atol=atol_mm)


def resample_labels(labels: np.ndarray, affine: np.ndarray, target_shape: tuple[int, int, int],
                    target_affine: np.ndarray) -> np.ndarray:
    """Label map ``labels`` (on ``affine``) resampled onto the target grid by nearest neighbour.

    Each target voxel centre is mapped to world mm by ``target_affine`` and back to a source index by
    ``inv(affine)``; the nearest source voxel's value is taken, 0 outside the source. Labels are never
    interpolated, so no new values appear. Returns ``labels`` itself when the grids already agree.
    """
    affine = np.asarray(affine, dtype=np.float64)
    target_affine = np.asarray(target_affine, dtype=np.float64)
    if same_grid(labels.shape, affine, target_shape, target_affine):
        return labels
    # target index -> source index: inv(A_src) @ A_target
    m = np.linalg.inv(affine) @ target_affine
    log.debug("resampling labels %s -> %s by nearest neighbour in world space", labels.shape, target_shape)
    return ndimage.affine_transform(labels, m[:3, :3], offset=m[:3, 3], output_shape=tuple(target_shape),
                                    order=0, mode="constant", cval=0, prefilter=False)
