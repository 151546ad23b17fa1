import numpy as np
import torch

from spinedetect.data import RealCtDataset, RealMriVbDataset
from spinedetect.labels import Label
from spinedetect.preprocess import PreprocessConfig
from spinedetect.training.config import AugmentConfig
from spinedetect.training.patches import PatchDataset, collate_patches, prepare_case

torch.set_num_threads(1)


def test_real_case_to_patches(shared_data):
    case = RealMriVbDataset(shared_data / "real-mri-vb").load("VB3_01")
    prepared = prepare_case(case, PreprocessConfig(), pad_to=(32, 32, 32))
    assert prepared.group_names == ["background+posterior elements+intervertebral disc+thecal sac CSF+spinal cord"
                                    "+epidural tumour", "vertebral body+osseous lesion"]
    assert np.allclose(np.linalg.norm(prepared.affine[:3, :3], axis=0), 1.5)
    assert 0.0 <= float(prepared.image.min()) and float(prepared.image.max()) <= 1.0
    ds = PatchDataset([prepared], [1.0], AugmentConfig(patch_size=(32, 32, 32)), seed=0)
    batch = collate_patches([ds[i] for i in range(4)])
    assert batch["image"].shape == (4, 1, 32, 32, 32) and batch["label"].dtype == torch.long
    assert int(batch["label"].max()) == 1 and batch["n_groups"].tolist() == [2] * 4
    # class-balanced crops: about half the patches are centred on a body, none is all background here
    assert all(int(batch["label"][i].sum()) > 0 for i in range(4))
    # a patch is a pure function of its index
    assert torch.equal(ds[2]["image"], batch["image"][2])


def test_real_ct_world_alignment(shared_data):
    # the cord (79) lies behind (posterior to) the vertebral bodies in world space after preprocessing
    case = RealCtDataset(shared_data / "real-ct").load("example_ct")
    prepared = prepare_case(case, PreprocessConfig(spacing_mm=(3.0, 3.0, 3.0)))
    target = prepared.target[0].numpy()
    cord_group = prepared.class_to_group[int(Label.CORD)]
    bone_group = prepared.class_to_group[int(Label.VERTEBRAL_BODY)]
    cord_y = np.argwhere(target == cord_group)[:, 1].mean()
    bone_y = np.argwhere(target == bone_group)[:, 1].mean()
    assert prepared.affine[1, 1] > 0 and cord_y < bone_y  # RAS: y grows anteriorly
