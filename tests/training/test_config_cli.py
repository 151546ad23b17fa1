from pathlib import Path

import yaml

from spinedetect.cli.train import main
from spinedetect.config import config_to_dict, load_config
from spinedetect.model.checkpoint import load_checkpoint
from spinedetect.training.config import TrainConfig

from .conftest import tiny_config

REPO = Path(__file__).resolve().parents[2]


def test_default_yaml_equals_defaults():
    assert load_config(TrainConfig, REPO / "configs" / "train" / "default.yaml") == TrainConfig()


def test_cli_trains_and_resumes(tiny_root, tmp_path, capsys):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config_to_dict(tiny_config(tiny_root, steps=2, validate_every=0))))
    assert load_config(TrainConfig, path) == tiny_config(tiny_root, steps=2, validate_every=0)
    out = tmp_path / "run"
    assert main(["--config", str(path), "--out", str(out), "--device", "cpu", "--no-progress"]) == 0
    assert "trained to step 2" in capsys.readouterr().out
    ckpt = out / "checkpoints" / "last.pt"
    assert main(["--config", str(path), "--out", str(out), "--device", "cpu", "--no-progress",
                 "--resume", str(ckpt), "--steps", "3"]) == 0
    assert load_checkpoint(ckpt)["step"] == 3


def test_cli_bad_config_is_one_line_exit_2(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text("optim: {stepz: 3}\n")
    assert main(["--config", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "unknown key 'optim.stepz'" in err and len(err.splitlines()) == 1
    assert main(["--config", str(tmp_path / "none.yaml")]) == 2


def test_cli_refuses_cuda_without_gpu(tiny_root, tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        return
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config_to_dict(tiny_config(tiny_root, steps=1))))
    assert main(["--config", str(path), "--out", str(tmp_path / "o"), "--device", "cuda"]) == 2
    assert "no GPU" in capsys.readouterr().err


def test_realneg_recipe_is_cpu_default_plus_lesion_free_real_sources():
    import dataclasses

    from spinedetect.training.config import REAL_KINDS, SourceConfig, SourceKind

    base = load_config(TrainConfig, REPO / "configs" / "train" / "cpu_default.yaml")
    neg = load_config(TrainConfig, REPO / "configs" / "train" / "cpu_realneg.yaml")
    assert neg.network == base.network and neg.preprocess == base.preprocess and neg.augment == base.augment
    real = [s for s in (*neg.train, *neg.validation) if s.kind in REAL_KINDS]
    assert {s.kind for s in neg.train if s.kind in REAL_KINDS} == set(REAL_KINDS)
    assert all(s.lesion_free and s.split_file == "configs/splits/real_scans.json" for s in real)
    assert [s for s in neg.train if s.kind is SourceKind.PHANTOM] == [s for s in base.train
                                                                      if s.kind is SourceKind.PHANTOM]
    assert neg.optim.lr < base.optim.lr
    import pytest

    with pytest.raises(ValueError, match="lesion_free"):
        SourceConfig(kind=SourceKind.VERSE, root="x", lesion_free=True)
    assert not any(dataclasses.asdict(s)["lesion_free"] for s in base.train)


def test_cli_init_weights(tiny_root, tmp_path, capsys):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config_to_dict(tiny_config(tiny_root, steps=1, validate_every=0))))
    assert main(["--config", str(path), "--out", str(tmp_path / "a"), "--device", "cpu", "--no-progress"]) == 0
    parent = tmp_path / "a" / "checkpoints" / "last.pt"
    assert main(["--config", str(path), "--out", str(tmp_path / "b"), "--device", "cpu", "--no-progress",
                 "--init-weights", str(parent)]) == 0
    assert load_checkpoint(tmp_path / "b" / "checkpoints" / "last.pt")["parent"]["path"] == "last.pt"
