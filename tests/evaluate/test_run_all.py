"""benchmarks/run_all.py on fake benchmark scripts."""

import json
from pathlib import Path

import pytest

from tests.conftest import load_script


@pytest.fixture(scope="module")
def run_all():
    return load_script("benchmarks/run_all.py")


def write(folder: Path, name: str, body: str) -> None:
    (folder / f"bench_{name}.py").write_text(body)


def test_runner_collects_figures_failures_and_timeouts(run_all, tmp_path):
    write(tmp_path, "good", 'import json, spinedetect\nprint("warming up")\n'
                            'print(json.dumps({"benchmark": "good", "seconds_median": 0.5, "n": 3}))\n')
    write(tmp_path, "crash", 'raise SystemExit("boom: no data")\n')
    write(tmp_path, "silent", 'print("no json here")\n')
    write(tmp_path, "slow", 'import time\ntime.sleep(30)\n')
    out = tmp_path / "results.md"
    rc = run_all.main(["--bench-dir", str(tmp_path), "--out", str(out), "--timeout", "3"])
    assert rc == 1
    md = out.read_text()
    assert "| good | ok |" in md and "seconds_median = 0.5; n = 3" in md
    assert "| crash | failed (exit 1): boom: no data |" in md
    assert "| silent | failed: printed no JSON object line |" in md
    assert "| slow | timed out after 3 s |" in md
    assert "CPU:" in md and "numpy" in md and "date:" in md
    doc = json.loads(out.with_suffix(".json").read_text())
    assert [r["name"] for r in doc["results"]] == ["crash", "good", "silent", "slow"]
    assert doc["results"][1]["figures"]["n"] == 3 and doc["machine"]["cores"] >= 1


def test_runner_budget_and_selection(run_all, tmp_path, capsys):
    write(tmp_path, "a", 'import json\nprint(json.dumps({"benchmark": "a", "x": 1}))\n')
    write(tmp_path, "b", 'import json\nprint(json.dumps({"benchmark": "b", "x": 2}))\n')
    out = tmp_path / "r.md"
    assert run_all.main(["--bench-dir", str(tmp_path), "--out", str(out), "--only", "b"]) == 0
    assert "| b | ok |" in out.read_text() and "| a |" not in out.read_text()
    assert run_all.main(["--bench-dir", str(tmp_path), "--out", str(out), "--budget", "0"]) == 1
    assert out.read_text().count("not run: total budget") == 2
    assert run_all.main(["--bench-dir", str(tmp_path), "--out", str(out), "--only", "zzz"]) == 2
    assert "no benchmark named zzz" in capsys.readouterr().err
