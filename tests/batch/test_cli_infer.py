"""``spinedetect infer`` in-process with a real checkpoint (a copy of the shipped model): exit codes and messages."""

from __future__ import annotations

import json

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
    import os
    import subprocess
    import sys
    from pathlib import Path

    inp = tmp_path / "input"
    for site in ("site0", "site2"):
        src = phantom_batch[0] / site
        for f in src.rglob("*"):
            if f.is_file():
                dst = inp / f.relative_to(phantom_batch[0])
                dst.parent.mkdir(parents=True, exist_ok=True)
                dst.write_bytes(f.read_bytes())
    args = [str(inp), "--model", str(tiny_checkpoint), "--device", "cpu", "--no-progress"]
    src_dir = Path(__file__).resolve().parents[2] / "src"
    env = {**os.environ, "PYTHONPATH": f"{src_dir}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                           "--master-port", "29531", "-m", "spinedetect", "infer", args[0], str(tmp_path / "dist"),
                           *args[1:]], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert main(["infer", args[0], str(tmp_path / "single"), *args[1:]]) == 0
    manifest = json.loads((tmp_path / "dist" / "manifest.json").read_text())
    assert manifest["counts"]["ok"] == 2
    for report in (tmp_path / "single").glob("*/report.json"):
        assert (tmp_path / "dist" / report.parent.name / "report.json").read_bytes() == report.read_bytes()
