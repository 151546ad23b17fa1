import math

import torch
from torch import nn

from spinedetect.labels import NUM_CLASSES, Label
from spinedetect.model import Predictor
from spinedetect.training.config import SourceConfig, SourceKind
from spinedetect.training.evaluation import evaluate_sources, grid_ceiling, summarise

from .conftest import tiny_config


class Bright(nn.Module):
    def forward(self, x):
        logits = torch.zeros((x.shape[0], NUM_CLASSES, *x.shape[2:]))
        logits[:, int(Label.VERTEBRAL_BODY)] = (x[:, 0] - 0.5) * 20
        return logits


def test_evaluation_scores_what_the_data_set_labels(tiny_root):
    predictor = Predictor(Bright(), tiny_config(tiny_root), torch.device("cpu"))
    rows = evaluate_sources(predictor, (SourceConfig(kind=SourceKind.REAL_MRI_VB, root=str(tiny_root)),))
    assert {r["structure"] for r in rows} == {"vertebral body+osseous lesion"}
    assert len(rows) == 3 and all(r["dice"] > 0.9 and r["in_truth"] for r in rows)
    summary = summarise(rows + [{"source": "real-mri-vb", "case": "x", "structure": "vertebral body+osseous lesion",
                                 "dice": math.nan}])
    assert summary["real-mri-vb/vertebral body+osseous lesion"]["n"] == 3


def test_summary_separates_cases_with_the_structure_from_false_positives():
    rows = [{"source": "phantom", "case": c, "structure": "epidural tumour", "dice": d, "in_truth": t}
            for c, d, t in (("a", 0.6, True), ("b", 0.2, True), ("c", 0.0, False), ("d", math.nan, False))]
    s = summarise(rows)["phantom/epidural tumour"]
    assert s["n"] == 3 and math.isclose(s["mean"], 0.8 / 3, abs_tol=1e-4)
    assert s["n_in_truth"] == 2 and math.isclose(s["mean_in_truth"], 0.4) and s["false_positive_cases"] == 1


def test_grid_ceiling_scores_the_reference_through_the_model_grid(tiny_root):
    cfg = tiny_config(tiny_root)
    source = SourceConfig(kind=SourceKind.REAL_MRI_VB, root=str(tiny_root))
    rows = grid_ceiling(cfg.preprocess, (source,))
    assert {r["structure"] for r in rows} == {"vertebral body+osseous lesion"} and len(rows) == 3
    assert all(0.8 < r["dice"] <= 1.0 for r in rows)  # only what the coarser grid loses at the edges
    import dataclasses

    coarse = dataclasses.replace(cfg.preprocess, spacing_mm=(8.0, 8.0, 8.0))
    worse = grid_ceiling(coarse, (source,))
    assert sum(r["dice"] for r in worse) < sum(r["dice"] for r in rows)
