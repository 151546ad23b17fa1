import json

from spinedetect.cli.main import main
from tests.evaluate.conftest import schema_labels, study_doc, write_case


def make_pair(tmp_path):
    pred, truth = tmp_path / "pred", tmp_path / "truth"
    t_doc = study_doc("urgent", [("T11", 60.0, "2", 0), ("T12", 0.0, None, 0)], ("T11", 60.0, [0.0, 0.0, 10.0]))
    t_doc["lesions"] = [{"level": "T11", "centroid_mm": [7.0, 7.0, 7.0]}]
    p_doc = study_doc("watch", [("T11", 40.0, "1c", 0), ("T12", 3.0, None, 0)], ("T11", 40.0, [0.0, 0.0, 12.0]))
    write_case(truth, "case01", schema_labels(), t_doc)
    write_case(pred, "case01", schema_labels(shift=1), p_doc, json_name="report.json")
    write_case(truth, "case02", schema_labels(epidural=False), study_doc("none", [], (None, None, None)))
    write_case(pred, "case02", schema_labels(lesion=False))  # no report.json: measured cases exclude it
    write_case(truth, "only_truth", schema_labels())
    write_case(pred, "only_pred", schema_labels(), json_name="report.json")
    return pred, truth


def test_cli_end_to_end(tmp_path, capsys):
    pred, truth = make_pair(tmp_path)
    out = tmp_path / "out"
    assert main(["evaluate", "--pred", str(pred), "--truth", str(truth), "--out", str(out), "--no-progress"]) == 0
    for name in ("evaluation.json", "evaluation.md", "dice_boxplot.png", "compromise_scatter.png",
                 "bilsky_confusion.png"):
        assert (out / name).stat().st_size > 0, name
    doc = json.loads((out / "evaluation.json").read_text())
    assert doc["truth_format"] == "phantom" and doc["n_cases"] == 2
    assert doc["missing_predictions"] == ["only_truth"] and doc["unmatched_predictions"] == ["only_pred"]
    assert doc["cases"]["case01"]["classes"]["vertebral_body"]["dice"] == 1.0
    assert doc["segmentation"]["cord"]["dice_worst"]["case"] == "case01"
    det = doc["detection"]["osseous_lesion"]
    # case02's lesion is missed (its prediction has none); per level only case01 names its lesions
    assert det["n_true"] == 2 and det["n_detected"] == 1 and det["false_positives_per_study"] == 0.0
    assert det["studies_with_missed_lesions"] == ["case02"]
    assert doc["detection"]["epidural_tumour"]["false_positives_per_study"] == 0.5
    assert det["per_level"] == {"T11": {"n_true": 1, "n_detected": 1, "sensitivity": 1.0}}
    assert doc["measurements"]["alert"]["urgent_missed"] == [{"case": "case01", "predicted": "watch",
                                                             "report_had_alert": True}]
    assert doc["measurements"]["worst_level"]["position_error_mm"]["max"] == 2.0
    assert doc["cases_with_truth_json_but_no_report"] == ["case02"]
    assert doc["measurements"]["n_cases"] == 1
    md = (out / "evaluation.md").read_text()
    assert "Urgent cases missed: case01 (predicted watch)" in md and ">= 1 voxel" in md
    stdout = capsys.readouterr().out
    assert "evaluated 2 case(s)" in stdout and "only_truth" in stdout


def test_cli_missing_folder_is_exit_2_one_line(tmp_path, capsys):
    assert main(["evaluate", "--pred", str(tmp_path / "nope"), "--truth", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--pred folder" in err[0] and "does not exist" in err[0]


def test_cli_no_truth_cases_is_exit_2(tmp_path, capsys):
    (tmp_path / "p").mkdir()
    (tmp_path / "t").mkdir()
    assert main(["evaluate", "--pred", str(tmp_path / "p"), "--truth", str(tmp_path / "t")]) == 2
    assert "No truth cases" in capsys.readouterr().err


def test_cli_default_out_is_beside_pred(tmp_path):
    pred, truth = make_pair(tmp_path)
    assert main(["evaluate", "--pred", str(pred), "--truth", str(truth), "--no-progress"]) == 0
    assert (tmp_path / "pred_evaluation" / "evaluation.json").is_file()
