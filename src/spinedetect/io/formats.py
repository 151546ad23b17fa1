"""NIfTI (nibabel) and MetaImage/NRRD (SimpleITK) reading, and atomic NIfTI writing.

NIfTI: the affine is ``img.affine`` (nibabel picks sform or qform by their codes), already RAS+.
MHA/MHD/NRRD: SimpleITK gives direction, spacing and origin in LPS; the affine is
``diag(-1, -1, 1, 1) @ [[D @ diag(spacing), origin], [0, 1]]`` and the array is transposed from
SimpleITK's (k, j, i) to (i, j, k). A 4-D image keeps its first volume (noted); fewer than 3
dimensions or vector pixels are refused. A MetaImage's ``Modality`` field (MET_MOD_CT / MET_MOD_MR) sets
``Volume.modality``; NIfTI and NRRD name no modality (None: see spinedetect.io.modality).
"""

from __future__ import annotations

import logging
import zlib
from pathlib import Path

import nibabel as nib
import numpy as np

from spinedetect.atomic import atomic_path
from spinedetect.errors import InputError
from spinedetect.io.settings import MAX_WORLD_MM, MIN_SPACING_MM, InputLimits
from spinedetect.io.values import screen_values
from spinedetect.io.volume import Volume

__all__ = ["NIFTI_SUFFIXES", "ITK_SUFFIXES", "load_nifti", "load_itk", "write_nifti", "has_suffix"]

log = logging.getLogger(__name__)

#: what nibabel raises on a damaged NIfTI (header checks, gzip stream, scaling, offsets)
_NIFTI_ERRORS = (nib.filebasedimages.ImageFileError, nib.spatialimages.HeaderDataError, OSError, EOFError,
                 ValueError, OverflowError, zlib.error)
NIFTI_SUFFIXES = (".nii", ".nii.gz")
ITK_SUFFIXES = (".mha", ".mhd", ".nrrd", ".nhdr")
_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
#: MetaImage ``Modality`` values that name a modality the pipeline knows
_METAIMAGE_MODALITIES = {"MET_MOD_CT": "CT", "MET_MOD_MR": "MR"}


def has_suffix(path: Path, suffixes: tuple[str, ...]) -> bool:
    """Whether the file name ends with one of ``suffixes`` (case-insensitive)."""
    name = path.name.lower()
    return any(name.endswith(s) for s in suffixes)


def _check_voxels(path: Path, shape: tuple[int, ...], limits: InputLimits) -> None:
    count = int(np.prod([int(s) for s in shape[:3]], dtype=np.int64))
    if count > limits.max_voxels:
        raise InputError(f"{path} holds {count} voxels ({'x'.join(str(s) for s in shape)})",
                         expected=f"at most {limits.max_voxels} (InputLimits.max_voxels)", found="more",
                         hint="Raise the limit in configs/io.yaml if this volume is genuine")


def _check_nifti_bytes(path: Path, img: nib.Nifti1Image, shape: tuple[int, ...], limits: InputLimits) -> None:
    """Refuse, before reading voxels, a header claiming more bytes than allowed or than an uncompressed file holds."""
    header = img.header
    itemsize = int(header.get_data_dtype().itemsize)
    claimed = int(np.prod([int(s) for s in shape[:3]], dtype=np.int64)) * itemsize
    if claimed > limits.max_decompressed_bytes:
        raise InputError(f"{path} claims {claimed} bytes of voxel data ({'x'.join(map(str, shape))} of "
                         f"{header.get_data_dtype()})",
                         expected=f"at most {limits.max_decompressed_bytes} (InputLimits.max_decompressed_bytes)",
                         found="more", hint="Raise the limit in configs/io.yaml if this volume is genuine")
    if path.name.lower().endswith(".nii"):  # uncompressed: the file must hold what the header claims
        needed = int(getattr(img.dataobj, "offset", 0)) + claimed
        size = path.stat().st_size
        if size < needed:
            raise InputError(f"{path} is truncated", expected=f"{needed} bytes (header + voxel data)",
                             found=f"{size} bytes", hint="Copy the file again")


_DATA_FILE_KEYS = ("elementdatafile", "data file", "datafile")
_MAX_HEADER_DIMS = 16


