"""Benchmark: one 320 x 320 x 20 sagittal MR phantom (0.6 x 0.6 x 4 mm) with its truth; prints one JSON line.

Run: ``python benchmarks/bench_phantom.py [--repeats N]`` (target: median < 5 s on a 2-core machine).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from spinedetect.phantom import AnatomyConfig, ImagingConfig, PhantomConfig, generate_phantom


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    cfg = PhantomConfig(anatomy=AnatomyConfig(first_level="T12", last_level="S1"),
                        imaging=ImagingConfig(modality="MR", acquisition="sagittal", shape=(320, 320, 20),
                                              sagittal_spacing_mm=(0.6, 0.6, 4.0)))
    times = []
    alerts = []
    for seed in range(args.repeats):
        start = time.perf_counter()
        ph = generate_phantom(cfg, seed=seed)
        times.append(time.perf_counter() - start)
        alerts.append(ph.truth.alert["level"])
    print(json.dumps({"benchmark": "phantom_generation", "shape": [320, 320, 20], "spacing_mm": [0.6, 0.6, 4.0],
                      "repeats": args.repeats, "seconds_median": round(statistics.median(times), 3),
                      "seconds_min": round(min(times), 3), "seconds_max": round(max(times), 3),
                      "target_seconds": 5.0, "alerts": alerts}))


if __name__ == "__main__":
    main()
