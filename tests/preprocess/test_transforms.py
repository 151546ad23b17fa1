import numpy as np
import torch
import pytest

from spinedetect.io.volume import Volume
from spinedetect.preprocess import PreprocessConfig, normalise_intensity, resample_to_grid, to_model_grid


def _oblique_volume():
    # LPS-like, permuted axes with anisotropic voxels: nothing like the model's RAS grid
    shape = (30, 24, 12)
    affine = np.array([[0.0, -1.2, 0.0, 40.0], [0.0, 0.0, -3.0, 30.0], [1.1, 0.0, 0.0, -20.0], [0, 0, 0, 1]])
    array = np.zeros(shape, np.float32)
    array[8:22, 6:18, 3:9] = 100.0
    return Volume(array, affine, modality="MR")


def test_intensity_per_modality():
    cfg = PreprocessConfig()
    ct = normalise_intensity(np.array([-2000.0, -1000.0, 250.0, 1500.0, 3000.0]), "CT", cfg)
    assert np.allclose(ct, [0.0, 0.0, 0.5, 1.0, 1.0])
    mr = normalise_intensity(np.linspace(0, 1000, 1001), "MR", cfg)
    assert mr.min() == 0.0 and mr.max() == 1.0 and abs(float(np.median(mr)) - 0.5) < 1e-3
    assert not normalise_intensity(np.full(5, 7.0), None, cfg).any()


def test_model_grid_is_ras_at_model_spacing_and_keeps_world_positions():
    vol = _oblique_volume()
    image, labels, affine = to_model_grid(vol, (vol.array > 50).astype(np.uint8), PreprocessConfig((2.0, 2.0, 2.0)))
    assert np.allclose(np.diag(affine)[:3], 2.0) and np.allclose(affine[:3, :3], np.diag([2.0] * 3))
    # the box's world centre is the same on both grids
    def centre(mask, aff):
        ijk = np.argwhere(mask).mean(axis=0)
        return (aff @ np.append(ijk, 1.0))[:3]
    assert np.allclose(centre(vol.array > 50, vol.affine), centre(labels[0].numpy() > 0, affine), atol=1.5)


def test_resample_to_grid_round_trip_for_labels():
    vol = _oblique_volume()
    labels = (vol.array > 50).astype(np.uint8)
    _, on_grid, affine = to_model_grid(vol, labels, PreprocessConfig(spacing_mm=(0.5, 0.5, 0.5)))
    back = resample_to_grid(on_grid.numpy(), affine, vol.shape, vol.affine, order=0)[0]
    assert (back == labels).mean() > 0.99


def test_bad_config_values():
    with pytest.raises(ValueError):
        PreprocessConfig(spacing_mm=(0.0, 1.0, 1.0))
    with pytest.raises(ValueError):
        PreprocessConfig(ct_window=(100.0, -100.0))


@pytest.mark.parametrize("dst_shape", [(23, 19, 7), (40, 35, 1)])
def test_trilinear_resampling_equals_scipy_constant_mode(dst_shape, monkeypatch):
    from scipy import ndimage

    import spinedetect.preprocess.transforms as transforms

    rng = np.random.default_rng(3)
    data = rng.random((3, 17, 13, 9 if dst_shape[2] > 1 else 1), dtype=np.float32)
    rot = np.array([[np.cos(0.3), -np.sin(0.3), 0.0], [np.sin(0.3), np.cos(0.3), 0.0], [0.0, 0.0, 1.0]])
    src_affine = np.eye(4)
    src_affine[:3, :3] = rot @ np.diag([1.7, 1.9, 2.5])
    src_affine[:3, 3] = [-4.0, 3.0, -1.0]
    # oblique, partly outside the source (the outside must be exactly 0, as scipy's mode="constant")
    dst_affine = np.array([[0.0, 1.1, 0.0, -6.0], [-0.9, 0.0, 0.0, 20.0], [0.0, 0.0, 2.5, -1.0], [0, 0, 0, 1]])
    monkeypatch.setattr(transforms, "_SLAB_VOXELS", 300)  # several slabs even on this tiny grid
    got = resample_to_grid(data, src_affine, dst_shape, dst_affine, order=1)
    to_src = np.linalg.inv(src_affine) @ dst_affine
    want = np.stack([ndimage.affine_transform(d, to_src[:3, :3], offset=to_src[:3, 3], output_shape=dst_shape,
                                              order=1, mode="constant") for d in data])
    assert got.shape == want.shape and got.dtype == np.float32
    assert np.abs(got - want).max() < 1e-5
    assert ((got == 0) == (want == 0)).mean() > 0.999 and (want == 0).any() and (want > 0).any()