def _text_header(path: Path) -> tuple[dict[str, str], list[str]]:
    """The ``key = value`` (MetaImage) or ``key: value`` (NRRD) fields of a text header, keys lower-case,
    up to the data-file field (MetaImage) or the blank line (NRRD); and the lines after the data-file field."""
    with open(path, "rb") as fh:
        head = fh.read(64 * 1024)
    nrrd = path.suffix.lower() in (".nrrd", ".nhdr")
    end = head.find(b"\n\n") if nrrd else -1
    lines = (head[:end] if end >= 0 else head).decode("latin-1").splitlines()
    fields: dict[str, str] = {}
    for n, line in enumerate(lines):
        key, sep, value = line.partition(":") if nrrd else line.partition("=")
        if not sep or key.startswith("#"):
            continue
        key = key.strip().lower()
        fields.setdefault(key, value.strip())
        if key in _DATA_FILE_KEYS:
            return fields, lines[n + 1:]
    return fields, []


def _check_text_header(path: Path) -> None:
    """Check a MetaImage/NRRD text header before SimpleITK parses it.

    Refuses a dimension count or sizes that are not small positive integers (NDims = -1 makes SimpleITK
    spin or crash), and a data file named outside the header's own folder (absolute, '..', NUL): a
    header is a text file a sender controls, and ``ElementDataFile = /etc/shadow`` must never be read.
    """
    fields, rest = _text_header(path)
    ndims_key, sizes_key = ("dimension", "sizes") if path.suffix.lower() in (".nrrd", ".nhdr") else ("ndims", "dimsize")
    if ndims_key in fields or sizes_key in fields:
        dims, sizes = fields.get(ndims_key, ""), fields.get(sizes_key, "").split()
        if not dims.isdigit() or not 1 <= int(dims) <= _MAX_HEADER_DIMS:
            raise InputError(f"{path} has an invalid dimension count {dims!r}",
                             expected=f"an integer from 1 to {_MAX_HEADER_DIMS} ({ndims_key})", found=repr(dims))
        if len(sizes) != int(dims) or not all(v.isdigit() and int(v) > 0 for v in sizes):
            raise InputError(f"{path} has invalid image sizes {fields.get(sizes_key, '')!r}",
                             expected=f"{dims} positive integers ({sizes_key})", found=repr(fields.get(sizes_key, "")))
    name = next((fields[k] for k in _DATA_FILE_KEYS if k in fields), "LOCAL")
    if name.upper() == "LOCAL":
        return
    if name.upper().startswith("LIST"):  # the file names follow, one a line
        names = [x.strip() for x in rest if x.strip()]
    else:
        names = [name.split()[0] if name else name]
    folder = path.resolve().parent
    for name in names:
        target = None if "\0" in name else (folder / name).resolve()
        if target is None or Path(name).is_absolute() or not target.is_relative_to(folder):
            raise InputError(f"{path} names its voxel data file {name!r} outside its folder",
                             expected="a data file beside the header", found=str(target or name),
                             hint="Move the data file next to the header and name it without a path")


def _check_affine(path: Path, affine: np.ndarray) -> None:
    """Refuse a voxel-to-world matrix that is not finite, not invertible, or beyond +-MAX_WORLD_MM."""
    voxel = np.linalg.norm(affine[:3, :3], axis=0) if np.all(np.isfinite(affine)) else None
    if (voxel is None or np.min(voxel) < MIN_SPACING_MM or np.abs(affine[:3]).max() > MAX_WORLD_MM
            or abs(np.linalg.det(affine[:3, :3])) < 1e-12):
        raise InputError(f"{path} has an unusable voxel-to-world matrix",
                         expected=(f"finite, invertible, voxel sizes >= {MIN_SPACING_MM:g} mm, "
                                   f"within +-{MAX_WORLD_MM:g} mm"),
                         found=np.array2string(affine[:3], precision=3, separator=",").replace("\n", ""),
                         hint="Fix the header's spacing and orientation (sform/qform, pixdim, TransformMatrix)")


def _first_volume(path: Path, shape: tuple[int, ...], notes: list[str]) -> None:
    if len(shape) < 3:
        raise InputError(f"{path} is a {len(shape)}-D image", expected="a 3-D volume", found=f"shape {shape}")
    if len(shape) > 3 and int(np.prod(shape[3:])) > 1:
        notes.append(f"{len(shape)}-D image of shape {shape}: kept the first 3-D volume")


