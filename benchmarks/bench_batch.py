"""End-to-end batch inference on CPU: per 320x320x20 sagittal MR study, a 256x256x128 CT, and a batch.

Phantom DICOM studies go through ``run_batch`` exactly as ``spinedetect infer`` runs them (series
discovery, loading, model, native grid, measurement, alert, labels/report/SEG/SR/overlays). Two model
times are measured in the same benchmark run, each before every batch run and inside it: the model call
(``Predictor.predict`` on the loaded volume: model grid, sliding window, probabilities back on the native
grid, argmax, small-component clean-up) and the bare sliding-window inference within it
(``Predictor.model_grid_probabilities``), so the ratios show what everything around each costs. Like the
loaded model, the helper process that builds DICOM SEG/SR (spinedetect.batch.side_process)
is started once, by the warm-up run (its time is reported as the first run), and serves every later run;
peak memory is reported for this process, the helper and both together. Uses the shipped default model
when present, else a freshly initialised default network (the JSON says which). Prints one JSON line.
Usage: python benchmarks/bench_batch.py [--repeats 5] [--batch 20] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def _write_study(root: Path, ph, n: int) -> Path:
    """Write the phantom's DICOM series as study ``n`` (fresh UIDs so copies are distinct studies)."""
    import pydicom
    from pydicom.uid import generate_uid

    from spinedetect.phantom import write_phantom

    tmp = root / f".ph{n}"
    paths = write_phantom(ph, tmp, formats=("dicom",))
    dst = root / f"study{n:03d}"
    dst.mkdir(parents=True)
    study, series = generate_uid(entropy_srcs=[str(n), "st"]), generate_uid(entropy_srcs=[str(n), "se"])
    for k, f in enumerate(sorted(paths["dicom"].glob("*.dcm"))):
        ds = pydicom.dcmread(f)
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.SOPInstanceUID = generate_uid(entropy_srcs=[str(n), str(k)])
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.save_as(dst / f"{k:04d}.dcm")
    shutil.rmtree(tmp)
    return dst


class _TimedModel:
    """The predictor as run_batch calls it, timing each ``predict`` (the model's share of a run) and the
    bare sliding-window inference within it."""

    def __init__(self, predictor) -> None:
        self.predictor, self.seconds, self.sliding_window_seconds = predictor, [], []

    def predict(self, volume):
        bare = self.predictor.model_grid_probabilities

        def timed_sliding_window(image):
            t0 = time.perf_counter()
            probs = bare(image)
            self.sliding_window_seconds.append(time.perf_counter() - t0)
            return probs

        self.predictor.model_grid_probabilities = timed_sliding_window  # this instance only, for this call
        try:
            t0 = time.perf_counter()
            labels = self.predictor.predict(volume)
            self.seconds.append(time.perf_counter() - t0)
        finally:
            del self.predictor.model_grid_probabilities
        return labels

    def provenance(self) -> dict:
        return self.predictor.provenance()


