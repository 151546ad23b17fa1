import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from spinedetect.errors import InputError
from spinedetect.labels import NUM_CLASSES, Label
from spinedetect.model import Predictor, build_network, save_checkpoint
from spinedetect.model.network import NetworkConfig, NetworkName
from spinedetect.preprocess import PreprocessConfig
from spinedetect.training.config import AugmentConfig, TrainConfig
from spinedetect.config import config_to_dict

from ..preprocess.test_transforms import _oblique_volume

torch.set_num_threads(1)
CFG = TrainConfig(network=NetworkConfig(channels=(4, 8, 16), strides=(2, 2), num_res_units=0),
                  augment=AugmentConfig(patch_size=(16, 16, 16)),
                  preprocess=PreprocessConfig(spacing_mm=(2.0, 2.0, 2.0)))


class Threshold(nn.Module):
    """Labels bright voxels (normalised intensity > 0.5) as vertebral body: a model whose answer we know."""

    def forward(self, x):
        logits = torch.zeros((x.shape[0], NUM_CLASSES, *x.shape[2:]))
        logits[:, int(Label.VERTEBRAL_BODY)] = (x[:, 0] - 0.5) * 20
        return logits




@pytest.mark.parametrize("tta", [False, True])
def test_predict_returns_native_grid(tta):
    vol = _oblique_volume()
    pred = Predictor(Threshold(), CFG, torch.device("cpu"), tta=tta).predict(vol)
    assert pred.shape == vol.shape and np.array_equal(pred.affine, vol.affine) and pred.array.dtype == np.uint8
    truth = vol.array > 50
    got = pred.array == Label.VERTEBRAL_BODY
    dice = 2 * (truth & got).sum() / (truth.sum() + got.sum())
    assert dice > 0.9, dice


class RampAlongY(nn.Module):
    """Position-dependent logits (a ramp along spatial axis 1, whatever the input): mirroring the input
    along axis 1 and un-mirroring the output reverses the ramp, mirroring along axis 0 does not."""

    def forward(self, x):
        ramp = torch.linspace(-3.0, 3.0, x.shape[3]).view(1, 1, -1, 1)
        logits = torch.zeros((x.shape[0], NUM_CLASSES, *x.shape[2:]))
        logits[:, 1] = ramp.expand(x.shape[0], x.shape[2], -1, x.shape[4])
        return logits


def test_tta_mirrors_only_the_axes_the_model_was_trained_flipped():
    from spinedetect.model import sliding_window_probs

    image = torch.rand(1, 16, 16, 16)
    args = (RampAlongY(), image, (16, 16, 16), CFG.inference, torch.device("cpu"))
    plain = sliding_window_probs(*args, tta=False)
    assert torch.allclose(sliding_window_probs(*args, tta=True, flip_axes=(0,)), plain, atol=1e-6)
    assert not torch.allclose(sliding_window_probs(*args, tta=True, flip_axes=(0, 1, 2)), plain, atol=1e-2)


def _checkpoint(tmp_path):
    torch.manual_seed(0)
    model = build_network(CFG.network)
    path = tmp_path / "m.pt"
    digest = save_checkpoint(path, {"model": model.state_dict(), "config": config_to_dict(CFG), "step": 7})
    return path, digest


def test_from_checkpoint_predicts_and_records_provenance(tmp_path):
    path, digest = _checkpoint(tmp_path)
    pred = Predictor.from_checkpoint(path, device="cpu")
    out = pred.predict(_oblique_volume())
    assert out.shape == (30, 24, 12) and int(out.array.max()) < NUM_CLASSES
    prov = pred.provenance()
    assert prov["model_sha256"] == digest and prov["step"] == 7 and prov["config"]["network"]["channels"] == [4, 8, 16]
    assert "torch" in prov["versions"]


