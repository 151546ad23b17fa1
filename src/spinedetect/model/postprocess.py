"""Post-processing of a predicted label map: small isolated pieces of a class given to the next class.

nnU-Net-style: a rule chosen on data the model was not trained on (scripts/tune_postprocess.py), shipped
with the weights (``inference.min_component_mm3``), applied by the predictor after the argmax.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
from scipy import ndimage

__all__ = ["labels_from_probabilities", "remove_small_components", "component_volumes"]

_CONNECTIVITY = np.ones((3, 3, 3), dtype=bool)  # 26-connected: a diagonal touch keeps a piece whole


def labels_from_probabilities(probs: np.ndarray) -> np.ndarray:
    """The most probable class per voxel of ``probs`` (C, X, Y, Z) as uint8 (C <= 256): ``probs.argmax(axis=0)``.

    Ties go to the lower class and NaN counts as the largest value, as in numpy. One channel at a time, so
    it reads each channel once instead of gathering C strided values per voxel (~4x faster on a CT).
    """
    probs = np.asarray(probs)
    if probs.shape[0] > 256:
        raise ValueError(f"at most 256 classes fit uint8 labels, got {probs.shape[0]}")
    best = np.array(probs[0], copy=True)
    labels = np.zeros(probs.shape[1:], dtype=np.uint8)
    settled = np.isnan(best) if probs.dtype.kind == "f" else None  # voxels whose maximum is already a NaN
    for c in range(1, probs.shape[0]):
        channel = probs[c]
        higher = channel > best  # False wherever a NaN is involved
        if settled is not None:
            nan = np.isnan(channel)
            if nan.any():
                higher |= nan & ~settled
                settled |= nan
        labels[higher] = c
        np.copyto(best, channel, where=higher)
    return labels


def component_volumes(mask: np.ndarray, voxel_mm3: float) -> tuple[np.ndarray, np.ndarray]:
    """26-connected components of ``mask``: the component map (0 = outside) and each one's volume in mm³
    (index ``k - 1`` for component ``k``)."""
    comp, n = ndimage.label(mask, structure=_CONNECTIVITY)
    return comp, np.bincount(comp.ravel(), minlength=n + 1)[1:] * voxel_mm3


def remove_small_components(labels: np.ndarray, probs: np.ndarray, affine: np.ndarray,
                            min_mm3: Mapping[int, float]) -> np.ndarray:
    """``labels`` (X, Y, Z) with every component of class ``c`` smaller than ``min_mm3[c]`` (mm³, voxel
    volume from ``affine``) relabelled to the most probable other class of ``probs`` (C, X, Y, Z) there.

    Returns a new array; ``labels`` and ``probs`` are not changed.
    """
    out = np.array(labels, copy=True)
    voxel_mm3 = float(abs(np.linalg.det(np.asarray(affine, dtype=np.float64)[:3, :3])))
    for cls, limit in sorted(min_mm3.items()):
        if limit <= 0:
            continue
        mask = out == cls
        box = _bounding_box(mask)
        if box is None:  # the class is absent (the usual case): nothing to label
            continue
        comp, volumes = component_volumes(mask[box], voxel_mm3)  # a component lies within the class's box
        small = np.flatnonzero(volumes < limit) + 1
        if small.size == 0:
            continue
        where = np.isin(comp, small)
        others = np.asarray(probs)[(slice(None), *box)][:, where].copy()
        others[cls] = -np.inf
        out[box][where] = others.argmax(axis=0).astype(out.dtype)
    return out


def _bounding_box(mask: np.ndarray) -> tuple[slice, ...] | None:
    """The smallest box (one slice per axis) holding every True voxel of ``mask``; None for an empty mask."""
    if not mask.any():
        return None
    box = []
    for axis in range(mask.ndim):
        hit = np.flatnonzero(mask.any(axis=tuple(a for a in range(mask.ndim) if a != axis)))
        box.append(slice(int(hit[0]), int(hit[-1]) + 1))
    return tuple(box)