def _peak_rss_mib(pid: int) -> float:
    """Peak resident memory (VmHWM) of process ``pid`` in MiB, from /proc (0 where unreadable)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024.0, 1)
    except OSError:
        pass
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=20, help="studies in the throughput batch (0: skip)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import torch

    from spinedetect.batch import run_batch
    from spinedetect.batch.side_process import SideProcess
    from spinedetect.io import discover_series, load_series
    from spinedetect.model import Predictor, build_network, default_checkpoint
    from spinedetect.phantom import PhantomConfig, generate_phantom
    from spinedetect.phantom.config import ImagingConfig
    from spinedetect.preprocess import to_model_grid
    from spinedetect.training.config import TrainConfig

    torch.set_num_threads(args.threads)
    ckpt = default_checkpoint()
    if ckpt is not None:
        predictor = Predictor.from_checkpoint(ckpt, device="cpu")
        weights = "default model"
    else:
        torch.manual_seed(0)
        predictor = Predictor(build_network(TrainConfig().network), TrainConfig(), torch.device("cpu"))
        weights = "freshly initialised default architecture (no default model installed)"
    mr_cfg = PhantomConfig(imaging=ImagingConfig(modality="MR", sagittal_spacing_mm=(0.6, 0.6, 4.0),
                                                 shape=(320, 320, 20)))
    ct_cfg = PhantomConfig(imaging=ImagingConfig(modality="CT", axial_spacing_mm=(0.8, 0.8, 2.0),
                                                 shape=(256, 256, 128)))
    result: dict = {"benchmark": "batch_inference_cpu", "weights": weights, "threads": args.threads}
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        for name, cfg, seed in (("mr_320x320x20", mr_cfg, 1), ("ct_256x256x128", ct_cfg, 2)):
            study = _write_study(tmp / name / "in", generate_phantom(cfg, seed=seed), 0)
            series = discover_series(study).series[0]
            volume = load_series(series)
            predictor.predict(volume)  # warm-up: first-call costs (allocator, highdicom tables) out of the timing
            t0 = time.perf_counter()
            run_batch(study, tmp / name / "warm", predictor)
            # the first run pays the one-off costs: the helper's start for the MR, first calls' set-up
            result[f"{name}_first_run_seconds"] = round(time.perf_counter() - t0, 2)
            model_s, window_s, total_s, timed = [], [], [], _TimedModel(predictor)
            image = to_model_grid(volume, None, predictor.config.preprocess)[0]
            for r in range(args.repeats if name.startswith("mr") else 1):
                t0 = time.perf_counter()
                predictor.model_grid_probabilities(image)
                window_s.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                predictor.predict(volume)
                model_s.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                out = run_batch(study, tmp / name / f"out{r}", timed)
                total_s.append(time.perf_counter() - t0)
                assert out.exit_code == 0, out.failed
            result[f"{name}_end_to_end_seconds_median"] = round(statistics.median(total_s), 2)
            result[f"{name}_model_seconds_median"] = round(statistics.median(model_s), 2)
            result[f"{name}_ratio_to_model"] = round(statistics.median(total_s) / statistics.median(model_s), 2)
            # the model's own call inside each run: one model pass varies by up to ~20 % from call to call
            # here, so each run is also compared with the model time it contains
            result[f"{name}_model_in_run_seconds_median"] = round(statistics.median(timed.seconds), 2)
            result[f"{name}_ratio_to_model_in_run_median"] = round(
                statistics.median(t / m for t, m in zip(total_s, timed.seconds)), 2)
            result[f"{name}_sliding_window_seconds_median"] = round(statistics.median(window_s), 2)
            result[f"{name}_ratio_to_sliding_window"] = round(
                statistics.median(total_s) / statistics.median(window_s), 2)
            result[f"{name}_sliding_window_in_run_seconds_median"] = round(
                statistics.median(timed.sliding_window_seconds), 2)
            result[f"{name}_ratio_to_sliding_window_in_run_median"] = round(
                statistics.median(t / m for t, m in zip(total_s, timed.sliding_window_seconds)), 2)
        if args.batch > 0:
            inp = tmp / "batch" / "in"
            phantoms = [generate_phantom(replace(mr_cfg), seed=100 + k) for k in range(min(4, args.batch))]
            for n in range(args.batch):
                _write_study(inp, phantoms[n % len(phantoms)], n)
            for workers in (0, 2):
                t0 = time.perf_counter()
                out = run_batch(inp, tmp / "batch" / f"out-w{workers}", predictor, workers=workers)
                seconds = time.perf_counter() - t0
                result[f"batch{args.batch}_workers{workers}_seconds"] = round(seconds, 1)
                result[f"batch{args.batch}_workers{workers}_studies_per_minute"] = round(60 * args.batch / seconds, 2)
                assert out.exit_code == 0, out.failed
    result["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)
    helper = SideProcess().helper_pid  # the process's helper that built the DICOM SEG/SR (None: disabled)
    result["side_process_peak_rss_mib"] = _peak_rss_mib(helper) if helper else 0.0
    result["peak_rss_total_mib"] = round(result["peak_rss_mib"] + result["side_process_peak_rss_mib"], 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
