"""Run every benchmarks/bench_*.py and write benchmarks/results.md (machine, versions, date, figures).

Each script runs as its own subprocess (``python benchmarks/bench_<name>.py``, repository src/ first on
PYTHONPATH) with a timeout, and must print its figures as one JSON object line on stdout. The whole run
keeps within a total budget (default 15 minutes): a script that would start after the budget is spent
is listed as not run, and each timeout is cut to what is left. Also writes results.json beside results.md.

    python benchmarks/run_all.py [--only evaluate phantom] [--timeout 240] [--budget 900]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def machine_info() -> dict[str, Any]:
    """CPU model, cores, memory, GPU (if nvidia-smi sees one), OS and package versions."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gib = round(int(line.split()[1]) / 1024 ** 2, 1)
                break
    except OSError:
        pass
    gpu = None
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=20)
            gpu = "; ".join(line.strip() for line in out.stdout.splitlines() if line.strip()) or None
        except (OSError, subprocess.TimeoutExpired):
            gpu = None
    versions = {}
    for pkg in ("spinedetect", "torch", "monai", "numpy", "scipy", "nibabel", "pydicom"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    if versions["spinedetect"] is None:  # not installed: the checkout's own version
        text = (REPO / "src" / "spinedetect" / "__init__.py").read_text()
        versions["spinedetect"] = next((ln.split("=")[1].strip().strip('"') for ln in text.splitlines()
                                        if ln.startswith("__version__")), None)
    try:
        commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.TimeoutExpired):
        commit = None
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": mem_gib, "gpu": gpu,
            "os": f"{platform.system()} {platform.release()}", "python": platform.python_version(),
            "versions": versions, "commit": commit,
            "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


#: arguments that keep a benchmark inside the suite's budget; run the script alone for its full size
#: (``python benchmarks/bench_load.py --studies 200``)
SUITE_ARGS: dict[str, list[str]] = {"load": ["--studies", "20", "--sample", "3"]}


def run_one(script: Path, timeout_s: float) -> dict[str, Any]:
    """Run one benchmark script; returns its name, status, wall seconds and figures (or the error)."""
    name = script.stem.removeprefix("bench_")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), *filter(None, [env.get("PYTHONPATH")])])
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, str(script), *SUITE_ARGS.get(name, [])], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {"name": name, "status": f"timed out after {timeout_s:.0f} s", "seconds": round(timeout_s, 1),
                "figures": None}
    seconds = round(time.perf_counter() - t0, 1)
    figures = None
    for line in reversed(proc.stdout.strip().splitlines()):
        try:
            doc = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(doc, dict):
            figures = doc
            break
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no error output"])[-1]
        status = f"failed (exit {proc.returncode}): {last[:200]}"
    elif figures is None:
        status = "failed: printed no JSON object line"
    else:
        status = "ok"
    return {"name": name, "status": status, "seconds": seconds, "figures": figures}


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def render(info: dict[str, Any], results: list[dict[str, Any]], total_s: float) -> str:
    """results.md: the machine, the versions, the date and one table row per benchmark."""
    v = info["versions"]
    lines = [
        "# Benchmark results", "",
        "Written by `python benchmarks/run_all.py`; rerun it to reproduce on your machine.", "",
        f"- date: {info['date']} (commit {info['commit'] or 'unknown'})",
        f"- CPU: {info['cpu']}, {info['cores']} logical cores; memory {info['memory_gib']} GiB",
        f"- GPU: {info['gpu'] or 'none used (CPU only)'}",
        f"- OS: {info['os']}; Python {info['python']}",
        "- versions: " + ", ".join(f"{k} {val}" for k, val in v.items() if val),
        f"- total wall time: {total_s:.0f} s", "",
        "| benchmark | status | wall (s) | figures |", "| --- | --- | --- | --- |",
    ]
    for r in results:
        figs = r["figures"] or {}
        text = "; ".join(f"{k} = {_cell(val)}" for k, val in figs.items() if k != "benchmark") or "–"
        lines.append(f"| {r['name']} | {r['status'].replace('|', '/')} | {r['seconds'] if r['seconds'] is not None else '–'}"
                     f" | {text.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks; exit 0 when all ran and printed figures, 1 otherwise, 2 on bad arguments."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench-dir", type=Path, default=HERE, help="folder of bench_*.py (default: here)")
    parser.add_argument("--out", type=Path, default=HERE / "results.md", help="Markdown output file")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these (bench_NAME.py)")
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds per benchmark (default 240)")
    parser.add_argument("--budget", type=float, default=900.0, help="seconds for all of them (default 900)")
    args = parser.parse_args(argv)
    scripts = sorted(args.bench_dir.glob("bench_*.py"))
    if args.only:
        wanted = {n.removeprefix("bench_").removesuffix(".py") for n in args.only}
        unknown = wanted - {s.stem.removeprefix("bench_") for s in scripts}
        if unknown:
            print(f"run_all: error: no benchmark named {', '.join(sorted(unknown))} in {args.bench_dir}",
                  file=sys.stderr)
            return 2
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in wanted]
    if not scripts:
        print(f"run_all: error: no bench_*.py in {args.bench_dir}", file=sys.stderr)
        return 2
    info = machine_info()
    start = time.perf_counter()
    results = []
    for script in scripts:
        left = args.budget - (time.perf_counter() - start)
        if left < 1.0:
            results.append({"name": script.stem.removeprefix("bench_"), "seconds": None, "figures": None,
                            "status": f"not run: total budget of {args.budget:.0f} s spent"})
            continue
        print(f"running {script.name} ...", file=sys.stderr, flush=True)
        result = run_one(script, min(args.timeout, left))
        print(f"  {result['status']} ({result['seconds']} s)", file=sys.stderr, flush=True)
        results.append(result)
    total = time.perf_counter() - start
    _atomic_write(args.out, render(info, results, total))
    _atomic_write(args.out.with_suffix(".json"),
                  json.dumps({"machine": info, "total_seconds": round(total, 1), "results": results}, indent=2) + "\n")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0 if all(r["status"] == "ok" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
