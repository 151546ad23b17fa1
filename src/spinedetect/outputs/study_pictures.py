"""The two pictures every study gets: mid-sagittal with level names, and the worst cross-section.

Used for phantom previews (positions from the phantom truth) and for batch inference (positions from
the measurement report): both describe a study by the same keys (``centreline_mm``, ``worst``,
``levels[*].name`` and ``body_center_mm``), so one function draws both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from spinedetect.io.volume import Volume
from spinedetect.outputs.overlay import Mark, axial_plane, render_overlay, sagittal_plane, save_png

__all__ = ["SAGITTAL_PNG", "WORST_SECTION_PNG", "volume_extent_mm", "naming_text", "write_study_pictures"]

SAGITTAL_PNG = "sagittal.png"
WORST_SECTION_PNG = "axial_worst.png"


def volume_extent_mm(volume: Volume, center: np.ndarray, direction: np.ndarray) -> float:
    """Twice the largest distance (mm) from ``center`` to a volume corner along unit ``direction``."""
    corners = np.array([[i, j, k] for i in (0, volume.shape[0] - 1) for j in (0, volume.shape[1] - 1)
                        for k in (0, volume.shape[2] - 1)], dtype=np.float64)
    world = corners @ volume.affine[:3, :3].T + volume.affine[:3, 3]
    return float(2.0 * np.max(np.abs((world - center) @ direction)))


def _section_text(worst: Mapping[str, Any], levels: Sequence[Mapping[str, Any]]) -> str:
    name = worst.get("level")
    pct = worst.get("canal_compromise_pct")
    if name is None or pct is None:
        return "worst cross-section: not measurable"
    parts = [f"worst level {name}: canal compromise {pct:.0f} %"]
    for lv in levels:
        if lv.get("name") == name:
            if lv.get("canal_area_mm2") is not None:
                parts.append(f"canal {lv['canal_area_mm2']:.0f} mm²")
            if lv.get("cord_compression_pct") is not None:
                parts.append(f"cord compression {lv['cord_compression_pct']:.0f} %")
            if lv.get("bilsky") is not None:
                parts.append(f"Bilsky {lv['bilsky']}")
    return ", ".join(parts)


def naming_text(naming: Mapping[str, Any] | None, levels: Sequence[Mapping[str, Any]]) -> str:
    """How sure the level names are, for a picture's title ("" without a ``naming`` entry)."""
    if not naming:
        return ""
    if naming.get("rule") == "none":
        return "levels not named (numbered V1..Vn)"
    text = f"levels by {naming.get('rule')}, confidence {float(naming.get('confidence') or 0.0):.2f}"
    if any(str(lv.get("name", "")).endswith("?") for lv in levels):
        text += " (names with ? are uncertain)"
    return text


def write_study_pictures(image: Volume, labels: Volume | None, study: Mapping[str, Any], out_dir: str | Path, *,
                         title: str = "", pixel_mm: float = 0.5) -> list[Path]:
    """Write ``sagittal.png`` and ``axial_worst.png`` into ``out_dir`` and return their paths.

    ``study`` is a measurement report or phantom truth mapping (``centreline_mm`` in RAS mm, ``worst``
    with ``position_mm``, ``levels`` with ``name`` and optionally ``body_center_mm``). The sagittal
    picture passes through the canal's median point; the cross-section is perpendicular to the canal
    centreline at the worst position, so an oblique acquisition still shows a true cross-section.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    line = np.asarray(study.get("centreline_mm") or [], dtype=np.float64).reshape(-1, 3)
    centre = np.median(line, axis=0) if len(line) else image.affine[:3] @ np.r_[(np.array(image.shape) - 1) / 2, 1]
    window = (-200.0, 1000.0) if image.modality == "CT" else None
    unit = sagittal_plane(centre, 1.0, 1.0)
    sag = sagittal_plane(centre, volume_extent_mm(image, centre, np.asarray(unit.right_dir)),
                         volume_extent_mm(image, centre, np.asarray(unit.up_dir)))
    levels = list(study.get("levels") or [])
    sag_title = f"{title}  (mid-sagittal)  {naming_text(study.get('naming'), levels)}".strip()
    marks = [Mark(str(lv["name"]), tuple(float(x) for x in lv["body_center_mm"]), (-int(24.0 / pixel_mm), 0))
             for lv in levels if lv.get("body_center_mm") is not None]
    paths = [save_png(render_overlay(image, labels, sag, pixel_mm=pixel_mm, title=sag_title,
                                     marks=marks, window=window, side_by_side=True), out_dir / SAGITTAL_PNG)]
    worst = study.get("worst") or {}
    pos = np.asarray(worst["position_mm"], dtype=np.float64) if worst.get("position_mm") is not None else centre
    if len(line) >= 2:
        k = int(np.argmin(np.linalg.norm(line - pos, axis=1)))
        normal = line[max(k - 3, 0)] - line[min(k + 3, len(line) - 1)]
    else:
        normal = np.array([0.0, 0.0, 1.0])
    ax = axial_plane(pos, 120.0, normal=normal)
    text = _section_text(worst, levels)
    paths.append(save_png(render_overlay(image, labels, ax, pixel_mm=0.25, title=f"{title}  {text}".strip(),
                                         window=window, side_by_side=True), out_dir / WORST_SECTION_PNG))
    return paths
