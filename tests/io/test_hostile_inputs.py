"""Hostile input is refused before it does harm: huge claims, paths out of the tree, names built to escape
the output folder, decompression bombs, NaN/inf and constant images."""

from __future__ import annotations

import builtins
import re
import struct
import time
import tracemalloc
import warnings
import zlib
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
import torch
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset, write_file_meta_info
from pydicom.uid import DeflatedExplicitVRLittleEndian, ExplicitVRLittleEndian, JPEG2000Lossless, MRImageStorage

from spinedetect.batch.studies import find_studies
from spinedetect.errors import InputError
from spinedetect.io import InputLimits, discover_series, load_series, load_volume
from tests.io.synth import write_series

MIB = 2**20


class _Peak:
    """Peak Python-allocated bytes and seconds of the block (tracemalloc sees numpy and bytes buffers)."""

    def __enter__(self) -> "_Peak":
        tracemalloc.start()
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.t0
        self.bytes = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()


# ------------------------------------------------------------------------------ claims of gigabytes


@pytest.mark.parametrize("rows, cols, frames", [(65535, 65535, 1), (64, 64, 2**31 - 1), (60000, 60000, 1)])
def test_dicom_claiming_gigabytes_refused_before_allocation(tmp_path, rows, cols, frames):
    def claim(ds, k):
        ds.Rows, ds.Columns = rows, cols
        ds.NumberOfFrames = frames
        if rows == 60000:  # encapsulated (compressed) data: the size is not known from the element length
            ds.file_meta.TransferSyntaxUID = JPEG2000Lossless
            ds.PixelData = pydicom.encaps.encapsulate([b"\xff\x4f\xff\x51" + b"\0" * 60])

    write_series(tmp_path, rows=8, cols=8, n_slices=1, extra=claim)
    with _Peak() as peak:
        found = discover_series(tmp_path)
        with pytest.raises(InputError, match="over the limit"):
            load_volume(tmp_path)
    assert not found.series
    assert "over the limit of 268435456 (InputLimits.max_voxels)" in found.skipped[0][1]
    assert peak.bytes < 8 * MIB and peak.seconds < 5


def test_dicom_claiming_more_than_it_holds_refused_before_allocation(tmp_path):
    def claim(ds, k):
        ds.Rows, ds.Columns = 8192, 8192  # 128 MiB of 16-bit pixels claimed, 128 bytes held

    write_series(tmp_path, rows=8, cols=8, n_slices=2, extra=claim)
    with _Peak() as peak:
        found = discover_series(tmp_path)
    assert not found.series and all("truncated or corrupt" in r for _, r in found.skipped)
    assert peak.bytes < 8 * MIB


