"""Checks of voxel values shared by every loader: non-finite voxels and constant images.

Policy (a radiologist-facing tool must neither crash on, nor silently analyse, meaningless values):

* non-finite voxels (NaN, +-inf) of a floating-point image are replaced by the image's lowest finite
  value, the usual meaning of NaN in a resampled NIfTI ("outside the field of view"); the count and the
  fill value are recorded in ``Volume.notes`` and logged, so the model and the measurements never see NaN;
* an image with no finite voxel, or whose voxels all hold one value (blank or constant), is refused with
  :class:`~spinedetect.errors.InputError`: it shows no anatomy, and any finding on it would be noise.

DICOM pixels are integers (always finite); a rescale slope/intercept that would overflow float32 is
refused where it is applied (io.dicom).
"""

from __future__ import annotations

import logging

import numpy as np

from spinedetect.errors import InputError

__all__ = ["screen_values"]

log = logging.getLogger(__name__)


def screen_values(array: np.ndarray, what: str) -> tuple[np.ndarray, list[str]]:
    """``array`` with non-finite voxels replaced (see the module docstring) and the notes; InputError if unusable.

    ``what`` names the image in messages (a path or a series key). Returns ``array`` itself when nothing
    needed replacing, a new array otherwise.
    """
    notes: list[str] = []
    if array.size == 0:
        raise InputError(f"{what} holds no voxels", expected="a non-empty 3-D image", found=f"shape {array.shape}")
    lo, hi = array.min(), array.max()
    # min/max are NaN or infinite exactly when some voxel is: only then pay for a per-voxel finite mask
    if array.dtype.kind in "fc" and not (np.isfinite(lo) and np.isfinite(hi)):
        finite = np.isfinite(array)
        n_bad = int(array.size - np.count_nonzero(finite))
        if n_bad:
            if n_bad == array.size:
                raise InputError(f"{what} holds no finite voxel value", expected="image intensities",
                                 found=f"{n_bad} NaN/inf voxels", hint="Check the file's export or scaling")
            low = array[finite].min()
            array = np.where(finite, array, low).astype(array.dtype, copy=False)
            notes.append(f"{n_bad} non-finite voxels ({100.0 * n_bad / array.size:.2g}%, NaN/inf) replaced by the "
                         f"lowest finite value {float(low):g}")
            log.warning("%s: %s", what, notes[-1])
            lo, hi = array.min(), array.max()
    if lo == hi:
        raise InputError(f"{what} is a constant image (every voxel = {float(lo):g})",
                         expected="an image with contrast", found="one value everywhere",
                         hint="The scan is blank or was exported wrongly; choose another series")
    return array, notes
