"""The review page opened in headless Chromium: worklist order, every picture decodes, a screenshot."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from spinedetect.alert.rules import AlertLevel
from spinedetect.outputs.review_page import StudyEntry, write_review_page
from tests.conftest import load_script

browser = load_script("scripts/headless_chromium.py")
ARTIFACTS = Path(__file__).resolve().parents[2] / "out" / "test-artifacts"

pytestmark = pytest.mark.skipif(browser.find_chromium() is None,
                                reason="chromium is not installed (scripts/test.sh installs Debian's chromium "
                                       "package when run as root)")


def test_page_in_chromium(tmp_path):
    pics = []
    for n, colour in enumerate([(200, 30, 30), (30, 200, 30), (30, 30, 200)]):
        arr = np.zeros((120, 90, 3), np.uint8)
        arr[20:100, 20:70] = colour
        pics.append(tmp_path / f"p{n}.png")
        Image.fromarray(arr).save(pics[-1])
    entries = [
        StudyEntry("study-clean", alert_level=AlertLevel.NONE, canal_compromise_pct=1.0, overlays=(pics[0],)),
        StudyEntry("study-urgent", alert_level=AlertLevel.URGENT, canal_compromise_pct=60.0, worst_level="L1",
                   bilsky="3", reasons=("L1: Bilsky 3 (cord compressed, no CSF around it)",), overlays=(pics[1],)),
        StudyEntry("study-watch", alert_level=AlertLevel.WATCH, canal_compromise_pct=20.0, overlays=(pics[2],)),
        StudyEntry("study-failed", status="failed", error="no usable image series"),
    ]
    page = write_review_page(entries, tmp_path / "index.html", subtitle="browser test")
    dom = browser.dump_dom(page, tmp_path / "profile")
    order = re.findall(r'<tr class="study" data-alert="(\w+)"', dom)
    assert order == ["urgent", "failed", "watch", "none"]
    assert re.search(r'data-images-total="3"', dom) and re.search(r'data-images-loaded="3"', dom), dom[-500:]
    assert 'id="img-warning" class="warning" hidden' in dom
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = browser.screenshot(page, ARTIFACTS / "review_page.png", tmp_path / "profile2", size=(1280, 800))
    assert shot.is_file() and Image.open(shot).size == (1280, 800)


def test_a_missing_picture_is_flagged_on_the_page(tmp_path):
    page = write_review_page([StudyEntry("s", alert_level=AlertLevel.NONE)], tmp_path / "index.html")
    html = page.read_text().replace("</tbody>", '<tr><td><img src="data:image/png;base64,AAAA"></td></tr></tbody>')
    page.write_text(html)
    dom = browser.dump_dom(page, tmp_path / "profile")
    assert 'data-images-loaded="0"' in dom and "failed to load" in dom
