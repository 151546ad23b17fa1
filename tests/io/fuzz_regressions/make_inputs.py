"""Write the minimised fuzz regression inputs (tiny DICOM) into tests/io/fuzz_regressions/."""
import shutil
import struct
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from tests.io.synth import write_series

out = Path(__file__).resolve().parent
study, series = "1.2.826.0.1.3680043.8.498.1", "1.2.826.0.1.3680043.8.498.2"

def fresh(name):
    d = out / name
    shutil.rmtree(d, ignore_errors=True)
    return d

def small(ds, k):  # drop what the case does not need
    for kw in ("PatientName", "PatientID", "SeriesDescription", "ImageType", "AcquisitionNumber"):
        if kw in ds:
            del ds[kw]
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = f"1.2.826.0.1.3680043.8.498.10{k}"
    ds.FrameOfReferenceUID = "1.2.826.0.1.3680043.8.498.3"

# 1. an element whose 4-byte length claims ~4 GiB (fuzz: 'length at ... -> 0xffff...'): pydicom's fp.read(length)
d = fresh("huge_element_length")
[p] = write_series(d, rows=4, cols=4, n_slices=1, study_uid=study, series_uid=series, extra=small, name=lambda k: "IM0.dcm")
data = bytearray(p.read_bytes())
at = data.find(b"\x28\x00\x30\x00", 132)          # PixelSpacing (DS): becomes an OB element claiming 0xFFFFFFF0 bytes
data[at + 4:at + 8] = b"OB\0\0"
data[at + 8:at + 8] = struct.pack("<I", 0xFFFFFFF0)
p.write_bytes(bytes(data))

# 2. RescaleSlope 1e308 on every slice (fuzz: 'RescaleSlope=[1e308]'): voxels overflowed to inf
d = fresh("rescale_overflow")
write_series(d, rows=4, cols=4, n_slices=2, study_uid=study, series_uid=series, slope=1e308, intercept=0.0,
             extra=small)

# 3. ImagePositionPatient 1e308 on an oblique series (fuzz: SpacingBetweenSlices=-1e308 on a mosaic):
#    the projection on the slice normal overflowed to inf -> OverflowError in sorting
d = fresh("position_overflow")
r = 0.5 ** 0.5
write_series(d, rows=4, cols=4, n_slices=2, study_uid=study, series_uid=series, iop=(r, r, 0, 0, 0, 1),
             origin=(1.5e308, -1.5e308, 0.0), slice_step=1.0, extra=small)
for p in sorted(out.rglob("*.dcm")):
    print(p.relative_to(out), p.stat().st_size)


# 4. a Siemens mosaic whose CSA header has a non-empty item past the value count (fuzz: random bytes in
#    real mosaics): nibabel's CSA reader fails an `assert`, which escaped as AssertionError
def csa_mosaic(ds, k):
    small(ds, k)
    ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "MOSAIC"]
    name = b"NumberOfImagesInMosaic".ljust(64, b"\0")
    blob = (b"SV10" + b"\4\3\2\1" + struct.pack("<2I", 1, 77) + name + struct.pack("<i4s3i", 1, b"IS\0\0", 6, 2, 77)
            + struct.pack("<4i", 2, 2, 77, 2) + b"4\0\0\0" + struct.pack("<4i", 5, 5, 77, 5) + b"\0" * 8)
    ds.add_new(0x00290010, "LO", "SIEMENS CSA HEADER")
    ds.add_new(0x00291010, "OB", blob)


d = fresh("csa_assertion")
write_series(d, rows=4, cols=4, n_slices=1, study_uid=study, series_uid=series, extra=csa_mosaic,
             name=lambda k: "IM0.dcm")
print("csa_assertion/IM0.dcm", (d / "IM0.dcm").stat().st_size)


# 5-10. NIfTI header fields and streams the fuzzer broke (tiny 4x4x4 ramps, one field patched each)
def nifti(name, patch=None, *, gz=False, after=None):
    import gzip

    import nibabel as nib
    import numpy as np

    img = nib.Nifti1Image(np.arange(64, dtype=np.uint8).reshape(4, 4, 4), np.eye(4))
    img.set_sform(np.eye(4), code=1)
    data = bytearray(img.to_bytes())
    if patch is not None:
        patch(data)
    blob = gzip.compress(bytes(data), mtime=0) if gz else bytes(data)
    if after is not None:
        blob = after(blob)
    (out / "nifti").mkdir(exist_ok=True)
    (out / "nifti" / name).write_bytes(blob)
    print("nifti/" + name, len(blob))


nifti("datatype_32767.nii", lambda d: struct.pack_into("<h", d, 70, 32767))        # HeaderDataError escaped
nifti("vox_offset_inf.nii", lambda d: struct.pack_into("<f", d, 108, float("-inf")))  # OverflowError escaped
nifti("srow_nan.nii", lambda d: struct.pack_into("<f", d, 280, float("nan")))      # affine with NaN accepted
nifti("rgba.nii", lambda d: (struct.pack_into("<h", d, 70, 2304), struct.pack_into("<h", d, 72, 32),
                             struct.pack_into("<8h", d, 40, 3, 2, 2, 4, 1, 1, 1, 1)))  # RGBA voxels accepted
nifti("scl_inter_nan.nii", lambda d: (struct.pack_into("<f", d, 112, 2.0),
                                      struct.pack_into("<f", d, 116, float("nan"))))  # HeaderDataError at read


def corrupt_stream(blob):  # damage the deflate stream after the header (the voxel data)
    b = bytearray(blob)
    for i in range(len(b) - 40, len(b) - 12):
        b[i] ^= 0x5A
    return bytes(b)


nifti("corrupt_stream.nii.gz", gz=True, after=corrupt_stream)  # zlib.error escaped

# 11. MetaImage with NDims = -1: SimpleITK spins forever or segfaults (the fuzz worker died with SIGSEGV)
(out / "metaimage").mkdir(exist_ok=True)
(out / "metaimage" / "ndims_negative.mha").write_bytes(
    b"ObjectType = Image\nNDims = -1\nDimSize = 4 4 4\nElementType = MET_UCHAR\nElementDataFile = LOCAL\n" + bytes(64))
print("metaimage/ndims_negative.mha", (out / "metaimage" / "ndims_negative.mha").stat().st_size)

# 12. PixelSpacing 1e-320 (denormal, positive) on every slice (fuzz: PixelSpacing=['1e-320', '4.375']): the
#     volume loaded with a singular affine (voxel volume underflowed to 0)
d = fresh("denormal_spacing")
write_series(d, rows=4, cols=4, n_slices=2, study_uid=study, series_uid=series, pixel_spacing=(1e-320, 0.8),
             extra=small)
print("denormal_spacing", sorted(p.stat().st_size for p in d.iterdir()))
