"""``spinedetect infer`` in-process with a real checkpoint (a copy of the shipped model): exit codes and messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from spinedetect.cli.main import main

torch.set_num_threads(1)


def test_infer_one_study_with_a_real_predictor(phantom_batch, tiny_checkpoint, tmp_path, capsys):
    inp = phantom_batch[0] / "site2"
    code = main(["infer", str(inp), str(tmp_path / "out"), "--model", str(tiny_checkpoint), "--device", "cpu",
                 "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "review page:" in out and str(tmp_path / "out" / "index.html") in out
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["counts"]["ok"] == 1
    provenance = json.loads((tmp_path / "out" / "provenance.json").read_text())
    assert provenance["model"]["model_sha256"]


def _two_studies(batch: Path, inp: Path) -> Path:
    """A copy of two studies (site0, site2) of the phantom batch: one for each of two ranks."""
    for site in ("site0", "site2"):
        for f in (batch / site).rglob("*"):
            if f.is_file():
                dst = inp / f.relative_to(batch)
                dst.parent.mkdir(parents=True, exist_ok=True)
                dst.write_bytes(f.read_bytes())
    return inp


def _torchrun_env() -> dict[str, str]:
    import os

    src_dir = Path(__file__).resolve().parents[2] / "src"
    return {**os.environ, "PYTHONPATH": f"{src_dir}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
            "OMP_NUM_THREADS": "1"}


def test_torchrun_rank_that_cannot_write_stops_every_rank(phantom_batch, tiny_checkpoint, tmp_path):
    """A rank whose outputs cannot be written must not leave rank 0 waiting for it forever: the run ends
    (well within the timeout) with that rank's one-line error, no batch files, and a rerun completes it.
    (How the other rank stops is tested in-process: test_batch.py::test_rank_stops_when_another_rank_failed;
    here torchrun may terminate it before it prints.)"""
    import subprocess
    import sys

    inp = _two_studies(phantom_batch[0], tmp_path / "input")  # one study per rank
    out = tmp_path / "out"
    helper = Path(__file__).with_name("rank_fault_helper.py")
    args = ["infer", str(inp), str(out), "--model", str(tiny_checkpoint), "--device", "cpu", "--no-progress"]
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                           "--master-port", "29532", str(helper), "1", *args],
                          capture_output=True, text=True, timeout=240, env=_torchrun_env())
    assert done.returncode != 0, done.stderr[-3000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("spinedetect infer: error:")]
    assert any("Stopped: cannot write the outputs in" in e and "ENOSPC" in e for e in errors), done.stderr[-3000:]
    assert not (out / "index.html").exists() and not (out / "manifest.json").exists()
    assert main([*args]) == 0
    assert json.loads((out / "manifest.json").read_text())["counts"]["ok"] == 2


@pytest.mark.parametrize("argv, message", [
    (["infer"], "required"),
    (["infer", "/nonexistent/in", "/tmp/x"], "does not exist"),
    (["infer", ".", "/tmp/x", "--workers", "-1"], "--workers"),
    (["infer", ".", "/tmp/x", "--model", "/nonexistent.pt"], "nonexistent.pt"),
])
def test_bad_arguments_exit_2_with_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


def test_torchrun_two_cpu_ranks_shard_studies(phantom_batch, tiny_checkpoint, tmp_path):
    """Two gloo ranks split the studies; rank 0 writes the batch files; results equal a single run."""
    import subprocess
    import sys

    inp = _two_studies(phantom_batch[0], tmp_path / "input")
    args = [str(inp), "--model", str(tiny_checkpoint), "--device", "cpu", "--no-progress"]
    env = _torchrun_env()
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                           "--master-port", "29531", "-m", "spinedetect", "infer", args[0], str(tmp_path / "dist"),
                           *args[1:]], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert main(["infer", args[0], str(tmp_path / "single"), *args[1:]]) == 0
    manifest = json.loads((tmp_path / "dist" / "manifest.json").read_text())
    assert manifest["counts"]["ok"] == 2
    for report in (tmp_path / "single").glob("*/report.json"):
        assert (tmp_path / "dist" / report.parent.name / "report.json").read_bytes() == report.read_bytes()


def test_infer_modality_and_level_hint_reach_the_batch_settings(phantom_batch, tiny_checkpoint, tmp_path, capsys):
    inp = phantom_batch[0] / "site2"
    args = ["infer", str(inp), str(tmp_path / "out"), "--model", str(tiny_checkpoint), "--device", "cpu",
            "--no-progress", "--modality", "MR", "--level-hint", "lowest=S1"]
    assert main(args) == 0, capsys.readouterr()
    config = json.loads((tmp_path / "out" / "provenance.json").read_text())["config"]
    assert config["modality"] == "MR" and config["level_hint"] == "lowest=S1"
    (record,) = [json.loads(p.read_text()) for p in (tmp_path / "out").glob("*/study.json")]
    assert not any("as requested" in n for n in record["notes"])  # the DICOM header says MR too