def _nifti_header_only(path: Path, shape: tuple[int, ...], dtype: type, *, gzip_zeros: int = 0) -> None:
    """A NIfTI whose header claims ``shape`` but whose file holds only ``gzip_zeros`` zero bytes of data."""
    hdr = nib.Nifti1Header()
    hdr.set_data_dtype(dtype)
    hdr.set_data_shape(shape)
    hdr.set_qform(np.eye(4), code=1)
    head = hdr.binaryblock + b"\0" * 4  # 348-byte header + extension flag: vox_offset 352
    if path.name.endswith(".gz"):
        comp = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip stream, zeros streamed in 1 MiB chunks
        with open(path, "wb") as fh:
            fh.write(comp.compress(head))
            for _ in range(gzip_zeros // MIB):
                fh.write(comp.compress(bytes(MIB)))
            fh.write(comp.flush())
    else:
        path.write_bytes(head + bytes(gzip_zeros))


@pytest.mark.parametrize("name, shape, dtype, limits, match", [
    ("huge.nii.gz", (2048, 2048, 1024), np.float32, InputLimits(), "4294967296 voxels"),  # 16 GiB claimed
    ("huge.nii", (32767, 32767, 32767), np.uint8, InputLimits(), "35181150961663 voxels"),
    ("wide.nii.gz", (1024, 1024, 256), np.float64, InputLimits(max_decompressed_bytes=2**30),
     "2147483648 bytes of voxel data"),
    ("bomb.nii.gz", (512, 512, 64), np.float32, InputLimits(max_decompressed_bytes=16 * MIB), "67108864 bytes"),
    ("short.nii", (512, 512, 512), np.int16, InputLimits(), "truncated"),
])
def test_nifti_claims_refused_before_decompressing(tmp_path, name, shape, dtype, limits, match):
    path = tmp_path / name
    _nifti_header_only(path, shape, dtype, gzip_zeros=64 * MIB if name == "bomb.nii.gz" else 0)
    assert path.stat().st_size < 200_000  # a tiny file (the bomb: 64 MiB of zeros compressed)
    with _Peak() as peak, pytest.raises(InputError, match=match):
        load_volume(path, limits=limits)
    assert peak.bytes < 8 * MIB and peak.seconds < 5


def test_metaimage_claiming_gigabytes_refused(tmp_path):
    path = tmp_path / "huge.mha"
    path.write_bytes(b"ObjectType = Image\nNDims = 3\nDimSize = 100000 100000 100000\nElementType = MET_FLOAT\n"
                     b"ElementDataFile = LOCAL\n" + bytes(64))
    with _Peak() as peak, pytest.raises(InputError, match="voxels"):
        load_volume(path)
    assert peak.bytes < 8 * MIB


def _deflated_bomb(path: Path, inflated_mib: int) -> None:
    """A deflated-transfer-syntax DICOM whose body inflates to ``inflated_mib`` MiB (zeros in a private OB)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MRImageStorage
    meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
    meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    head = DicomBytesIO()
    head.write(b"\0" * 128 + b"DICM")
    write_file_meta_info(head, meta, enforce_standard=True)
    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID = MRImageStorage, meta.MediaStorageSOPInstanceUID
    body = DicomBytesIO()
    body.is_little_endian, body.is_implicit_VR = True, False
    write_dataset(body, ds)
    comp = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    with open(path, "wb") as fh:
        fh.write(head.getvalue())
        fh.write(comp.compress(body.getvalue() + struct.pack("<HH2sHI", 0x0011, 0x1000, b"OB", 0, inflated_mib * MIB)))
        for _ in range(inflated_mib):
            fh.write(comp.compress(bytes(MIB)))
        fh.write(comp.flush())


def test_deflated_dicom_bomb_refused_without_inflating_it(tmp_path):
    _deflated_bomb(tmp_path / "bomb.dcm", 64)
    assert (tmp_path / "bomb.dcm").stat().st_size < 200_000
    with _Peak() as peak:
        found = discover_series(tmp_path, limits=InputLimits(max_decompressed_bytes=16 * MIB))
    [(_, reason)] = found.skipped
    assert "decompression bomb" in reason and "InputLimits.max_decompressed_bytes" in reason
    assert peak.bytes < 8 * MIB


def test_deflated_series_within_the_limit_still_loads(tmp_path):
    def deflate(ds, k):
        ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian

    write_series(tmp_path, extra=deflate)
    assert load_volume(tmp_path, limits=InputLimits(max_decompressed_bytes=64 * 1024)).shape == (16, 16, 8)


# ------------------------------------------------------------------------------- paths out of the tree


def test_symlinked_file_and_folder_out_of_tree_not_followed(tmp_path):
    outside = tmp_path / "outside"
    write_series(outside, n_slices=3)
    inside = tmp_path / "inside"
    write_series(inside, n_slices=4)
    (inside / "file_link.dcm").symlink_to(outside / "IM0000.dcm")
    (inside / "folder_link").symlink_to(outside, target_is_directory=True)
    (inside / "nested").mkdir()
    (inside / "nested" / "up").symlink_to(tmp_path, target_is_directory=True)  # a loop back above the root
    (inside / "loop").symlink_to(inside / "loop")  # a dangling self-loop
    found = discover_series(inside)
    assert [s.n_files for s in found.series] == [4]
    assert all(outside not in f.parents for s in found.series for f in s.files)
    reasons = {p.name: r for p, r in found.skipped}
    assert "out of the input folder" in reasons["file_link.dcm"]
    assert "not followed" in reasons["folder_link"] and "not followed" in reasons["up"]
    assert "cannot be resolved" in reasons["loop"]


def test_dicomdir_referenced_file_out_of_tree_never_read(tmp_path, monkeypatch):
    outside = tmp_path / "outside"
    write_series(outside, n_slices=2)
    inside = tmp_path / "inside"
    inside.mkdir()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.1.3.10"
    meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dicomdir = Dataset()
    dicomdir.file_meta = meta
    record = Dataset()
    record.DirectoryRecordType = "IMAGE"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # '..' and '.' are not valid CS characters: that is the point
        record.ReferencedFileID = ["..", "outside", "IM0000.dcm"]
    dicomdir.DirectoryRecordSequence = [record]
    dicomdir.save_as(inside / "DICOMDIR", enforce_file_format=True)
    dicomdir.save_as(inside / "renamed_dicomdir", enforce_file_format=True)  # recognised by content too
    opened: list[Path] = []
    real_open = builtins.open

    def spy(file, *args, **kwargs):
        if isinstance(file, (str, Path)):
            opened.append(Path(file).resolve())
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", spy)
    found = discover_series(inside)
    monkeypatch.undo()
    assert not found.series
    assert all("DICOMDIR" in r for _, r in found.skipped) and len(found.skipped) == 2
    assert not [p for p in opened if outside.resolve() in p.parents]


@pytest.mark.parametrize("suffix, header", [
    (".mhd", "ObjectType = Image\nNDims = 3\nDimSize = 4 4 4\nElementType = MET_UCHAR\nElementDataFile = {target}\n"),
    (".nhdr", "NRRD0004\ntype: uint8\ndimension: 3\nsizes: 4 4 4\nencoding: raw\ndata file: {target}\n\n"),
])
@pytest.mark.parametrize("target", ["../outside/data.raw", "ABSOLUTE"])
def test_header_data_file_out_of_tree_refused(tmp_path, suffix, header, target):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "data.raw").write_bytes(bytes(range(64)))
    inside = tmp_path / "inside"
    inside.mkdir()
    name = str(outside / "data.raw") if target == "ABSOLUTE" else target
    path = inside / f"img{suffix}"
    path.write_text(header.format(target=name))
    with pytest.raises(InputError, match="outside its folder"):
        load_volume(path)


def test_header_data_file_beside_the_header_loads(tmp_path):
    (tmp_path / "data.raw").write_bytes(bytes(range(64)))
    path = tmp_path / "img.mhd"
    path.write_text("ObjectType = Image\nNDims = 3\nDimSize = 4 4 4\nElementType = MET_UCHAR\n"
                    "ElementDataFile = data.raw\n")
    assert load_volume(path).array.max() == 63


# ------------------------------------------------------------------------ names built to escape OUTPUT


HOSTILE_UIDS = ["../../evil", "1.2/3.4", "1.2\x00.3", "/etc/passwd", "..\\..\\evil", "x" * 300]


def test_hostile_uids_and_file_names_give_safe_study_keys(tmp_path):
    root = tmp_path / "input"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns about the invalid UIDs we write on purpose
        for n, uid in enumerate(HOSTILE_UIDS):
            write_series(root / f"s{n}", n_slices=3, study_uid=uid, series_uid=uid + ".9",
                         name=lambda k: f"..%2f..%2fevil{k}.dcm")
    nib.save(nib.Nifti1Image(np.arange(27, dtype=np.float32).reshape(3, 3, 3), np.eye(4)),
             root / "..%2f..%2fevil.nii.gz")
    inputs, skipped = find_studies(root)
    assert not skipped
    assert len(inputs) == len(HOSTILE_UIDS) + 1
    studies = sorted(i.study.study_instance_uid for i in inputs if i.study is not None)
    assert studies == sorted(uid.rstrip("\0") for uid in HOSTILE_UIDS)  # the UIDs really reached discovery
    output = tmp_path / "output"
    for inp in inputs:
        assert re.fullmatch(r"(study|file)-[0-9a-f]{12}", inp.key), inp.key
        assert (output / inp.key).resolve().parent == output.resolve()
    vol = load_series(next(i.series for i in inputs if i.study and i.study.study_instance_uid == "../../evil"))
    assert vol.source.study_instance_uid == "../../evil" and vol.shape == (16, 16, 3)


# ------------------------------------------------------------------------------ NaN / inf / constant


def _nifti(path: Path, array: np.ndarray) -> Path:
    nib.save(nib.Nifti1Image(array, np.diag([2.0, 2.0, 2.0, 1.0])), path)
    return path


def test_nan_and_inf_voxels_replaced_and_noted(tmp_path):
    arr = np.linspace(10, 100, 24**3, dtype=np.float32).reshape(24, 24, 24)
    arr[:3] = np.nan
    arr[5, 5, 5] = np.inf
    arr[6, 6, 6] = -np.inf
    vol = load_volume(_nifti(tmp_path / "nan.nii.gz", arr))
    assert np.isfinite(vol.array).all() and vol.array.dtype == np.float32
    assert vol.array[0, 0, 0] == vol.array[5, 5, 5] == vol.array[np.isfinite(arr)].min()
    assert any(f"{3 * 24 * 24 + 2} non-finite voxels" in n for n in vol.notes)


def test_mha_inf_replaced(tmp_path):
    import SimpleITK as sitk

    arr = np.arange(64, dtype=np.float32).reshape(4, 4, 4)
    arr[0, 0, 0] = np.inf
    sitk.WriteImage(sitk.GetImageFromArray(arr), str(tmp_path / "x.mha"))
    vol = load_volume(tmp_path / "x.mha")
    assert np.isfinite(vol.array).all() and vol.array.min() == 1.0


@pytest.mark.parametrize("fill", [np.nan, 0.0, 7.5])
def test_all_nan_or_constant_nifti_refused(tmp_path, fill):
    path = _nifti(tmp_path / "c.nii.gz", np.full((8, 8, 8), fill, np.float32))
    with pytest.raises(InputError, match="no finite voxel" if np.isnan(fill) else "constant image"):
        load_volume(path)


def test_constant_dicom_series_refused(tmp_path):
    def blank(ds, k):
        ds.PixelData = bytes(ds.Rows * ds.Columns * 2)

    write_series(tmp_path, extra=blank)
    with pytest.raises(InputError, match="constant image \\(every voxel = 0\\)"):
        load_volume(tmp_path)


def test_predictor_never_sees_nan(tmp_path):
    from torch import nn

    from spinedetect.labels import NUM_CLASSES
    from spinedetect.model import Predictor
    from spinedetect.model.network import NetworkConfig
    from spinedetect.preprocess import PreprocessConfig
    from spinedetect.training.config import AugmentConfig, TrainConfig

    torch.set_num_threads(1)
    seen: list[bool] = []

    class Recorder(nn.Module):
        def forward(self, x):
            seen.append(bool(torch.isfinite(x).all()))
            return torch.zeros((x.shape[0], NUM_CLASSES, *x.shape[2:]))

    arr = np.linspace(0, 100, 20**3, dtype=np.float32).reshape(20, 20, 20)
    arr[:4] = np.nan
    vol = load_volume(_nifti(tmp_path / "nan.nii.gz", arr))
    cfg = TrainConfig(network=NetworkConfig(channels=(4, 8), strides=(2,), num_res_units=0),
                      augment=AugmentConfig(patch_size=(16, 16, 16)),
                      preprocess=PreprocessConfig(spacing_mm=(2.0, 2.0, 2.0)))
    labels = Predictor(Recorder(), cfg, torch.device("cpu"), tta=False).predict(vol)
    assert seen and all(seen) and labels.shape == vol.shape
