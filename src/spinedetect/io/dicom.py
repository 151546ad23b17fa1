"""DICOM series discovery, slice assembly and pixel loading (the only module that parses DICOM).

Discovery walks a folder tree (any depth up to ``InputLimits.max_depth``, any file names, symlinks never
followed out of the tree), reads headers only (``stop_before_pixels``) and groups image frames into
studies, series and *images*: one series is split into several images by echo time and by complex
component (magnitude / phase / real / imaginary / field map). Non-image objects (SR, PR, SEG, RT, KO,
DICOMDIR, ...), non-DICOM and unreadable files are skipped with a reason.

Identity: files are grouped by StudyInstanceUID and SeriesInstanceUID. Where a header leaves one blank
or out (anonymisers do), a UID is derived from what the file shows instead (:func:`_identity`): its folder
(relative to the discovery root) and the study's or series' header facts (dates, times, numbers,
description, frame of reference), never from an empty string, so two blank-UID studies in different
folders never merge; a blank-UID study whose series lie in several folders is split into one study per
folder instead (each still processed). ``SeriesInfo.derived_uids`` and ``Volume.notes`` say which were
derived. Blank SOPInstanceUIDs are allowed (such slices are told apart by position).

Assembly rules (each problem is recorded in ``Volume.notes`` and logged; refusals raise
:class:`~spinedetect.errors.InputError` naming the image and the problem):

* slices are sorted by ImagePositionPatient projected on the slice normal (row x column direction),
  never by file name or instance number; the slice step is taken from positions, never from
  SliceThickness;
* frames with another orientation, matrix size or pixel spacing than the largest group (localizers)
  are dropped; with no strictly largest group the image is refused;
* several copies of one SOP instance are read once; repeated positions where every position repeats
  equally often (a dynamic or fMRI series) keep the first time point (by temporal position index,
  acquisition number, acquisition time, instance number); uneven repeats are refused;
* a step of ``gap_factor`` x the median step or more is a missing slice: refused; steps deviating from
  the median by more than ``spacing_tolerance`` (fraction) are unequal spacing: refused; smaller
  deviations are averaged (span / (n - 1)) and noted;
* Siemens mosaics are un-mosaicked: the tile count and slice normal come from the CSA header
  (nibabel's reader), the slice spacing from SpacingBetweenSlices (else SliceThickness);
* rescale slope/intercept (per frame for enhanced objects) is applied: stored values are kept when it
  is the identity, an integer type is kept when slope and intercept are integers and the result fits
  int16/int32 (exact), float32 otherwise. Philips private floating-point scaling is not applied.

Array axes: ``Volume.array[i, j, k]``: i = DICOM column index, j = DICOM row index counted from the last
row up (rows stored bottom-up, as dcm2niix and most NIfTI data sets do, so label maps made on dcm2niix
conversions share our grid exactly), k = slice in increasing position along the normal (row direction x
column direction). The affine maps to RAS+ millimetres (DICOM LPS with x and y negated). A series
written with rows top-down from a NIfTI grid (e.g. by spinedetect.io.dicom_writer) therefore loads with
j reversed; :func:`spinedetect.io.reorient_onto` maps it back onto that grid exactly.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import os
import re
import struct
import warnings
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import BytesLengthException, InvalidDicomError
from pydicom.uid import UID, generate_uid

from spinedetect.errors import InputError
from spinedetect.io.settings import MAX_WORLD_MM, MIN_SPACING_MM, AssemblyRules, InputLimits, Orientation, SeriesRule
from spinedetect.io.values import screen_values
from spinedetect.io.volume import SourceIds, Volume

__all__ = ["SeriesInfo", "StudyInfo", "Discovery", "discover_series", "load_series", "select_series",
           "describe_series", "read_series_headers"]

log = logging.getLogger(__name__)

_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
_PIXEL_DATA_TAG = (0x7FE0, 0x0010)
_DICOMDIR_SOP = "1.2.840.10008.1.3.10"
_DEFLATED = "1.2.840.10008.1.2.1.99"
#: words in a SOP class name that mark a non-image object
_NON_IMAGE_SOP_WORDS = ("SR Storage", "Presentation State", "Segmentation", "RT ", "Key Object", "Registration",
                        "Media Storage Directory", "Encapsulated", "Waveform", "Raw Data", "Spectroscopy",
                        "Surface", "Real World Value", "Deformable", "Measurement Report", "Document")
_NON_IMAGE_MODALITIES = frozenset({"SR", "PR", "SEG", "RTSTRUCT", "RTPLAN", "RTDOSE", "RTRECORD", "RTIMAGE", "KO",
                                   "REG", "DOC", "ECG", "AU", "PLAN", "RWV", "FID", "OT-SR"})
#: image-type / frame-type values that name a complex component (split into separate images)
_COMPONENTS = {"M": "M", "MAG": "M", "MAGNITUDE": "M", "P": "P", "PHASE": "P", "R": "R", "REAL": "R",
               "I": "I", "IMAGINARY": "I", "FIELD_MAP": "FIELD_MAP", "B0": "FIELD_MAP"}


#: what pydicom raises on arbitrary or damaged bytes; such a file is skipped with the reason
_READ_ERRORS = (OSError, InvalidDicomError, BytesLengthException, EOFError, ValueError, LookupError, TypeError,
                AttributeError, struct.error, OverflowError, RuntimeError)


class _Skip(Exception):
    """A file that is not part of any image series, with the reason."""


class _CappedReader:
    """A read-only binary file whose ``read(n)`` never asks for more bytes than the file has left.

    pydicom reads an element's value with ``fp.read(length)`` where ``length`` comes from the file; a
    damaged or hostile length (0xFFFF0000) would make Python allocate 4 GiB before reading a few bytes.
    Capping the request at the bytes left keeps every allocation within the file's size.
    """

    def __init__(self, fh: Any, size: int) -> None:
        self._fh = fh
        self._size = size
        self.name = getattr(fh, "name", None)

    def read(self, n: int | None = -1) -> bytes:
        left = max(0, self._size - self._fh.tell())
        return self._fh.read(left if n is None or n < 0 or n > left else n)

    def readinto(self, buffer: Any) -> int:
        return self._fh.readinto(buffer)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._fh.seek(offset, whence)

    def tell(self) -> int:
        return self._fh.tell()

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._fh.close()

    @property
    def closed(self) -> bool:
        return bool(self._fh.closed)


_LONG_VRS = (b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV")


def _meta_end(head: bytes) -> int:
    """Byte offset just past the file meta group (group 0002, always explicit VR little endian)."""
    pos = 132
    while pos + 8 <= len(head):
        group = struct.unpack_from("<H", head, pos)[0]
        if group != 0x0002:
            break
        if head[pos + 4:pos + 6] in _LONG_VRS:
            pos += 12 + struct.unpack_from("<I", head, pos + 8)[0]
        else:
            pos += 8 + struct.unpack_from("<H", head, pos + 6)[0]
    return pos


def _check_inflated_size(fh: Any, limits: InputLimits) -> None:
    """Refuse a deflated file whose body inflates beyond ``limits.max_decompressed_bytes`` (a zip bomb).

    Inflates in bounded chunks, counting and discarding the output, before pydicom inflates it whole.
    """
    fh.seek(0)
    head = fh.read(64 * 1024)
    fh.seek(0)
    if b"1.2.840.10008.1.2.1.99" not in head[:_meta_end(head)]:
        return
    fh.seek(_meta_end(head))
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    total, chunk = 0, 1 << 20
    try:
        while data := fh.read(chunk):
            out = inflater.decompress(data, chunk)
            while True:
                total += len(out)
                if total > limits.max_decompressed_bytes:
                    raise _Skip(f"deflated data inflates to more than {limits.max_decompressed_bytes} bytes "
                                "(InputLimits.max_decompressed_bytes): refused as a decompression bomb")
                if not inflater.unconsumed_tail:
                    break
                out = inflater.decompress(inflater.unconsumed_tail, chunk)
    except zlib.error as exc:
        raise _Skip(f"deflated data is corrupt ({exc})") from None
    finally:
        fh.seek(0)


@dataclass(frozen=True)
class _PixelModule:
    """Where a file's pixel data lies and how it is encoded (read from the header, before pixels)."""

    transfer_syntax: str
    value_offset: int | None  # byte offset of the PixelData value; None: read through pydicom (deflate)
    rows: int
    columns: int
    n_frames: int
    bits_allocated: int
    bits_stored: int
    pixel_representation: int
    photometric: str


