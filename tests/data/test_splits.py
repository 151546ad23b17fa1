import json
from pathlib import Path

import pytest

from spinedetect.data import RealMriVbDataset, check_split, load_split
from spinedetect.data.shared import VB_GROUPS
from spinedetect.errors import ConfigError

SPLIT = Path(__file__).resolve().parents[2] / "configs" / "splits" / "real_mri_vb.json"


def test_split_keeps_subject_groups_together():
    split = load_split(SPLIT)
    side = {c: s for s in ("train", "validation", "test") for c in split[s]}
    assert side["VB1_10"] == side["VB1_11"]
    assert len({side[c] for c in ("VB1_02", "VB1_03", "VB1_06", "VB1_07", "VB1_08")}) == 1
    assert {k: tuple(v) for k, v in split["groups"].items()} == VB_GROUPS
    assert all(split[s] for s in ("train", "validation", "test"))


def test_split_covers_every_real_case(shared_data):
    split = load_split(SPLIT)
    listed = sorted(split["train"] + split["validation"] + split["test"])
    assert listed == RealMriVbDataset(shared_data / "real-mri-vb").case_ids()


def test_inconsistent_split_is_refused(tmp_path):
    bad = {"groups": {"g": ["a", "b"]}, "train": ["a", "c"], "validation": ["b"], "test": ["c"]}
    problems = check_split(bad)
    assert any("both train and test" in p for p in problems) and any("group g" in p for p in problems)
    path = tmp_path / "s.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(ConfigError, match="inconsistent"):
        load_split(path)


REAL_SCANS = SPLIT.with_name("real_scans.json")


def test_real_scans_split_keeps_the_vb_split():
    scans, vb = load_split(REAL_SCANS), load_split(SPLIT)
    for subset in ("train", "validation", "test"):
        assert [c for c in scans[subset] if c.startswith("VB")] == vb[subset], subset
    assert scans["groups"] == vb["groups"]
    assert [c for c in scans["train"] if not c.startswith("VB")] == ["sct_t1w", "example_ct"]
    never = {"sct_t2", "example_ct_dicom", "example_mr_sm", "tptbox_mri", "tptbox_ct", "sct_t2_lumbar"}
    assert never <= set(scans["test"])


def test_real_scans_split_names_the_evaluated_studies(shared_data):
    from spinedetect.evaluate.real_scans import real_catalogue

    scans = load_split(REAL_SCANS)
    listed = sorted(scans["train"] + scans["validation"] + scans["test"])
    assert sorted(st.name for st in real_catalogue(shared_data)) == listed
