"""The real-scan evaluation: catalogue and known levels on the real data, scoring on hand-made outputs,
and one small batch through `spinedetect evaluate --real`."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from spinedetect.cli.evaluate import main as evaluate_main
from spinedetect.evaluate.real_scans import (LevelSource, RealStudy, StudyScore, known_levels, real_catalogue,
                                             score_study, summarise)
from spinedetect.evaluate.truth_sources import TRUTH_MAPPINGS, TruthFormat

#: The real spine studies of the shared data (its README), by collection.
EXPECTED_STUDIES = {
    "real-mri-vb": {f"VB1_{i:02d}" for i in (2, 3, 6, 7, 8, 10, 11)}
    | {f"VB2_{i:02d}" for i in (2, 4, 5, 6, 7, 8, 9, 10, 12, 13, 14, 16)} | {"VB3_01", "VB3_02"},
    "real-ct": {"example_ct", "example_ct_dicom", "example_mr_sm"},
    "real-cord": {"sct_t2", "sct_t1w"},
    "real-tptbox": {"tptbox_mri", "tptbox_ct"},
    "real-unlabelled": {"sct_t2_lumbar"},
}


def test_catalogue_holds_every_real_spine_study(shared_data: Path) -> None:
    found: dict[str, set[str]] = {}
    for st in real_catalogue(shared_data):
        found.setdefault(st.collection, set()).add(st.name)
        assert st.image.exists()
    assert found == EXPECTED_STUDIES


def _superior_to_inferior(levels: dict[str, np.ndarray]) -> list[str]:
    return sorted(levels, key=lambda n: -levels[n][2])


def test_known_levels_follow_the_data_readme(shared_data: Path) -> None:
    by_name = {st.name: st for st in real_catalogue(shared_data)}
    assert _superior_to_inferior(known_levels(by_name["VB3_01"])) == ["L1", "L2", "L3", "L4", "L5"]
    assert _superior_to_inferior(known_levels(by_name["VB2_02"])) == ["T11", "T12", "L1", "L2", "L3", "L4", "L5"]
    assert set(known_levels(by_name["example_ct"])) == {"T11", "T12", "L1", "L2", "L3", "L4", "L5", "S1"}
    assert _superior_to_inferior(known_levels(by_name["sct_t2"])) == ["C2", "C3", "C4", "C5"]
    assert _superior_to_inferior(known_levels(by_name["tptbox_mri"])) == ["C5", "C6", "C7"]
    assert _superior_to_inferior(known_levels(by_name["tptbox_ct"])) == ["L2", "L3", "L4"]
    assert known_levels(by_name["VB1_02"]) == {}  # VB1 levels are not documented
    # consecutive lumbar bodies lie one body + disc apart (25-45 mm), a check of the centroids' units
    l2, l3 = known_levels(by_name["VB3_01"])["L2"], known_levels(by_name["VB3_01"])["L3"]
    assert 25 < np.linalg.norm(l2 - l3) < 45


def test_catalogue_refuses_a_missing_folder(tmp_path: Path) -> None:
    from spinedetect.errors import InputError

    with pytest.raises(InputError, match="does not exist"):
        real_catalogue(tmp_path / "nope")


def _write(path: Path, array: np.ndarray, affine: np.ndarray) -> None:
    nib.save(nib.Nifti1Image(array, affine), str(path))


def _hand_made_study(tmp_path: Path, second_name: str = "L3?") -> tuple[RealStudy, Path, dict]:
    """A 2 mm grid with two bodies (truth ids 1, 2 = L1, L2), a 2-piece lesion and a tumour of known size."""
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    truth = np.zeros((20, 20, 40), np.int16)
    truth[5:15, 5:15, 25:35] = 1   # superior body (z larger in RAS): L1
    truth[5:15, 5:15, 5:15] = 2    # inferior: L2
    _write(tmp_path / "case_vb.nii.gz", truth, affine)
    pred = np.zeros(truth.shape, np.uint8)
    pred[5:15, 5:15, 25:35] = 1
    pred[5:15, 5:15, 5:10] = 1     # half of L2 found
    pred[0, 0, 0] = 6
    pred[19, 19, 39] = 6           # two lesion pieces of one voxel (8 mm³ each)
    pred[0:2, 18:20, 0:2] = 7      # one tumour piece of 8 voxels (64 mm³)
    out = tmp_path / "out"
    out.mkdir()
    _write(out / "labels.nii.gz", pred, affine)
    centre = lambda k0, k1: [19.0, 19.0, float(k0 + k1 - 1)]  # world mm of the box centre (2 mm voxels)
    report = {"alert": {"level": "watch", "worst_level": "L1", "reasons": ["L1: 1 osseous lesion"]},
              "levels": [{"name": "L1", "body_center_mm": centre(25, 35), "canal_compromise_pct": 12.5},
                         {"name": second_name, "body_center_mm": centre(5, 15), "canal_compromise_pct": None}],
              "lesions": [{}], "naming": {"rule": "sacrum", "confidence": 0.4}}
    (out / "report.json").write_text(json.dumps(report))
    study = RealStudy("case", "real-mri-vb", "MR", tmp_path / "case_img.nii.gz",
                      ((tmp_path / "case_vb.nii.gz", TRUTH_MAPPINGS[TruthFormat.REAL_MRI_VB]),),
                      (tmp_path / "case_vb.nii.gz", LevelSource.VB_IDS_L1_L5))
    return study, out, {"status": "ok", "seconds": 1.5}


def test_score_study_counts_what_the_outputs_show(tmp_path: Path) -> None:
    study, out, record = _hand_made_study(tmp_path)
    sc = score_study(study, out, record)
    assert (sc.alert, sc.lead_level, sc.lead_canal_compromise_pct) == ("watch", "L1", 12.5)
    assert (sc.lesion_pieces, sc.lesion_mm3) == (2, 16.0)
    assert (sc.tumour_pieces, sc.tumour_mm3) == (1, 64.0)
    assert sc.level_pairs == [("L1", "L1"), ("L2", "L3?")]
    assert (sc.levels_known, sc.levels_found, sc.levels_right, sc.levels_wrong_unmarked) == (2, 2, 1, 0)
    # body ∪ lesion: 1500 body voxels found of 2000, and the 2 lesion voxels outside the truth
    assert sc.dice["vertebral_body+osseous_lesion"] == pytest.approx(2 * 1500 / (1502 + 2000), abs=1e-4)
    assert sc.seconds == 1.5


@pytest.mark.parametrize(("second", "unnamed", "unmarked"), [("V2", 1, 0), ("L3", 0, 1), ("L2", 0, 0)])
def test_generic_names_are_unnamed_and_wrong_names_unmarked(tmp_path: Path, second: str, unnamed: int,
                                                          unmarked: int) -> None:
    sc = score_study(*_hand_made_study(tmp_path, second))
    assert (sc.levels_unnamed, sc.levels_wrong_unmarked) == (unnamed, unmarked)
    assert sc.levels_right == (2 if second == "L2" else 1)


def test_failed_study_is_scored_as_failed(tmp_path: Path) -> None:
    study, _, _ = _hand_made_study(tmp_path)
    sc = score_study(study, None, {"status": "failed", "error": "KeyError: ''"})
    assert (sc.status, sc.error, sc.alert) == ("failed", "KeyError: ''", None)


def test_summarise_adds_up_alerts_and_naming() -> None:
    a = StudyScore("a", "real-mri-vb", "ok", alert="urgent", lesion_pieces=2, lesion_mm3=10.0, levels_known=5,
                   levels_right=4, dice={"cord": 0.5}, seconds=2.0)
    b = StudyScore("b", "real-mri-vb", "ok", alert="none", tumour_pieces=1, tumour_mm3=3.0, levels_known=5,
                   levels_right=5, dice={"cord": 0.7}, seconds=4.0)
    c = StudyScore("c", "real-ct", "failed")
    t = summarise([a, b, c])
    assert (t["studies"], t["failed"], t["urgent"], t["watch"], t["none"]) == (3, 1, 1, 0, 1)
    assert (t["studies_with_lesion_or_tumour"], t["lesion_mm3"], t["tumour_mm3"]) == (2, 10.0, 3.0)
    assert (t["levels_right"], t["levels_known"], t["levels_right_pct"]) == (9, 10, 90.0)
    assert t["dice_mean"] == {"real-mri-vb: cord": 0.6}
    assert t["seconds_mean"] == 3.0


def test_evaluate_real_runs_the_batch_and_scores_it(shared_data: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "eval"
    rc = evaluate_main(["--real", str(shared_data), "--studies", "VB3_02,tptbox_ct", "--out", str(out),
                        "--no-progress"])
    assert rc == 0
    doc = json.loads((out / "real_scans.json").read_text())
    studies = {s["name"]: s for s in doc["studies"]}
    assert set(studies) == {"VB3_02", "tptbox_ct"}
    assert all(s["status"] == "ok" for s in studies.values())
    assert (studies["VB3_02"]["levels_known"], studies["tptbox_ct"]["levels_known"]) == (5, 3)
    assert 0.0 <= studies["VB3_02"]["dice"]["vertebral_body+osseous_lesion"] <= 1.0
    assert doc["totals"]["studies"] == 2
    assert (out / "infer" / "index.html").is_file() and (out / "real_scans.md").is_file()
    assert "real scans: 2 studies" in capsys.readouterr().out
    # scoring the same outputs again without the pipeline gives the same figures
    (out / "real_scans.json").unlink()
    assert evaluate_main(["--real", str(shared_data), "--studies", "VB3_02,tptbox_ct", "--out", str(out),
                          "--rescore"]) == 0
    assert json.loads((out / "real_scans.json").read_text())["totals"] == doc["totals"]


def test_evaluate_refuses_real_with_pred(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert evaluate_main(["--real", str(tmp_path), "--pred", str(tmp_path)]) == 2
    assert "cannot be combined" in capsys.readouterr().err
    assert evaluate_main([]) == 2
    assert "Nothing to evaluate" in capsys.readouterr().err
