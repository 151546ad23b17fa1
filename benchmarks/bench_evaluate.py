"""Benchmark: evaluation speed (Dice, HD95, lesion matching) on 10 synthetic 128^3 cases.

Prints one JSON line: seconds per case (scoring in memory) and per case end to end through
``evaluate_folders`` (NIfTI reading included), and cases per second. Run: python benchmarks/bench_evaluate.py
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nibabel as nib
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from spinedetect.evaluate import evaluate_folders, evaluate_segmentation  # noqa: E402
from spinedetect.labels import Label  # noqa: E402

N_CASES = 10
SHAPE = (128, 128, 128)
AFFINE = np.diag([1.0, 1.0, 1.5, 1.0])


def synthetic_case(rng: np.random.Generator, jitter: int) -> np.ndarray:
    """A column of vertebrae along k with canal, cord and a few lesions (schema values)."""
    a = np.zeros(SHAPE, np.uint8)
    for top in range(4, 120, 24):
        a[30:70, 30:70, top:top + 18] = Label.VERTEBRAL_BODY
        a[30:70, 30:70, top + 18:top + 22] = Label.DISC
        a[36:64, 84:104, top + 2:top + 16] = Label.POSTERIOR_ELEMENTS
    a[40:60, 70:84, :] = Label.CSF
    a[46 + jitter:54 + jitter, 73:81, :] = Label.CORD
    for _ in range(3):
        c = rng.integers([35, 35, 10], [65, 65, 110])
        a[c[0] - 4:c[0] + 4, c[1] - 4:c[1] + 4, c[2] - 3:c[2] + 3] = Label.OSSEOUS_LESION
    a[40:44, 72:76, 60 + jitter:66 + jitter] = Label.EPIDURAL_TUMOUR
    return a


def main() -> None:
    rng = np.random.default_rng(0)
    pairs = [(synthetic_case(rng, 0), synthetic_case(rng, 1)) for _ in range(N_CASES)]
    in_memory = []
    for truth, pred in pairs:
        t0 = time.perf_counter()
        evaluate_segmentation(pred, AFFINE, truth, AFFINE)
        in_memory.append(time.perf_counter() - t0)
    with tempfile.TemporaryDirectory() as tmp:
        for i, (truth, pred) in enumerate(pairs):
            for side, arr in (("truth", truth), ("pred", pred)):
                (Path(tmp) / side / f"case{i:02d}").mkdir(parents=True)
                nib.save(nib.Nifti1Image(arr, AFFINE), str(Path(tmp) / side / f"case{i:02d}" / "labels.nii.gz"))
        t0 = time.perf_counter()
        result = evaluate_folders(Path(tmp) / "pred", Path(tmp) / "truth", "schema")
        folder_s = time.perf_counter() - t0
    assert len(result.cases) == N_CASES
    print(json.dumps({
        "benchmark": "evaluate",
        "cases": N_CASES, "shape": list(SHAPE), "classes_scored": len(result.classes),
        "seconds_per_case_median": round(statistics.median(in_memory), 3),
        "seconds_per_case_with_io": round(folder_s / N_CASES, 3),
        "cases_per_second": round(N_CASES / folder_s, 3),
    }))


if __name__ == "__main__":
    main()
