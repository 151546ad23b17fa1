import json

import pytest

from spinedetect.model import Predictor, default_checkpoint
from tests.conftest import load_script


@pytest.mark.skipif(default_checkpoint() is None, reason="the shipped default model is not installed")
def test_tuning_scores_the_candidates_and_exports_the_best(tmp_path, capsys):
    script = load_script("scripts/tune_postprocess.py")
    out = tmp_path / "w.pt"
    assert script.main(["--phantoms", "2", "--phantom-seed", "300000", "--max-mm3", "50", "--export", str(out),
                        "--rows", str(tmp_path / "pieces.json")]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for name in ("osseous lesion", "epidural tumour"):
        assert list(result["dice_by_min_mm3"][name]) == ["0.0", "25.0", "50.0"]  # capped by --max-mm3
        best = result["best_min_mm3"][name]
        means = {float(k): v["mean"] or 0.0 for k, v in result["dice_by_min_mm3"][name].items()}
        assert means[best] == max(means.values())
    inference = Predictor.from_checkpoint(out, device="cpu").config.inference
    assert (inference.min_lesion_mm3, inference.min_tumour_mm3) == (result["best_min_mm3"]["osseous lesion"],
                                                                    result["best_min_mm3"]["epidural tumour"])
    pieces = json.loads((tmp_path / "pieces.json").read_text())
    assert all(p["mm3"] > 0 and p["class"] in ("osseous lesion", "epidural tumour") for p in pieces)
