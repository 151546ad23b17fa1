"""Training speed on CPU: optimisation steps per second for a 2x96^3 batch, fp32 and bf16 autocast.

Each precision runs in its own process so that its peak resident memory (MiB) is its own. The network is
the default training config's architecture; the loss is the partial-label Dice + CE. Prints one JSON line.
Usage: python benchmarks/bench_train.py [--steps N] [--threads T]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def _run(precision: str, steps: int, warmup: int, threads: int, size: int, queue: "mp.Queue") -> None:
    import torch

    from spinedetect.labels import NUM_CLASSES
    from spinedetect.model.network import build_network
    from spinedetect.model.runtime import autocast
    from spinedetect.training.config import TrainConfig
    from spinedetect.training.losses import PartialLabelDiceCELoss

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = build_network(TrainConfig().network)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    loss_fn = PartialLabelDiceCELoss()
    x = torch.randn(2, 1, size, size, size)
    y = torch.randint(0, NUM_CLASSES, (2, 1, size, size, size))
    c2g = torch.arange(NUM_CLASSES).repeat(2, 1)
    dev = torch.device("cpu")
    times = []
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        with autocast(dev, precision):
            logits = net(x)
        loss_fn(logits.float(), y, c2g, [NUM_CLASSES, NUM_CLASSES]).backward()
        opt.step()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    queue.put({"steps_per_s": len(times) / sum(times), "seconds_per_step": sum(times) / len(times),
               "peak_rss_mib": round(peak_mib, 1)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=0, help="untimed steps first (0: a 96^3 step dwarfs warm-up)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--size", type=int, default=96)
    args = parser.parse_args()
    import torch

    from spinedetect.model.runtime import cpu_has_native_bf16
    from spinedetect.training.config import TrainConfig

    ctx = mp.get_context("spawn")
    result = {"benchmark": "train_step_cpu", "batch": [2, 1, args.size, args.size, args.size],
              "network": TrainConfig().network.name.value, "channels": list(TrainConfig().network.channels),
              "threads": args.threads, "timed_steps": args.steps, "warmup_steps": args.warmup, "cpu_native_bf16": cpu_has_native_bf16(),
              "torch": str(torch.__version__)}
    for precision in ("fp32", "bf16"):
        queue = ctx.Queue()
        proc = ctx.Process(target=_run, args=(precision, args.steps, args.warmup, args.threads, args.size, queue))
        proc.start()
        out = queue.get()
        proc.join()
        result.update({f"{precision}_{k}": round(v, 4) if isinstance(v, float) else v for k, v in out.items()})
    print(json.dumps(result))


if __name__ == "__main__":
    main()
