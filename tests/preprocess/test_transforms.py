import numpy as np
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
