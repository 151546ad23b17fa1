"""notebooks/walkthrough.ipynb runs top to bottom in a fresh Jupyter kernel, in a temporary folder.

Executed with nbclient in a real ipykernel (not exec() in this process), so the test sees what a user sees:
a fresh interpreter, the notebook's own working folder, its displayed pictures and tables.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

import spinedetect
from spinedetect.model import DEFAULT_WEIGHTS, default_checkpoint

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "walkthrough.ipynb"


def _code_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [c for c in nb.cells if c.cell_type == "code"]


def test_stored_notebook_is_valid_and_clean():
    """Stored without outputs: diffs stay readable and nothing stale (an old model's figures) is shown."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    cells = _code_cells(nb)
    assert len(cells) >= 8
    assert all(not c.outputs and c.execution_count is None for c in cells), "clear the outputs before committing"


def _kernel_for_this_interpreter(root: Path) -> str:
    """A kernelspec running this very Python (so the kernel imports the spinedetect under test); returns its name."""
    name = "spinedetect-test"
    folder = root / "kernels" / name
    folder.mkdir(parents=True)
    (folder / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "spinedetect test", "language": "python"}))
    return name


@pytest.mark.skipif(default_checkpoint() is None, reason=f"the shipped model is absent ({DEFAULT_WEIGHTS}); "
                                                          "the walkthrough runs inference with it")
def test_walkthrough_runs_top_to_bottom(tmp_path, monkeypatch):
    src = str(Path(spinedetect.__file__).resolve().parents[1])
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the test suite shares two cores
    kernel = _kernel_for_this_interpreter(tmp_path / "jupyter")
    work = tmp_path / "work"
    work.mkdir()
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(nb, timeout=120, startup_timeout=60, kernel_name=kernel,
                            resources={"metadata": {"path": str(work)}})
    try:
        client.execute()
    except CellExecutionError as exc:
        pytest.fail(f"a notebook cell failed:\n{exc}")

    outputs = [o for c in _code_cells(nb) for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.text for o in outputs if o.output_type == "stream" and o.name == "stdout")
    shown = [o.data for o in outputs if o.output_type == "display_data"]
    assert sum("image/png" in d for d in shown) == 3  # truth sagittal, model sagittal, worst cross-section
    tables = [d["text/markdown"] for d in shown if "text/markdown" in d]
    assert len(tables) == 4 and all(t.startswith("| level |") for t in tables[:2])
    assert "| T12 |" in tables[1] and "| epidural_tumour |" in tables[2]

    results = work / "walkthrough-output" / "results"
    (study,) = [p for p in results.iterdir() if p.is_dir() and p.name.startswith("study-")]
    assert (study / "report.json").is_file() and (study / "overlays" / "sagittal.png").is_file()
    assert "the truth says the alert must be URGENT" in text
    assert "phantom truth: URGENT (worst level T12)" in text
    assert "truth labels, measured: URGENT (worst level T12)" in text  # measurement on the true labels
    assert f"review page (open in a browser): {(results / 'index.html').resolve()}" in text
