"""Held-out evaluation of a predictor: Dice per case on the native grid, per loss group of each data set.

Partially labelled data sets are scored on what they label (a body-only data set on body ∪ lesion,
a cord-only one on cord); fully labelled ones (phantoms) per schema class plus the canal (CSF ∪ cord).
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict

import numpy as np

from spinedetect.labels import canal_mask
from spinedetect.model.predictor import Predictor
from spinedetect.training.config import SourceConfig
from spinedetect.training.losses import encode_target, group_layout
from spinedetect.training.metrics import dice, group_dice
from spinedetect.training.patches import make_adapter, select_cases

__all__ = ["evaluate_sources", "summarise"]

log = logging.getLogger(__name__)


def evaluate_sources(predictor: Predictor, sources: tuple[SourceConfig, ...]) -> list[dict]:
    """One row per (case, scored structure): source, case, structure, dice (NaN: absent in both)."""
    rows: list[dict] = []
    for src in sources:
        adapter = make_adapter(src)
        for case_id in select_cases(src, adapter):
            case = adapter.load(case_id)
            pred = predictor.predict(case.image).array
            labels = np.asarray(case.labels.array)
            layout = group_layout(case.mapping)
            scores = group_dice(pred, encode_target(labels, case.mapping), layout.class_to_group, layout.n_groups)
            names = layout.names()
            for g, value in scores.items():
                rows.append({"source": adapter.name, "case": case_id, "structure": names[g], "dice": value})
            if not case.mapping.unannotated:  # fully labelled: the canal is scored as well
                rows.append({"source": adapter.name, "case": case_id, "structure": "canal (CSF+cord)",
                             "dice": dice(canal_mask(pred), canal_mask(labels))})
            log.info("evaluated %s %s", adapter.name, case_id)
    return rows


def summarise(rows: list[dict]) -> dict[str, dict[str, float]]:
    """Mean, min and number of scored cases per source/structure (cases where it is absent are left out)."""
    groups: dict[str, list[float]] = defaultdict(list)
    for r in rows:
        if not math.isnan(r["dice"]):
            groups[f"{r['source']}/{r['structure']}"].append(r["dice"])
    return {k: {"mean": round(float(np.mean(v)), 4), "min": round(float(np.min(v)), 4), "n": len(v)}
            for k, v in sorted(groups.items())}
