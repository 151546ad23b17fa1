import math

import numpy as np
import pytest

from spinedetect.evaluate import confusion_matrix, dice, hausdorff95, sensitivity_specificity, weighted_kappa
from spinedetect.evaluate.metrics import spacing_of


def cube(shape, lo, size):
    m = np.zeros(shape, dtype=bool)
    m[lo[0]:lo[0] + size, lo[1]:lo[1] + size, lo[2]:lo[2] + size] = True
    return m


def test_dice_of_shifted_cubes_is_analytic():
    a = cube((32, 32, 32), (5, 5, 5), 10)
    b = cube((32, 32, 32), (8, 5, 5), 10)  # shifted 3 voxels along i: overlap 7 x 10 x 10
    assert dice(a, b) == pytest.approx(2 * 700 / 2000)
    assert dice(a, a) == 1.0


def test_dice_empty_rules():
    empty = np.zeros((4, 4, 4), bool)
    full = cube((4, 4, 4), (1, 1, 1), 2)
    assert math.isnan(dice(empty, empty))
    assert dice(full, empty) == 0.0 and dice(empty, full) == 0.0


def sphere(shape, spacing, centre_mm, radius_mm):
    grids = np.meshgrid(*[np.arange(n) * s for n, s in zip(shape, spacing)], indexing="ij")
    return sum((g - c) ** 2 for g, c in zip(grids, centre_mm)) <= radius_mm ** 2


def test_hd95_of_concentric_spheres_is_radius_difference_on_anisotropic_voxels():
    spacing = (0.8, 1.0, 1.5)
    shape = (60, 48, 32)
    centre = (24.0, 24.0, 24.0)
    outer = sphere(shape, spacing, centre, 16.0)
    inner = sphere(shape, spacing, centre, 10.0)
    hd = hausdorff95(inner, outer, spacing)
    # voxelised surfaces sit up to about half a voxel off the analytic spheres
    assert hd == pytest.approx(6.0, abs=1.0)
    assert hausdorff95(outer, inner, spacing) == pytest.approx(hd)
    # the same masks read as isotropic 1 mm voxels give a different (wrong-unit) answer
    assert abs(hausdorff95(inner, outer, (1.0, 1.0, 1.0)) - 6.0) > 0.5


def test_hd95_identity_and_empty_rules():
    a = cube((16, 16, 16), (3, 3, 3), 6)
    empty = np.zeros_like(a)
    assert hausdorff95(a, a, (1.0, 2.0, 3.0)) == 0.0
    assert math.isinf(hausdorff95(a, empty, (1, 1, 1)))
    assert math.isinf(hausdorff95(empty, a, (1, 1, 1)))
    assert math.isnan(hausdorff95(empty, empty, (1, 1, 1)))


def test_hd95_of_shifted_cube_along_anisotropic_axis():
    a = cube((20, 20, 20), (5, 5, 5), 8)
    b = cube((20, 20, 20), (5, 5, 7), 8)  # shifted 2 voxels along k, 2.5 mm each
    assert hausdorff95(a, b, (1.0, 1.0, 2.5)) == pytest.approx(5.0)


def test_spacing_of_rotated_affine():
    theta = np.deg2rad(30)
    rot = np.array([[np.cos(theta), -np.sin(theta), 0], [np.sin(theta), np.cos(theta), 0], [0, 0, 1]])
    aff = np.eye(4)
    aff[:3, :3] = rot @ np.diag([0.5, 2.0, 3.0])
    assert spacing_of(aff) == pytest.approx((0.5, 2.0, 3.0))


def test_weighted_kappa_hand_computed():
    # rows truth, columns prediction; n = 8, k = 3, linear weights |i-j|/2.
    cm = np.array([[2, 1, 0], [0, 2, 1], [0, 0, 2]])
    # observed weighted disagreement: 1 x 0.5 + 1 x 0.5 = 1.0
    # expected = outer(rows [3,3,2], cols [2,3,3]) / 8; weighted sum = (13.5 + 7.5 + 7) / 8 = 3.5
    # kappa = 1 - 1.0 / 3.5 = 5/7
    assert weighted_kappa(cm, "linear") == pytest.approx(5 / 7)
    assert weighted_kappa(np.diag([3, 1, 4, 2]), "linear") == 1.0
    assert weighted_kappa(np.array([[5, 0], [0, 0]])) == 1.0  # degenerate: all in one category
    assert math.isnan(weighted_kappa(np.zeros((3, 3))))
    # complete reversal on two categories is worse than chance
    assert weighted_kappa(np.array([[0, 4], [4, 0]])) == pytest.approx(-1.0)


def test_confusion_and_sensitivity():
    cm = confusion_matrix([0, 1, 2, 2], [0, 2, 2, 1], 3)
    assert cm.tolist() == [[1, 0, 0], [0, 0, 1], [0, 1, 1]]
    with pytest.raises(ValueError):
        confusion_matrix([3], [0], 3)
    assert sensitivity_specificity([True, True, False, False], [True, False, False, True]) == (0.5, 0.5)
    assert sensitivity_specificity([False], [False]) == (None, 1.0)


@pytest.mark.filterwarnings("ignore::FutureWarning")  # MONAI's own deprecated argument, used internally
def test_hd95_agrees_with_monai():
    monai_metrics = pytest.importorskip("monai.metrics")
    import torch
    from scipy import ndimage

    torch.set_num_threads(1)
    rng = np.random.default_rng(1)
    spacing = (0.8, 1.0, 2.5)
    for _ in range(3):
        a = ndimage.binary_dilation(rng.random((24, 24, 16)) > 0.995, iterations=3)
        b = ndimage.binary_dilation(rng.random((24, 24, 16)) > 0.995, iterations=2)
        if not a.any() or not b.any():
            continue
        ref = monai_metrics.compute_hausdorff_distance(torch.tensor(b[None, None]), torch.tensor(a[None, None]),
                                                       percentile=95, spacing=list(spacing),
                                                       include_background=True)
        assert hausdorff95(b, a, spacing) == pytest.approx(float(ref), abs=1e-4)
