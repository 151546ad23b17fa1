"""scripts/make_readme_pictures.py works (quick mode, one coarse study), and the README shows the committed pictures."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import spinedetect
from spinedetect.model import DEFAULT_WEIGHTS, default_checkpoint
from tests.conftest import REPO, load_script

PICTURES = ("overlay_sagittal.png", "overlay_worst_section.png", "review_page.png")
MAX_BYTES = 300 * 1024


def test_readme_embeds_the_committed_pictures():
    readme = (REPO / "README.md").read_text()
    embedded = re.findall(r"!\[[^\]]+\]\((docs/images/[^)]+)\)", readme)
    assert sorted(Path(p).name for p in embedded) == sorted(PICTURES)
    for rel in embedded:
        path = REPO / rel
        assert path.is_file(), rel
        assert path.stat().st_size <= MAX_BYTES, f"{rel} is {path.stat().st_size // 1024} KiB"
        with Image.open(path) as im:
            im.verify()


def test_png_bytes_fits_the_limit():
    script = load_script("scripts/make_readme_pictures.py")
    rng = np.random.default_rng(0)
    noisy = Image.fromarray(rng.integers(0, 256, (300, 400, 3), dtype=np.uint8))  # ~350 KiB as plain PNG
    data = script.png_bytes(noisy, max_kb=200)
    assert len(data) <= 200 * 1024
    flat = Image.fromarray(np.full((300, 400, 3), 90, np.uint8))
    assert script.png_bytes(flat, max_kb=200)[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(SystemExit, match="does not fit"):
        script.png_bytes(noisy, max_kb=5)


@pytest.mark.skipif(default_checkpoint() is None, reason=f"the shipped model is absent ({DEFAULT_WEIGHTS})")
def test_script_makes_the_pictures(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join(p for p in (str(Path(spinedetect.__file__).resolve().parents[1]),
                                                      os.environ.get("PYTHONPATH")) if p))
    out, work = tmp_path / "images", tmp_path / "work"
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "make_readme_pictures.py"), "--quick",
                           "--out", str(out), "--work", str(work)], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    (study,) = [p for p in (work / "results").iterdir() if p.name.startswith("study-")]
    for name, source in (("overlay_sagittal.png", "sagittal.png"), ("overlay_worst_section.png", "axial_worst.png")):
        assert (out / name).stat().st_size <= MAX_BYTES
        with Image.open(out / name) as got, Image.open(study / "overlays" / source) as want:
            # the study's own picture, at most re-encoded with fewer colours or scaled down to fit
            assert abs(got.width / got.height - want.width / want.height) < 0.01
    chromium = load_script("scripts/headless_chromium.py").find_chromium()
    if chromium is None:
        assert "review_page.png not made" in done.stdout and not (out / "review_page.png").exists()
        return
    with Image.open(out / "review_page.png") as shot:
        assert shot.size == (1280, 900)
        pixels = np.asarray(shot.convert("RGB"))
    assert pixels.std() > 10  # a rendered page, not a blank window
