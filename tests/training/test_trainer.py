import csv
import json

import torch

from spinedetect.model.checkpoint import load_checkpoint
from spinedetect.training.trainer import train

from .conftest import tiny_config


def _weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_resume_continues_bit_for_bit(tiny_root, tmp_path):
    cfg = tiny_config(tiny_root, steps=4)
    straight = train(cfg, tmp_path / "a", device="cpu")
    assert straight.step == 4
    half = train(tiny_config(tiny_root, steps=4, max_minutes=1e-9), tmp_path / "b", device="cpu")
    assert half.step == 1  # max_minutes stops after the first step, with a checkpoint
    resumed = train(cfg, tmp_path / "b2", device="cpu", resume=tmp_path / "b" / "checkpoints" / "last.pt")
    assert resumed.step == 4
    a, b = _weights(straight.model), _weights(resumed.model)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    first = train(tiny_config(tiny_root, steps=2), tmp_path / "c", device="cpu")
    assert not all(torch.equal(a[k], first.model.state_dict()[k]) for k in a)


def test_outputs_metrics_config_and_split(tiny_root, tmp_path):
    result = train(tiny_config(tiny_root, steps=2), tmp_path, device="cpu")
    rows = list(csv.DictReader(open(result.metrics_csv)))
    assert rows and rows[0]["step"] == "2" and rows[0]["case"] == "VB9_00"
    assert 0.0 <= float(rows[0]["dice"]) <= 1.0
    payload = load_checkpoint(tmp_path / "checkpoints" / "last.pt")
    assert payload["step"] == 2 and payload["config"]["seed"] == 3
    assert payload["split"]["train"]["real-mri-vb:train"] == ["VB9_00", "VB9_01", "VB9_02"]
    assert {"torch", "monai", "spinedetect"} <= set(payload["versions"])
    assert json.loads((tmp_path / "config.json").read_text())["optim"]["steps"] == 2


def test_loss_decreases_on_tiny_boxes(tiny_root, tmp_path):
    losses = []
    train(tiny_config(tiny_root, steps=30, validate_every=0, checkpoint_every=100), tmp_path, device="cpu",
          on_step=lambda info: losses.append(info.loss))
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5


def test_init_weights_starts_from_parent_with_fresh_optimiser(tiny_root, tmp_path):
    import dataclasses
    import hashlib

    import pytest

    from spinedetect.errors import ConfigError

    parent = train(tiny_config(tiny_root, steps=2, validate_every=0), tmp_path / "p", device="cpu")
    parent_file = tmp_path / "p" / "checkpoints" / "last.pt"
    cfg = tiny_config(tiny_root, steps=3, validate_every=0, checkpoint_every=1, keep_checkpoints=1)
    frozen = dataclasses.replace(cfg, optim=dataclasses.replace(cfg.optim, lr=0.0))  # lr 0: weights stay the parent's
    child = train(frozen, tmp_path / "c", device="cpu", init_weights=parent_file)
    a, b = _weights(parent.model), _weights(child.model)
    assert all(torch.equal(a[k], b[k]) for k in a)
    payload = load_checkpoint(tmp_path / "c" / "checkpoints" / "last.pt")
    assert payload["parent"]["sha256"] == hashlib.sha256(parent_file.read_bytes()).hexdigest()
    assert payload["parent"]["step"] == 2 and payload["step"] == 3
    assert max(s["step"] for s in payload["optimizer"]["state"].values()) == 3  # the child's own 3 steps only
    assert sorted(p.name for p in (tmp_path / "c" / "checkpoints").glob("step_*.pt")) == ["step_0000003.pt"]
    resumed = train(tiny_config(tiny_root, steps=4, validate_every=0), tmp_path / "c", device="cpu",
                    resume=tmp_path / "c" / "checkpoints" / "last.pt")
    assert resumed.step == 4
    assert load_checkpoint(tmp_path / "c" / "checkpoints" / "last.pt")["parent"] == payload["parent"]
    with pytest.raises(ConfigError, match="one of them"):
        train(cfg, tmp_path / "x", device="cpu", resume=parent_file, init_weights=parent_file)
