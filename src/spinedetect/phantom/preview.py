"""Preview pictures of a phantom: mid-sagittal and the cross-section at the worst level, labels overlaid."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from spinedetect.outputs.overlay import Mark, axial_plane, render_overlay, sagittal_plane, save_png
from spinedetect.outputs.study_pictures import volume_extent_mm
from spinedetect.phantom.generator import Phantom

__all__ = ["write_previews"]


def write_previews(ph: Phantom, out_dir: Path, *, pixel_mm: float = 0.5, prefix: str = "") -> list[Path]:
    """Write ``sagittal.png`` and ``axial_worst.png`` (labels over the image) into ``out_dir``."""
    truth = ph.truth
    line = np.asarray(truth.centreline_mm)
    center = np.median(line, axis=0)
    window = (-200.0, 1000.0) if ph.image.modality == "CT" else None
    sag = sagittal_plane(center, 1.0, 1.0)
    w = volume_extent_mm(ph.image, center, np.asarray(sag.right_dir))
    h = volume_extent_mm(ph.image, center, np.asarray(sag.up_dir))
    sag = sagittal_plane(center, w, h)
    # level names in front of (left of) each body
    marks = [Mark(lv.name, tuple(float(x) for x in lv.body_center_mm), (-int(24.0 / pixel_mm), 0))
             for lv in truth.levels]
    title = (f"{prefix}seed {truth.seed}  {truth.modality} {truth.contrast} {truth.acquisition}  "
             f"alert: {truth.alert['level']}")
    pics = []
    pic = render_overlay(ph.image, ph.labels, sag, pixel_mm=pixel_mm, title=title + "  (mid-sagittal)",
                         marks=marks, window=window, side_by_side=True)
    pics.append(save_png(pic, Path(out_dir) / "sagittal.png"))
    worst = truth.worst
    pos = np.asarray(worst["position_mm"] if worst["position_mm"] is not None else center)
    k = int(np.argmin(np.linalg.norm(line - pos, axis=1)))
    a, b = line[max(k - 3, 0)], line[min(k + 3, len(line) - 1)]
    ax = axial_plane(pos, 120.0, normal=a - b)
    wl = worst.get("level")
    pct = worst.get("canal_compromise_pct")
    sub = f"worst level {wl}: canal compromise {pct:.0f} %" if pct is not None else "worst level"
    pic = render_overlay(ph.image, ph.labels, ax, pixel_mm=0.25, title=f"{prefix}seed {truth.seed}  {sub}",
                         window=window, side_by_side=True)
    pics.append(save_png(pic, Path(out_dir) / "axial_worst.png"))
    return pics
