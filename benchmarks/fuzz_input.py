"""Fuzz the input step (DICOM discovery + loading) with structure-aware mutations of real and phantom series.

Usage::

    python benchmarks/fuzz_input.py --inputs 20000 --seed 0 [--corpus DIR] [--out DIR] [--workers 2]

The corpus holds small seed series: tiny phantom series (MR sagittal, CT axial, 48x48x4, written by
``spinedetect.phantom``) and, when ../shared/data is present, shrunk copies of real scanner DICOM
(a few slices or frames, pixels subsampled to <= 64x64, written natively), plus a few real files kept as
they are for their compressed transfer syntaxes (RLE, JPEG lossless, JPEG-LS, JPEG 2000, big endian).

Each input is one seed series with 1-3 mutations (header values of pixel/geometry/rescale tags, transfer
syntax swaps, VR/length corruption, pixel data truncation/extension, byte flips, file truncation, UIDs
built to escape a folder, element deletion, splices). It is written to a scratch folder and fed to
``discover_series`` + ``select_series`` + ``load_series`` in a worker process; the input is derived from
``(seed, index)`` alone, so any input can be rebuilt. Outcomes:

* ``ok``: every usable image loaded (a loaded volume must also pass invariants: 3-D, finite affine,
  finite voxels, the shape discovery announced);
* ``error``: a documented :class:`spinedetect.errors.SpinedetectError` (InputError ...), or an image
  reported unusable by discovery (``SeriesInfo.problem``);
* ``skipped``: discovery skipped every file, each with a reason;
* ``suspect``: a file skipped by the loader's catch-all for damaged files ("unreadable (<type>: ...)")
  with an exception type that usually means a bug (TypeError, AttributeError, IndexError, KeyError,
  ...): counted, and saved, for review;
* ``crash``: any other exception (traceback saved), or the worker died (signal);
* ``hang``: the input took longer than ``--time-limit`` seconds (10); the worker is killed;
* ``memory``: MemoryError under the worker's address-space limit, or its peak RSS above ``--memory-mib``.

Failing inputs go to ``--out`` as ``<outcome>-<index>/`` (the files, plus ``info.json`` with the
mutations and traceback). Progress goes to stderr; the last stdout line is one JSON summary.
The volume limit is lowered to ``--max-voxels`` (2^22) so that anything the limits allow stays small and
any allocation that escapes them shows up as a MemoryError.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import logging
import multiprocessing as mp
import os
import random
import resource
import shutil
import signal
import struct
import sys
import zlib
import tempfile
import time
import traceback
import warnings
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, Callable

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS"):
    os.environ.setdefault(_var, "1")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import numpy as np  # noqa: E402
import pydicom  # noqa: E402
from pydicom import config as pydicom_config  # noqa: E402
from pydicom.dataelem import DataElement, RawDataElement  # noqa: E402
from pydicom.dataset import Dataset  # noqa: E402
from pydicom.uid import UID, ExplicitVRLittleEndian  # noqa: E402

from spinedetect.errors import SpinedetectError  # noqa: E402
from spinedetect.io import InputLimits, discover_series, load_series, load_volume, select_series  # noqa: E402

__all__ = ["Seed", "FuzzInput", "Result", "build_corpus", "load_corpus", "make_input", "check_input",
           "fuzz_one", "run", "main", "OUTCOMES"]

OUTCOMES = ("ok", "error", "skipped", "suspect", "crash", "hang", "memory")
FAILURES = ("suspect", "crash", "hang", "memory")
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
#: exception types that, named in a skip reason, usually mean a bug rather than a damaged file
SUSPECT_TYPES = ("TypeError", "AttributeError", "IndexError", "KeyError", "UnboundLocalError", "NameError",
                 "AssertionError", "ZeroDivisionError", "RecursionError")

pydicom_config.settings.reading_validation_mode = pydicom_config.IGNORE
pydicom_config.settings.writing_validation_mode = pydicom_config.IGNORE


# ------------------------------------------------------------------------------------------------ corpus


@dataclass(frozen=True)
class Seed:
    """One seed series: a name and its files (name, bytes)."""

    name: str
    files: tuple[tuple[str, bytes], ...]


def _to_bytes(ds: Dataset) -> bytes:
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def _shrink(ds: Dataset, frames: list[int] | None, max_size: int = 64) -> Dataset:
    """A natively encoded copy of ``ds`` keeping ``frames`` (multi-frame) with pixels subsampled to <= max_size."""
    arr = ds.pixel_array
    n_frames = int(ds.get("NumberOfFrames", 1) or 1)
    if n_frames == 1:
        arr = arr[None]
    keep = frames if frames is not None else list(range(arr.shape[0]))
    arr = arr[keep]
    step = max(1, int(np.ceil(max(arr.shape[1:]) / max_size)))
    if "MOSAIC" in [str(v).upper() for v in ds.get("ImageType", [])]:
        step = 4  # 384 = 6 tiles x 64: 4 keeps whole tiles
    arr = np.ascontiguousarray(arr[:, ::step, ::step])
    ds.decompress() if ds.file_meta.TransferSyntaxUID.is_compressed else None
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.Rows, ds.Columns = int(arr.shape[1]), int(arr.shape[2])
    if "PixelSpacing" in ds:
        ds.PixelSpacing = [float(v) * step for v in ds.PixelSpacing]
    if "PerFrameFunctionalGroupsSequence" in ds:
        ds.PerFrameFunctionalGroupsSequence = [ds.PerFrameFunctionalGroupsSequence[i] for i in keep]
        for group in [*ds.PerFrameFunctionalGroupsSequence, *ds.get("SharedFunctionalGroupsSequence", [])]:
            for measures in group.get("PixelMeasuresSequence", []):
                if "PixelSpacing" in measures:
                    measures.PixelSpacing = [float(v) * step for v in measures.PixelSpacing]
    if "NumberOfFrames" in ds:
        ds.NumberOfFrames = len(keep)
    ds.PixelData = arr.astype(arr.dtype.newbyteorder("<")).tobytes()
    ds["PixelData"].VR = "OW"
    return ds


def _real_seeds(shared: Path) -> list[Seed]:
    """Shrunk copies of real series, and a few untouched real files with compressed transfer syntaxes."""
    conf = shared / "dicom-conformance"
    seeds: list[Seed] = []
    # (folder, files to keep (slice indices after sorting by name), frames of multi-frame files)
    plans: list[tuple[str, slice, list[int] | None]] = [
        ("dcm_qa_decubitus/HFS_t1_fl2d_sag", slice(10, 14), None),
        ("dcm_qa_philips_enh/1901_3DpCASL_cl", slice(0, 3), None),
        ("dcm_qa_philips_enh/1901_3DpCASL_enh", slice(0, 1), [0, 1, 2]),
        ("dcm_qa_enh/Philips_B0_NS_801_enh", slice(0, 1), [0, 1, 2, 32, 33, 34]),
        ("dcm_qa_enh/Siemens_XA10_REST1_enh", slice(0, 2), [0, 1, 2]),
        ("dcm_qa_sag/2_gre_field_mapping", slice(0, 5), None),
        ("dcm_qa_sag/XA30_cl_5001_EPI_Sag_vol1", slice(0, 4), None),
        ("dcm_qa_12bit/4_12bitSigned_0x0F0F", slice(0, 1), None),
    ]
    for folder, which, frames in plans:
        src = conf / folder / "dicom"
        if not src.is_dir():
            continue
        files = sorted(p for p in src.iterdir() if p.is_file())[which]
        out = []
        for p in files:
            ds = pydicom.dcmread(p)
            out.append((p.name[-40:] or "f.dcm", _to_bytes(_shrink(ds, frames))))
        seeds.append(Seed("real-" + folder.split("/")[-1], tuple(out)))
    ct = shared / "real-ct" / "example_ct_dicom"
    if ct.is_dir():
        files = sorted(p for p in ct.iterdir() if p.is_file())[5:8]
        native = []
        j2k = []
        for p in files:
            small = _shrink(pydicom.dcmread(p), None)
            native.append((p.name[-24:], _to_bytes(small)))
            try:  # re-encode the shrunk slice as JPEG 2000 lossless, as the original was
                small.compress(pydicom.uid.JPEG2000Lossless)
                j2k.append((p.name[-24:], _to_bytes(small)))
            except (RuntimeError, ValueError) as exc:  # no encoder plugin: the native copy still tests geometry
                print(f"fuzz: no JPEG 2000 re-encoding ({exc})", file=sys.stderr)
        seeds.append(Seed("real-ct-native", tuple(native)))
        if j2k:
            seeds.append(Seed("real-ct-j2k", tuple(j2k)))
    for ts in ("ts3", "ts4", "ts5", "ts7", "ts9"):  # big endian, RLE, JPEG lossless, JPEG-LS, JPEG 2000 mosaics
        src = conf / "dcm_qa_ts" / ts / "dicom"
        if src.is_dir():
            seeds.extend(Seed(f"real-{ts}", ((p.name, p.read_bytes()),)) for p in sorted(src.iterdir())[:1])
    return seeds


def _phantom_seeds(work: Path) -> list[Seed]:
    from spinedetect.phantom import AnatomyConfig, ImagingConfig, PhantomConfig, generate_phantom, write_phantom

    seeds = []
    for modality, acquisition in (("MR", "sagittal"), ("CT", "axial")):
        cfg = PhantomConfig(anatomy=AnatomyConfig(first_level="L4", last_level="L5"),
                            imaging=ImagingConfig(modality=modality, acquisition=acquisition, shape=(48, 48, 4)))
        paths = write_phantom(generate_phantom(cfg, seed=7), work / modality, formats=("dicom",))
        files = tuple((p.name, p.read_bytes()) for p in sorted(paths["dicom"].glob("*.dcm")))
        seeds.append(Seed(f"phantom-{modality.lower()}", files))
        if modality == "MR":  # the same phantom as NIfTI (plain and gzip) and MetaImage (zlib-compressed)
            import SimpleITK as sitk

            from spinedetect.io import write_nifti

            ph = generate_phantom(cfg, seed=7)
            nii = write_nifti(ph.image, work / "image.nii").read_bytes()
            seeds.append(Seed("phantom-nifti", (("image.nii", nii),)))
            seeds.append(Seed("phantom-nifti-gz", (("image.nii.gz", gzip.compress(nii, mtime=0)),)))
            image = sitk.GetImageFromArray(np.ascontiguousarray(ph.image.array.transpose(2, 1, 0)))
            sitk.WriteImage(image, str(work / "image.mha"), True)
            seeds.append(Seed("phantom-mha", (("image.mha", (work / "image.mha").read_bytes()),)))
    return seeds


def build_corpus(corpus: Path, *, shared: Path | None = SHARED_DATA) -> list[Seed]:
    """Write the seed series into ``corpus/<seed>/`` (phantoms always; real DICOM when ``shared`` exists)."""
    corpus.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        seeds = _phantom_seeds(Path(tmp))
    if shared is not None and shared.is_dir():
        seeds += _real_seeds(shared)
    for seed in seeds:
        folder = corpus / seed.name
        folder.mkdir(exist_ok=True)
        for name, data in seed.files:
            (folder / name).write_bytes(data)
    return load_corpus(corpus)  # the order a worker sees: inputs depend on it


def load_corpus(corpus: Path) -> list[Seed]:
    """The seed series under ``corpus`` (one folder each), in name order."""
    seeds = [Seed(d.name, tuple((p.name, p.read_bytes()) for p in sorted(d.iterdir()) if p.is_file()))
             for d in sorted(corpus.iterdir()) if d.is_dir()]
    if not seeds:
        raise SystemExit(f"fuzz: corpus {corpus} holds no seed folders")
    return seeds


# --------------------------------------------------------------------------------------------- mutations

_INTS = (0, 1, 2, 3, 7, 8, 9, 12, 15, 16, 17, 24, 31, 32, 33, 64, 255, 256, 4095, 4096, 32767, 32768, 65535)
_NUM_TEXT = ("0", "-0", "1", "-1", "nan", "NaN", "inf", "-inf", "1e308", "-1e308", "1e-320", "3.4e38", "",
             "abc", " ", "1\\2", "99999999999999999999", "0.0000001", "-1e38", "1e38")
_UIDS = (pydicom.uid.ImplicitVRLittleEndian, pydicom.uid.ExplicitVRLittleEndian, pydicom.uid.ExplicitVRBigEndian,
         pydicom.uid.DeflatedExplicitVRLittleEndian, pydicom.uid.JPEGBaseline8Bit, pydicom.uid.JPEGLosslessSV1,
         pydicom.uid.JPEGLSLossless, pydicom.uid.JPEG2000Lossless, pydicom.uid.RLELossless,
         pydicom.uid.HTJ2KLossless, pydicom.uid.MPEG2MPML, "1.2.3.4", "", "1.2.840.10008.1.2.4.999",
         "not a uid")
_HOSTILE_UIDS = ("../../evil", "..", "/etc/passwd", "a/b", "a\\b", "1.2\x00.3", "1." * 40 + "1", "1" * 4000,
                 "..%2f..%2fevil", "CON", "\u00e9\u00e8", "", "x" * 300)
_US_TAGS = {"Rows": 0x00280010, "Columns": 0x00280011, "BitsAllocated": 0x00280100, "BitsStored": 0x00280101,
            "HighBit": 0x00280102, "PixelRepresentation": 0x00280103, "SamplesPerPixel": 0x00280002}
_DS_GEOMETRY = ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing", "SliceThickness",
                "SpacingBetweenSlices", "RescaleSlope", "RescaleIntercept", "EchoTime")
_DELETABLE = ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing", "Rows", "Columns", "BitsAllocated",
              "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID", "Modality", "PixelData",
              "PhotometricInterpretation", "SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence",
              "NumberOfFrames", "ImageType", "RescaleSlope")


@dataclass
class _Case:
    """An input being built: the parsed datasets (None once a file is only bytes) and the file bytes."""

    names: list[str]
    datasets: list[Dataset | None]
    raw: list[bytes | None]
    notes: list[str] = field(default_factory=list)


def _pick_files(rng: random.Random, n: int) -> list[int]:
    if n == 1 or rng.random() < 0.3:
        return list(range(n))  # the same mutation on every file (geometry of the whole series)
    return rng.sample(range(n), rng.randint(1, n))


def _frame_groups(ds: Dataset) -> list[Dataset]:
    """The datasets holding geometry: the file itself, or its functional-group items (enhanced)."""
    out: list[Dataset] = [ds]
    for kw in ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"):
        for item in ds.get(kw, []) or []:
            for sub in ("PlanePositionSequence", "PlaneOrientationSequence", "PixelMeasuresSequence",
                        "PixelValueTransformationSequence", "FrameContentSequence"):
                out.extend(item.get(sub, []) or [])
    return out


def _set_raw(ds: Dataset, tag: int, vr: str, value: bytes) -> None:
    """Store ``value`` as the element's encoded bytes (written as is: no validation, any length)."""
    key = pydicom.tag.Tag(tag)
    ds._dict[key] = RawDataElement(key, vr, len(value), value, 0, False, True)  # noqa: SLF001


