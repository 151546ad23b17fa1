"""Evaluate a folder of predictions against a folder of truth: pairing, scoring, summaries."""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable

import nibabel as nib
import numpy as np

from spinedetect.errors import InputError
from spinedetect.evaluate.lesions import MATCH_RULE, LesionMatch
from spinedetect.evaluate.measurements import evaluate_measurements
from spinedetect.evaluate.segmentation import (CaseSegmentation, evaluate_segmentation, scored_unions,
                                               union_key, union_title)
from spinedetect.evaluate.truth_sources import (PAIRING_RULE, TRUTH_MAPPINGS, CaseFiles, TruthFormat,
                                                detect_format, find_cases)
from spinedetect.io import Volume

__all__ = ["EvaluationResult", "load_label_volume", "evaluate_folders", "RULES"]

log = logging.getLogger(__name__)

RULES: dict[str, str] = {
    "pairing": PAIRING_RULE,
    "grid": "the prediction is resampled onto the truth grid by nearest neighbour in world space "
            "(through both affines) when the grids differ; scores are computed on the truth grid",
    "dice": "2|P∩T|/(|P|+|T|); both empty: not scored (status 'absent'); one empty: 0",
    "hd95": "95 % Hausdorff distance in mm between surface voxels (mask voxels with a face neighbour "
            "outside the mask), the larger "
            "of the two directed 95th percentiles; one empty: infinite, left out of HD95 summaries and "
            "counted as 'missed' (prediction empty) or 'spurious' (truth empty)",
    "detection": MATCH_RULE,
    "detection_per_level": "a true lesion takes the level of the nearest truth.json 'lesions' entry "
                           "(by its centroid_mm / center_mm / position_mm)",
}


def load_label_volume(path: Path) -> Volume:
    """A NIfTI label map as a :class:`Volume` with an integer array; refuses non-integer values."""
    try:
        img = nib.load(str(path))
        data = np.asanyarray(img.dataobj)
    except (OSError, ValueError, nib.filebasedimages.ImageFileError) as exc:
        raise InputError(f"Cannot read label map {path}", expected="a NIfTI file", found=str(exc)) from None
    data = np.squeeze(data)
    if data.ndim != 3:
        raise InputError(f"Label map {path} is not 3-D", expected="a 3-D label map", found=f"shape {data.shape}")
    if data.dtype.kind == "f":
        if not np.all(np.isfinite(data)) or not np.array_equal(data, np.round(data)):
            raise InputError(f"Label map {path} holds non-integer values", expected="integer labels",
                             found=f"{data.dtype} values such as {data[data != np.round(data)][:3].tolist()}",
                             hint="Write label maps with an integer data type")
        data = data.astype(np.int32)
    return Volume(np.asarray(data), img.affine)


def _read_json(path: Path) -> dict:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"Cannot read {path}", expected="a JSON object", found=str(exc)) from None
    if not isinstance(doc, dict):
        raise InputError(f"{path} is not a JSON object", expected="an object", found=type(doc).__name__)
    return doc


def _lesion_entries(truth_doc: dict | None) -> list[tuple[str, np.ndarray]]:
    entries = []
    for les in (truth_doc or {}).get("lesions") or []:
        if not isinstance(les, dict) or les.get("level") is None:
            continue
        for key in ("centroid_mm", "center_mm", "position_mm"):
            pos = les.get(key)
            if isinstance(pos, (list, tuple)) and len(pos) == 3:
                entries.append((str(les["level"]), np.asarray(pos, dtype=np.float64)))
                break
    return entries


def _with_levels(match: LesionMatch, entries: list[tuple[str, np.ndarray]]) -> LesionMatch:
    if not entries:
        return match
    points = np.stack([p for _, p in entries])

    def nearest(c: tuple[float, float, float]) -> str:
        return entries[int(np.argmin(np.linalg.norm(points - np.asarray(c), axis=1)))][0]

    return replace(match, true_lesions=tuple(replace(les, level=nearest(les.centroid_mm))
                                             for les in match.true_lesions))


def _finite(values: Iterable[float]) -> list[float]:
    return [v for v in values if math.isfinite(v)]


