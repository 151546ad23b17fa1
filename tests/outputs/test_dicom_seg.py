import highdicom as hd
import numpy as np
import pytest

from spinedetect.io.volume import Volume
from spinedetect.labels import Label
from spinedetect.outputs.dicom_seg import build_segmentation, write_dicom
from tests.outputs.dicom_fixtures import LPS_TO_RAS, make_series, random_labels


def _seg_world_labels(seg: hd.seg.Segmentation) -> tuple[np.ndarray, np.ndarray]:
    """SEG read back as a label volume and its RAS affine (highdicom volumes are LPS)."""
    vol = seg.get_volume(combine_segments=True, relabel=False)
    affine = vol.affine.copy()
    affine[:3] = LPS_TO_RAS @ affine[:3]
    return np.asarray(vol.array), affine


@pytest.mark.parametrize("orientation, tilt", [("sagittal", 0.0), ("axial", 0.0), ("coronal", 0.0),
                                               ("sagittal", 17.0), ("axial", 23.0)])
def test_seg_overlaps_labels_exactly_in_world(tmp_path, orientation, tilt):
    datasets, affine = make_series(orientation, tilt_deg=tilt)
    # the label map uses another axis order than the frames (as a RAS-reoriented reader would)
    shape = (datasets[0].Columns, datasets[0].Rows, len(datasets))
    labels = random_labels(affine, shape, seed=3)
    perm = Volume(np.transpose(labels.array, (2, 0, 1)).copy(), affine[:, [2, 0, 1, 3]], modality="MR")
    seg = build_segmentation(perm, datasets, uid_seed="x")
    path = write_dicom(seg, tmp_path / "seg.dcm")
    back = hd.seg.segread(path)
    arr, seg_affine = _seg_world_labels(back)
    # every SEG voxel placed in world space lands on a label voxel with the same value
    idx = np.indices(arr.shape).reshape(3, -1).T
    world = idx @ seg_affine[:3, :3].T + seg_affine[:3, 3]
    inv = np.linalg.inv(labels.affine)
    ijk = np.rint(world @ inv[:3, :3].T + inv[:3, 3]).astype(int)
    assert np.allclose(world @ inv[:3, :3].T + inv[:3, 3], ijk, atol=1e-4)
    assert np.array_equal(arr.reshape(-1), labels.array[ijk[:, 0], ijk[:, 1], ijk[:, 2]])
    assert arr.astype(bool).sum() == labels.array.astype(bool).sum()


def test_segments_are_schema_values_with_names(tmp_path):
    datasets, affine = make_series("sagittal")
    labels = random_labels(affine, (datasets[0].Columns, datasets[0].Rows, len(datasets)))
    seg = build_segmentation(labels, datasets, uid_seed="y")
    numbers = {int(s.SegmentNumber): s.SegmentLabel for s in seg.SegmentSequence}
    assert numbers[int(Label.CORD)] == "spinal cord" and numbers[int(Label.EPIDURAL_TUMOUR)] == "epidural tumour"
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == datasets[0].SeriesInstanceUID
    assert seg.FrameOfReferenceUID == datasets[0].FrameOfReferenceUID
    again = build_segmentation(labels, datasets, uid_seed="y")
    assert again.SOPInstanceUID == seg.SOPInstanceUID


def test_no_source_images_is_a_clear_error():
    from spinedetect.errors import InputError

    with pytest.raises(InputError, match="No source images"):
        build_segmentation(Volume(np.zeros((2, 2, 2), np.uint8), np.eye(4)), [])


def test_frames_on_the_label_grid_are_sliced_with_the_same_result_as_looked_up():
    from spinedetect.outputs.dicom_seg import _frame_by_lookup, _frame_by_slicing

    rng = np.random.default_rng(5)
    # a label map on a permuted, flipped, anisotropic grid
    affine = np.eye(4)
    affine[:3, :3] = np.array([[0.0, 0.0, -4.0], [0.7, 0.0, 0.0], [0.0, -0.7, 0.0]])
    affine[:3, 3] = [12.0, -30.0, 55.0]
    labels = Volume(rng.integers(0, 8, (9, 11, 6)).astype(np.uint8), affine, modality="MR")
    axes = affine[:3, :3].T  # world step of one voxel along each voxel axis
    cases = [((0, 0, 0), (1, 1), (2, 1), (11, 6)), ((-3, 4, 2), (2, -1), (0, 1), (8, 14)),
             ((8, 10, 5), (0, -1), (1, -1), (12, 13)), ((2, 3, 7), (0, 1), (1, 1), (4, 4)),
             ((20, -5, 1), (1, 1), (0, -1), (5, 5))]
    for start, (row_axis, row_sign), (col_axis, col_sign), shape in cases:
        origin = affine[:3, :3] @ np.array(start, dtype=float) + affine[:3, 3] + 1e-7
        row_step, col_step = row_sign * axes[row_axis], col_sign * axes[col_axis]
        sliced = _frame_by_slicing(labels, origin, row_step, col_step, shape)
        assert sliced is not None
        assert np.array_equal(sliced, _frame_by_lookup(labels, origin, row_step, col_step, shape))
    # a tilted plane, or one between voxel centres, is looked up
    tilt = axes[1] + 0.05 * axes[0]
    assert _frame_by_slicing(labels, affine[:3, 3], tilt, axes[2], (5, 5)) is None
    assert _frame_by_slicing(labels, affine[:3, 3] + 0.5 * axes[2], axes[0], axes[1], (5, 5)) is None
