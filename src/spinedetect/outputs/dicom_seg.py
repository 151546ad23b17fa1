"""DICOM Segmentation (highdicom) of a schema label map, referencing the source image series.

The label map may be on any grid (the model's native output grid is the source grid, but nothing here
assumes it): every source frame's pixel centres are placed in world space from its own
ImagePositionPatient / ImageOrientationPatient / PixelSpacing (LPS) and the label is sampled there
(nearest neighbour) through the label map's RAS affine. This is what keeps a mask from being flipped
in a viewer, whatever axis order the reader chose.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Sequence

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes

from spinedetect import __version__
from spinedetect.atomic import atomic_write_bytes
from spinedetect.errors import InputError
from spinedetect.io.grid import plane_voxel_coords
from spinedetect.io.volume import Volume
from spinedetect.labels import LABEL_COLOURS, LABEL_NAMES
from spinedetect.outputs.dicom_codes import SEGMENT_CODES

__all__ = ["frame_geometry_ras", "labels_on_source_frames", "build_segmentation", "dicom_bytes",
           "write_dicom"]

log = logging.getLogger(__name__)

def frame_geometry_ras(ds: Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, int]]:
    """Plane geometry of a single-frame image in world RAS mm.

    Returns (first pixel centre, step per row, step per column, (rows, cols)): the centre of pixel
    (r, c) is ``origin + r * row_step + c * col_step``.
    """
    try:
        ipp = np.asarray(ds.ImagePositionPatient, dtype=np.float64)
        iop = np.asarray(ds.ImageOrientationPatient, dtype=np.float64)
        row_spacing, col_spacing = (float(v) for v in ds.PixelSpacing)
        rows, cols = int(ds.Rows), int(ds.Columns)
    except AttributeError as exc:
        raise InputError("Source image lacks plane geometry", expected="ImagePositionPatient, "
                         "ImageOrientationPatient, PixelSpacing, Rows, Columns",
                         found=f"missing {exc.args[0] if exc.args else 'attribute'}") from None
    lps_to_ras = np.array([-1.0, -1.0, 1.0])
    # IOP's first triplet is the direction of increasing column index, the second of increasing row index
    return (ipp * lps_to_ras, iop[3:] * row_spacing * lps_to_ras, iop[:3] * col_spacing * lps_to_ras,
            (rows, cols))


def labels_on_source_frames(labels: Volume, source_images: Sequence[Dataset]) -> np.ndarray:
    """Sample a label map at every source frame's pixel centres: uint8 array (frames, rows, cols)."""
    frames = []
    for ds in source_images:
        origin, row_step, col_step, shape = frame_geometry_ras(ds)
        frame = _frame_by_slicing(labels, origin, row_step, col_step, shape)
        frames.append(frame if frame is not None else _frame_by_lookup(labels, origin, row_step, col_step, shape))
    return np.stack(frames)


