"""The modality rule (spinedetect.io.modality): header first, the user's choice over it, voxel values otherwise.

Expected outcomes come from how each test image is built (shares of air/fat/bone voxels set by hand),
and for real scans from their sources (../shared/data/README.md), never from the rule itself.
"""

from __future__ import annotations

import numpy as np
import pytest

from spinedetect.errors import InputError
from spinedetect.io import Volume, load_volume, modality_from_values, settle_modality


def _mix(parts: list[tuple[float, float]], n: int = 20_000, dtype=np.int16, seed: int = 0) -> np.ndarray:
    """An image of ``n`` voxels: (share, value) parts, shuffled, as a 3-D array."""
    values = np.concatenate([np.full(int(round(share * n)), value) for share, value in parts])
    values = np.random.default_rng(seed).permutation(values[:n])
    return values.astype(dtype).reshape(20, 20, -1)


def test_ct_in_hounsfield_units_is_ct():
    # 30 % air, 50 % soft tissue, 20 % cortical bone: 30 % <= -100, 99th percentile 700
    guess = modality_from_values(_mix([(0.3, -1000), (0.5, 40), (0.2, 700)]))
    assert guess.modality == "CT"
    assert "30 % of voxels <= -100" in guess.reason and "99th percentile 700" in guess.reason


def test_a_crop_with_fat_but_little_air_is_ct():
    # like a crop around one vertebra: 8 % fat, no air, bone
    assert modality_from_values(_mix([(0.08, -110), (0.72, 40), (0.2, 500)])).modality == "CT"


def test_non_negative_image_is_mr():
    guess = modality_from_values(_mix([(0.5, 0), (0.4, 300), (0.1, 2000)], dtype=np.uint16))
    assert guess.modality == "MR" and "0 % of voxels <= -100" in guess.reason


def test_mr_with_a_few_interpolation_negatives_is_mr():
    # 0.2 % ringing at -150 (below MR_MAX_LOW_SHARE 0.5 %)
    assert modality_from_values(_mix([(0.002, -150), (0.998, 200)], dtype=np.float32)).modality == "MR"


@pytest.mark.parametrize("parts", [
    [(0.02, -1000), (0.98, 300)],  # 2 %: too many for MR, too few for CT
    [(0.3, -1000), (0.7, 50)],  # air but no bone (99th percentile 50)
], ids=["few-low", "no-bone"])
def test_undecided_keeps_modality_unknown_and_says_so(parts):
    volume = Volume(_mix(parts), np.eye(4))
    settle_modality(volume)
    assert volume.modality is None
    assert "modality not inferred" in volume.notes[-1] and "--modality" in volume.notes[-1]


def test_large_images_are_subsampled_to_the_same_answer():
    big = np.full((200, 200, 100), 40, np.int16)
    big[:, :60] = -1000  # 30 % air
    big[:, 190:] = 900  # 5 % bone
    guess = modality_from_values(big)
    assert guess.modality == "CT" and "30 % of voxels" in guess.reason


def test_header_modality_wins_over_content_and_user_over_header():
    ct_values = _mix([(0.3, -1000), (0.5, 40), (0.2, 700)])
    from_header = settle_modality(Volume(ct_values, np.eye(4), modality="MR"))
    assert from_header.modality == "MR" and from_header.notes == []
    forced = settle_modality(Volume(ct_values, np.eye(4), modality="MR"), "CT")
    assert forced.modality == "CT" and "header says MR" in forced.notes[-1]
    given = settle_modality(Volume(ct_values, np.eye(4)), "MR")
    assert given.modality == "MR" and "names none" in given.notes[-1]
    with pytest.raises(InputError, match="Unknown modality"):
        settle_modality(Volume(ct_values, np.eye(4)), "PET")


def test_metaimage_modality_field_names_the_modality(tmp_path):
    import SimpleITK as sitk

    mr_like = _mix([(0.5, 0), (0.5, 400)]).transpose(2, 1, 0)
    sitk.WriteImage(sitk.GetImageFromArray(mr_like), str(tmp_path / "plain.mha"))
    text = (tmp_path / "plain.mha").read_bytes()
    at = text.index(b"ElementDataFile")
    (tmp_path / "ct.mha").write_bytes(text[:at] + b"Modality = MET_MOD_CT\n" + text[at:])
    volume = settle_modality(load_volume(tmp_path / "ct.mha"))
    assert volume.modality == "CT" and volume.meta["header_modality"] == "MET_MOD_CT"
    assert volume.notes == []  # the header decided; no content rule
    assert settle_modality(load_volume(tmp_path / "plain.mha")).modality == "MR"


REAL_CT = ["real-ct/example_ct.nii.gz", "real-tptbox/sub-ct_label-22_ct.nii.gz"]
REAL_MR = ["real-ct/example_mr_sm.nii.gz", "real-cord/sct_t2.nii.gz", "real-cord/sct_t1w.nii.gz",
           "real-unlabelled/sct_t2_lumbar.nii.gz", "real-tptbox/sub-mri_label-6_T2w.nii.gz"]


def test_real_scans_come_out_as_their_sources_say(shared_data):
    """Every real CT is CT and every real MR is MR (sources: shared/data/README.md)."""
    mr = REAL_MR + sorted(p.relative_to(shared_data).as_posix()
                          for p in (shared_data / "real-mri-vb").glob("*_img.nii.gz"))
    assert len(mr) == 5 + 21
    got = {rel: settle_modality(load_volume(shared_data / rel)).modality for rel in REAL_CT + mr}
    assert {rel: m for rel, m in got.items() if m != ("CT" if rel in REAL_CT else "MR")} == {}
