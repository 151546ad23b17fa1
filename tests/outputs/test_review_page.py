from html.parser import HTMLParser

import numpy as np
from PIL import Image

from spinedetect.alert.rules import AlertLevel
from spinedetect.outputs.review_page import StudyEntry, write_review_page


class _Rows(HTMLParser):
    def __init__(self):
        super().__init__()
        self.alerts, self.images = [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr" and "data-alert" in a:
            self.alerts.append(a["data-alert"])
        if tag == "img":
            self.images.append(a["src"])


def test_worklist_is_sorted_by_urgency_and_self_contained(tmp_path):
    png = tmp_path / "mid_sagittal.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(png)
    entries = [
        StudyEntry("s-clean", alert_level=AlertLevel.NONE, canal_compromise_pct=2.0, overlays=(png,)),
        StudyEntry("s-watch", alert_level=AlertLevel.WATCH, canal_compromise_pct=30.0, reasons=("T12: Bilsky 1a",)),
        StudyEntry("s-bad", status="failed", error="truncated file"),
        StudyEntry("s-urgent-2", alert_level=AlertLevel.URGENT, canal_compromise_pct=40.0),
        StudyEntry("s-urgent-1", alert_level=AlertLevel.URGENT, canal_compromise_pct=70.0,
                   reasons=("L1: Bilsky 3 <script>",), overlays=(png,)),
    ]
    page = write_review_page(entries, tmp_path / "index.html", subtitle="batch 1")
    text = page.read_text()
    parser = _Rows()
    parser.feed(text)
    assert parser.alerts == ["urgent", "urgent", "failed", "watch", "none"]
    assert text.index("s-urgent-1") < text.index("s-urgent-2")
    assert len(parser.images) == 2 and all(src.startswith("data:image/png;base64,") for src in parser.images)
    assert text.count("<script>") == 1 and "L1: Bilsky 3 &lt;script&gt;" in text  # only our own check script
    assert "truncated file" in text
    assert not list(tmp_path.glob(".index.html.tmp*"))


def test_level_name_confidence_is_shown(tmp_path):
    entries = [StudyEntry("s-sure", alert_level=AlertLevel.WATCH, worst_level="L4", naming_confidence=0.9),
               StudyEntry("s-unsure", alert_level=AlertLevel.WATCH, worst_level="L5?", naming_confidence=0.45),
               StudyEntry("s-unnamed", alert_level=AlertLevel.NONE, worst_level="V3", naming_confidence=0.0),
               StudyEntry("s-unknown", alert_level=AlertLevel.NONE)]
    text = write_review_page(entries, tmp_path / "index.html").read_text()
    assert "L5?<br><small>level names: confidence 0.45</small>" in text
    assert "L4<br><small>level names: confidence 0.90</small>" in text
    assert "V3<br><small>levels not named</small>" in text
    assert text.count("level names: confidence") == 2


def test_sagittal_title_says_how_sure_the_names_are():
    from spinedetect.outputs.study_pictures import naming_text

    unsure = [{"name": "L4?"}, {"name": "L5?"}]
    assert naming_text({"rule": "sacrum", "confidence": 0.5}, unsure) == \
        "levels by sacrum, confidence 0.50 (names with ? are uncertain)"
    assert naming_text({"rule": "hint", "confidence": 1.0}, [{"name": "L5"}]) == "levels by hint, confidence 1.00"
    assert naming_text({"rule": "none", "confidence": 0.0}, [{"name": "V1"}]).startswith("levels not named")
    assert naming_text(None, unsure) == ""  # phantom truth has no naming entry
