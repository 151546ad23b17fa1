"""Where a study's time around the model goes: each step of the batch's finish, alone, on a 320x320x20 MR.

The batch runs these steps after the model (spinedetect.batch.runner._finish): the measurement (two
threads), the DICOM SEG and SR (highdicom; in the helper process), the two pictures and labels.nii.gz.
Each is timed here alone, on the shipped model's labels of a phantom MR study (a freshly initialised
network where no model is installed; the JSON says which), with the source headers already read as the
batch's read-ahead leaves them. The sum of their CPU seconds over the machine's cores is the least time
the finish can take on it, however the steps are spread over processes and threads. Prints one JSON line.
With ``--deidentify`` the SEG and SR are de-identified as ``spinedetect infer --deidentify`` does it.
Usage: python benchmarks/bench_study_parts.py [--runs 9] [--deidentify]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_batch import _write_study  # noqa: E402


def _timed(step: Callable[[], object], runs: int) -> dict[str, float]:
    step()  # first-call costs (imports, caches) out of the timing
    wall, cpu = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        step()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return {"wall_seconds_median": round(statistics.median(wall), 3),
            "cpu_seconds_median": round(statistics.median(cpu), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--deidentify", action="store_true", help="de-identify the SEG and SR (PS3.15 basic profile)")
    args = parser.parse_args()
    import torch

    from spinedetect.io import discover_series, load_series, write_nifti
    from spinedetect.measure import measure_labels
    from spinedetect.model import Predictor, build_network, default_checkpoint
    from spinedetect.outputs.deidentify import UIDMap
    from spinedetect.outputs.dicom_encode import encode_measurement_report, encode_segmentation, prefetch_headers
    from spinedetect.outputs.study_pictures import write_study_pictures
    from spinedetect.phantom import PhantomConfig, generate_phantom
    from spinedetect.phantom.config import ImagingConfig
    from spinedetect.training.config import TrainConfig

    torch.set_num_threads(2)
    ckpt = default_checkpoint()
    if ckpt is not None:
        predictor, weights = Predictor.from_checkpoint(ckpt, device="cpu"), "default model"
    else:
        torch.manual_seed(0)
        predictor = Predictor(build_network(TrainConfig().network), TrainConfig(), torch.device("cpu"))
        weights = "freshly initialised default architecture (no default model installed)"
    cfg = PhantomConfig(imaging=ImagingConfig(modality="MR", sagittal_spacing_mm=(0.6, 0.6, 4.0), shape=(320, 320, 20)))
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        series = discover_series(_write_study(tmp / "in", generate_phantom(cfg, seed=1), 0)).series[0]
        volume = load_series(series)
        labels = predictor.predict(volume)
        image = np.asarray(volume.array, dtype=np.float32)
        prefetch_headers(series)
        uid_map = UIDMap.for_folder(tmp) if args.deidentify else None
        report = measure_labels(labels.array, labels.affine, image=image, modality=volume.modality).to_dict()
        steps: dict[str, Callable[[], object]] = {
            "measurement": lambda: measure_labels(labels.array, labels.affine, image=image,
                                                  modality=volume.modality).to_dict(),
            "dicom_seg": lambda: encode_segmentation(labels, series, "bench", uid_map),
            "dicom_sr": lambda: encode_measurement_report(report, series, "bench", uid_map),
            "pictures": lambda: write_study_pictures(volume, labels, report, tmp / "overlays", title="bench"),
            "labels_nifti": lambda: write_nifti(labels, tmp / "labels.nii.gz"),
        }
        parts = {name: _timed(step, args.runs) for name, step in steps.items()}
    cpu_total = sum(p["cpu_seconds_median"] for p in parts.values())
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    print(json.dumps({"benchmark": "study_parts_mr_320x320x20", "weights": weights, "runs": args.runs,
                      "deidentify": args.deidentify,
                      "parts": parts, "cpu_seconds_total": round(cpu_total, 3), "cores": cores,
                      "least_finish_seconds_on_these_cores": round(cpu_total / cores, 3),
                      "load_average_1min": round(os.getloadavg()[0], 2)}))


if __name__ == "__main__":
    main()
