"""Load: benchmarks/bench_load.py on a few small studies (the 200-study run is the benchmark itself)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_bench_load_small_batch_bounded_memory_and_same_results_as_single_runs(tiny_checkpoint, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_load.py"), "--studies", "6",
                           "--sample", "3", "--threads", "1", "--shape", "64", "64", "8",
                           "--model", str(tiny_checkpoint), "--workdir", str(tmp_path)],
                          capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-2000:]
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert result["ok"] == 6 and result["sampled"] == 3 and result["mismatches"] == 0
    assert result["memory_bounded"] and 0 < result["rss_after_6"] <= result["peak_rss_mib"]
    assert result["studies_per_minute"] > 0
    assert not any(tmp_path.iterdir()), "the benchmark cleans up its temporary folder"
