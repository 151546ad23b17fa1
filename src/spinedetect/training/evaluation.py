"""Held-out evaluation of a predictor: Dice per case on the native grid, per loss group of each data set.

Partially labelled data sets are scored on what they label (a body-only data set on body ∪ lesion,
a cord-only one on cord); fully labelled ones (phantoms) per schema class plus the canal (CSF ∪ cord).
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from typing import Callable

import numpy as np

from spinedetect.labels import canal_mask
from spinedetect.model.postprocess import labels_from_probabilities
from spinedetect.model.predictor import Predictor, probabilities_on_native_grid
from spinedetect.preprocess import PreprocessConfig
from spinedetect.preprocess.transforms import to_model_grid
from spinedetect.training.config import SourceConfig
from spinedetect.training.losses import encode_target, group_layout
from spinedetect.training.metrics import dice, group_dice
from spinedetect.training.patches import make_adapter, select_cases

__all__ = ["evaluate_sources", "grid_ceiling", "summarise"]

log = logging.getLogger(__name__)


def evaluate_sources(predictor: Predictor, sources: tuple[SourceConfig, ...]) -> list[dict]:
    """One row per (case, scored structure): source, case, structure, dice (NaN: absent in both) and
    in_truth (whether the reference holds the structure: a 0 where it does not is a false positive)."""
    return _score_sources(lambda case: predictor.predict(case.image).array, sources)


def grid_ceiling(preprocess: PreprocessConfig, sources: tuple[SourceConfig, ...]) -> list[dict]:
    """Rows as :func:`evaluate_sources` for a perfect model on the model grid of ``preprocess``.

    The reference labels go to the model grid as training sees them (nearest neighbour) and come back
    as a predictor's probabilities do (one-hot, trilinear, argmax): the Dice no model at that spacing can
    exceed, whatever it learns.
    """

    def through_grid(case: object) -> np.ndarray:
        image, mapping = case.image, case.mapping  # type: ignore[attr-defined]
        # the reference as the loss sees it (groups: unions of classes), one representative class each
        layout = group_layout(mapping)
        groups = encode_target(np.asarray(case.labels.array), mapping)  # type: ignore[attr-defined]
        representative = np.array([layout.class_to_group.index(g) for g in range(layout.n_groups)], dtype=np.uint8)
        _, coarse, grid_affine = to_model_grid(image, groups, preprocess)
        onehot = np.eye(layout.n_groups, dtype=np.float32)[coarse[0].numpy()].transpose(3, 0, 1, 2)
        return representative[labels_from_probabilities(probabilities_on_native_grid(onehot, grid_affine, image))]

    return _score_sources(through_grid, sources)


def _score_sources(predict: Callable[[object], np.ndarray], sources: tuple[SourceConfig, ...]) -> list[dict]:
    rows: list[dict] = []
    for src in sources:
        adapter = make_adapter(src)
        for case_id in select_cases(src, adapter):
            case = adapter.load(case_id)
            pred = predict(case)
            labels = np.asarray(case.labels.array)
            layout = group_layout(case.mapping)
            target = encode_target(labels, case.mapping)
            scores = group_dice(pred, target, layout.class_to_group, layout.n_groups)
            names = layout.names()
            for g, value in scores.items():
                rows.append({"source": adapter.name, "case": case_id, "structure": names[g], "dice": value,
                             "in_truth": bool((target == g).any())})
            if not case.mapping.unannotated:  # fully labelled: the canal is scored as well
                truth_canal = canal_mask(labels)
                rows.append({"source": adapter.name, "case": case_id, "structure": "canal (CSF+cord)",
                             "dice": dice(canal_mask(pred), truth_canal), "in_truth": bool(truth_canal.any())})
            log.info("evaluated %s %s", adapter.name, case_id)
    return rows


def summarise(rows: list[dict]) -> dict[str, dict[str, float]]:
    """Per source/structure: mean, min and number ``n`` of scored cases (present in the reference or the
    prediction; absent in both are left out); of those, the mean over the cases whose reference holds it
    (``mean_in_truth``, ``n_in_truth``) and the number predicted where the reference has none
    (``false_positive_cases``, each scored 0)."""
    groups: dict[str, list[tuple[float, bool]]] = defaultdict(list)
    for r in rows:
        if not math.isnan(r["dice"]):
            groups[f"{r['source']}/{r['structure']}"].append((r["dice"], bool(r.get("in_truth", True))))
    out = {}
    for k, v in sorted(groups.items()):
        values = [d for d, _ in v]
        present = [d for d, t in v if t]
        out[k] = {"mean": round(float(np.mean(values)), 4), "min": round(float(np.min(values)), 4), "n": len(values),
                  "mean_in_truth": round(float(np.mean(present)), 4) if present else None,
                  "n_in_truth": len(present), "false_positive_cases": len(values) - len(present)}
    return out
