"""Load: a batch of many phantom DICOM studies through ``spinedetect infer`` with bounded memory.

Writes ``--studies`` phantom MR sagittal studies (160x160x12 by default, fresh UIDs each, written with
bench_batch's ``_write_study``), runs ``spinedetect infer`` over them once as a subprocess while a
thread samples the resident memory (RSS) of that process and its children every 0.2 s together with
the number of finished study folders, then reruns a sample of studies one at a time (``run_batch`` on
each study's folder alone) and compares labels and report.json with the batch's. Memory is bounded
when the peak of the whole run (batch files included) is close to the peak until the first 20 studies
were done (``rss_after_N``: peak RSS until N study folders existed), i.e. it does not grow with the count. Prints one JSON line. Not part of run_all (it takes ~10-20 min for 200 studies on 2 cores).
Usage: python benchmarks/bench_load.py [--studies 200] [--sample 10] [--threads 2] [--model PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))

from bench_batch import _write_study  # noqa: E402  (the benchmark's shared study writer)

#: Growth of the peak RSS from 20 studies to the end that still counts as bounded (MiB).
MAX_GROWTH_MIB = 150.0


def _rss_kib(pid: int) -> int:
    """Resident memory (KiB) of ``pid`` and all its descendants, from /proc (0 once it has exited)."""
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/status", encoding="ascii") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children", encoding="ascii") as fh:
                    stack.extend(int(c) for c in fh.read().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


@dataclass
class MemoryMonitor:
    """Samples RSS (MiB) of a process tree and the count of finished study folders under ``output``."""

    pid: int
    output: Path
    interval_s: float = 0.2
    samples: list[tuple[float, int, float]] = field(default_factory=list)  # (t, studies done, rss MiB)
    _stop: threading.Event = field(default_factory=threading.Event)

    def _done(self) -> int:
        try:
            return sum(1 for e in os.scandir(self.output) if e.is_dir() and not e.name.startswith("."))
        except FileNotFoundError:
            return 0

    def run(self) -> None:
        t0 = time.perf_counter()
        while not self._stop.is_set():
            self.samples.append((time.perf_counter() - t0, self._done(), _rss_kib(self.pid) / 1024.0))
            self._stop.wait(self.interval_s)

    def stop(self) -> None:
        self._stop.set()

    def peak_until(self, studies: int) -> float:
        """Peak RSS (MiB) over the samples taken until ``studies`` study folders were finished."""
        peak = 0.0
        for _, done, rss in self.samples:
            peak = max(peak, rss)
            if done >= studies:
                break
        return peak


def _same_outputs(a: Path, b: Path) -> list[str]:
    """What differs between two study folders' labels and report.json (empty: identical)."""
    import nibabel as nib
    import numpy as np

    problems = []
    la, lb = (np.asarray(nib.load(p / "labels.nii.gz").dataobj) for p in (a, b))
    if la.shape != lb.shape or not np.array_equal(la, lb):
        problems.append("labels")
    ra, rb = (json.loads((p / "report.json").read_text(encoding="utf-8")) for p in (a, b))
    if ra != rb:
        problems.append("report.json")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--studies", type=int, default=200)
    parser.add_argument("--sample", type=int, default=10, help="studies rerun one at a time and compared")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=0, help="spinedetect infer --workers")
    parser.add_argument("--shape", type=int, nargs=3, default=(160, 160, 12), help="MR sagittal voxels (i j k)")
    parser.add_argument("--model", default=None, help="checkpoint (default: the shipped default model)")
    parser.add_argument("--workdir", default=None, help="where studies and outputs go (default: a temp folder)")
    args = parser.parse_args()
    import torch

    from spinedetect.batch import run_batch
    from spinedetect.model import Predictor, default_checkpoint
    from spinedetect.phantom import PhantomConfig, generate_phantom
    from spinedetect.phantom.config import ImagingConfig

    torch.set_num_threads(args.threads)
    model = args.model or default_checkpoint()
    if model is None:
        raise SystemExit("bench_load: no default model is installed; pass --model")
    cfg = PhantomConfig(imaging=ImagingConfig(modality="MR", sagittal_spacing_mm=(1.2, 1.2, 4.0),
                                              shape=tuple(args.shape)))
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmpdir:
        tmp = Path(tmpdir)
        inp, out = tmp / "in", tmp / "out"
        phantoms = [generate_phantom(cfg, seed=300 + k) for k in range(min(5, args.studies))]
        t0 = time.perf_counter()
        for n in range(args.studies):
            _write_study(inp, phantoms[n % len(phantoms)], n)
        write_s = time.perf_counter() - t0
        env = {**os.environ, "OMP_NUM_THREADS": str(args.threads),
               "PYTHONPATH": os.pathsep.join([str(HERE.parent / "src"), os.environ.get("PYTHONPATH", "")])}
        cmd = [sys.executable, "-m", "spinedetect", "infer", str(inp), str(out), "--model", str(model),
               "--device", "cpu", "--workers", str(args.workers), "--no-progress"]
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        monitor = MemoryMonitor(proc.pid, out)
        thread = threading.Thread(target=monitor.run, daemon=True)
        thread.start()
        stdout, stderr = proc.communicate()
        seconds = time.perf_counter() - t0
        monitor.stop()
        thread.join()
        if proc.returncode != 0:
            raise SystemExit(f"bench_load: infer exited {proc.returncode}: {stderr[-2000:]}")
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
        keys = sorted(s["key"] for s in manifest["studies"] if s["status"] == "ok")
        step = max(1, len(keys) // max(1, args.sample))
        sample = keys[::step][:args.sample]
        sources = {s["key"]: s["source"] for s in manifest["studies"]}
        predictor = Predictor.from_checkpoint(model, device="cpu")
        mismatches = []
        for key in sample:
            single = tmp / "single" / key
            run_batch(inp / Path(sources[key]).parts[0], single, predictor)
            problems = _same_outputs(out / key, single / key)
            if problems:
                mismatches.append({"key": key, "differs": problems})
    early = min(20, args.studies)
    rss_20, rss_n = monitor.peak_until(early), monitor.peak_until(args.studies)
    peak = max((s[2] for s in monitor.samples), default=0.0)  # batch files (review page...) included
    result = {"benchmark": "batch_load", "studies": args.studies, "shape": list(args.shape),
              "threads": args.threads, "workers": args.workers, "ok": manifest["counts"]["ok"],
              "write_inputs_seconds": round(write_s, 1), "seconds": round(seconds, 1),
              "studies_per_minute": round(60.0 * args.studies / seconds, 2),
              "peak_rss_mib": round(peak, 1),
              f"rss_after_{early}": round(rss_20, 1), f"rss_after_{args.studies}": round(rss_n, 1),
              "rss_growth_mib": round(peak - rss_20, 1), "max_growth_mib": MAX_GROWTH_MIB,
              "memory_bounded": peak - rss_20 <= MAX_GROWTH_MIB, "sampled": len(sample),
              "mismatches": len(mismatches), "mismatch_detail": mismatches}
    print(json.dumps(result))
    if mismatches or manifest["counts"]["ok"] != args.studies or not result["memory_bounded"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
