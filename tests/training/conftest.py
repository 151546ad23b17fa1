"""Tiny synthetic cases in the real-mri-vb layout and a tiny training config (UNet (4, 8, 16), 16^3 patches)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch

from spinedetect.model.network import NetworkConfig
from spinedetect.training.config import (AugmentConfig, InferenceConfig, OptimConfig, SourceConfig, SourceKind,
                                         TrainConfig)

torch.set_num_threads(1)


def write_tiny_cases(folder: Path, n: int = 3, shape=(24, 24, 20)) -> Path:
    """Bright boxes ("vertebral bodies", id 1..2) on a noisy background, 1.5 mm voxels."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    affine = np.diag([1.5, 1.5, 1.5, 1.0])
    for c in range(n):
        img = rng.normal(20, 5, shape).astype(np.float32)
        lab = np.zeros(shape, np.uint8)
        lab[6:14, 6:14, 2:8] = 1
        lab[6:14, 6:14, 11:17 - c] = 2
        img[lab > 0] += 100
        nib.save(nib.Nifti1Image(img, affine), str(folder / f"VB9_{c:02d}_img.nii.gz"))
        nib.save(nib.Nifti1Image(lab, affine), str(folder / f"VB9_{c:02d}_vb.nii.gz"))
    return folder


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory) -> Path:
    return write_tiny_cases(tmp_path_factory.mktemp("tiny") / "vb")


def tiny_config(root: Path, steps: int = 4, **changes) -> TrainConfig:
    src = SourceConfig(kind=SourceKind.REAL_MRI_VB, root=str(root))
    cfg = TrainConfig(
        seed=3, train=(src,), validation=(SourceConfig(kind=SourceKind.REAL_MRI_VB, root=str(root), cases=("VB9_00",)),),
        augment=AugmentConfig(patch_size=(16, 16, 16), rotate_prob=0.5, elastic_prob=0.5),
        network=NetworkConfig(channels=(4, 8, 16), strides=(2, 2), num_res_units=0),
        optim=OptimConfig(steps=steps, batch_size=2, lr=1e-2), inference=InferenceConfig(overlap=0.25),
        precision="fp32", checkpoint_every=2, validate_every=2)
    return dataclasses.replace(cfg, **changes)
