import dataclasses

import numpy as np

from spinedetect.data import PhantomDataset
from spinedetect.labels import SCHEMA_MAPPING, Label
from spinedetect.phantom import PhantomConfig


def _small() -> PhantomConfig:
    cfg = PhantomConfig()
    return dataclasses.replace(cfg, anatomy=dataclasses.replace(cfg.anatomy, first_level="L2", last_level="L4"))


def test_phantom_cases_are_fully_labelled_and_reproducible():
    ds = PhantomDataset(2, first_seed=5, config=_small())
    assert ds.case_ids() == ["phantom_000005", "phantom_000006"]
    a, b = ds.load("phantom_000005"), ds.load("phantom_000005")
    assert a.mapping is SCHEMA_MAPPING and a.mapping.unannotated == ()
    assert np.array_equal(a.image.array, b.image.array) and np.array_equal(a.labels.array, b.labels.array)
    assert a.image.shape == a.labels.shape and np.allclose(a.image.affine, a.labels.affine)
    present = set(np.unique(a.labels.array).tolist())
    assert {int(Label.VERTEBRAL_BODY), int(Label.DISC), int(Label.CSF), int(Label.CORD)} <= present
    assert a.image.modality == "MR" and a.meta["seed"] == 5
