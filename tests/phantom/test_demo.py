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
def test_demo_writes_the_mixed_set(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--no-progress"]) == 0
    text = capsys.readouterr().out
    alerts = {}
    for name, _, _ in DEMO_CASES:
        case = out / name
        assert (case / "sagittal.png").is_file() and (case / "axial_worst.png").is_file()
        assert (case / "image.nii.gz").is_file() and any((case / "dicom").glob("*.dcm"))
        alerts[name] = json.loads((case / "truth.json").read_text())["alert"]["level"]
        assert name in text
    assert set(alerts.values()) == {"urgent", "watch", "none"}