@dataclass
class EvaluationResult:
    """Everything one evaluation found: per-case scores, summaries, detection, measurements, rules."""

    pred_dir: str
    truth_dir: str
    truth_format: str
    classes: dict[str, str]
    cases: dict[str, CaseSegmentation] = field(default_factory=dict)
    missing_predictions: list[str] = field(default_factory=list)
    unmatched_predictions: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    measurements: dict | None = None
    measurement_error: str | None = None
    missing_reports: list[str] = field(default_factory=list)

    def segmentation_summary(self) -> dict[str, dict]:
        """Per class key: counts by status, Dice and HD95 mean/median and the worst case by name."""
        out: dict[str, dict] = {}
        for key in self.classes:
            scores = {c: s.classes[key] for c, s in self.cases.items() if key in s.classes}
            statuses = [s.status for s in scores.values()]
            dices = {c: s.dice for c, s in scores.items() if not math.isnan(s.dice)}
            hds = {c: s.hd95_mm for c, s in scores.items() if math.isfinite(s.hd95_mm)}
            worst_d = min(dices, key=dices.__getitem__) if dices else None
            worst_h = max(hds, key=hds.__getitem__) if hds else None
            out[key] = {
                "title": self.classes[key],
                **{f"n_{st}": statuses.count(st) for st in ("scored", "absent", "missed", "spurious")},
                "dice_mean": float(np.mean(list(dices.values()))) if dices else None,
                "dice_median": float(np.median(list(dices.values()))) if dices else None,
                "dice_worst": {"case": worst_d, "value": dices[worst_d]} if worst_d else None,
                "hd95_mm_mean": float(np.mean(list(hds.values()))) if hds else None,
                "hd95_mm_median": float(np.median(list(hds.values()))) if hds else None,
                "hd95_mm_worst": {"case": worst_h, "value": hds[worst_h]} if worst_h else None,
            }
        return out

    def detection_summary(self) -> dict[str, dict]:
        """Per lesion class: pooled sensitivity, false positives per study, and per level when known."""
        out: dict[str, dict] = {}
        keys = sorted({k for s in self.cases.values() for k in s.lesions})
        for key in keys:
            matches = {c: s.lesions[key] for c, s in self.cases.items() if key in s.lesions}
            n_true = sum(m.n_true for m in matches.values())
            n_det = sum(m.n_detected for m in matches.values())
            per_level: dict[str, dict[str, int]] = {}
            for m in matches.values():
                for les in m.true_lesions:
                    if les.level is not None:
                        row = per_level.setdefault(les.level, {"n_true": 0, "n_detected": 0})
                        row["n_true"] += 1
                        row["n_detected"] += int(les.matched)
            out[key] = {
                "n_studies": len(matches), "n_true": n_true, "n_detected": n_det,
                "sensitivity": n_det / n_true if n_true else None,
                "false_positives_total": sum(m.n_false_positive for m in matches.values()),
                "false_positives_per_study": (sum(m.n_false_positive for m in matches.values()) / len(matches)
                                              if matches else None),
                "studies_with_missed_lesions": [c for c, m in matches.items() if m.n_detected < m.n_true],
                "per_level": {lv: {**r, "sensitivity": r["n_detected"] / r["n_true"]}
                              for lv, r in sorted(per_level.items())},
            }
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (non-finite numbers become null, with a status saying why)."""
        return {
            "pred_dir": self.pred_dir, "truth_dir": self.truth_dir, "truth_format": self.truth_format,
            "rules": RULES,
            "n_cases": len(self.cases),
            "missing_predictions": self.missing_predictions,
            "unmatched_predictions": self.unmatched_predictions,
            "skipped": self.skipped,
            "classes": self.classes,
            "segmentation": self.segmentation_summary(),
            "detection": self.detection_summary(),
            "measurements": self.measurements,
            "measurement_error": self.measurement_error,
            "cases_with_truth_json_but_no_report": self.missing_reports,
            "cases": {c: {"resampled_to_truth_grid": s.resampled,
                          "classes": {k: v.to_dict() for k, v in s.classes.items()},
                          "lesions": {k: m.to_dict() for k, m in s.lesions.items()}}
                      for c, s in self.cases.items()},
        }


def evaluate_folders(pred_dir: Path, truth_dir: Path, truth_format: TruthFormat | str | None = None,
                     *, on_case: Callable[[Iterable[str]], Iterable[str]] | None = None) -> EvaluationResult:
    """Evaluate every prediction in ``pred_dir`` against the truth in ``truth_dir``.

    ``truth_format`` None (or ``"auto"``) guesses it from the file names (:func:`detect_format`).
    ``on_case`` may wrap the iteration over case names (a progress bar). A case whose files cannot be
    read or whose values fall outside the mapping is skipped with the reason; others go on.
    """
    pred_dir, truth_dir = Path(pred_dir), Path(truth_dir)
    fmt = detect_format(truth_dir) if truth_format in (None, "auto") else TruthFormat(truth_format)
    mapping = TRUTH_MAPPINGS[fmt]
    truth_cases = find_cases(truth_dir, fmt, json_name="truth.json")
    pred_cases = find_cases(pred_dir, TruthFormat.SCHEMA, json_name="report.json")
    if not truth_cases:
        raise InputError(f"No truth cases in {truth_dir}", expected=f"label maps laid out as '{fmt.value}'",
                         found="none", hint="Check --truth and --truth-format")
    names = sorted(set(truth_cases) & set(pred_cases))
    result = EvaluationResult(
        pred_dir=str(pred_dir), truth_dir=str(truth_dir), truth_format=fmt.value,
        classes={union_key(u): union_title(u) for u in scored_unions(mapping)},
        missing_predictions=sorted(set(truth_cases) - set(pred_cases)),
        unmatched_predictions=sorted(set(pred_cases) - set(truth_cases)))
    if result.missing_predictions:
        log.warning("%d case(s) have truth but no prediction, not scored: %s",
                    len(result.missing_predictions), ", ".join(result.missing_predictions))
    if result.unmatched_predictions:
        log.warning("%d prediction(s) have no truth, not scored: %s",
                    len(result.unmatched_predictions), ", ".join(result.unmatched_predictions))
    measure_cases: list[tuple[str, dict, dict]] = []
    for name in (on_case(names) if on_case else names):
        p_files: CaseFiles = pred_cases[name]
        t_files: CaseFiles = truth_cases[name]
        try:
            pred = load_label_volume(p_files.labels)
            truth = load_label_volume(t_files.labels)
            seg = evaluate_segmentation(pred.array, pred.affine, truth.array, truth.affine, mapping)
            truth_doc = _read_json(t_files.json) if t_files.json else None
            entries = _lesion_entries(truth_doc)
            seg = replace(seg, lesions={k: _with_levels(m, entries) for k, m in seg.lesions.items()})
            if truth_doc is not None and p_files.json is not None:
                measure_cases.append((name, _read_json(p_files.json), truth_doc))
            elif truth_doc is not None:
                result.missing_reports.append(name)
        except InputError as exc:
            log.warning("case %s skipped: %s", name, exc)
            result.skipped[name] = str(exc)
            continue
        result.cases[name] = seg
    if measure_cases:
        try:
            result.measurements = evaluate_measurements(measure_cases)
        except InputError as exc:
            log.warning("measurement agreement not computed: %s", exc)
            result.measurement_error = str(exc)
    return result
