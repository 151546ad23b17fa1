"""Test helper for io: world coordinates of voxel centres."""

from __future__ import annotations

import numpy as np

__all__ = ["world_of_centres"]


def world_of_centres(affine: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """World coordinates (N, 3) of every voxel centre, in index order."""
    idx = np.indices(shape[:3]).reshape(3, -1)
    return (affine[:3, :3] @ idx + affine[:3, 3:4]).T
