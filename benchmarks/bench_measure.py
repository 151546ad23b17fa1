"""Benchmark of the measurement step on a 320x320x20 sagittal label map (0.6 x 0.6 x 4 mm).

Prints one JSON line: median wall and CPU seconds of :func:`spinedetect.measure.measure_labels` over a few
runs (CPU time is the fairer figure on a shared machine; the load average says how shared it was).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests" / "measure"))

from synthetic import SynthSpine, voxelise  # noqa: E402

from spinedetect.measure import measure_labels  # noqa: E402


def sagittal_grid(shape: tuple[int, int, int] = (320, 320, 20), inplane_mm: float = 0.6,
                  slice_mm: float = 4.0) -> np.ndarray:
    """Affine of a sagittal stack: i runs superior->inferior, j posterior->anterior, k left->right."""
    aff = np.zeros((4, 4))
    aff[2, 0] = -inplane_mm
    aff[1, 1] = inplane_mm
    aff[0, 2] = slice_mm
    aff[3, 3] = 1.0
    aff[:3, 3] = [-(shape[2] - 1) * slice_mm / 2, -80.0, 100.0]
    return aff


def main() -> None:
    shape = (320, 320, 20)
    aff = sagittal_grid(shape)
    spine = SynthSpine(length_mm=200.0, curvature_radius_mm=300.0, narrow_s_mm=95.0, narrow_factor=0.6,
                       cord_end_s_mm=60.0, collapse={2: 30.0})
    labels = voxelise(spine, shape, aff)
    times, cpu = [], []
    for _ in range(5):
        t0, c0 = time.perf_counter(), time.process_time()
        report = measure_labels(labels, aff)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    print(json.dumps({"benchmark": "measure_labels", "shape": list(shape), "spacing_mm": [0.6, 0.6, 4.0],
                      "seconds_median": round(statistics.median(times), 3), "seconds_min": round(min(times), 3),
                      "cpu_seconds_median": round(statistics.median(cpu), 3), "load_average_1min": os.getloadavg()[0],
                      "runs": len(times), "levels": len(report.levels),
                      "worst_compromise_pct": report.worst["canal_compromise_pct"]}))


if __name__ == "__main__":
    main()
