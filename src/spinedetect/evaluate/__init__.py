"""Evaluation: segmentation (Dice, HD95), lesion detection, measurement and alert agreement.

``spinedetect evaluate --pred DIR --truth DIR`` and :func:`evaluate_folders` score a folder of
predictions against a folder of truth (phantoms, schema label maps or the real data sets through their
label mappings) and :func:`write_evaluation` writes evaluation.json, evaluation.md and plots.
"""

from spinedetect.evaluate.core import RULES, EvaluationResult, evaluate_folders, load_label_volume
from spinedetect.evaluate.lesions import MATCH_RULE, Lesion, LesionMatch, match_lesions
from spinedetect.evaluate.measurements import evaluate_measurements
from spinedetect.evaluate.metrics import (confusion_matrix, dice, hausdorff95, sensitivity_specificity,
                                          surface_distances, weighted_kappa)
from spinedetect.evaluate.report import render_markdown, write_evaluation
from spinedetect.evaluate.resample import resample_labels
from spinedetect.evaluate.segmentation import CaseSegmentation, ClassScore, evaluate_segmentation
from spinedetect.evaluate.truth_sources import TRUTH_MAPPINGS, TruthFormat

__all__ = [
    "EvaluationResult", "evaluate_folders", "evaluate_segmentation", "evaluate_measurements",
    "write_evaluation", "render_markdown", "load_label_volume",
    "dice", "hausdorff95", "surface_distances", "confusion_matrix", "weighted_kappa",
    "sensitivity_specificity", "match_lesions", "Lesion", "LesionMatch", "MATCH_RULE", "RULES",
    "resample_labels", "CaseSegmentation", "ClassScore", "TruthFormat", "TRUTH_MAPPINGS",
]
