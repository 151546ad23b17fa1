"""One entry point for every supported input: a DICOM folder or file, NIfTI, MetaImage or NRRD."""

from __future__ import annotations

import logging
from pathlib import Path

from spinedetect.errors import InputError
from spinedetect.io.dicom import Discovery, SeriesInfo, describe_series, discover_series, load_series
from spinedetect.io.formats import ITK_SUFFIXES, NIFTI_SUFFIXES, has_suffix, load_itk, load_nifti
from spinedetect.io.settings import AssemblyRules, InputLimits
from spinedetect.io.volume import Volume

__all__ = ["load_volume", "pick_series"]

log = logging.getLogger(__name__)


def _no_series(where: Path, found: Discovery) -> InputError:
    if not found.skipped:
        return InputError(f"Folder {where} is empty", expected="DICOM files, a NIfTI or an MHA",
                          found="no files")
    reasons = sorted({reason for _, reason in found.skipped})
    return InputError(f"No DICOM image series in {where}", expected="DICOM image files",
                      found=f"{len(found.skipped)} files skipped ({'; '.join(reasons[:3])})")


def pick_series(found: Discovery, series_uid: str | None, where: Path) -> SeriesInfo:
    """The one image of ``found`` named by ``series_uid`` (a SeriesInstanceUID or an image key), or the only one."""
    images = found.series
    if not images:
        raise _no_series(where, found)
    if series_uid is not None:
        exact = [s for s in images if s.image_key == series_uid]
        chosen = exact or [s for s in images if s.series_instance_uid == series_uid]
        if not chosen:
            raise InputError(f"No image series {series_uid} in {where}", expected="one of the series found",
                             found=describe_series(images))
        images = chosen
    if len(images) > 1:
        raise InputError(f"{where} holds {len(images)} image series", expected="one, or --series UID",
                         found=describe_series(images))
    return images[0]


def load_volume(path: str | Path, *, series_uid: str | None = None, limits: InputLimits = InputLimits(),
                rules: AssemblyRules = AssemblyRules()) -> Volume:
    """Load a DICOM folder, one DICOM file (its whole series from the same folder), .nii/.nii.gz or
    .mha/.mhd/.nrrd as a :class:`Volume` (array (i, j, k), affine to RAS+ mm).

    ``series_uid`` picks one image when a folder holds several (a SeriesInstanceUID, or an image key
    ``UID#suffix`` when a series splits into echoes / components). Raises InputError for bad input.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"Input {path} does not exist", expected="a DICOM folder or file, a NIfTI or an MHA",
                         found="nothing at that path")
    if path.is_dir():
        found = discover_series(path, limits=limits, rules=rules)
        return load_series(pick_series(found, series_uid, path), limits=limits, rules=rules)
    if series_uid is not None and has_suffix(path, NIFTI_SUFFIXES + ITK_SUFFIXES):
        raise InputError(f"A series UID was given for {path.name}", expected="--series only with DICOM input",
                         found="a NIfTI/MetaImage/NRRD file, which holds one image")
    if has_suffix(path, NIFTI_SUFFIXES):
        return load_nifti(path, limits=limits)
    if has_suffix(path, ITK_SUFFIXES):
        return load_itk(path, limits=limits)
    # one DICOM file: read its series from the same folder (not below it)
    found = discover_series(path.parent, limits=limits, rules=rules, recursive=False)
    resolved = path.resolve()
    for skipped, reason in found.skipped:
        if skipped.resolve() == resolved:
            raise InputError(f"{path} is not a usable image", expected="a DICOM image, a NIfTI or an MHA",
                             found=reason)
    mine = [s for s in found.series if any(f.resolve() == resolved for f in s.files)]
    if series_uid is not None:
        mine = [s for s in mine if series_uid in (s.image_key, s.series_instance_uid)]
    if not mine:
        raise InputError(f"{path} is not part of any image series", expected="a DICOM image",
                         found="no series holding it")
    holding = [s for s in mine if any(f.path.resolve() == resolved for f in s.frames)]
    if len(holding) > 1:  # one enhanced file holding several images (e.g. magnitude and field map)
        raise InputError(f"{path} holds {len(holding)} image series", expected="one, or --series UID",
                         found=describe_series(holding))
    return load_series(holding[0], limits=limits, rules=rules)