def _frame_by_lookup(labels: Volume, origin: np.ndarray, row_step: np.ndarray, col_step: np.ndarray,
                     shape: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour label at each pixel centre of a plane (any orientation); 0 outside the label map."""
    index = np.rint(plane_voxel_coords(labels.affine, origin, row_step, col_step, shape)).astype(np.int64)
    inside = np.all((index >= 0) & (index < np.array(labels.shape)[:, None, None]), axis=0)
    frame = np.zeros(shape, dtype=np.uint8)
    frame[inside] = labels.array[index[0][inside], index[1][inside], index[2][inside]]
    return frame


def _frame_by_slicing(labels: Volume, origin: np.ndarray, row_step: np.ndarray, col_step: np.ndarray,
                      shape: tuple[int, int]) -> np.ndarray | None:
    """:func:`_frame_by_lookup` by slicing, where the plane's pixel centres are voxel centres of the label map
    with rows and columns along two of its axes (a source frame of the grid the labels are on, the usual
    case); None otherwise. Same result: every pixel's voxel index is within 0.01 of the integer used."""
    inv = np.linalg.inv(labels.affine)
    start = inv[:3, :3] @ origin + inv[:3, 3]
    per_row, per_col = inv[:3, :3] @ row_step, inv[:3, :3] @ col_step
    rows, cols = shape
    whole = [np.rint(v) for v in (start, per_row, per_col)]
    drift = (np.abs(start - whole[0]) + (rows - 1) * np.abs(per_row - whole[1])
             + (cols - 1) * np.abs(per_col - whole[2]))
    if np.any(drift > 0.01) or sorted(np.abs(whole[1])) != [0, 0, 1] or sorted(np.abs(whole[2])) != [0, 0, 1]:
        return None
    row_axis, col_axis = int(np.argmax(np.abs(whole[1]))), int(np.argmax(np.abs(whole[2])))
    if row_axis == col_axis:
        return None
    plane_axis = 3 - row_axis - col_axis
    frame = np.zeros(shape, dtype=np.uint8)
    k = int(whole[0][plane_axis])
    if not 0 <= k < labels.shape[plane_axis]:
        return frame
    index: list[object] = [k, k, k]
    spans = []
    for axis, step, count in ((row_axis, int(whole[1][row_axis]), rows), (col_axis, int(whole[2][col_axis]), cols)):
        first, size = int(whole[0][axis]), labels.shape[axis]
        lo, hi = (max(0, -first), min(count, size - first)) if step > 0 else (max(0, first - size + 1),
                                                                              min(count, first + 1))
        if lo >= hi:
            return frame
        stop = first + step * hi
        index[axis] = slice(first + step * lo, stop if stop >= 0 else None, step)
        spans.append(slice(lo, hi))
    block = np.asarray(labels.array)[tuple(index)]
    frame[spans[0], spans[1]] = block if row_axis < col_axis else block.T
    return frame


def build_segmentation(labels: Volume, source_images: Sequence[Dataset], *, series_number: int = 901,
                       model_name: str = "spinedetect default model",
                       uid_seed: str | None = None) -> hd.seg.Segmentation:
    """A BINARY DICOM Segmentation of ``labels`` (schema values) referencing ``source_images``.

    Segment numbers equal schema label values (1..7), so a reader maps segments back to classes
    without a table. ``uid_seed`` makes the SEG's UIDs reproducible (e.g. the source series UID).
    """
    if not source_images:
        raise InputError("No source images to reference", expected="the DICOM images the labels were "
                         "derived from", found="an empty list")
    pixel = labels_on_source_frames(labels, source_images)
    algorithm = hd.AlgorithmIdentificationSequence(name=model_name, version=__version__,
                                                    family=codes.DCM.ArtificialIntelligence)
    descriptions = []
    for label, (category, prop) in SEGMENT_CODES.items():
        rgb = np.array(LABEL_COLOURS[label], dtype=np.float64) / 255.0
        descriptions.append(hd.seg.SegmentDescription(
            segment_number=int(label), segment_label=LABEL_NAMES[label],
            segmented_property_category=category, segmented_property_type=prop,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
            algorithm_identification=algorithm,
            display_color=hd.color.CIELabColor.from_rgb(*rgb)))
    entropy = [uid_seed] if uid_seed else None
    seg = hd.seg.Segmentation(
        source_images=list(source_images), pixel_array=pixel,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY, segment_descriptions=descriptions,
        series_instance_uid=hd.UID() if entropy is None else _uid(entropy + ["series"]),
        series_number=series_number,
        sop_instance_uid=hd.UID() if entropy is None else _uid(entropy + ["sop"]),
        instance_number=1, manufacturer="spinedetect", manufacturer_model_name=model_name,
        software_versions=__version__, device_serial_number="0",
        series_description="spinedetect segmentation",
    )
    return seg


def _uid(parts: list[str]) -> str:
    from pydicom.uid import generate_uid

    return generate_uid(entropy_srcs=parts)


def dicom_bytes(ds: Dataset) -> bytes:
    """``ds`` (a SEG, an SR, any dataset) encoded as a DICOM file: preamble, file meta, data set."""
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def write_dicom(seg: Dataset, path: str | Path) -> Path:
    """Write a SEG (or any dataset) atomically: temp file in the same folder, then rename."""
    atomic_write_bytes(path, dicom_bytes(seg))
    log.info("wrote DICOM %s", path)
    return Path(path)