def m_us_value(rng: random.Random, ds: Dataset) -> str:
    name, tag = rng.choice(list(_US_TAGS.items()))
    value = rng.choice(_INTS) if rng.random() < 0.8 else rng.randrange(65536)
    ds[tag] = DataElement(tag, "US", value)
    return f"{name}={value}"


def m_frames(rng: random.Random, ds: Dataset) -> str:
    value = rng.choice(("0", "-1", "1", "2", "3", "7", "64", "100000", "99999999999", "abc", "", "1.5", "nan",
                        "1e9", "65536"))
    _set_raw(ds, 0x00280008, "IS", value.encode() + (b" " if len(value) % 2 else b""))
    return f"NumberOfFrames={value!r}"


def m_geometry(rng: random.Random, ds: Dataset) -> str:
    kw = rng.choice(_DS_GEOMETRY)
    holders = [g for g in _frame_groups(ds) if kw in g] or [ds]
    target = rng.choice(holders)
    mult = {"ImagePositionPatient": 3, "ImageOrientationPatient": 6, "PixelSpacing": 2}.get(kw, 1)
    old = [str(v) for v in (target.get(kw) if isinstance(target.get(kw), (list, pydicom.multival.MultiValue))
                            else [target.get(kw, "1")])]
    choice = rng.random()
    if choice < 0.4:  # one component replaced by an odd number
        values = (old + ["0"] * mult)[:mult]
        values[rng.randrange(mult)] = rng.choice(_NUM_TEXT)
    elif choice < 0.6:  # wrong multiplicity
        values = [rng.choice(_NUM_TEXT) for _ in range(rng.choice((0, 1, mult - 1, mult + 1, 9)))]
    elif choice < 0.8 and kw == "ImageOrientationPatient":  # parallel, zero or non-unit directions
        values = rng.choice((["1", "0", "0", "1", "0", "0"], ["0"] * 6, ["2", "0", "0", "0", "2", "0"],
                             ["1", "0", "0", "0", "0.999", "0.04"], ["0.7071", "0.7071", "0", "0", "0", "1"]))
    else:  # a plausible but wrong value (small shift: duplicate / unequal positions)
        values = [f"{float(v) + rng.choice((0.0, 0.001, 0.5, 2.0, -3.0, 1e6)):g}"
                  if v.replace(".", "", 1).replace("-", "", 1).isdigit() else v for v in (old or ["0"])]
    text = "\\".join(values).encode("latin-1")
    tag = pydicom.datadict.tag_for_keyword(kw)
    assert tag is not None
    _set_raw(target, tag, "DS", text + (b" " if len(text) % 2 else b""))
    return f"{kw}={values}"


