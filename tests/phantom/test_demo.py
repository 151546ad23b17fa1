import json

import pytest

from spinedetect.cli.demo import DEMO_CASES
from spinedetect.cli.main import main


def test_demo_help_and_bad_out(tmp_path, capsys):
    assert main(["demo", "--help"]) == 0
    f = tmp_path / "file"
    f.write_text("x")
    assert main(["demo", "--out", str(f), "--no-progress"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


@pytest.mark.slow
def test_demo_runs_phantoms_through_inference_to_a_review_page(tmp_path, capsys):
    out = tmp_path / "demo"
    code = main(["demo", "--out", str(out), "--no-progress", "--device", "cpu"])
    text = capsys.readouterr().out
    alerts = {}
    for name, _, _ in DEMO_CASES:
        case = out / "phantoms" / name
        assert (case / "sagittal.png").is_file() and (case / "axial_worst.png").is_file()
        assert (case / "image.nii.gz").is_file() and any((out / "studies" / name).glob("*.dcm"))
        alerts[name] = json.loads((case / "truth.json").read_text())["alert"]["level"]
        assert name in text
    assert set(alerts.values()) == {"urgent", "watch", "none"}
    manifest = json.loads((out / "results" / "manifest.json").read_text())
    assert manifest["counts"]["ok"] + manifest["counts"]["failed"] == len(DEMO_CASES)
    assert code == (1 if manifest["counts"]["failed"] else 0)  # a study the model cannot measure is listed failed
    assert f"review page (open in a browser): {(out / 'results' / 'index.html').resolve()}" in text