@dataclass(frozen=True)
class _Frame:
    """One 2-D slice: a single-frame file, one frame of a multi-frame file, or one mosaic tile."""

    path: Path
    pixels: _PixelModule
    frame_index: int  # 0-based frame within the file
    tile: int | None  # mosaic tile index (row-major), None when not a mosaic
    tiles_per_row: int
    sop_uid: str
    position: tuple[float, float, float]  # LPS mm, centre of the first pixel
    row_dir: tuple[float, float, float]  # direction of increasing column index
    col_dir: tuple[float, float, float]  # direction of increasing row index
    pixel_spacing: tuple[float, float]  # (between rows, between columns) mm
    rows: int
    columns: int
    slope: float
    intercept: float
    echo_time: float | None
    component: str
    temporal: tuple[Any, ...]
    slice_spacing_hint: float | None  # SpacingBetweenSlices / SliceThickness, for single-slice images


@dataclass(frozen=True)
class SeriesInfo:
    """One image of a series (a series split by echo / component gives several), described from headers.

    ``shape`` (i, j, k) = (columns, rows, slices) and ``spacing_mm`` follow the assembly rules;
    ``problem`` is the reason the image cannot be assembled (None when it can); ``files`` are sorted.
    """

    series_instance_uid: str
    image_key: str
    study_instance_uid: str
    modality: str | None
    description: str
    series_number: int | None
    orientation: Orientation | None
    contrast: str | None
    shape: tuple[int, int, int]
    spacing_mm: tuple[float, float, float]
    n_files: int
    files: tuple[Path, ...]
    problem: str | None = None
    echo_time: float | None = None
    component: str | None = None
    frames: tuple[_Frame, ...] = field(default=(), repr=False, compare=False)
    headers: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    derived_uids: tuple[str, ...] = ()  # "StudyInstanceUID" / "SeriesInstanceUID": blank in the header, derived

    def summary(self) -> str:
        """One human-readable line: key, modality, description, orientation, size."""
        size = "x".join(str(s) for s in self.shape)
        orient = self.orientation.value if self.orientation is not None else "?"
        text = f"{self.image_key} ({self.modality or '?'}, '{self.description}', {orient}, {size})"
        return text if self.problem is None else f"{text} [unusable: {self.problem}]"


@dataclass(frozen=True)
class StudyInfo:
    """The image series of one study; ``key`` is a short hash of the study UID (no patient data)."""

    study_instance_uid: str
    key: str
    description: str
    series: list[SeriesInfo]


@dataclass
class Discovery:
    """Result of :func:`discover_series`: studies found and files skipped as (path, reason)."""

    root: Path
    studies: list[StudyInfo]
    skipped: list[tuple[Path, str]]

    @property
    def series(self) -> list[SeriesInfo]:
        """All images of all studies, in study then series order."""
        return [s for st in self.studies for s in st.series]


# --------------------------------------------------------------------------------------------- headers


class _Fast:
    """Header values read straight from pydicom's raw elements.

    pydicom converts an element on first access through hooks and validation that cost ~0.1 ms each;
    discovery reads ~30 plain elements per file, so the hot ones are decoded here directly (ASCII
    strings split on backslash, US/UL/SS by the dataset's byte order). Sequences still go through pydicom.
    """

    def __init__(self, ds: Dataset) -> None:
        self.ds = ds

    def _raw(self, tag: int) -> Any:
        try:
            return self.ds.get_item(tag)
        except KeyError:
            return None

    def texts(self, tag: int) -> list[str]:
        """All values of a string element (empty list when absent or empty)."""
        elem = self._raw(tag)
        if elem is None or elem.value is None:
            return []
        value = elem.value
        if isinstance(value, (bytes, bytearray)):
            text = bytes(value).decode("latin-1").strip(" \0")
            return [v.strip(" \0") for v in text.split("\\")] if text else []
        if isinstance(value, (list, tuple, pydicom.multival.MultiValue)):
            return [str(v) for v in value]
        return [str(value)]

    def text(self, tag: int) -> str:
        """The whole value of a string element ('' when absent)."""
        return "\\".join(self.texts(tag))

    def numbers(self, tag: int) -> list[float]:
        """Values of a DS/IS/FD element as floats (ValueError when not numeric)."""
        elem = self._raw(tag)
        if elem is not None and isinstance(elem.value, (int, float)):
            return [float(elem.value)]
        return [float(v) for v in self.texts(tag)]

    def number(self, tag: int) -> float | None:
        """First value of a numeric string element, or None when absent, empty or not numeric."""
        try:
            values = self.numbers(tag)
        except ValueError:
            return None
        return values[0] if values and math.isfinite(values[0]) else None

    def integer(self, tag: int, default: int = 0) -> int:
        """First value of an IS element, or ``default``."""
        value = self.number(tag)
        return int(value) if value is not None else default

    def us(self, tag: int) -> int | None:
        """A US (unsigned short) element, or None when absent."""
        elem = self._raw(tag)
        if elem is None or elem.value is None:
            return None
        value = elem.value
        if isinstance(value, (bytes, bytearray)):
            if len(value) < 2:
                return None
            little = getattr(elem, "is_little_endian", True)
            return int(struct.unpack("<H" if little else ">H", bytes(value[:2]))[0])
        return int(value[0] if isinstance(value, (list, tuple, pydicom.multival.MultiValue)) else value)



def _floats(value: Any, n: int, what: str) -> tuple[float, ...]:
    try:
        out = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        raise _Skip(f"{what} is not numeric ({value!r})") from None
    if len(out) != n or not all(math.isfinite(v) for v in out):
        raise _Skip(f"{what} must hold {n} finite numbers, found {value!r}")
    if any(abs(v) > MAX_WORLD_MM for v in out):
        raise _Skip(f"{what} holds {list(out)}, beyond +-{MAX_WORLD_MM:g} mm (not a plausible geometry)")
    return out