_SAGITTAL = [[0.0, 0.0, 2.0, -9.3], [0.0, 0.7, 0.0, 1.1], [-0.6, 0.0, 0.0, 17.5]]  # i -> -S, j -> A, k -> R
_ON_CENTRES = [[0.0, 0.0, 2.0, -8.0], [0.0, 0.7, 0.0, 1.1], [-0.6, 0.0, 0.0, 17.5]]  # k on the source's R centres
_FLAT_SOURCE = [[0.0, -0.7, 0.0, 12.0], [0.5, 0.0, 0.0, -2.0], [0.0, 0.0, 2.0, 0.0]]  # k on the one S plane


@pytest.mark.parametrize("src_shape,dst_shape,dst_rows", [((17, 13, 9), (30, 23, 12), _SAGITTAL),
                                                          ((17, 13, 9), (30, 23, 12), _ON_CENTRES),
                                                          ((17, 13, 1), (30, 23, 1), _FLAT_SOURCE)])
def test_trilinear_along_scanner_axes_equals_scipy_without_grid_sample(src_shape, dst_shape, dst_rows, monkeypatch):
    """Grids on the same axes (permuted, flipped, scaled, partly outside the source, a one-voxel source axis):
    the per-axis path, never grid_sample, and scipy's constant-mode trilinear result to float32 rounding."""
    from scipy import ndimage

    from spinedetect.preprocess.transforms import _axis_map

    def no_grid_sample(*args, **kwargs):
        raise AssertionError("an axis-aligned resampling went through grid_sample")

    monkeypatch.setattr(torch.nn.functional, "grid_sample", no_grid_sample)
    data = np.random.default_rng(5).random((4, *src_shape), dtype=np.float32)
    src_affine = np.diag([2.0, 2.0, 2.0, 1.0])
    src_affine[:3, 3] = [-10.0, 4.0, 0.0]
    dst_affine = np.vstack([np.array(dst_rows), [0.0, 0.0, 0.0, 1.0]])
    to_src = np.linalg.inv(src_affine) @ dst_affine
    assert _axis_map(to_src, dst_shape) is not None
    got = resample_to_grid(data, src_affine, dst_shape, dst_affine, order=1)
    want = np.stack([ndimage.affine_transform(d, to_src[:3, :3], offset=to_src[:3, 3], output_shape=dst_shape,
                                              order=1, mode="constant") for d in data])
    assert got.shape == want.shape and got.dtype == np.float32 and got.flags.c_contiguous
    assert np.abs(got - want).max() < 1e-5
    assert ((got == 0) == (want == 0)).mean() > 0.999 and (want == 0).any() and (want > 0).any()


def test_axis_map_accepts_rounding_and_refuses_oblique_grids():
    from spinedetect.preprocess.transforms import _axis_map

    perm = np.array([[0.0, 0.0, 2.0, 1.0], [0.0, 0.5, 0.0, 0.0], [-0.3, 0.0, 0.0, 5.0], [0, 0, 0, 1]])
    assert _axis_map(perm, (320, 320, 20)) == (2, 1, 0)
    rounded = perm.copy()
    rounded[0, 0] = 1e-12  # float rounding of composed affines
    assert _axis_map(rounded, (320, 320, 20)) == (2, 1, 0)
    tilted = perm.copy()
    tilted[0, 0] = 0.01  # a 0.01 voxel drift per row is an oblique grid
    assert _axis_map(tilted, (320, 320, 20)) is None
    assert _axis_map(np.eye(4)[[1, 1, 2, 3]], (4, 4, 4)) is None  # two destination axes on one source axis
