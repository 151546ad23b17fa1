"""reorient_onto: exact flips/permutations between grids that share voxel centres, refusal otherwise."""

from __future__ import annotations

import numpy as np
import pytest

from spinedetect.errors import InputError
from spinedetect.io import Volume, reorient_onto
from tests.io.helpers import world_of_centres


def test_flip_and_permute_round_trip():
    arr = np.arange(2 * 3 * 4, dtype=np.int16).reshape(2, 3, 4)
    aff = np.diag([0.5, 1.0, 2.0, 1.0])
    aff[:3, 3] = (10, 20, 30)
    vol = Volume(arr, aff)
    # target: axes (k, i, j) with i flipped
    perm = np.zeros((4, 4))
    perm[2, 0] = 1
    perm[0, 1] = -1
    perm[0, 3] = 1
    perm[1, 2] = 1
    perm[3, 3] = 1
    target_aff = aff @ perm
    out = reorient_onto(vol, target_aff, (4, 2, 3))
    assert out.shape == (4, 2, 3) and np.allclose(out.affine, target_aff)
    # every voxel keeps its value at the same world position
    world_src = {tuple(np.round(w, 6)): v for w, v in zip(world_of_centres(aff, arr.shape), arr.ravel())}
    for w, v in zip(world_of_centres(out.affine, out.shape), out.array.ravel()):
        assert world_src[tuple(np.round(w, 6))] == v


def test_refuses_other_grids():
    vol = Volume(np.zeros((4, 4, 4)), np.eye(4))
    shifted = np.eye(4)
    shifted[0, 3] = 0.5
    with pytest.raises(InputError, match="do not share their voxel centres"):
        reorient_onto(vol, shifted, (4, 4, 4))
    with pytest.raises(InputError, match="cover different voxels"):
        reorient_onto(vol, np.eye(4), (3, 4, 4))
    rot = np.eye(4)
    rot[:2, :2] = [[0.8, -0.6], [0.6, 0.8]]
    with pytest.raises(InputError, match="rotated or rescaled"):
        reorient_onto(vol, rot, (4, 4, 4))