def test_corrupt_checkpoint_is_a_clear_error(tmp_path):
    path, _ = _checkpoint(tmp_path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match="corrupt or was altered"):
        Predictor.from_checkpoint(path, device="cpu")
    path.with_name("m.pt.sha256").unlink()
    path.write_bytes(bytes(data[: len(data) // 3]))
    with pytest.raises(InputError, match="cannot be read"):
        Predictor.from_checkpoint(path, device="cpu")
    with pytest.raises(InputError, match="does not exist"):
        Predictor.from_checkpoint(tmp_path / "missing.pt", device="cpu")


@pytest.mark.parametrize("name", list(NetworkName))
def test_every_configured_network_builds_and_runs(name):
    net = build_network(dataclasses.replace(CFG.network, name=name))
    assert net(torch.zeros(1, 1, 16, 16, 16)).shape == (1, NUM_CLASSES, 16, 16, 16)


def test_exported_weights_drop_optimiser_state_and_still_load(tmp_path):
    from spinedetect.model.checkpoint import export_weights, load_checkpoint

    path, _ = _checkpoint(tmp_path)
    payload = load_checkpoint(path)
    payload["optimizer"] = {"state": {}, "param_groups": []}
    for key in ("format", "versions", "state_sha256"):
        payload.pop(key)
    save_checkpoint(path, payload)
    digest = export_weights(path, tmp_path / "w.pt")
    out = load_checkpoint(tmp_path / "w.pt")
    assert "optimizer" not in out and out["step"] == 7 and out["exported_from"]["path"] == "m.pt"
    assert Predictor.from_checkpoint(tmp_path / "w.pt", device="cpu").model_sha256 == digest


def test_exported_weights_can_carry_new_inference_settings(tmp_path):
    from spinedetect.errors import ConfigError
    from spinedetect.model.checkpoint import export_weights, load_checkpoint

    path, _ = _checkpoint(tmp_path)
    export_weights(path, tmp_path / "w.pt", inference={"tta": True, "overlap": 0.5})
    pred = Predictor.from_checkpoint(tmp_path / "w.pt", device="cpu")
    assert pred.tta is True and pred.config.inference.overlap == 0.5
    assert pred.config.network == CFG.network
    old = load_checkpoint(path)  # a checkpoint saved before min_tumour_mm3 existed still takes it
    old["config"]["inference"].pop("min_tumour_mm3")
    save_checkpoint(path, old)
    export_weights(path, tmp_path / "w2.pt", inference={"min_tumour_mm3": 50.0})
    assert Predictor.from_checkpoint(tmp_path / "w2.pt", device="cpu").config.inference.min_tumour_mm3 == 50.0
    with pytest.raises(ConfigError, match="Unknown inference setting 'ttta'"):
        export_weights(path, tmp_path / "x.pt", inference={"ttta": True})
    assert not (tmp_path / "x.pt").exists()


class SpeckledTumour(nn.Module):
    """Vertebral body where bright; a one-voxel epidural tumour speck in every 8x8x8 block (model grid)."""

    def forward(self, x):
        logits = torch.zeros((x.shape[0], NUM_CLASSES, *x.shape[2:]))
        logits[:, int(Label.VERTEBRAL_BODY)] = (x[:, 0] - 0.5) * 20
        logits[:, int(Label.EPIDURAL_TUMOUR), 4::8, 4::8, 4::8] = 30.0
        return logits


def test_predictor_removes_tumour_pieces_below_the_shipped_volume():
    vol = _oblique_volume()
    plain = Predictor(SpeckledTumour(), CFG, torch.device("cpu")).predict(vol).array
    assert (plain == Label.EPIDURAL_TUMOUR).any()
    cfg = dataclasses.replace(CFG, inference=dataclasses.replace(CFG.inference, min_tumour_mm3=1000.0))
    cleaned = Predictor(SpeckledTumour(), cfg, torch.device("cpu")).predict(vol).array
    assert not (cleaned == Label.EPIDURAL_TUMOUR).any()
    assert np.array_equal(cleaned == Label.VERTEBRAL_BODY, (plain == Label.VERTEBRAL_BODY) | (
        (plain == Label.EPIDURAL_TUMOUR) & (cleaned == Label.VERTEBRAL_BODY)))