def load_nifti(path: str | Path, *, limits: InputLimits = InputLimits()) -> Volume:
    """Read a .nii/.nii.gz; scaled data (scl_slope/inter) comes back as float32, unscaled as stored."""
    path = Path(path)
    try:
        img = nib.load(str(path))
        shape = tuple(int(s) for s in img.shape)
        dtype = img.get_data_dtype()
        affine = img.affine
    except _NIFTI_ERRORS as exc:
        raise InputError(f"{path} is not a readable NIfTI file ({type(exc).__name__}: {exc})",
                         hint="The file is damaged or not NIfTI; export it again") from None
    if dtype.fields is not None or dtype.kind not in "biuf":
        raise InputError(f"{path} holds {dtype} voxels", expected="scalar (greyscale) integer or float voxels",
                         found="RGB, vector or complex voxels", hint="Convert it to a greyscale image")
    notes: list[str] = []
    _first_volume(path, shape, notes)
    _check_voxels(path, shape, limits)
    _check_affine(path, affine)
    try:
        _check_nifti_bytes(path, img, shape, limits)
        dataobj = img.dataobj
        data = dataobj[(..., *([0] * (len(shape) - 3)))] if len(shape) > 3 else dataobj[...]
        array = np.asarray(data)
    except _NIFTI_ERRORS as exc:
        raise InputError(f"{path} has unreadable voxel data ({type(exc).__name__}: {exc})",
                         hint="The file may be truncated or its scaling corrupt") from None
    if array.dtype == np.float64 and dtype != np.float64:
        array = array.astype(np.float32)  # nibabel scales to float64; float32 holds every scaled 16-bit value
    qcode, scode = int(img.header["qform_code"]), int(img.header["sform_code"])
    if qcode == 0 and scode == 0:
        notes.append("NIfTI has neither sform nor qform: nibabel's fallback affine (voxel sizes, no orientation)")
    for note in notes:
        log.warning("%s: %s", path, note)
    array, value_notes = screen_values(array, str(path))
    notes += value_notes
    meta = {"format": "nifti", "path": str(path), "qform_code": qcode, "sform_code": scode,
            "description": img.header["descrip"].tobytes().rstrip(b"\0").decode("latin-1")}
    return Volume(array=array, affine=affine, meta=meta, notes=notes)


def load_itk(path: str | Path, *, limits: InputLimits = InputLimits()) -> Volume:
    """Read .mha/.mhd/.nrrd with SimpleITK, converting its LPS geometry to a RAS affine."""
    import SimpleITK as sitk

    path = Path(path)
    _check_text_header(path)
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError as exc:
        raise InputError(f"{path} is not a readable MetaImage/NRRD file ({str(exc).strip().splitlines()[-1]})") \
            from None
    shape = tuple(int(s) for s in reader.GetSize())  # (i, j, k, ...)
    notes: list[str] = []
    if reader.GetNumberOfComponents() != 1:
        raise InputError(f"{path} has {reader.GetNumberOfComponents()} components per voxel",
                         expected="a scalar (greyscale) image", found="vector/colour voxels")
    _first_volume(path, shape, notes)
    _check_voxels(path, shape, limits)
    try:
        image = reader.Execute()
    except RuntimeError as exc:
        raise InputError(f"{path} has unreadable voxel data ({str(exc).strip().splitlines()[-1]})",
                         hint="The file may be truncated") from None
    dim = image.GetDimension()
    array = sitk.GetArrayFromImage(image)  # a copy, (..., k, j, i); a view would die with `image`
    if dim > 3:
        array = array[(0,) * (dim - 3)]
    array = array.transpose(2, 1, 0)
    direction = np.asarray(image.GetDirection(), dtype=np.float64).reshape(dim, dim)[:3, :3]
    lps = np.eye(4)
    lps[:3, :3] = direction @ np.diag(np.asarray(image.GetSpacing()[:3], dtype=np.float64))
    lps[:3, 3] = image.GetOrigin()[:3]
    affine = _LPS_TO_RAS @ lps
    _check_affine(path, affine)
    for note in notes:
        log.warning("%s: %s", path, note)
    array, value_notes = screen_values(array, str(path))
    notes += value_notes
    meta = {"format": path.suffix.lower().lstrip("."), "path": str(path)}
    named = reader.GetMetaData("Modality").strip() if reader.HasMetaDataKey("Modality") else ""
    if named:
        meta["header_modality"] = named
    return Volume(array=array, affine=affine, modality=_METAIMAGE_MODALITIES.get(named.upper()), meta=meta,
                  notes=notes)


def write_nifti(volume: Volume, path: str | Path) -> Path:
    """Write ``volume`` as NIfTI (qform = sform = affine) atomically; returns the path written."""
    path = Path(path)
    if not has_suffix(path, NIFTI_SUFFIXES):
        raise InputError(f"Output {path} is not a NIfTI file name", expected="a name ending .nii or .nii.gz",
                         found=path.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = ".nii.gz" if path.name.lower().endswith(".nii.gz") else ".nii"
    with atomic_path(path, suffix=suffix) as tmp:
        img = volume.to_nifti()
        img.header.set_xyzt_units("mm")
        nib.save(img, tmp)
    return path