def _pixel_spacing(value: Any) -> tuple[float, ...]:
    out = _floats(value, 2, "PixelSpacing")
    if min(out) < MIN_SPACING_MM:
        raise _Skip(f"PixelSpacing must be two distances of at least {MIN_SPACING_MM:g} mm, found {list(out)}")
    return out


def _spacing_hint(value: Any) -> float | None:
    """A slice spacing from SpacingBetweenSlices / SliceThickness, or None when absent or implausible."""
    out = _opt_float(value)
    return out if out is not None and MIN_SPACING_MM <= out <= MAX_WORLD_MM else None


def _opt_float(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _item(ds: Dataset | None, keyword: str) -> Dataset | None:
    """First item of sequence ``keyword`` in ``ds``, or None."""
    if ds is None:
        return None
    seq = ds.get(keyword)
    if seq is None or len(seq) == 0:
        return None
    return seq[0]


def _component(values: Any) -> str:
    for v in values or ():
        comp = _COMPONENTS.get(str(v).upper())
        if comp is not None:
            return comp
    return ""


def _read_pixel_module(fh: Any, ds: Dataset, size: int, limits: InputLimits) -> _PixelModule:
    """Locate the PixelData value behind the header and check its claimed size against the file."""
    ts = str(getattr(ds, "file_meta", Dataset()).get("TransferSyntaxUID", "") or "")
    if not ts:  # no file meta: the encoding pydicom found while reading
        implicit, little = ds.original_encoding
        ts = (pydicom.uid.ImplicitVRLittleEndian if implicit else
              pydicom.uid.ExplicitVRLittleEndian if little else pydicom.uid.ExplicitVRBigEndian)
    fast = _Fast(ds)
    rows, cols, bits_alloc = fast.us(0x00280010), fast.us(0x00280011), fast.us(0x00280100)
    if rows is None or cols is None or bits_alloc is None:
        raise _Skip("image pixel module incomplete (Rows, Columns or BitsAllocated missing)")
    bits_stored = fast.us(0x00280101) or bits_alloc
    pixel_rep = fast.us(0x00280103) or 0
    n_frames = fast.integer(0x00280008, 1) or 1
    samples = fast.us(0x00280002) or 1
    if samples != 1:
        raise _Skip(f"colour image (SamplesPerPixel={samples}), not a greyscale volume")
    if rows <= 0 or cols <= 0 or n_frames <= 0 or bits_alloc not in (8, 16, 32):
        raise _Skip(f"unsupported image size or depth (rows={rows}, columns={cols}, frames={n_frames}, "
                    f"bits allocated={bits_alloc})")
    claimed = rows * cols * n_frames
    if claimed > limits.max_voxels:
        raise _Skip(f"claims {claimed} pixels, over the limit of {limits.max_voxels} (InputLimits.max_voxels)")
    photometric = fast.text(0x00280004) or "MONOCHROME2"
    offset: int | None = None
    if ts != _DEFLATED:
        start = fh.tell()
        head = fh.read(12)
        if len(head) < 8:
            raise _Skip("no pixel data")
        uid = UID(ts)
        endian = "<" if uid.is_little_endian else ">"
        tag = struct.unpack(endian + "HH", head[:4])
        if tag != _PIXEL_DATA_TAG:
            raise _Skip(f"no integer pixel data (element {tag[0]:04X},{tag[1]:04X} instead)")
        if uid.is_implicit_VR:
            (length,) = struct.unpack(endian + "I", head[4:8])
            offset = start + 8
        else:
            if len(head) < 12:
                raise _Skip("pixel data element truncated")
            (length,) = struct.unpack(endian + "I", head[8:12])
            offset = start + 12
        available = size - offset
        if length != 0xFFFFFFFF:  # native (uncompressed) data: the claimed and the held size are known
            expected = claimed * bits_alloc // 8
            if length < expected or available < expected:
                raise _Skip(f"claims {expected} bytes of pixel data ({rows}x{cols}x{n_frames} at "
                            f"{bits_alloc} bits) but holds {min(length, available)} (truncated or corrupt)")
        elif available < 16:
            raise _Skip("encapsulated pixel data truncated")
    return _PixelModule(ts, offset, rows, cols, n_frames, bits_alloc, bits_stored, pixel_rep, photometric)


def _mosaic_tiles(ds: Dataset) -> tuple[int, tuple[float, float, float] | None]:
    """Tile count and slice normal (LPS) of a Siemens mosaic from its CSA image header."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from nibabel.nicom import csareader

        try:
            csa = csareader.get_csa_header(ds, "image")
            n = csareader.get_n_mosaic(csa) if csa else None
            normal = csareader.get_slice_normal(csa) if csa else None
        # nibabel's CSA reader checks some of a damaged header's structure with `assert` (AssertionError)
        except (csareader.CSAError, KeyError, ValueError, IndexError, TypeError, AssertionError, struct.error) as exc:
            raise _Skip(f"Siemens mosaic with an unreadable CSA header ({type(exc).__name__}: {exc}); "
                        "cannot un-mosaic it") from None
    if not n:
        raise _Skip("Siemens mosaic without NumberOfImagesInMosaic in its CSA header; cannot un-mosaic")
    return int(n), (tuple(float(v) for v in normal) if normal is not None else None)


def _check_iop(iop: tuple[float, ...]) -> tuple[float, ...]:
    row, col = np.asarray(iop[:3]), np.asarray(iop[3:])
    if abs(np.linalg.norm(row) - 1) > 0.01 or abs(np.linalg.norm(col) - 1) > 0.01 or abs(np.dot(row, col)) > 0.01:
        raise _Skip(f"ImageOrientationPatient {list(iop)} is not two orthogonal unit vectors")
    return iop


def _frames_of(path: Path, ds: Dataset, pix: _PixelModule) -> list[_Frame]:
    """The 2-D slices a file holds, with their geometry and rescale in LPS."""
    fast = _Fast(ds)
    sop = fast.text(0x00080018)
    image_type = fast.texts(0x00080008)
    temporal_base = (fast.integer(0x00200100), fast.integer(0x00200012), fast.text(0x00080032),
                     fast.integer(0x00200013))
    hint = _spacing_hint(fast.number(0x00180088)) or _spacing_hint(fast.number(0x00180050))
    pffg = ds.get("PerFrameFunctionalGroupsSequence") if 0x52009230 in ds else None
    if pffg is not None:  # enhanced multi-frame: per-frame groups override shared ones
        shared = _item(ds, "SharedFunctionalGroupsSequence")
        if len(pffg) != pix.n_frames:
            raise _Skip(f"{len(pffg)} per-frame functional groups for {pix.n_frames} frames")
        frames = []
        for idx, per in enumerate(pffg):
            def group(keyword: str) -> Dataset | None:
                return _item(per, keyword) or _item(shared, keyword)

            plane_pos, plane_ori, measures = (group("PlanePositionSequence"), group("PlaneOrientationSequence"),
                                              group("PixelMeasuresSequence"))
            if plane_pos is None or plane_ori is None or measures is None:
                raise _Skip("enhanced object without plane position / orientation / pixel measures")
            transform = group("PixelValueTransformationSequence")
            echo = group("MREchoSequence")
            content = _item(per, "FrameContentSequence")
            ftype = group("MRImageFrameTypeSequence") or group("CTImageFrameTypeSequence")
            comp = ""
            if ftype is not None:
                comp = _component(ftype.get("FrameType", [])) or _component([ftype.get("ComplexImageComponent")])
            temporal = (int(content.get("TemporalPositionIndex", 0) or 0) if content else 0,
                        int(content.get("FrameAcquisitionNumber", 0) or 0) if content else 0,
                        str(content.get("FrameAcquisitionDateTime", "")) if content else "",
                        temporal_base[3], idx)
            spacing = _pixel_spacing(measures.get("PixelSpacing"))
            iop = _check_iop(_floats(plane_ori.get("ImageOrientationPatient"), 6, "ImageOrientationPatient"))
            frame_hint = (_spacing_hint(measures.get("SpacingBetweenSlices"))
                          or _spacing_hint(measures.get("SliceThickness")))
            frames.append(_Frame(
                path=path, pixels=pix, frame_index=idx, tile=None, tiles_per_row=1, sop_uid=sop,
                position=_floats(plane_pos.get("ImagePositionPatient"), 3, "ImagePositionPatient"),  # type: ignore[arg-type]
                row_dir=iop[:3], col_dir=iop[3:], pixel_spacing=spacing,  # type: ignore[arg-type]
                rows=pix.rows, columns=pix.columns,
                slope=(_opt_float(transform.get("RescaleSlope")) or 1.0) if transform else 1.0,
                intercept=(_opt_float(transform.get("RescaleIntercept")) or 0.0) if transform else 0.0,
                echo_time=_opt_float(echo.get("EffectiveEchoTime")) if echo else None,
                component=comp, temporal=temporal, slice_spacing_hint=frame_hint or hint))
        return frames

    if 0x00200032 not in ds or 0x00200037 not in ds or 0x00280030 not in ds:
        raise _Skip("no image geometry (ImagePositionPatient / ImageOrientationPatient / PixelSpacing)")
    try:
        ipp, iop_raw, ps_raw = fast.numbers(0x00200032), fast.numbers(0x00200037), fast.numbers(0x00280030)
    except ValueError as exc:
        raise _Skip(f"image geometry is not numeric ({exc})") from None
    position = np.array(_floats(ipp, 3, "ImagePositionPatient"))
    iop = _check_iop(_floats(iop_raw, 6, "ImageOrientationPatient"))
    spacing = _pixel_spacing(ps_raw)
    common = dict(path=path, pixels=pix, sop_uid=sop, row_dir=iop[:3], col_dir=iop[3:], pixel_spacing=spacing,
                  slope=fast.number(0x00281053) or 1.0, intercept=fast.number(0x00281052) or 0.0,
                  echo_time=fast.number(0x00180081), component=_component(image_type[2:]))
    if "MOSAIC" in (str(v).upper() for v in image_type) and pix.n_frames == 1:
        n_tiles, normal = _mosaic_tiles(ds)
        per_row = math.ceil(math.sqrt(n_tiles))
        if pix.rows % per_row or pix.columns % per_row:
            raise _Skip(f"mosaic of {pix.rows}x{pix.columns} pixels cannot hold {per_row}x{per_row} tiles")
        t_rows, t_cols = pix.rows // per_row, pix.columns // per_row
        row_dir, col_dir = np.array(iop[:3]), np.array(iop[3:])
        if normal is None:
            normal = tuple(np.cross(row_dir, col_dir))
        step = hint
        if step is None:
            raise _Skip("mosaic without SpacingBetweenSlices or SliceThickness")
        # ImagePositionPatient of a mosaic is the corner of the whole mosaic; move it to the first tile
        first = (position + row_dir * spacing[1] * (pix.columns - t_cols) / 2.0
                 + col_dir * spacing[0] * (pix.rows - t_rows) / 2.0)
        return [_Frame(**common, frame_index=0, tile=t, tiles_per_row=per_row,  # type: ignore[arg-type]
                       position=tuple(first + t * step * np.asarray(normal)), rows=t_rows, columns=t_cols,
                       temporal=(*temporal_base, t), slice_spacing_hint=step)
                for t in range(n_tiles)]
    if pix.n_frames != 1:
        raise _Skip(f"multi-frame object ({pix.n_frames} frames) without per-frame functional groups")
    return [_Frame(**common, frame_index=0, tile=None, tiles_per_row=1, position=tuple(position),  # type: ignore[arg-type]
                   rows=pix.rows, columns=pix.columns, temporal=(*temporal_base, 0), slice_spacing_hint=hint)]


def _header_facts(ds: Dataset) -> dict[str, Any]:
    """The few header facts later steps need (kept in ``Volume.meta``)."""
    shared = _item(ds, "SharedFunctionalGroupsSequence")
    timing = _item(shared, "MRTimingAndRelatedParametersSequence")
    ftype = _item(shared, "MRImageFrameTypeSequence")
    first = ds.get("PerFrameFunctionalGroupsSequence")
    if ftype is None and first:
        ftype = _item(first[0], "MRImageFrameTypeSequence")
    facts = {
        "series_description": str(ds.get("SeriesDescription", "") or ""),
        "protocol_name": str(ds.get("ProtocolName", "") or ""),
        "series_number": _Fast(ds).integer(0x00200011, -1) if 0x00200011 in ds else None,
        "repetition_time_ms": _opt_float(ds.get("RepetitionTime")) or (_opt_float(timing.get("RepetitionTime"))
                                                                      if timing else None),
        "inversion_time_ms": _opt_float(ds.get("InversionTime")),
        "patient_position": str(ds.get("PatientPosition", "") or "") or None,
        "manufacturer": str(ds.get("Manufacturer", "") or "") or None,
        "body_part_examined": str(ds.get("BodyPartExamined", "") or "") or None,
        "scanning_sequence": str(ds.get("ScanningSequence", "") or "") or None,
        "acquisition_contrast": str(ftype.get("AcquisitionContrast", "")) if ftype is not None else None,
        "image_type": [str(v) for v in (ds.get("ImageType") or [])],
        "photometric_interpretation": str(ds.get("PhotometricInterpretation", "")),
        "magnetic_field_strength_t": _opt_float(ds.get("MagneticFieldStrength")),
        "kvp": _opt_float(ds.get("KVP")),
        "frame_of_reference_uid": str(ds.get("FrameOfReferenceUID", "") or "") or None,
    }
    return facts


@functools.lru_cache(maxsize=256)
def _sop_class_name(uid: str) -> str:
    return UID(uid).name if uid else ""


def _read_file(path: Path, limits: InputLimits) -> tuple[Dataset, list[_Frame]]:
    """Read one file's header (never its pixels) and return its dataset and image frames, or raise _Skip."""
    if path.name.upper() == "DICOMDIR":
        raise _Skip("DICOMDIR (media directory, not an image)")
    size = path.stat().st_size
    if size > limits.max_file_bytes:
        raise _Skip(f"file of {size} bytes is over the limit of {limits.max_file_bytes} (InputLimits.max_file_bytes)")
    if size < 132:
        raise _Skip("not DICOM (too small)")
    try:
        with open(path, "rb") as raw:
            fh = _CappedReader(raw, size)
            _check_inflated_size(fh, limits)
            try:
                ds = pydicom.dcmread(fh, stop_before_pixels=True)
            except InvalidDicomError:
                # files without the 128-byte preamble + 'DICM' are accepted only if they parse into an image
                fh.seek(0)
                ds = pydicom.dcmread(fh, stop_before_pixels=True, force=True)
                if 0x00080016 not in ds or 0x00280010 not in ds:
                    raise _Skip("not DICOM (no DICM marker and no image header)") from None
            fast = _Fast(ds)
            sop_class = fast.text(0x00080016)
            media_class = _Fast(ds.file_meta).text(0x00020002) if hasattr(ds, "file_meta") else ""
            if _DICOMDIR_SOP in (sop_class, media_class) or 0x00041220 in ds:
                raise _Skip("DICOMDIR (media directory, not an image)")
            name = _sop_class_name(sop_class)
            modality = fast.text(0x00080060).upper()
            if modality in _NON_IMAGE_MODALITIES or any(w in name for w in _NON_IMAGE_SOP_WORDS):
                raise _Skip(f"non-image object ({name or modality})")
            if 0x00280010 not in ds or 0x00280011 not in ds:
                raise _Skip(f"no image ({name or 'unknown SOP class'})")
            pix = _read_pixel_module(fh, ds, size, limits)
        frames = _frames_of(path, ds, pix)
    except _Skip:
        raise
    except _READ_ERRORS as exc:
        raise _Skip(f"unreadable ({type(exc).__name__}: {exc})") from None
    return ds, frames


# ----------------------------------------------------------------------------------------------- walk


def _within(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def _walk(root: Path, limits: InputLimits, recursive: bool, skipped: list[tuple[Path, str]]) -> Iterator[Path]:
    """Files under ``root`` in sorted order; symlinks leaving the tree and folder symlinks are skipped."""
    real_root = root.resolve()
    count = 0
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        depth = len(here.relative_to(root).parts)
        kept = []
        for d in sorted(dirnames):
            sub = here / d
            if sub.is_symlink():
                skipped.append((sub, "symbolic link to a folder, not followed"))
            elif not recursive:
                continue
            elif depth + 1 > limits.max_depth:
                skipped.append((sub, f"folder deeper than {limits.max_depth} levels (InputLimits.max_depth)"))
            else:
                kept.append(d)
        dirnames[:] = kept
        for name in sorted(filenames):
            path = here / name
            if path.is_symlink():
                try:
                    target = path.resolve()
                except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop (Python < 3.13)
                    skipped.append((path, f"symbolic link that cannot be resolved ({exc}), not followed"))
                    continue
                if not _within(target, real_root):
                    skipped.append((path, "symbolic link pointing out of the input folder, not followed"))
                    continue
                if not target.is_file():
                    skipped.append((path, "symbolic link to something that is not a file"))
                    continue
            elif not path.is_file():
                skipped.append((path, "not a regular file"))
                continue
            count += 1
            if count > limits.max_files:
                raise InputError(f"Folder {root} holds more than {limits.max_files} files",
                                 expected=f"at most {limits.max_files} files (InputLimits.max_files)",
                                 found="more", hint="Point to one study's folder")
            yield path


# -------------------------------------------------------------------------------------------- assembly


@dataclass
class _Plan:
    frames: list[_Frame]
    affine: np.ndarray
    notes: list[str]


def _normal(frame: _Frame) -> np.ndarray:
    n = np.cross(np.asarray(frame.row_dir), np.asarray(frame.col_dir))
    norm = np.linalg.norm(n)
    if norm < 1e-6:
        raise InputError("ImageOrientationPatient has parallel row and column directions")
    return n / norm


def _orientation_of(normal: np.ndarray, rules: AssemblyRules) -> Orientation:
    axis = int(np.argmax(np.abs(normal)))
    if abs(normal[axis]) < rules.orientation_min_component:
        return Orientation.OBLIQUE
    return (Orientation.SAGITTAL, Orientation.CORONAL, Orientation.AXIAL)[axis]


def _plan(frames: list[_Frame], label: str, rules: AssemblyRules) -> _Plan:
    """Choose, sort and check the slices of one image; the affine (RAS) follows from their positions."""
    notes: list[str] = []

    def refuse(problem: str, hint: str) -> InputError:
        return InputError(f"Image series {label}: {problem}", hint=hint)

    # the same instance twice (copies in two folders): same UID, frame and position; files with empty or
    # repeated UIDs at different positions are distinct slices
    unique: dict[tuple[Any, ...], _Frame] = {}
    for n_seen, f in enumerate(frames):
        key = (f.sop_uid, f.frame_index, f.tile, tuple(round(v, 3) for v in f.position)) if f.sop_uid else n_seen
        unique.setdefault(key, f)
    if len(unique) < len(frames):
        notes.append(f"{len(frames) - len(unique)} duplicate copies of the same SOP instances read once")
    frames = list(unique.values())

    def geometry_key(f: _Frame) -> tuple[Any, ...]:
        return (tuple(round(v, 4) for v in f.row_dir + f.col_dir), f.rows, f.columns,
                tuple(round(v, 4) for v in f.pixel_spacing))

    groups: dict[tuple[Any, ...], list[_Frame]] = defaultdict(list)
    for f in frames:
        groups[geometry_key(f)].append(f)
    if len(groups) > 1:
        sizes = sorted((len(g) for g in groups.values()), reverse=True)
        if sizes[0] == sizes[1]:
            raise refuse(f"mixed orientations or sizes ({len(groups)} groups of {sizes} slices) with no largest group",
                         "Split the series or choose another one")
        frames = max(groups.values(), key=len)
        notes.append(f"mixed orientations or sizes: kept the largest group of {len(frames)} slices, dropped "
                     f"{sum(sizes[1:])} slices of another orientation/size (e.g. localizers)")

    normal = _normal(frames[0])
    dist = np.array([np.dot(f.position, normal) for f in frames])
    order = sorted(range(len(frames)), key=lambda i: (round(dist[i] / rules.position_tolerance_mm), frames[i].temporal))
    frames = [frames[i] for i in order]
    dist = dist[order]

    # cluster equal positions
    clusters: list[list[int]] = [[0]]
    for i in range(1, len(frames)):
        if dist[i] - dist[clusters[-1][0]] < rules.position_tolerance_mm:
            clusters[-1].append(i)
        else:
            clusters.append([i])
    counts = Counter(len(c) for c in clusters)
    if len(counts) > 1 or next(iter(counts)) > 1:
        if len(counts) == 1:
            n_rep = next(iter(counts))
            notes.append(f"each of {len(clusters)} positions holds {n_rep} slices (a dynamic series): kept the first "
                         "time point (by temporal position, acquisition number, time, instance number)")
            frames = [frames[c[0]] for c in clusters]
            dist = np.array([dist[c[0]] for c in clusters])
        else:
            repeated = [float(dist[c[0]]) for c in clusters if len(c) > 1]
            raise refuse(f"duplicate slice positions at {len(repeated)} of {len(clusters)} positions "
                         f"(first at {repeated[0]:.2f} mm along the normal)",
                         "Remove the duplicate files or choose another series")

    row_dir, col_dir = np.asarray(frames[0].row_dir), np.asarray(frames[0].col_dir)
    lps = np.eye(4)
    lps[:3, 0] = row_dir * frames[0].pixel_spacing[1]
    # j runs from the last DICOM row to the first (dcm2niix's and most NIfTI data sets' convention)
    lps[:3, 1] = -col_dir * frames[0].pixel_spacing[0]
    lps[:3, 3] = np.asarray(frames[0].position) + col_dir * frames[0].pixel_spacing[0] * (frames[0].rows - 1)
    n = len(frames)
    if n == 1:
        step = frames[0].slice_spacing_hint or 1.0
        lps[:3, 2] = normal * step
        notes.append(f"single slice: slice spacing {step:g} mm taken from the header, not from positions")
    else:
        steps = np.diff(dist)
        median = float(np.median(steps))
        if float(steps.max()) >= rules.gap_factor * median:
            at = int(np.argmax(steps))
            missing = round(float(steps[at]) / median) - 1
            raise refuse(f"missing slice(s): a gap of {steps[at]:.2f} mm between slices {at} and {at + 1} where the "
                         f"spacing is {median:.2f} mm (about {missing} slice(s) absent)",
                         "Find the missing files or choose another series")
        deviation = float(np.abs(steps - median).max())
        if deviation > rules.spacing_tolerance * median:
            raise refuse(f"unequal slice spacing: steps from {steps.min():.3f} to {steps.max():.3f} mm",
                         "Resample the series or choose another one")
        positions = np.array([f.position for f in frames])
        step_vec = (positions[-1] - positions[0]) / (n - 1)
        lps[:3, 2] = step_vec
        if deviation > 1e-3:
            notes.append(f"slice steps vary by up to {deviation:.3f} mm around {median:.3f} mm: using the mean step")
        off = positions - (positions[0] + np.outer(np.arange(n), step_vec))
        if float(np.abs(off).max()) > max(rules.spacing_tolerance * median, rules.position_tolerance_mm):
            raise refuse("slice positions do not lie on one line", "Choose another series")
        tilt = float(np.degrees(np.arccos(min(1.0, abs(np.dot(step_vec, normal)) / np.linalg.norm(step_vec)))))
        if tilt > 0.1:
            notes.append(f"slices are sheared by {tilt:.2f} degrees (gantry tilt): kept in the affine, not resampled")
    return _Plan(frames, _LPS_TO_RAS @ lps, notes)


def _contrast(description: str, acquisition_contrast: str | None) -> str | None:
    """Contrast stated in the header: enhanced AcquisitionContrast, else words of the description."""
    if acquisition_contrast and acquisition_contrast.upper() in ("T1", "T2", "PROTON_DENSITY", "FLAIR", "STIR"):
        return {"PROTON_DENSITY": "PD"}.get(acquisition_contrast.upper(), acquisition_contrast.upper())
    tokens = [t for t in re.split(r"[^a-z0-9]+", description.lower()) if t]
    if any(t in ("stir", "tirm") or t.startswith("stir") for t in tokens):
        return "STIR"
    if any(t.startswith("flair") for t in tokens):
        return "FLAIR"
    for name in ("t2", "t1"):
        if any(t == name or (t.startswith(name) and not t[2:].isdigit()) for t in tokens):
            return name.upper()
    if any(t in ("pd", "pdw") for t in tokens):
        return "PD"
    return None


def _describe(key: str, frames: list[_Frame], facts: dict[str, Any], study_uid: str, series_uid: str,
              modality: str | None, rules: AssemblyRules, derived_uids: tuple[str, ...] = ()) -> SeriesInfo:
    problem = None
    try:
        plan = _plan(frames, key, rules)
        used = plan.frames
        spacing = tuple(float(v) for v in np.linalg.norm(plan.affine[:3, :3], axis=0))
        normal = _normal(used[0])
    except InputError as exc:
        problem = str(exc)
        used = frames
        normal = _normal(frames[0])
        spacing = (frames[0].pixel_spacing[1], frames[0].pixel_spacing[0], float("nan"))
    files = tuple(sorted({f.path for f in frames}))
    echo = frames[0].echo_time
    return SeriesInfo(
        series_instance_uid=series_uid, image_key=key, study_instance_uid=study_uid, modality=modality,
        description=facts["series_description"], series_number=facts["series_number"],
        orientation=_orientation_of(normal, rules),
        contrast=_contrast(facts["series_description"] or facts["protocol_name"], facts["acquisition_contrast"]),
        shape=(used[0].columns, used[0].rows, len(used)), spacing_mm=spacing, n_files=len(files), files=files,  # type: ignore[arg-type]
        problem=problem, echo_time=echo, component=frames[0].component or None, frames=tuple(frames), headers=facts,
        derived_uids=derived_uids)


def _split_images(series_uid: str, frames: list[_Frame]) -> list[tuple[str, list[_Frame]]]:
    """Split one series' frames by (echo time, complex component); keys get a suffix when split."""
    groups: dict[tuple[float | None, str], list[_Frame]] = defaultdict(list)
    for f in frames:
        groups[(round(f.echo_time, 3) if f.echo_time is not None else None, f.component)].append(f)
    if len(groups) == 1:
        return [(series_uid, frames)]
    out = []
    echoes = {k[0] for k in groups}
    comps = {k[1] for k in groups}
    for (echo, comp), fs in sorted(groups.items(), key=lambda kv: (kv[0][0] is None, kv[0][0] or 0.0, kv[0][1])):
        parts = []
        if len(echoes) > 1:
            parts.append(f"te{echo:g}" if echo is not None else "te?")
        if len(comps) > 1:
            parts.append(comp or "other")
        out.append((f"{series_uid}#{'-'.join(parts)}", fs))
    return out


#: header facts (tags) shared by the files of one study / one series: with the folder, what identifies a
#: study or series whose UID a header leaves blank (StudyDate, StudyTime, AccessionNumber, StudyID,
#: PatientID, FrameOfReferenceUID; Modality, SeriesNumber, SeriesDescription, SeriesDate, SeriesTime)
_STUDY_FACTS = (0x00080020, 0x00080030, 0x00080050, 0x00200010, 0x00100020, 0x00200052)
_SERIES_FACTS = (0x00080060, 0x00200011, 0x0008103E, 0x00080021, 0x00080031)


def _identity(fast: _Fast, path: Path, root: Path) -> tuple[str, str, tuple[str, ...]]:
    """(study UID, series UID, which were derived) of one file: its header's UIDs, or where one is blank or
    missing a UID derived from the file's folder relative to ``root`` and the study / series header facts."""
    study, series = fast.text(0x0020000D).strip(), fast.text(0x0020000E).strip()
    if study and series:
        return study, series, ()
    folder = path.parent.relative_to(root).as_posix() if _within(path.parent, root) else path.parent.name
    derived: list[str] = []
    if not study:
        study = generate_uid(entropy_srcs=["spinedetect blank StudyInstanceUID", folder,
                                                        *(fast.text(t) for t in _STUDY_FACTS)])
        derived.append("StudyInstanceUID")
    if not series:
        series = generate_uid(entropy_srcs=["spinedetect blank SeriesInstanceUID", study, folder,
                                                         *(fast.text(t) for t in _SERIES_FACTS)])
        derived.append("SeriesInstanceUID")
    return study, series, tuple(derived)


def discover_series(root: str | Path, *, limits: InputLimits = InputLimits(),
                    rules: AssemblyRules = AssemblyRules(), recursive: bool = True) -> Discovery:
    """Find every DICOM image series under ``root`` (a folder), reading headers only.

    Files that are not DICOM images are listed in ``Discovery.skipped`` with the reason (also logged at
    INFO). ``recursive=False`` reads only the files directly in ``root``.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root} is not a folder", expected="a folder of DICOM files", found="no folder there")
    skipped: list[tuple[Path, str]] = []
    by_series: dict[tuple[str, str], list[_Frame]] = defaultdict(list)
    facts: dict[tuple[str, str], dict[str, Any]] = {}
    modality: dict[tuple[str, str], str | None] = {}
    derived: dict[tuple[str, str], tuple[str, ...]] = {}
    study_desc: dict[str, str] = {}
    for path in _walk(root, limits, recursive, skipped):
        try:
            ds, frames = _read_file(path, limits)
            fast = _Fast(ds)
            study_uid, series_uid, derived_here = _identity(fast, path, root)
            key = (study_uid, series_uid)
            if key not in facts:  # series-level facts from the first file of each series only (speed)
                facts[key] = _header_facts(ds)
                derived[key] = derived_here
                modality[key] = fast.text(0x00080060) or None
                study_desc.setdefault(key[0], str(ds.get("StudyDescription", "") or ""))
        except _Skip as exc:
            skipped.append((path, str(exc)))
            continue
        except _READ_ERRORS as exc:
            skipped.append((path, f"unreadable ({type(exc).__name__}: {exc})"))
            continue
        by_series[key].extend(frames)
    for path, reason in skipped:
        log.info("skipped %s: %s", path, reason)
    studies: dict[str, list[SeriesInfo]] = defaultdict(list)
    for (study_uid, series_uid), frames in by_series.items():
        for image_key, image_frames in _split_images(series_uid, frames):
            studies[study_uid].append(_describe(image_key, image_frames, facts[(study_uid, series_uid)], study_uid,
                                                series_uid, modality[(study_uid, series_uid)], rules,
                                                derived[(study_uid, series_uid)]))
    result = []
    for study_uid in sorted(studies):
        series = sorted(studies[study_uid], key=lambda s: (s.series_number is None, s.series_number or 0, s.image_key))
        key = "study-" + hashlib.sha1(study_uid.encode()).hexdigest()[:12]
        result.append(StudyInfo(study_uid, key, study_desc.get(study_uid, ""), series))
    return Discovery(root, result, skipped)


# ------------------------------------------------------------------------------------------- pixels


def _decode_file(path: Path, pix: _PixelModule) -> np.ndarray:
    """All frames of one file as (frames, rows, columns), through pydicom's pixel decoders."""
    from pydicom.pixels import get_decoder

    try:
        if pix.value_offset is None:  # deflated transfer syntax: let pydicom read the whole file
            with open(path, "rb") as raw:  # its inflated size was checked during discovery
                arr = pydicom.dcmread(_CappedReader(raw, os.fstat(raw.fileno()).st_size)).pixel_array
        else:
            decoder = get_decoder(UID(pix.transfer_syntax))
            with open(path, "rb") as raw:
                raw.seek(pix.value_offset)
                arr, _ = decoder.as_array(
                    _CappedReader(raw, os.fstat(raw.fileno()).st_size), rows=pix.rows, columns=pix.columns,
                    samples_per_pixel=1, number_of_frames=pix.n_frames,
                    bits_allocated=pix.bits_allocated, bits_stored=pix.bits_stored,
                    pixel_representation=pix.pixel_representation, photometric_interpretation=pix.photometric,
                    pixel_keyword="PixelData")
    except (ValueError, RuntimeError, OSError, EOFError, struct.error) as exc:  # RuntimeError: missing plugin too
        raise InputError(f"Pixel data of {path} cannot be decoded ({type(exc).__name__}: {exc})",
                         hint="The file may be corrupt or use an unsupported compression") from None
    return arr.reshape(pix.n_frames, pix.rows, pix.columns)


def _rescaled(stack: np.ndarray, slopes: np.ndarray, intercepts: np.ndarray, label: str) -> tuple[np.ndarray, str]:
    """Apply per-slice slope/intercept to a (slices, rows, cols) stack; see the module docstring for dtypes.

    Works in place where the result fits the stack's own 16-bit storage (CT: uint16/int16 + integer
    intercept -> int16), so the common case costs one pass and no allocation.
    """
    if np.all(slopes == 1.0) and np.all(intercepts == 0.0):
        return stack, "none (identity)"
    lo, hi = float(stack.min()), float(stack.max())
    with np.errstate(over="ignore", invalid="ignore"):
        reach = np.abs(np.array([lo, hi])[None, :] * slopes[:, None] + intercepts[:, None])
    if not np.all(reach <= np.finfo(np.float32).max):
        bad = int(np.argmax(~(reach <= np.finfo(np.float32).max).all(axis=1)))
        raise InputError(f"Image series {label}: RescaleSlope {slopes[bad]:g} / RescaleIntercept {intercepts[bad]:g} "
                         f"map stored values {lo:g}..{hi:g} beyond the float32 range",
                         expected="a rescale giving finite intensities", found="overflowing values",
                         hint="The header's rescale values are corrupt; choose another series")
    uniform = np.unique(slopes).size == 1 and np.unique(intercepts).size == 1
    desc = f"slope {slopes[0]:g}, intercept {intercepts[0]:g}" if uniform else "per-slice slope/intercept"
    if np.all(slopes == np.round(slopes)) and np.all(intercepts == np.round(intercepts)) and stack.dtype.kind in "iu":
        ends = np.array([[int(lo), int(hi)]]) * slopes[:, None] + intercepts[:, None]
        for dtype in (np.int16, np.int32):
            info = np.iinfo(dtype)
            if ends.min() < info.min or ends.max() > info.max:
                continue
            if stack.dtype.itemsize == np.dtype(dtype).itemsize and hi <= info.max:
                out = stack.view(dtype)  # same bits, values fit: reinterpret, no copy
            else:
                out = stack.astype(dtype)
            if np.any(slopes != 1):
                out *= slopes.astype(dtype)[:, None, None]
            if uniform:
                out += dtype(intercepts[0])
            else:
                out += intercepts.astype(dtype)[:, None, None]
            return out, desc
    out = np.empty(stack.shape, np.float32)
    np.multiply(stack, slopes.astype(np.float32)[:, None, None], out=out)
    out += intercepts.astype(np.float32)[:, None, None]
    return out, desc


def load_series(series: SeriesInfo, *, limits: InputLimits = InputLimits(),
                rules: AssemblyRules = AssemblyRules()) -> Volume:
    """Assemble one discovered image into a :class:`Volume` (array (i, j, k) = (column, row, slice), RAS)."""
    if not series.frames:
        raise InputError(f"Image series {series.image_key} has no slices")
    plan = _plan(list(series.frames), series.image_key, rules)
    frames = plan.frames
    rows, cols, n = frames[0].rows, frames[0].columns, len(frames)
    if rows * cols * n > limits.max_voxels:
        raise InputError(f"Image series {series.image_key} has {rows * cols * n} voxels ({cols}x{rows}x{n})",
                         expected=f"at most {limits.max_voxels} (InputLimits.max_voxels)", found="more",
                         hint="Raise the limit in configs/io.yaml if this volume is genuine")
    by_file: dict[Path, list[tuple[int, _Frame]]] = defaultdict(list)
    for k, f in enumerate(frames):
        by_file[f.path].append((k, f))
    stack: np.ndarray | None = None
    for path, items in by_file.items():
        decoded = _decode_file(path, items[0][1].pixels)
        if stack is None:
            stack = np.empty((n, rows, cols), dtype=decoded.dtype.newbyteorder("="))
        for k, f in items:
            # rows are stored bottom-up (j grows against the DICOM row direction; see the module docstring)
            if f.tile is None:
                stack[k] = decoded[f.frame_index, ::-1]
            else:
                r0, c0 = (f.tile // f.tiles_per_row) * rows, (f.tile % f.tiles_per_row) * cols
                stack[k] = decoded[f.frame_index, r0 + rows - 1:(r0 - 1 if r0 else None):-1, c0:c0 + cols]
    assert stack is not None
    slopes = np.array([f.slope for f in frames])
    intercepts = np.array([f.intercept for f in frames])
    stack, rescale = _rescaled(stack, slopes, intercepts, series.image_key)
    # (slices, rows, cols) -> (i=col, j=row, k=slice) as a view: no copy
    array, value_notes = screen_values(stack.transpose(2, 1, 0), f"Image series {series.image_key}")
    notes = list(plan.notes) + value_notes
    if frames[0].tile is not None:
        notes.append(f"Siemens mosaic un-mosaicked into {n} slices of {cols}x{rows} (CSA header), slice spacing "
                     "from SpacingBetweenSlices")
    if series.derived_uids:
        notes.append(f"{' and '.join(series.derived_uids)} blank or missing in the DICOM header: identified by a UID "
                     "derived from the files' folder and header facts (DICOM SEG/SR reference the derived UIDs)")
    if frames[0].pixels.photometric == "MONOCHROME1":
        notes.append("MONOCHROME1 (inverted grey scale) kept as stored; higher values display darker")
    for note in plan.notes:  # problems found; the descriptive notes below are not problems
        log.warning("%s: %s", series.image_key, note)
    meta = dict(series.headers)
    meta.update({
        "image_key": series.image_key, "echo_time_ms": frames[0].echo_time, "component": frames[0].component or None,
        "orientation": series.orientation.value if series.orientation else None, "contrast": series.contrast,
        "rescale_applied": rescale, "mosaic": frames[0].tile is not None,
        "transfer_syntaxes": sorted({f.pixels.transfer_syntax for f in frames}),
        "derived_uids": list(series.derived_uids),
        "files": [str(p) for p in by_file],
    })
    source = SourceIds(study_instance_uid=series.study_instance_uid, series_instance_uid=series.series_instance_uid,
                       sop_instance_uids=tuple(dict.fromkeys(f.sop_uid for f in frames if f.sop_uid)),
                       frame_of_reference_uid=series.headers.get("frame_of_reference_uid"))
    return Volume(array=array, affine=plan.affine, modality=series.modality, source=source, meta=meta, notes=notes)


# ----------------------------------------------------------------------------------------- selection


def describe_series(series: list[SeriesInfo]) -> str:
    """The images as one line: '<key> (MR, 'desc', sagittal, 320x320x15); ...'."""
    return "; ".join(s.summary() for s in series)


def select_series(study: StudyInfo, rule: SeriesRule = SeriesRule()) -> SeriesInfo:
    """The image inference should read, by ``rule`` (see :class:`SeriesRule`); InputError if none fits."""
    usable = [s for s in study.series if s.problem is None and s.shape[2] >= rule.min_slices]
    mr = [s for s in usable if s.modality == "MR"]
    ct = [s for s in usable if s.modality == "CT"]
    if mr:
        want = rule.mr_orientation
        contrasts = [c.upper() for c in rule.mr_contrasts]

        def mr_score(s: SeriesInfo) -> tuple[Any, ...]:
            rank = contrasts.index(s.contrast) if s.contrast in contrasts else len(contrasts)
            return (s.orientation != want, rank, -s.shape[2], s.series_number or 0, s.image_key)

        candidates, score, want_o = mr, mr_score, want
    elif ct:
        want = rule.ct_orientation

        def ct_score(s: SeriesInfo) -> tuple[Any, ...]:
            return (s.orientation != want, round(s.spacing_mm[2], 3), -s.shape[2], s.series_number or 0, s.image_key)

        candidates, score, want_o = ct, ct_score, want
    else:
        raise InputError(f"Study {study.key} has no usable MR or CT image series",
                         expected=f"an MR or CT series with at least {rule.min_slices} slices",
                         found=describe_series(study.series) or "no image series")
    best = min(candidates, key=score)
    if best.orientation != want_o:
        if rule.require_orientation:
            raise InputError(f"Study {study.key} has no {want_o.value} {best.modality} series",
                             expected=f"a {want_o.value} series (SeriesRule.require_orientation)",
                             found=describe_series(candidates))
        log.warning("study %s: no %s %s series, using %s", study.key, want_o.value, best.modality, best.summary())
    return best



def read_series_headers(series: SeriesInfo) -> list[Dataset]:
    """The headers (no pixel data) of a series' files, in ``series.files`` order.

    For writers of derived objects (DICOM SEG and SR reference their source images by these).
    """
    headers = []
    for path in series.files:
        try:
            try:
                headers.append(pydicom.dcmread(path, stop_before_pixels=True))
            except InvalidDicomError:  # no preamble + 'DICM': discovery accepted it as an image header
                headers.append(pydicom.dcmread(path, stop_before_pixels=True, force=True))
        except (OSError, InvalidDicomError) as exc:
            raise InputError(f"Cannot re-read the header of {path.name} in series {series.image_key}",
                             expected="the file read during discovery", found=f"{type(exc).__name__}: {exc}",
                             hint="Was the input changed while the batch ran?") from None
    return headers
