import numpy as np
import pytest
import torch

from spinedetect.io.volume import Volume
from spinedetect.model import Predictor, default_checkpoint
from spinedetect.model.checkpoint import file_sha256

torch.set_num_threads(1)


def test_shipped_default_model_loads_and_predicts():
    path = default_checkpoint()
    if path is None:
        pytest.skip("no default model is installed in src/spinedetect/model/weights/")
    predictor = Predictor.from_checkpoint(None, device="cpu")
    assert predictor.model_sha256 == file_sha256(path)
    assert path.stat().st_size < 25 * 2**20
    vol = Volume(np.random.default_rng(0).normal(100, 20, (40, 40, 12)).astype(np.float32),
                 np.diag([1.0, 1.0, 4.0, 1.0]), modality="MR")
    out = predictor.predict(vol)
    assert out.shape == vol.shape and out.array.dtype == np.uint8
    assert predictor.provenance()["config"]["network"]["name"] == "UNet"