def m_photometric(rng: random.Random, ds: Dataset) -> str:
    value = rng.choice(("MONOCHROME1", "RGB", "PALETTE COLOR", "YBR_FULL_422", "", "XYZ"))
    ds.PhotometricInterpretation = value
    return f"PhotometricInterpretation={value}"


def m_image_type(rng: random.Random, ds: Dataset) -> str:
    value = rng.choice((["ORIGINAL", "PRIMARY", "M", "MOSAIC"], ["DERIVED", "SECONDARY", "P"], ["LOCALIZER"], [],
                        ["ORIGINAL", "PRIMARY", "PHASE", "NONE"], ["\\\\"]))
    ds.ImageType = value
    return f"ImageType={value}"


def m_uid(rng: random.Random, ds: Dataset) -> str:
    kw = rng.choice(("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID"))
    value = rng.choice(_HOSTILE_UIDS)
    data = value.encode("utf-8")
    tag = pydicom.datadict.tag_for_keyword(kw)
    assert tag is not None
    _set_raw(ds, tag, "UI", data + (b"\0" if len(data) % 2 else b""))
    return f"{kw}={value[:40]!r}"


def m_sop_class(rng: random.Random, ds: Dataset) -> str:
    value = rng.choice((pydicom.uid.CTImageStorage, pydicom.uid.MRImageStorage, pydicom.uid.EnhancedMRImageStorage,
                        pydicom.uid.BasicTextSRStorage, pydicom.uid.SegmentationStorage, "1.2.3", "",
                        pydicom.uid.MediaStorageDirectoryStorage))
    ds.SOPClassUID = value
    return f"SOPClassUID={value}"


def m_modality(rng: random.Random, ds: Dataset) -> str:
    value = rng.choice(("CT", "MR", "SR", "SEG", "OT", "", "PT", "KO"))
    ds.Modality = value
    return f"Modality={value!r}"


def m_delete(rng: random.Random, ds: Dataset) -> str:
    present = [kw for kw in _DELETABLE if kw in ds]
    if rng.random() < 0.3:  # inside a functional group
        groups = [g for g in _frame_groups(ds)[1:] if len(g)]
        if groups:
            g = rng.choice(groups)
            kw = rng.choice([e.keyword for e in g] or ["x"])
            if kw in g:
                del g[kw]
                return f"deleted {kw} in a functional group"
    if not present:
        return "delete: nothing"
    kw = rng.choice(present)
    del ds[kw]
    return f"deleted {kw}"


def m_sequence(rng: random.Random, ds: Dataset) -> str:
    kw = rng.choice(("PerFrameFunctionalGroupsSequence", "SharedFunctionalGroupsSequence"))
    seq = ds.get(kw)
    if not seq:
        ds[kw] = DataElement(pydicom.datadict.tag_for_keyword(kw), "SQ", [Dataset() for _ in range(rng.randint(0, 3))])
        return f"added {kw} with empty items"
    action = rng.randrange(3)
    if action == 0 and len(seq) > 1:
        del seq[rng.randrange(len(seq))]
        return f"{kw}: removed an item"
    if action == 1:
        seq.append(Dataset())
        return f"{kw}: appended an empty item"
    item = seq[rng.randrange(len(seq))]
    if len(item):
        del item[rng.choice([e.tag for e in item])]
    return f"{kw}: cleared a group of an item"


def m_pixel_length(rng: random.Random, ds: Dataset) -> str:
    if "PixelData" not in ds:
        return "pixel length: no PixelData"
    data = ds.PixelData
    choice = rng.random()
    if choice < 0.4:
        new = data[:rng.randrange(len(data) + 1)]
    elif choice < 0.7:
        new = data + bytes(rng.getrandbits(8) for _ in range(rng.choice((1, 2, 7, 100, 5000))))
    elif choice < 0.8:
        new = b""
    else:
        new = data[: len(data) // 2] * 2 + b"\0"
    if len(new) % 2:
        new += b"\0"
    ds.PixelData = new
    return f"PixelData {len(data)} -> {len(new)} bytes"


MutateDS = Callable[[random.Random, Dataset], str]
DATASET_MUTATIONS: tuple[tuple[MutateDS, float], ...] = (
    (m_us_value, 3.0), (m_frames, 1.0), (m_geometry, 4.0), (m_photometric, 0.5), (m_image_type, 0.7),
    (m_uid, 0.8), (m_sop_class, 0.4), (m_modality, 0.3), (m_delete, 1.5), (m_sequence, 0.7),
    (m_pixel_length, 1.5))


def _encode(ds: Dataset, rng: random.Random, case: _Case) -> bytes:
    """Write ``ds``; sometimes declare another transfer syntax than the one the body is encoded in."""
    meta = getattr(ds, "file_meta", None)
    ts = UID(str(meta.get("TransferSyntaxUID", ExplicitVRLittleEndian))) if meta is not None else ExplicitVRLittleEndian
    buf = io.BytesIO()
    implicit = ts == pydicom.uid.ImplicitVRLittleEndian
    little = ts != pydicom.uid.ExplicitVRBigEndian
    try:
        pydicom.dcmwrite(buf, ds, implicit_vr=implicit, little_endian=little, force_encoding=True)
    except Exception as exc:  # noqa: BLE001 - pydicom cannot encode some mutated datasets
        case.notes.append(f"could not encode ({type(exc).__name__}); kept the original bytes")
        raise
    return buf.getvalue()


def m_transfer_syntax(rng: random.Random, ds: Dataset) -> str:
    """Declare another transfer syntax in the file meta (the body keeps its encoding)."""
    new = rng.choice(_UIDS)
    if not hasattr(ds, "file_meta"):
        ds.file_meta = pydicom.dataset.FileMetaDataset()
    old = str(ds.file_meta.get("TransferSyntaxUID", ""))
    ds.file_meta._dict[pydicom.tag.Tag(0x00020010)] = RawDataElement(  # noqa: SLF001
        pydicom.tag.Tag(0x00020010), "UI", 0, new.encode() + (b"\0" if len(new) % 2 else b""), 0, False, True)
    return f"TransferSyntaxUID {old} -> {new!r}"


def b_flip(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    buf = bytearray(data)
    n = rng.choice((1, 2, 4, 16, 64))
    header_end = min(len(buf), rng.choice((400, 1200, len(buf))))
    for _ in range(n):
        buf[rng.randrange(header_end)] = rng.getrandbits(8)
    return bytes(buf), f"{n} random bytes in the first {header_end}"


def b_truncate(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    cut = rng.randrange(len(data))
    return data[:cut], f"truncated to {cut} of {len(data)} bytes"


def b_length(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    """Corrupt the VR or length of a known element (found by its little-endian tag bytes)."""
    tags = [b"\x28\x00\x10\x00", b"\x28\x00\x11\x00", b"\x20\x00\x32\x00", b"\x20\x00\x37\x00", b"\x28\x00\x30\x00",
            b"\xe0\x7f\x10\x00", b"\x08\x00\x18\x00", b"\x20\x00\x0d\x00", b"\x28\x00\x08\x00", b"\x02\x00\x10\x00",
            b"\x00\x52\x30\x92", b"\x08\x00\x08\x00", b"\x28\x00\x00\x01"]
    hits = [i for t in tags for i in [data.find(t, 128)] if i >= 0]
    if not hits:
        return b_flip(rng, data)
    at = rng.choice(hits)
    buf = bytearray(data)
    if rng.random() < 0.4:
        vr = rng.choice((b"SQ", b"UN", b"OB", b"XX", b"\0\0", b"UT", b"FD", b"AT"))
        buf[at + 4:at + 6] = vr
        return bytes(buf), f"VR at {at} -> {vr!r}"
    value = rng.choice((0, 1, 3, 0xFFFF, 0xFFFFFFFF, 0x7FFFFFFF, len(data), rng.getrandbits(32)))
    if at + 12 <= len(buf) and rng.random() < 0.5:
        buf[at + 8:at + 12] = struct.pack("<I", value)  # 4-byte length of OB/OW/SQ/UN, or a value
    else:
        buf[at + 6:at + 8] = struct.pack("<H", value & 0xFFFF)
    return bytes(buf), f"length at {at} -> {value:#x}"


def b_splice(rng: random.Random, data: bytes, other: bytes) -> tuple[bytes, str]:
    cut_a, cut_b = rng.randrange(len(data)), rng.randrange(len(other))
    return data[:cut_a] + other[cut_b:], f"spliced at {cut_a} with another file from {cut_b}"


#: NIfTI-1 header fields: name -> (byte offset, struct format, count)
_NIFTI_FIELDS = {"sizeof_hdr": (0, "i", 1), "dim": (40, "h", 8), "datatype": (70, "h", 1), "bitpix": (72, "h", 1),
                 "pixdim": (76, "f", 8), "vox_offset": (108, "f", 1), "scl_slope": (112, "f", 1),
                 "scl_inter": (116, "f", 1), "qform_code": (252, "h", 1), "sform_code": (254, "h", 1),
                 "quatern": (256, "f", 6), "srow": (280, "f", 12), "magic": (344, "4s", 1)}
_FLOATS = (0.0, -0.0, 1.0, -1.0, 1e-30, 1e30, 3.4e38, -3.4e38, float("nan"), float("inf"), float("-inf"), 352.0,
           0.5, 1e9)
_SHORTS = (0, 1, -1, 2, 3, 4, 7, 8, 16, 32, 64, 128, 255, 256, 511, 512, 768, 1024, 1536, 2048, 2304, 32767, -32768)


def n_header(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    """Set one NIfTI-1 header field (some components) to an odd value."""
    name = rng.choice(list(_NIFTI_FIELDS))
    offset, fmt, count = _NIFTI_FIELDS[name]
    buf = bytearray(data)
    if len(buf) < 348:
        return data, "nifti header: file too short"
    which = rng.randrange(count)
    if fmt == "4s":
        value: Any = rng.choice((b"n+1\0", b"ni1\0", b"n+2\0", b"\0\0\0\0", b"XXXX"))
    elif fmt == "f":
        value = rng.choice(_FLOATS)
    elif fmt == "h":
        value = rng.choice(_SHORTS)
    else:
        value = rng.choice((348, 540, 0, -1, 1 << 30))
    size = struct.calcsize("<" + fmt)
    struct.pack_into("<" + fmt, buf, offset + which * size, value)
    return bytes(buf), f"nifti {name}[{which}] = {value!r}"


_MHA_KEYS = {"NDims": ("0", "1", "2", "3", "4", "9", "-1", "x"),
             "DimSize": ("0 0 0", "48 48", "100000 100000 100000", "48 48 4 1000", "-1 48 4", "48 48 4", "a b c"),
             "ElementType": ("MET_FLOAT", "MET_DOUBLE", "MET_UCHAR", "MET_OTHER", "MET_UCHAR_ARRAY", ""),
             "ElementSpacing": ("0 0 0", "nan nan nan", "inf 1 1", "-1 1 1", "1e308 1e308 1e308", "1"),
             "Offset": ("nan 0 0", "1e308 1e308 1e308", "0"),
             "TransformMatrix": ("0 0 0 0 0 0 0 0 0", "1 0 0 1 0 0 0 0 1", "nan 0 0 0 1 0 0 0 1", "1"),
             "ElementNumberOfChannels": ("0", "3", "100000"),
             "CompressedData": ("True", "False"),
             "CompressedDataSize": ("0", "1", "99999999999"),
             "ElementDataFile": ("LOCAL", "/etc/hostname", "../../x.raw", "LIST", "img%03d.raw 1 4 1", "")}


def h_mha(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    """Replace the value of one MetaImage header line."""
    end = data.find(b"ElementDataFile")
    end = data.find(b"\n", end) + 1 if end >= 0 else 0
    if end <= 0:
        return data, "mha: no header"
    lines = data[:end].decode("latin-1").splitlines()
    key = rng.choice(list(_MHA_KEYS))
    value = rng.choice(_MHA_KEYS[key])
    for n, line in enumerate(lines):
        if line.split("=")[0].strip() == key:
            lines[n] = f"{key} = {value}"
            break
    else:
        lines.insert(len(lines) - 1, f"{key} = {value}")
    if key == "ElementDataFile":
        lines[-1] = f"{key} = {value}"
    return ("\n".join(lines) + "\n").encode("latin-1") + data[end:], f"mha {key} = {value}"


def _image_file_mutation(rng: random.Random, name: str, data: bytes) -> tuple[bytes, str]:
    """A header mutation of a NIfTI (through its gzip layer) or MetaImage file."""
    if name.endswith(".mha"):
        return h_mha(rng, data)
    if name.endswith(".gz"):
        try:
            raw = gzip.decompress(data)
        except (OSError, EOFError, zlib.error):
            return data, "nifti.gz: not gzip any more"
        out, what = n_header(rng, raw)
        return gzip.compress(out, compresslevel=1, mtime=0), what
    return n_header(rng, data)


def make_input(seeds: list[Seed], seed: int, index: int) -> FuzzInput:
    """Input ``index`` of fuzz run ``seed``: a mutated copy of one seed series (deterministic)."""
    rng = random.Random(f"spinedetect-fuzz:{seed}:{index}")
    base = rng.choice(seeds)
    case = _Case([n for n, _ in base.files], [None] * len(base.files), [d for _, d in base.files])
    mutations: list[str] = []
    weights = [w for _, w in DATASET_MUTATIONS] + [1.2]  # the last: transfer syntax
    for _ in range(rng.choice((1, 1, 2, 2, 3))):
        kind = rng.random()
        targets = _pick_files(rng, len(case.names))
        if case.names[0].endswith((".nii", ".nii.gz", ".mha")) and kind < 0.7:  # image file header
            data, what = _image_file_mutation(rng, case.names[0], _bytes_of(case, 0, rng))
            case.raw[0] = data
            mutations.append(f"{case.names[0]}: {what}")
        elif kind < 0.7:  # dataset-level
            pick = rng.choices(range(len(weights)), weights)[0]
            shared = rng.random()
            for i in targets:
                if case.datasets[i] is None:
                    raw = case.raw[i]
                    try:
                        case.datasets[i] = pydicom.dcmread(io.BytesIO(raw), force=True)
                    except Exception:  # noqa: BLE001 - an earlier byte mutation made it unparsable; stay bytes
                        continue
                ds = case.datasets[i]
                assert ds is not None
                mutation = m_transfer_syntax if pick == len(DATASET_MUTATIONS) else DATASET_MUTATIONS[pick][0]
                # every file of the series: the same mutation (a fresh generator with one shared seed)
                sub = random.Random(shared) if len(targets) > 1 and len(targets) == len(case.names) else rng
                try:
                    mutations.append(f"{case.names[i]}: {mutation(sub, ds)}")
                except Exception as exc:  # noqa: BLE001 - pydicom refuses some edits of a damaged dataset
                    mutations.append(f"{case.names[i]}: {mutation.__name__} not applicable ({type(exc).__name__})")
                case.raw[i] = None
        else:  # byte-level on the encoded file
            for i in targets[:2]:
                data = _bytes_of(case, i, rng)
                choice = rng.random()
                if choice < 0.35:
                    data, what = b_flip(rng, data)
                elif choice < 0.6:
                    data, what = b_truncate(rng, data)
                elif choice < 0.9:
                    data, what = b_length(rng, data)
                else:
                    other = rng.choice(seeds)
                    data, what = b_splice(rng, data, rng.choice(other.files)[1])
                case.raw[i], case.datasets[i] = data, None
                mutations.append(f"{case.names[i]}: {what}")
    files = [(name, _bytes_of(case, i, rng)) for i, name in enumerate(case.names)]
    if rng.random() < 0.05:
        files.append((rng.choice(("..%2f..%2fevil.dcm", "DICOMDIR", ".hidden", "a b.dcm", "x" * 200)),
                      files[0][1]))
        mutations.append(f"extra file named {files[-1][0][:40]!r}")
    return FuzzInput(index=index, seed_series=base.name, mutations=mutations, files=files)


def _bytes_of(case: _Case, i: int, rng: random.Random) -> bytes:
    if case.raw[i] is None:
        ds = case.datasets[i]
        assert ds is not None
        try:
            case.raw[i] = _encode(ds, rng, case)
        except Exception:  # noqa: BLE001 - noted in case.notes by _encode
            case.raw[i] = b"\0" * 128 + b"DICM"  # unencodable mutation: a file with nothing after the marker
    data = case.raw[i]
    assert data is not None
    return data


# ------------------------------------------------------------------------------------------------ checks


@dataclass
class FuzzInput:
    """One generated input: where it came from, what was done to it, and its files (name, bytes)."""

    index: int
    seed_series: str
    mutations: list[str]
    files: list[tuple[str, bytes]]


@dataclass
class Result:
    """What one input did: outcome (one of OUTCOMES), a detail line or traceback, seconds, peak RSS MiB."""

    index: int
    outcome: str
    detail: str = ""
    seconds: float = 0.0
    rss_mib: float = 0.0


class _Hang(BaseException):
    """Raised by the alarm when one input runs over the time limit (BaseException: never caught as an error)."""


def _check_volume(vol: Any, series: Any) -> None:
    """Invariants every loaded volume must satisfy; an AssertionError here is a crash."""
    assert vol.array.ndim == 3, f"array is {vol.array.ndim}-D"
    if series is not None:
        assert vol.shape == tuple(series.shape), f"shape {vol.shape} but discovery announced {series.shape}"
    assert np.all(np.isfinite(vol.affine)), "affine holds non-finite values"
    assert abs(np.linalg.det(vol.affine[:3, :3])) > 0, "affine is singular"
    if vol.array.dtype.kind == "f":
        assert np.all(np.isfinite(vol.array)), "volume holds non-finite voxels"


def check_input(folder: Path, limits: InputLimits) -> tuple[str, str]:
    """Feed ``folder`` to discovery, selection and loading; (outcome, detail). May raise (a crash).

    A NIfTI or MetaImage file is fed to ``load_volume`` instead.
    """
    images = sorted(p for p in folder.iterdir() if p.name.endswith((".nii", ".nii.gz", ".mha")))
    if images:
        try:
            vol = load_volume(images[0], limits=limits)
        except SpinedetectError as exc:
            return "error", str(exc)
        _check_volume(vol, None)
        return "ok", ""
    try:
        found = discover_series(folder, limits=limits)
    except SpinedetectError as exc:
        return "error", str(exc)
    # the loader's catch-all for damaged files words its reason "unreadable (<type>: ...)"
    suspects = [r for _, r in found.skipped if any(f"unreadable ({t}:" in r for t in SUSPECT_TYPES)]
    if suspects:
        return "suspect", suspects[0]
    outcome, detail = ("skipped", found.skipped[0][1]) if found.skipped else ("ok", "")
    if not found.series:
        return outcome if found.skipped else "ok", detail
    for study in found.studies:
        try:
            select_series(study)
        except SpinedetectError as exc:
            outcome, detail = "error", str(exc)
    for series in found.series:
        if series.problem is not None:
            outcome, detail = "error", series.problem
            continue
        try:
            vol = load_series(series, limits=limits)
        except SpinedetectError as exc:
            outcome, detail = "error", str(exc)
            continue
        _check_volume(vol, series)
        outcome = "ok" if outcome in ("ok", "skipped") else outcome
    return outcome, detail


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def fuzz_one(seeds: list[Seed], seed: int, index: int, work: Path, limits: InputLimits, *,
             time_limit: float = 10.0) -> tuple[Result, FuzzInput]:
    """Build input ``index``, write it under ``work`` and check it, with an alarm at ``time_limit`` s."""
    item = make_input(seeds, seed, index)
    folder = work / "input"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for n, (name, data) in enumerate(item.files):
        (folder / f"{n:02d}_{name.replace('/', '_')}").write_bytes(data)
    t0 = time.perf_counter()

    def on_alarm(signum: int, frame: Any) -> None:
        raise _Hang()

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, time_limit)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # overflow warnings of absurd header values are expected here
            outcome, detail = check_input(folder, limits)
    except _Hang:
        outcome, detail = "hang", f"over {time_limit} s:\n{traceback.format_exc()}"
    except MemoryError:
        outcome, detail = "memory", traceback.format_exc()
    except Exception:  # noqa: BLE001 - the harness classifies every other exception as a crash
        outcome, detail = "crash", traceback.format_exc()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    return Result(index, outcome, detail, time.perf_counter() - t0, _rss_mib()), item


# -------------------------------------------------------------------------------------------------- pool


def _worker(conn: Connection, corpus: Path, seed: int, limits: InputLimits, time_limit: float,
            memory_mib: int) -> None:
    logging.disable(logging.CRITICAL)  # the loader's notes on 20,000 damaged inputs are noise here
    warnings.simplefilter("ignore")
    seeds = load_corpus(corpus)
    with open("/proc/self/status") as fh:  # address-space cap: what is mapped now plus the memory allowance
        vm = next(int(line.split()[1]) for line in fh if line.startswith("VmSize:")) * 1024
    cap = vm + memory_mib * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    with tempfile.TemporaryDirectory(prefix="fuzz-worker-") as tmp:
        while True:
            try:
                index = conn.recv()
            except EOFError:
                return
            if index is None:
                return
            result, item = fuzz_one(seeds, seed, index, Path(tmp), limits, time_limit=time_limit)
            conn.send((asdict(result), asdict(item) if result.outcome in FAILURES else None))


class _Slot:
    """One worker process and the input it is working on."""

    def __init__(self, ctx: Any, args: tuple[Any, ...]) -> None:
        self.ctx, self.args = ctx, args
        self.start()

    def start(self) -> None:
        self.conn, child = self.ctx.Pipe()
        self.proc = self.ctx.Process(target=_worker, args=(child, *self.args), daemon=True)
        self.proc.start()
        child.close()
        self.index: int | None = None
        self.since = 0.0

    def submit(self, index: int) -> None:
        self.index, self.since = index, time.perf_counter()
        self.conn.send(index)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.join()
        self.conn.close()


def _save(out: Path, result: Result, item: FuzzInput | None) -> None:
    folder = out / f"{result.outcome}-{result.index:06d}"
    folder.mkdir(parents=True, exist_ok=True)
    info = {"index": result.index, "outcome": result.outcome, "detail": result.detail}
    if item is not None:
        info.update(seed_series=item.seed_series, mutations=item.mutations)
        for n, (name, data) in enumerate(item.files):
            (folder / f"{n:02d}_{name.replace('/', '_')}").write_bytes(data)
    (folder / "info.json").write_text(json.dumps(info, indent=1) + "\n")


def run(corpus: Path, *, inputs: int, seed: int = 0, start: int = 0, out: Path | None = None, workers: int = 2,
        time_limit: float = 10.0, memory_mib: int = 1024, limits: InputLimits = InputLimits(max_voxels=2**22),
        progress: bool = True) -> dict[str, Any]:
    """Fuzz ``inputs`` inputs over ``workers`` processes; returns the summary (also see the module docstring)."""
    seeds = load_corpus(corpus)
    ctx = mp.get_context("fork")
    args = (corpus, seed, limits, time_limit, memory_mib)
    slots = [_Slot(ctx, args) for _ in range(max(1, workers))]
    counts = {k: 0 for k in OUTCOMES}
    examples: dict[str, list[str]] = {k: [] for k in FAILURES}
    max_seconds, peak_rss, done, next_index = 0.0, 0.0, 0, start
    stop = start + inputs
    t_start = time.perf_counter()
    grace = 5.0  # the worker's own alarm fires at time_limit; this kills workers stuck in C code

    def record(result: Result, item: FuzzInput | None) -> None:
        nonlocal max_seconds, peak_rss, done
        if result.outcome not in ("hang", "crash") and result.rss_mib > memory_mib + 400:
            result.outcome, result.detail = "memory", f"peak RSS {result.rss_mib:.0f} MiB"
        counts[result.outcome] += 1
        max_seconds = max(max_seconds, result.seconds)
        peak_rss = max(peak_rss, result.rss_mib)
        done += 1
        if result.outcome in FAILURES:
            if item is None:
                item = make_input(seeds, seed, result.index)
            line = result.detail.strip().splitlines()[-1] if result.detail.strip() else ""
            examples[result.outcome].append(f"{result.index}: {line[:200]} [{item.seed_series}: "
                                            f"{'; '.join(item.mutations)[:300]}]")
            if out is not None:
                _save(out, result, item)
        if progress and (done % 500 == 0 or done == inputs):
            rate = done / (time.perf_counter() - t_start)
            print(f"fuzz: {done}/{inputs} ({rate:.1f}/s) " + " ".join(f"{k}={v}" for k, v in counts.items() if v),
                  file=sys.stderr, flush=True)

    try:
        for slot in slots:
            if next_index < stop:
                slot.submit(next_index)
                next_index += 1
        while done < inputs:
            busy = [s for s in slots if s.index is not None]
            now = time.perf_counter()
            timeout = max(0.0, min(s.since + time_limit + grace for s in busy) - now)
            ready = wait([s.conn for s in busy], timeout=timeout)
            for slot in busy:
                assert slot.index is not None
                if slot.conn in ready:
                    try:
                        res, item = slot.conn.recv()
                        result = Result(**res)
                        fi = FuzzInput(**item) if item else None
                        if fi is not None:
                            fi.files = [tuple(f) for f in fi.files]  # type: ignore[misc]
                    except (EOFError, ConnectionResetError):
                        slot.proc.join(timeout=1)
                        code = slot.proc.exitcode
                        kind = "memory" if code == -signal.SIGKILL else "crash"
                        result = Result(slot.index, kind, f"worker died (exit code {code})",
                                        time.perf_counter() - slot.since)
                        fi = None
                        slot.kill()
                        slot.start()
                elif time.perf_counter() - slot.since > time_limit + grace:
                    result = Result(slot.index, "hang", f"no answer after {time_limit + grace:.0f} s (killed)",
                                    time.perf_counter() - slot.since)
                    fi = None
                    slot.kill()
                    slot.start()
                else:
                    continue
                record(result, fi)
                slot.index = None
                if next_index < stop:
                    slot.submit(next_index)
                    next_index += 1
    finally:
        for slot in slots:
            if slot.proc.is_alive():
                try:
                    slot.conn.send(None)
                except (BrokenPipeError, OSError):
                    pass
                slot.proc.join(timeout=2)
                if slot.proc.is_alive():
                    slot.kill()
    elapsed = time.perf_counter() - t_start
    return {"benchmark": "fuzz_input", "inputs": done, "seed": seed, "first_index": start, "seed_series": len(seeds),
            "workers": len(slots),
            "outcomes": counts, "failures": sum(counts[k] for k in FAILURES), "seconds": round(elapsed, 1),
            "inputs_per_second": round(done / elapsed, 1) if elapsed else None,
            "peak_rss_mib": round(peak_rss, 1), "max_seconds_per_input": round(max_seconds, 3),
            "time_limit_s": time_limit, "max_voxels": limits.max_voxels,
            "examples": {k: v[:5] for k, v in examples.items() if v}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", type=int, default=20000, help="number of inputs (default 20000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--start", type=int, default=0, help="first input index (to replay a saved input: its index)")
    parser.add_argument("--corpus", type=Path, default=None,
                        help="seed corpus folder (built there when missing or empty; default: a temporary one)")
    parser.add_argument("--out", type=Path, default=None, help="where failing inputs are written")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--time-limit", type=float, default=10.0, help="seconds per input before it is a hang")
    parser.add_argument("--memory-mib", type=int, default=1024, help="memory allowance per worker (MiB)")
    parser.add_argument("--max-voxels", type=int, default=2**22, help="InputLimits.max_voxels during the run")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="fuzz-corpus-") as tmp:
        corpus = args.corpus or Path(tmp)
        if not corpus.is_dir() or not any(corpus.iterdir()):
            seeds = build_corpus(corpus)
            print(f"fuzz: corpus of {len(seeds)} seed series in {corpus}", file=sys.stderr)
        summary = run(corpus, inputs=args.inputs, seed=args.seed, start=args.start, out=args.out, workers=args.workers,
                      time_limit=args.time_limit, memory_mib=args.memory_mib,
                      limits=InputLimits(max_voxels=args.max_voxels))
    print(json.dumps(summary))
    return 1 if summary["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
